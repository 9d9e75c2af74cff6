/**
 * The calibration file of `tsbench calibrate` (calibrate.ts makes it): its
 * schema, how its figures are made, and what `compare --calibration` reads
 * from it — each series' threshold, and what in it does not fit a comparison.
 * Pure, but for the file's schema check (a UsageError naming it).
 */
import { z } from 'zod';
import { UsageError } from '../../core/errors.js';
import type { Result } from '../../core/schema.js';
import { DEFAULT_POWER } from '../../core/stats.js';
import { normalizeName } from './thresholds.js';
import type { SeriesComparison } from './types.js';

/** How the calibration's figures are made, word for word as the file and the output state it. */
export const CALIBRATION_METHOD = [
  'A/A comparisons: every pair of the runs (between runs: n vs n samples, the situation of a nightly gate), and within each run its even against its odd rounds and its first half against its second (n/2 vs n/2), each judged by compare’s rule with the configured thresholds (one Benjamini–Hochberg family per comparison).',
  'false alarms: A/A comparisons judged regression or improvement, of those made; then the same with the calibrated thresholds (in-sample: it shows what the threshold removes, not a fresh estimate).',
  'se: the median, over the pairs of runs, of the standard error of the relative change of medians at n vs n, from its seeded bootstrap 95% CI (width / (2 × 1.96)).',
  `mde: (z(1−α/2) + z(${DEFAULT_POWER})) × se — the relative change the rank test finds significant ${DEFAULT_POWER * 100}% of the time at n vs n (normal approximation; before the adjustment across series).`,
  'drift: the root mean square of the relative changes between the runs — what identical runs differ by, within- and between-run noise together.',
  'threshold: the larger of mde and z(1−α/2) × drift, rounded up to 0.1%: a change smaller than the samples can resolve, or than identical runs differ by with probability 1 − α, is not flagged.',
];

const SeriesCalibrationSchema = z.object({
  scenario: z.string(),
  target: z.string(),
  metric: z.string(),
  unit: z.string(),
  /** Samples per run (the fewest of the runs). */
  n: z.number().int().nonnegative(),
  /** Median of the runs' medians. */
  median: z.number(),
  /** Relative changes of medians between each pair of runs. */
  changes: z.array(z.number()),
  se: z.number().nonnegative(),
  drift: z.number().nonnegative(),
  mde: z.number().nonnegative(),
  threshold: z.number().positive(),
  aa: z.object({
    comparisons: z.number().int().nonnegative(),
    /** Of them, judged inconclusive (too few samples in a split, an accelerator difference). */
    inconclusive: z.number().int().nonnegative(),
    /** Judged regression or improvement with the configured thresholds. */
    flagged: z.number().int().nonnegative(),
    /** The same with the calibrated thresholds. */
    flaggedCalibrated: z.number().int().nonnegative(),
  }),
});

export const CalibrationSchema = z.object({
  tool: z.literal('tsbench calibrate'),
  version: z.literal(1),
  createdAt: z.string(),
  host: z.object({ hostname: z.string(), cpuModel: z.string() }),
  alpha: z.number().gt(0).lt(1),
  power: z.number(),
  /** The default threshold of the A/A gate (--threshold), and the results that were compared. */
  defaultThreshold: z.number(),
  runs: z.array(z.string()),
  method: z.array(z.string()),
  series: z.array(SeriesCalibrationSchema),
});

export type Calibration = z.infer<typeof CalibrationSchema>;
export type SeriesCalibration = z.infer<typeof SeriesCalibrationSchema>;

/** Parses a calibration file's text; anything else is a UsageError naming the file. */
export function parseCalibration(text: string, path: string): Calibration {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new UsageError(`--calibration: ${path} is not JSON; pass the calibration.json that tsbench calibrate wrote`);
  }
  return calibrationOf(doc, path);
}

/** A calibration from a parsed document (a file's, or the one a report page embeds); anything else is a UsageError naming `path`. */
export function calibrationOf(doc: unknown, path: string): Calibration {
  const r = CalibrationSchema.safeParse(doc);
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue ? `${issue.path.join('.') || 'the file'}: ${issue.message}` : 'unknown';
    throw new UsageError(`--calibration: ${path} is not a tsbench calibration (${where}); make one with tsbench calibrate`);
  }
  return r.data;
}

/** The calibrated threshold of a series, matched as --threshold matches names; undefined when the file has none for it. */
export function calibrationThreshold(c: Calibration, scenario: string, target: string, metric: string): number | undefined {
  const [s, t, m] = [normalizeName(scenario), normalizeName(target), normalizeName(metric)];
  return c.series.find((x) => normalizeName(x.scenario) === s && normalizeName(x.target) === t && normalizeName(x.metric) === m)?.threshold;
}

/** What in the calibration does not fit a comparison that used it: another host, another sample size. */
export function calibrationNotes(c: Calibration, head: Result, series: readonly SeriesComparison[]): string[] {
  const notes: string[] = [];
  if (c.host.hostname !== head.host.hostname || c.host.cpuModel !== head.host.cpuModel) {
    notes.push(
      `calibrated on ${c.host.hostname} (${c.host.cpuModel}), head ran on ${head.host.hostname} (${head.host.cpuModel}): the noise there may differ; calibrate on the host that runs the gate`,
    );
  }
  const calibrated = series.filter((s) => s.thresholdSource === 'calibration');
  const mismatched = calibrated.filter((s) => {
    const n = c.series.find((x) => x.scenario === s.scenario && x.target === s.target && x.metric === s.metric)?.n;
    return n !== undefined && (s.base.n !== n || s.head.n !== n);
  });
  if (mismatched.length > 0) {
    const ns = [...new Set(mismatched.map((s) => `${s.base.n} vs ${s.head.n}`))].join(', ');
    const cn = [...new Set(mismatched.map((s) => c.series.find((x) => x.scenario === s.scenario && x.target === s.target && x.metric === s.metric)?.n))].join(
      ', ',
    );
    notes.push(
      `${mismatched.length} series calibrated at n=${cn} are compared at n=${ns}: the minimum detectable effect scales as 1/√n; calibrate at the gate's --runs`,
    );
  }
  const uncovered = series.filter((s) => s.thresholdSource === undefined).length;
  if (uncovered > 0) notes.push(`${uncovered} series have no calibration and keep the default threshold`);
  return notes;
}
