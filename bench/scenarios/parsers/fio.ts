/**
 * Reads fio's `--output-format=json` report: per job, what it read and wrote —
 * bandwidth in bytes/s, IOPS, and completion-latency percentiles in ns. Only
 * the fields the `io` scenario uses; everything else fio reports is ignored.
 * Pure, for tests on captured real reports (test/fixtures/fio-*.json).
 */

/** One direction (read or write) of one fio job. */
export interface FioDirection {
  /** Bytes per second (fio's `bw_bytes`). */
  bwBytes: number;
  /** I/O operations per second (fio's `iops`). */
  iops: number;
  /** I/Os completed (fio's `total_ios`). */
  totalIos: number;
  /** Completion latency median in ns (`clat_ns.percentile["50.000000"]`); undefined without I/O. */
  clatP50Ns?: number;
  /** Completion latency 99th percentile in ns (`clat_ns.percentile["99.000000"]`). */
  clatP99Ns?: number;
}

export interface FioJob {
  name: string;
  /** fio's per-job error number; 0 when the job ran cleanly. */
  error: number;
  read: FioDirection;
  write: FioDirection;
}

export interface FioReport {
  /** fio's version string, e.g. `fio-3.33`. */
  version: string;
  jobs: FioJob[];
}

/** Thrown when fio's output is not a JSON report; `snippet` holds its first lines. */
export class FioParseError extends Error {
  constructor(
    message: string,
    readonly snippet: string,
  ) {
    super(message);
    this.name = 'FioParseError';
  }
}

type Json = Record<string, unknown>;

function isObject(x: unknown): x is Json {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function num(x: unknown): number | undefined {
  return typeof x === 'number' && Number.isFinite(x) ? x : undefined;
}

function direction(x: unknown, where: string): FioDirection {
  if (!isObject(x)) throw new Error(`${where} is missing`);
  const bwBytes = num(x['bw_bytes']);
  const iops = num(x['iops']);
  if (bwBytes === undefined || iops === undefined) throw new Error(`${where} has no bw_bytes/iops`);
  const clat = x['clat_ns'];
  const pct = isObject(clat) && isObject(clat['percentile']) ? clat['percentile'] : {};
  const p50 = num(pct['50.000000']);
  const p99 = num(pct['99.000000']);
  return {
    bwBytes,
    iops,
    totalIos: num(x['total_ios']) ?? 0,
    ...(p50 !== undefined ? { clatP50Ns: p50 } : {}),
    ...(p99 !== undefined ? { clatP99Ns: p99 } : {}),
  };
}

/**
 * Parses fio's JSON report from its stdout lines. fio may print notes before
 * the JSON (e.g. `note: ...`), so parsing starts at the first line that is `{`.
 */
export function parseFioJson(stdout: string | readonly string[]): FioReport {
  const lines = typeof stdout === 'string' ? stdout.split('\n') : [...stdout];
  const start = lines.findIndex((l) => l.trimStart().startsWith('{'));
  const snippet = lines.slice(0, 5).join('\n');
  if (start < 0) throw new FioParseError('fio printed no JSON report', snippet);
  let doc: unknown;
  try {
    doc = JSON.parse(lines.slice(start).join('\n'));
  } catch (e) {
    throw new FioParseError(`fio's JSON report does not parse: ${(e as Error).message}`, snippet);
  }
  if (!isObject(doc) || !Array.isArray(doc['jobs'])) throw new FioParseError("fio's report has no jobs[]", snippet);
  const version = typeof doc['fio version'] === 'string' ? doc['fio version'] : 'unknown';
  try {
    const jobs = doc['jobs'].map((j: unknown, i): FioJob => {
      if (!isObject(j)) throw new Error(`jobs[${i}] is not an object`);
      const name = typeof j['jobname'] === 'string' ? j['jobname'] : `#${i}`;
      return { name, error: num(j['error']) ?? 0, read: direction(j['read'], `job ${name}: read`), write: direction(j['write'], `job ${name}: write`) };
    });
    return { version, jobs };
  } catch (e) {
    throw new FioParseError(`fio's report is incomplete: ${(e as Error).message}`, snippet);
  }
}
