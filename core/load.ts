/**
 * Reading result files back (report, compare, history, verify, reproduce). Every
 * failure is a UsageError naming the file and what to do: a missing file, one
 * that is not a regular file or is over the bound (core/input.ts, which reads
 * it), one that is not JSON, not a tsbench result, or of a schema version this
 * tsbench cannot read. Every figure is recomputed from the samples on loading (core/figures.ts):
 * the stored `stats` and `ratioToNative` are a cache, checked, and a series whose
 * stored figures disagree is named on stderr. A run killed between two of its full writes left a round journal
 * beside its results file (core/journal.ts); `loadResult` replays it, so every round the run wrote is read.
 */
import { createHash } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { UsageError, describeError } from './errors.js';
import { readInputFile } from './input.js';
import { journalPath, replayJournal } from './journal.js';
import { recomputeFigures, type FigureDisagreement } from './figures.js';
import { ResultSchema, SCHEMA_ID, SCHEMA_VERSION, type ImageInfo, type Result } from './schema.js';

export interface LoadedResult {
  /** the path as given */
  path: string;
  result: Result;
  /** the file's text as read (what its SHA-256 is of); absent for a result made in memory */
  text?: string;
  /** SHA-256 of the file's bytes as read, hex; absent for a result made in memory */
  sha256?: string;
  /** the series whose stored figures disagreed with their samples (recomputed; core/figures.ts) */
  disagreements?: FigureDisagreement[];
  /**
   * The round journal replayed over the file (core/journal.ts): its path and the rounds it added. Then `text` and
   * `sha256` are absent, as for a result made in memory: the result holds more than the file's bytes.
   */
  journal?: { path: string; rounds: number };
}

export interface LoadOptions {
  /** A round journal to replay over the file before its figures are recomputed (core/journal.ts): its path, for messages, and its text. */
  journal?: { path: string; text: string };
  /**
   * Where the warnings about stored figures that disagree with their samples go, one line each
   * (`results.json: container/cpu/eventsPerS: stored median 1000 ≠ 1100 from its 30 samples; using the samples`).
   * @default a line on stderr, prefixed `tsbench: `
   */
  warn?: (line: string) => void;
}

/** SHA-256 of bytes, hex. */
export function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

const stderrWarn = (line: string): void => {
  process.stderr.write(`tsbench: ${line}\n`);
};

/**
 * Parses and validates the text of a result file named `path` (in messages) and recomputes its figures from its
 * samples (core/figures.ts): a stored block that disagrees is replaced, and named through `warn`.
 */
export function parseResult(text: string, path: string, opts: LoadOptions = {}): LoadedResult {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${path}: not JSON (${describeError(e)}); pass a results.json written by tsbench run`);
  }
  const header = doc as { schema?: unknown; schemaVersion?: unknown } | null;
  if (typeof header !== 'object' || header === null || header.schema !== SCHEMA_ID) {
    throw new UsageError(`${path}: not a tsbench result (no "schema": "${SCHEMA_ID}"); pass a results.json written by tsbench run`);
  }
  if (header.schemaVersion !== SCHEMA_VERSION) {
    throw new UsageError(
      `${path}: result schema version ${String(header.schemaVersion)} is not supported (this tsbench reads version ${SCHEMA_VERSION}); read it with the tsbench version that wrote it`,
    );
  }
  const parsed = ResultSchema.safeParse(doc);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue ? `${issue.path.join('.') || '(root)'}: ${issue.message}` : 'invalid';
    throw new UsageError(`${path}: not a valid tsbench result (${where}); was it edited by hand?`);
  }
  const warn = opts.warn ?? stderrWarn;
  const sha256 = sha256Hex(text);
  const replay = opts.journal ? replayJournal(parsed.data, opts.journal.text, sha256) : undefined;
  if (opts.journal && replay !== undefined && replay.rounds > 0) {
    const note = replay.note === undefined ? '' : `; ${replay.note}`;
    warn(
      `${path}: ${replay.rounds} more round(s) read from ${opts.journal.path}, written after the file's last full write (by a run still going, or one that was killed)${note}`,
    );
  }
  const disagreements = recomputeFigures(parsed.data);
  for (const d of disagreements) warn(`${path}: ${d.line}; using the samples`);
  if (opts.journal && replay !== undefined && replay.rounds > 0) {
    return { path, result: parsed.data, disagreements, journal: { path: opts.journal.path, rounds: replay.rounds } };
  }
  return { path, result: parsed.data, text, sha256, disagreements };
}

/**
 * Loads and validates one result file, its figures recomputed from its samples (see `parseResult`), with the rounds of
 * its journal when the run that wrote it stopped between two full writes (core/journal.ts).
 */
export async function loadResult(path: string, opts: LoadOptions = {}): Promise<LoadedResult> {
  const bytes = await readInputFile(path, { fix: 'pass a results.json written by tsbench run', directoryFix: 'pass its results.json' });
  const journal = opts.journal ?? (await readJournal(path));
  const loaded = parseResult(bytes.toString('utf8'), path, { ...opts, journal });
  if (loaded.journal) return loaded;
  // The hash of the bytes as read, whatever their encoding.
  return { ...loaded, sha256: sha256Hex(bytes) };
}

/** The round journal beside a results file, when there is one (a run killed between two full writes, or one still going). */
async function readJournal(resultsPath: string): Promise<{ path: string; text: string } | undefined> {
  const path = journalPath(resultsPath);
  if (!(await isThere(path))) return undefined;
  const bytes = await readInputFile(path, { fix: `remove it to read ${resultsPath} as it is` });
  return { path, text: bytes.toString('utf8') };
}

/**
 * Expands arguments to result files: a file is taken as is, a directory gives
 * its results.json, or, when it has none, the results.json of each of its
 * subdirectories (a folder of nightly runs), sorted by name. A results.json
 * that is there but not a regular file (a FIFO, a device) is kept, so that
 * `loadResult` refuses it by name rather than the directory seeming empty.
 */
export async function expandResultPaths(args: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const arg of args) {
    let st;
    try {
      st = await stat(arg);
    } catch {
      throw new UsageError(`${arg}: no such file or directory; pass results.json files or directories holding them`);
    }
    if (!st.isDirectory()) {
      out.push(arg);
      continue;
    }
    const own = join(arg, 'results.json');
    if (await isThere(own)) {
      out.push(own);
      continue;
    }
    const found: string[] = [];
    for (const name of (await readdir(arg)).sort()) {
      const candidate = join(arg, name, 'results.json');
      if (await isThere(candidate)) found.push(candidate);
    }
    if (found.length === 0) throw new UsageError(`${arg}: holds no results.json (nor do its subdirectories); pass a tsbench --out directory`);
    out.push(...found);
  }
  return out;
}

/** Whether `p` is there and is not a directory (what it is, `loadResult` checks on the descriptor it reads). */
async function isThere(p: string): Promise<boolean> {
  try {
    return !(await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/** An image of a result with its name. */
export type NamedImage = ImageInfo & { name: NonNullable<ImageInfo['name']> };

/**
 * Every image a result records, each with its name: `images` where the result has it, else its one
 * `image` (named lean when it names none: results from before images had names ran the lean image only).
 */
export function resultImages(result: Result): NamedImage[] {
  if (result.images) return result.images;
  return result.image ? [{ ...result.image, name: result.image.name ?? 'lean' }] : [];
}
