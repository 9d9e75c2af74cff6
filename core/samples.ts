/**
 * The values of a metric, as every figure of tsbench takes them. One rule:
 * a sample counts for metric M when it recorded a finite value of M, whatever
 * its status. The runner's stored statistics (`stats`, `ratioToNative`) are
 * computed from exactly these values, so the report, the claims, compare and
 * history, which read the same values, agree with the stored figures: n, the
 * median and the dots of a chart all come from one set. (A scenario throws,
 * marking its target errored, rather than record a value it did not measure;
 * a status other than ok beside a value says how the instance ended, e.g. an
 * OOM kill the scenario measured, and the value still counts.)
 */
import type { Sample } from './schema.js';

/** The value of `metric` in one sample when it counts (recorded and finite), else undefined. */
export function valueOf(sample: Pick<Sample, 'values'>, metric: string): number | undefined {
  return counts(sample.values[metric]);
}

/** The values of `metric` over a target's samples that count, in round order (none for no target). */
export function valuesOf(target: { samples: readonly Pick<Sample, 'values'>[] } | undefined, metric: string): number[] {
  return derivedValues(target, (values) => values[metric]);
}

/** A per-sample combination of metrics over a target's samples, keeping the results that count (samples lacking an input give undefined). */
export function derivedValues(
  target: { samples: readonly Pick<Sample, 'values'>[] } | undefined,
  f: (values: Readonly<Record<string, number>>) => number | undefined,
): number[] {
  const xs: number[] = [];
  for (const s of target?.samples ?? []) {
    const v = counts(f(s.values));
    if (v !== undefined) xs.push(v);
  }
  return xs;
}

function counts(v: number | undefined): number | undefined {
  return v !== undefined && Number.isFinite(v) ? v : undefined;
}
