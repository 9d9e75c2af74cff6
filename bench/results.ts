/**
 * Writing results: one JSON document per run plus a CSV beside it, both replaced
 * atomically (write a temp file in the same directory, fsync, rename), so that a
 * crash or Ctrl-C at any moment leaves the last complete version on disk.
 */
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { toCsv } from '../reports/csv.js';
import { toJson } from '../reports/json.js';
import type { Result } from './schema.js';

/** Writes `data` to `path` atomically. */
export async function writeAtomic(path: string, data: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
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
