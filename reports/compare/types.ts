/**
 * What `tsbench compare` produces: the verdicts, the rule that gives them, and
 * the Comparison every output (text, Markdown, JSON, a reproduction's page)
 * renders. Types and constants only, so the gate (index.ts), its calibration
 * and its renderers all import them without importing one another.
 */
import { DEFAULT_POWER, type Change } from '../../core/stats.js';
import type { FingerprintDiff } from './fingerprint.js';
import { EXACT_MAX_SAMPLES } from './stats.js';

export type Verdict = 'regression' | 'improvement' | 'unchanged' | 'inconclusive';

/** The significance level when no --alpha is given. */
export const DEFAULT_ALPHA = 0.01;

/** The rule, word for word as the outputs' legend and docs/nightly.md state it. */
export const VERDICT_RULE = [
  `change = median(head) / median(base) − 1, with a seeded bootstrap 95% CI; p = two-sided Mann–Whitney U test (exact permutation distribution up to ${EXACT_MAX_SAMPLES} samples, ties included; normal approximation above).`,
  'q = p adjusted by Benjamini–Hochberg over every series that could reach p < α at all, so the chance of any false alarm when nothing changed stays ≤ α however many series there are.',
  'regression: q < α and |change| > threshold, in the direction the metric calls worse; improvement: the same in its better direction.',
  'inconclusive: the samples are too few for the test ever to reach p < α (smallest attainable p ≥ α: 3 vs 3 gives 0.1), either side has under 2 samples, the base median is 0 and head differs, or the target runs in a VM and the accelerator differs between the runs.',
  'unchanged: everything else — no significant change beyond the threshold.',
  `mde (minimum detectable effect), shown beside each unchanged: the smallest change the gate could have flagged here — the larger of the threshold and (z(1−α/2) + z(${DEFAULT_POWER})) × SE, SE = the change's 95% CI width / (2 × 1.96): a true change of that size is significant ${DEFAULT_POWER * 100}% of the time (before the adjustment across series).`,
  'exit 1 when any series is a regression, else 0 (2 for usage errors).',
];

export interface SideSummary {
  n: number;
  median: number;
  ciLow: number;
  ciHigh: number;
}

export interface SeriesComparison {
  scenario: string;
  target: string;
  metric: string;
  unit: string;
  better: 'lower' | 'higher';
  base: SideSummary;
  head: SideSummary;
  /** Absent when the base median is 0. */
  change?: Change;
  /** Mann–Whitney p-value; absent when the test was not run (under 2 samples, accelerator). */
  p?: number;
  /** Benjamini–Hochberg adjusted p over the comparison's testable series; absent when not testable. */
  q?: number;
  minP: number;
  exactTest?: boolean;
  threshold: number;
  /** The --threshold argument that set it, or `calibration`; absent for the default. */
  thresholdSource?: string;
  /**
   * The smallest relative change the gate could have flagged in this series: the larger of the
   * threshold and the test's minimum detectable effect at 80 % power (core/stats.ts); absent without a change CI.
   */
  mde?: number;
  verdict: Verdict;
  /** Why this verdict, in a few words. */
  reason: string;
}

export interface RunSummary {
  path: string;
  startedAt: string;
  version: string;
  complete: boolean;
}

export interface Comparison {
  base: RunSummary;
  head: RunSummary;
  alpha: number;
  seed: number;
  defaultThreshold: number;
  warnings: FingerprintDiff[];
  /** The calibration file whose thresholds were used, and what in it does not fit this comparison. */
  calibration?: { path: string; notes: string[] };
  /** VM targets whose verdicts the accelerator difference made inconclusive. */
  acceleratorAffected: string[];
  series: SeriesComparison[];
  /** Series in only one of the two results, or without samples on one side. */
  notCompared: { scenario: string; target: string; reason: string }[];
  counts: Record<Verdict, number>;
  /** 1 when any series is a regression, else 0. */
  exitCode: 0 | 1;
}
