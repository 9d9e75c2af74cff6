/**
 * Writing results: one JSON document per run plus a CSV and the HTML report
 * beside it, all replaced atomically (write a temp file in the same directory,
 * fsync, rename), so that a crash or Ctrl-C at any moment leaves the last
 * complete version on disk. Between two such full writes (the runner's
 * checkpoints) each round is appended to the round journal beside them
 * (core/journal.ts), one fsync'd line, so that a round costs the same whatever
 * its number; the journal is removed once the run's final version is written.
 */
import { mkdir, open, rename, stat, unlink, writeFile, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { reportWriter } from '../reports/writers.js';
import { UsageError, describeError } from '../core/errors.js';
import { journalHead, journalLine, journalPath, type JournalRound } from '../core/journal.js';
import { sha256Hex } from '../core/load.js';
import type { Result } from '../core/schema.js';

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

/** A command's output file (compare, history, report, calibrate): written in place, or atomically; a failure is a UsageError naming `flag`. */
export async function writeOutput(path: string, text: string, flag: string, opts: { atomic?: boolean } = {}): Promise<void> {
  try {
    await (opts.atomic === true ? writeAtomic(path, text) : writeFile(path, text));
  } catch (e) {
    throw new UsageError(`${flag}: cannot write ${path} (${describeError(e)}); pass a writable path`);
  }
}

/** The --format given, checked against a command's formats; another is a UsageError listing them. */
export function outputFormat<F extends string>(given: string, formats: readonly F[]): F {
  if (!(formats as readonly string[]).includes(given)) throw new UsageError(`--format: unknown format '${given}'; valid formats: ${formats.join(', ')}`);
  return given as F;
}

export interface ResultPaths {
  dir: string;
  json: string;
  csv: string;
  /** the report page (reports/html/index.ts) */
  html: string;
  /** the round journal (core/journal.ts): the rounds after results.json's last full write, while the run goes on */
  journal: string;
}

export function resultPaths(dir: string): ResultPaths {
  const json = join(dir, 'results.json');
  return { dir, json, csv: join(dir, 'results.csv'), html: join(dir, 'report.html'), journal: journalPath(json) };
}

/** Default output directory: results/<UTC timestamp>. */
export function defaultOutDir(now = new Date()): string {
  return join('results', now.toISOString().replace(/[:.]/g, '-'));
}

/**
 * The report is rewritten at most this often while a run goes on (rendering
 * takes tens of ms, and a startup round of native targets takes about 1 ms), and
 * only at the runner's checkpoints; the final write of a finished or interrupted
 * run always rewrites it.
 */
export const REPORT_INTERVAL_MS = 2000;

/**
 * Writes the JSON, the CSV and the report page (`write`, a full write), and appends
 * rounds to the journal between two full writes (`append`). Serialised, so that two
 * writes never race for the same file. A report that fails to render never fails
 * the run: the error is kept in `reportError` and the JSON and CSV are still written.
 *
 * The journal's order of events: a full write replaces results.json, then removes
 * the journal; the next round opens a new one whose first line names the new
 * results.json by its SHA-256. A reader applies a journal only to the file it
 * names (core/journal.ts), so a kill between any two steps reads back right.
 */
export class ResultWriter {
  private chain: Promise<void> = Promise.resolve();
  private lastReportAt = -Infinity;
  /** the SHA-256 of results.json as last written: the base of the next journal */
  private base: string | undefined;
  /** the open journal, once a round has been appended since the last full write */
  private journal: FileHandle | undefined;
  /** why the last report could not be written, if it could not */
  reportError: string | undefined;

  constructor(readonly paths: ResultPaths) {}

  /** The whole result, every file replaced atomically; the journal is then removed (its rounds are in results.json). */
  write(result: Result): Promise<void> {
    const json = reportWriter('json').render([{ path: this.paths.json, result }]);
    const csv = reportWriter('csv').render([{ path: this.paths.json, result }]);
    const html = this.reportNow(result) ? this.render(result, json) : undefined;
    const base = sha256Hex(json);
    this.chain = this.chain.then(async () => {
      await writeAtomic(this.paths.json, json);
      await this.dropJournal();
      this.base = base;
      await writeAtomic(this.paths.csv, csv);
      if (html !== undefined) {
        try {
          await writeAtomic(this.paths.html, html);
          this.reportError = undefined;
        } catch (e) {
          this.reportError = `cannot write ${this.paths.html} (${describeError(e)})`;
        }
      }
    });
    return this.chain;
  }

  /** One round, appended to the journal and synced: the same few hundred bytes a target at round 5 as at round 5,000. */
  append(round: JournalRound): Promise<void> {
    const line = journalLine(round);
    this.chain = this.chain.then(async () => {
      if (this.base === undefined) throw new Error('a round was appended before the first full write of the results');
      if (this.journal === undefined) {
        this.journal = await open(this.paths.journal, 'w');
        await this.journal.write(journalHead(this.base) + line);
      } else await this.journal.write(line);
      await this.journal.datasync();
    });
    return this.chain;
  }

  /** Closes and removes the journal; called once results.json holds its rounds. */
  private async dropJournal(): Promise<void> {
    const fh = this.journal;
    this.journal = undefined;
    await fh?.close();
    await unlink(this.paths.journal).catch((e: unknown) => {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    });
  }

  private reportNow(result: Result): boolean {
    const final = result.complete || result.interrupted !== undefined;
    const now = performance.now();
    if (!final && now - this.lastReportAt < REPORT_INTERVAL_MS) return false;
    this.lastReportAt = now;
    return true;
  }

  /** Rendered now, synchronously: the runner mutates `result` after this call returns. `json` is results.json's text, embedded with its hash. */
  private render(result: Result, json: string): string | undefined {
    try {
      return reportWriter('html').render([{ path: this.paths.json, result, text: json }]);
    } catch (e) {
      this.reportError = `cannot render the report (${describeError(e)})`;
      return undefined;
    }
  }
}
