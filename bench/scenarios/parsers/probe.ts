/**
 * Parsers for the probes tsbench runs inside an instance with busybox: each
 * prints `tsbench-probe KEY=VALUE` lines and `tsbench-probe end` last, so a
 * probe cut short fails loudly instead of yielding zeros, and lines the
 * workload prints around them are ignored.
 */
import { ParseError } from './sysbench.js';

export { ParseError };

/** The tag that starts every line a probe prints. */
export const PROBE_TAG = 'tsbench-probe';

/**
 * The KEY=VALUE pairs of a probe's output, in a map. Throws a ParseError when the
 * `end` line is missing or one of `required` is absent.
 */
export function parseProbe(lines: readonly string[], required: readonly string[] = []): Map<string, string> {
  const out = new Map<string, string>();
  let ended = false;
  for (const line of lines) {
    const t = line.trim();
    if (!t.startsWith(`${PROBE_TAG} `)) continue;
    const body = t.slice(PROBE_TAG.length + 1);
    if (body === 'end') {
      ended = true;
      continue;
    }
    const eq = body.indexOf('=');
    if (eq > 0) out.set(body.slice(0, eq), body.slice(eq + 1));
  }
  if (!ended) throw new ParseError(`the probe did not finish (no "${PROBE_TAG} end" line)`);
  for (const k of required) if (!out.has(k)) throw new ParseError(`the probe printed no "${k}=" line`);
  return out;
}

/** A probe value that must be a non-negative integer. */
export function probeInt(values: Map<string, string>, key: string): number {
  const raw = values.get(key);
  const n = raw === undefined || raw.trim() === '' ? Number.NaN : Number(raw.trim());
  if (!Number.isInteger(n) || n < 0) throw new ParseError(`the probe's ${key} is not a count: ${JSON.stringify(raw)}`);
  return n;
}
