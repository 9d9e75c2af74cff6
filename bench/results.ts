/**
 * Writing results: one JSON document per run plus a CSV beside it, both replaced
 * atomically (write a temp file in the same directory, fsync, rename), so that a
 * crash or Ctrl-C at any moment leaves the last complete version on disk.
 */
import { mkdir, open, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { toCsv } from '../reports/csv.js';
import { toJson } from '../reports/json.js';
import type { Result } from './schema.js';

/**
 * `mkdir -p`, one component at a time. Node's own `{ recursive: true }` never
 * returns for a path under /proc (mkdir answers ENOENT there although the parent
 * exists, and Node retries forever), so a bad `--out` would hang tsbench.
 */
export async function ensureDir(path: string): Promise<void> {
  const missing: string[] = [];
  let p = resolve(path);
  for (;;) {
    try {
      if (!(await stat(p)).isDirectory()) throw Object.assign(new Error(`${p} is not a directory`), { code: 'ENOTDIR' });
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT' || dirname(p) === p) throw e;
      missing.unshift(p);
      p = dirname(p);
    }
  }
  for (const dir of missing) {
    try {
      await mkdir(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
}

/** Writes `data` to `path` atomically. */
export async function writeAtomic(path: string, data: string): Promise<void> {
  await ensureDir(dirname(path));
  const tmp = join(dirname(path), `.${process.pid}.${Date.now()}.tmp`);
  const fh = await open(tmp, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
}

export interface ResultPaths {
  dir: string;
  json: string;
  csv: string;
}

export function resultPaths(dir: string): ResultPaths {
  return { dir, json: join(dir, 'results.json'), csv: join(dir, 'results.csv') };
}

/** Default output directory: results/<UTC timestamp>. */
export function defaultOutDir(now = new Date()): string {
  return join('results', now.toISOString().replace(/[:.]/g, '-'));
}

/** Writes the JSON and CSV. Serialised, so that two writes never race for the same file. */
export class ResultWriter {
  private chain: Promise<void> = Promise.resolve();
  constructor(readonly paths: ResultPaths) {}

  write(result: Result): Promise<void> {
    const json = toJson(result);
    const csv = toCsv(result);
    this.chain = this.chain.then(async () => {
      await writeAtomic(this.paths.json, json);
      await writeAtomic(this.paths.csv, csv);
    });
    return this.chain;
  }
}
