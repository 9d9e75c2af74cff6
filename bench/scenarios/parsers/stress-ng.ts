/**
 * Parsers for what stress-ng 0.15 prints with `--metrics-brief`: the per
 * stressor line of the metrics table (bogo ops, real, user and system seconds)
 * and the warnings of workers that ended before the timeout (killed, e.g. by
 * the OOM killer, when `--oomable` keeps stress-ng from restarting them).
 */
import { ParseError } from './sysbench.js';

export { ParseError };

/** One stressor's row of `--metrics-brief`. */
export interface StressNgMetrics {
  bogoOps: number;
  /** "real time (secs)", the longest-running worker's wall time, in ms. */
  realMs: number;
  /** "usr time (secs)", summed over the stressor's workers, in ms. */
  userMs: number;
  /** "sys time (secs)", summed over the stressor's workers, in ms. */
  systemMs: number;
}

/** The metrics row of `stressor` (e.g. `cpu`, `vm`); throws a ParseError when it is missing. */
export function parseStressNgMetrics(lines: readonly string[], stressor: string): StressNgMetrics {
  // "stress-ng: metrc: [12] cpu   2136   3.00   1.52   0.00   711.99   1400.83"
  const re = new RegExp(`metrc:\\s+\\[\\d+\\]\\s+${stressor}\\s+(\\d+)\\s+([\\d.]+)\\s+([\\d.]+)\\s+([\\d.]+)\\s`);
  for (const line of lines) {
    const m = re.exec(`${line} `);
    if (!m) continue;
    const [bogoOps, real, user, system] = [m[1], m[2], m[3], m[4]].map(Number) as [number, number, number, number];
    return { bogoOps, realMs: real * 1000, userMs: user * 1000, systemMs: system * 1000 };
  }
  throw new ParseError(`stress-ng printed no metrics row for the ${stressor} stressor (was --metrics-brief given?)`);
}

/** How many workers stress-ng saw end before their time ("finished prematurely"). */
export function countPrematureWorkers(lines: readonly string[]): number {
  return lines.filter((l) => /WARNING: finished prematurely/.test(l)).length;
}
