/**
 * Parsers for the text sysbench 1.0 prints (`sysbench cpu … run`,
 * `sysbench memory … run`). Each returns the figures it found, or throws a
 * ParseError naming the line it missed, so a changed output format fails loudly
 * instead of yielding zeros. Fixtures of real output live in test/fixtures/.
 */

/** A sysbench report lacked a line the scenario needs. */
export class ParseError extends Error {
  override readonly name = 'ParseError';
}

/** What `sysbench cpu run` reports. */
export interface SysbenchCpu {
  /** "events per second:" */
  eventsPerS: number;
  /** "total time:", the wall time of the run in milliseconds (sysbench prints seconds). */
  totalTimeMs: number;
  /** "total number of events:" */
  events: number;
}

/** What `sysbench memory run` reports. */
export interface SysbenchMemory {
  /** "… MiB transferred (X MiB/sec)": the MiB moved. */
  transferredMiB: number;
  /** The same line's rate, MiB (2^20 bytes) per second. */
  mibPerS: number;
  /** "total time:" in milliseconds. */
  totalTimeMs: number;
}

function num(text: string, re: RegExp, what: string): number {
  const m = re.exec(text);
  const v = m?.[1] === undefined ? Number.NaN : Number(m[1]);
  if (!Number.isFinite(v)) throw new ParseError(`sysbench output has no "${what}" line`);
  return v;
}

const TOTAL_TIME = /^\s*total time:\s+([\d.]+)s\s*$/m;

export function parseSysbenchCpu(output: string | readonly string[]): SysbenchCpu {
  const text = typeof output === 'string' ? output : output.join('\n');
  return {
    eventsPerS: num(text, /^\s*events per second:\s+([\d.]+)\s*$/m, 'events per second:'),
    totalTimeMs: num(text, TOTAL_TIME, 'total time:') * 1000,
    events: num(text, /^\s*total number of events:\s+(\d+)\s*$/m, 'total number of events:'),
  };
}

export function parseSysbenchMemory(output: string | readonly string[]): SysbenchMemory {
  const text = typeof output === 'string' ? output : output.join('\n');
  const line = /^\s*([\d.]+) MiB transferred \(([\d.]+) MiB\/sec\)\s*$/m.exec(text);
  const transferredMiB = Number(line?.[1]);
  const mibPerS = Number(line?.[2]);
  if (!line || !Number.isFinite(transferredMiB) || !Number.isFinite(mibPerS)) throw new ParseError('sysbench output has no "MiB transferred (… MiB/sec)" line');
  return { transferredMiB, mibPerS, totalTimeMs: num(text, TOTAL_TIME, 'total time:') * 1000 };
}
