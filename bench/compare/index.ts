/**
 * `tsbench compare`'s judgement: every scenario × target × metric present in
 * both results gets the relative change of its median, a p-value and a verdict
 * (see VERDICT_RULE). Pure: results in, a Comparison out; nothing is printed here.
 */
import type { Result } from '../schema.js';
import { deriveSeed } from '../stats.js';
import { fingerprintDiffs, isVmTarget, type FingerprintDiff } from './fingerprint.js';
import { minAttainableP, permutationTest, relativeChange, PERMUTATIONS, EXACT_LIMIT, type RelativeChange } from './stats.js';
import { thresholdFor, validateThresholds, type Catalogue, type Thresholds } from './thresholds.js';

export type Verdict = 'regression' | 'improvement' | 'unchanged' | 'inconclusive';

/** The significance level when no --alpha is given. */
export const DEFAULT_ALPHA = 0.01;

/** The rule, word for word as the outputs' legend and docs/nightly.md state it. */
export const VERDICT_RULE = [
  `change = median(head) / median(base) − 1, with a seeded bootstrap 95% CI; p = two-sided permutation test of the difference of medians (exact up to ${EXACT_LIMIT.toLocaleString('en-US')} splits, else ${PERMUTATIONS.toLocaleString('en-US')} seeded relabelings).`,
  'regression: p < α and |change| > threshold, in the direction the metric calls worse; improvement: the same in its better direction.',
  'inconclusive: the samples are too few for the test ever to reach p < α (smallest attainable p ≥ α), either side has under 2 samples, the base median is 0, or the target runs in a VM and the accelerator differs between the runs.',
  'unchanged: everything else — no significant change beyond the threshold.',
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
  change?: RelativeChange;
  /** Absent when the test was not run (too few samples, zero base, accelerator). */
  p?: number;
  minP: number;
  exactTest?: boolean;
  threshold: number;
  /** The --threshold argument that set it; absent for the default. */
  thresholdSource?: string;
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
  /** VM targets whose verdicts the accelerator difference made inconclusive. */
  acceleratorAffected: string[];
  series: SeriesComparison[];
  /** Series in only one of the two results, or without samples on one side. */
  notCompared: { scenario: string; target: string; reason: string }[];
  counts: Record<Verdict, number>;
  /** 1 when any series is a regression, else 0. */
  exitCode: 0 | 1;
}

export interface CompareOptions {
  thresholds: Thresholds;
  /** @default 0.01 */
  alpha?: number;
  /** @default 1 */
  seed?: number;
}

/** Values of one metric in one target, as the runner's statistics take them: every sample that has it. */
export function valuesOf(result: Result, scenario: string, target: string, metric: string): number[] {
  const t = result.scenarios.find((s) => s.name === scenario)?.targets.find((x) => x.target === target);
  const xs: number[] = [];
  for (const s of t?.samples ?? []) {
    const v = s.values[metric];
    if (v !== undefined && Number.isFinite(v)) xs.push(v);
  }
  return xs;
}

/** Scenario → targets and metrics found in either result, for validating --threshold. */
export function catalogue(results: readonly Result[]): Catalogue {
  const c: Catalogue = new Map();
  for (const r of results) {
    for (const sc of r.scenarios) {
      const entry = c.get(sc.name) ?? { targets: new Set<string>(), metrics: new Set<string>() };
      for (const t of sc.targets) entry.targets.add(t.target);
      for (const m of sc.metrics) entry.metrics.add(m.name);
      c.set(sc.name, entry);
    }
  }
  return c;
}

function side(r: Result, scenario: string, target: string, metric: string, xs: number[]): SideSummary {
  const st = r.scenarios.find((s) => s.name === scenario)?.targets.find((t) => t.target === target)?.stats[metric];
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = sorted.length / 2;
  const median = st?.median ?? (sorted.length % 2 ? (sorted[Math.floor(mid)] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2);
  return { n: xs.length, median, ciLow: st?.ciLow ?? median, ciHigh: st?.ciHigh ?? median };
}

function pct(x: number): string {
  return `${Number((x * 100).toPrecision(3))}%`;
}

/** Judges one series from its samples; the rule is VERDICT_RULE. */
export function judgeSeries(
  a: readonly number[],
  b: readonly number[],
  opts: { better: 'lower' | 'higher'; alpha: number; threshold: number; seed: number; acceleratorDiffers?: boolean },
): Pick<SeriesComparison, 'change' | 'p' | 'minP' | 'exactTest' | 'verdict' | 'reason'> {
  const minP = minAttainableP(a.length, b.length);
  if (opts.acceleratorDiffers) return { minP, verdict: 'inconclusive', reason: 'accelerator differs between the runs' };
  if (a.length < 2 || b.length < 2) return { minP, verdict: 'inconclusive', reason: `n=${a.length} vs ${b.length}: under 2 samples` };
  const change = relativeChange(a, b, deriveSeed(opts.seed, 'change'));
  const test = permutationTest(a, b, deriveSeed(opts.seed, 'permutation'));
  const common = { p: test.p, minP, exactTest: test.exact };
  if (!change) {
    const headZero = b.every((x) => x === 0) || test.p >= opts.alpha;
    return headZero
      ? { ...common, verdict: 'unchanged', reason: 'base median is 0; no significant difference' }
      : { ...common, verdict: 'inconclusive', reason: 'base median is 0: relative change undefined' };
  }
  const significant = test.p < opts.alpha;
  const beyond = Math.abs(change.change) > opts.threshold;
  if (significant && beyond) {
    const worse = opts.better === 'lower' ? change.change > 0 : change.change < 0;
    return {
      ...common,
      change,
      verdict: worse ? 'regression' : 'improvement',
      reason: `p < α and |change| > ${pct(opts.threshold)}; ${opts.better} is better`,
    };
  }
  if (minP >= opts.alpha) {
    return {
      ...common,
      change,
      verdict: 'inconclusive',
      reason: `n=${a.length} vs ${b.length}: smallest attainable p is ${Number(minP.toPrecision(2))} ≥ α=${opts.alpha}; take more samples (--runs)`,
    };
  }
  return {
    ...common,
    change,
    verdict: 'unchanged',
    reason: significant ? `|change| ≤ threshold ${pct(opts.threshold)}` : `p ≥ α=${opts.alpha}`,
  };
}

/**
 * Compares head against base. Throws a UsageError (via validateThresholds) when
 * a --threshold names a scenario, target or metric neither result has.
 */
export function compareResults(base: { path: string; result: Result }, head: { path: string; result: Result }, opts: CompareOptions): Comparison {
  const alpha = opts.alpha ?? DEFAULT_ALPHA;
  const seed = opts.seed ?? 1;
  validateThresholds(opts.thresholds, catalogue([base.result, head.result]));
  const warnings = fingerprintDiffs(base.result, head.result);
  const acceleratorDiffers = warnings.some((w) => w.accelerator);
  const affected = new Set<string>();
  const series: SeriesComparison[] = [];
  const notCompared: Comparison['notCompared'] = [];

  for (const bs of base.result.scenarios) {
    const hs = head.result.scenarios.find((s) => s.name === bs.name);
    if (!hs) {
      notCompared.push({ scenario: bs.name, target: '*', reason: 'scenario only in base' });
      continue;
    }
    for (const bt of bs.targets) {
      const ht = hs.targets.find((t) => t.target === bt.target);
      if (!ht) {
        notCompared.push({ scenario: bs.name, target: bt.target, reason: 'target only in base' });
        continue;
      }
      const vm = acceleratorDiffers && (isVmTarget(base.result, bt.target) || isVmTarget(head.result, bt.target));
      if (vm) affected.add(bt.target);
      let comparedAny = false;
      for (const m of bs.metrics) {
        const hm = hs.metrics.find((x) => x.name === m.name);
        if (!hm) continue;
        const a = valuesOf(base.result, bs.name, bt.target, m.name);
        const b = valuesOf(head.result, hs.name, ht.target, m.name);
        if (a.length === 0 || b.length === 0) continue;
        comparedAny = true;
        const { threshold, source } = thresholdFor(opts.thresholds, bs.name, bt.target, m.name);
        const judged = judgeSeries(a, b, {
          better: m.better,
          alpha,
          threshold,
          seed: deriveSeed(seed, `${bs.name}/${bt.target}/${m.name}`),
          acceleratorDiffers: vm,
        });
        series.push({
          scenario: bs.name,
          target: bt.target,
          metric: m.name,
          unit: m.unit,
          better: m.better,
          base: side(base.result, bs.name, bt.target, m.name, a),
          head: side(head.result, hs.name, ht.target, m.name, b),
          threshold,
          ...(source !== undefined ? { thresholdSource: source } : {}),
          ...judged,
        });
      }
      if (!comparedAny) {
        const why = (t: typeof bt): string => (t.state === 'completed' ? 'no samples' : `${t.state}${t.error ? `: ${t.error}` : ''}`);
        notCompared.push({ scenario: bs.name, target: bt.target, reason: `no common samples (base ${why(bt)}, head ${why(ht)})` });
      }
    }
    for (const ht of hs.targets) if (!bs.targets.some((t) => t.target === ht.target)) notCompared.push({ scenario: hs.name, target: ht.target, reason: 'target only in head' });
  }
  for (const hs of head.result.scenarios) {
    if (!base.result.scenarios.some((s) => s.name === hs.name)) notCompared.push({ scenario: hs.name, target: '*', reason: 'scenario only in head' });
  }

  const counts: Record<Verdict, number> = { regression: 0, improvement: 0, unchanged: 0, inconclusive: 0 };
  for (const s of series) counts[s.verdict]++;
  const summary = (x: { path: string; result: Result }): RunSummary => ({
    path: x.path,
    startedAt: x.result.startedAt,
    version: x.result.tool.version,
    complete: x.result.complete,
  });
  return {
    base: summary(base),
    head: summary(head),
    alpha,
    seed,
    defaultThreshold: opts.thresholds.fallback,
    warnings,
    acceleratorAffected: [...affected].sort(),
    series,
    notCompared,
    counts,
    exitCode: counts.regression > 0 ? 1 : 0,
  };
}
