/**
 * `tsbench compare`'s judgement: every scenario × target × metric present in
 * both results gets the relative change of its median, a p-value and a verdict
 * (see VERDICT_RULE). Pure: results in, a Comparison out; nothing is printed here.
 */
import { valuesOf } from '../../core/samples.js';
import type { Result, TargetResult } from '../../core/schema.js';
import { changeOfMedians, deriveSeed, median, minimumDetectableEffect } from '../../core/stats.js';
import { fingerprintDiffs, isVmTarget } from './fingerprint.js';
import { benjaminiHochberg, mannWhitney, minAttainableP } from './stats.js';
import { thresholdFor, validateThresholds, type Catalogue, type Thresholds } from './thresholds.js';
import { calibrationNotes, calibrationThreshold, type Calibration } from './calibration.js';
import { DEFAULT_ALPHA, type Comparison, type RunSummary, type SeriesComparison, type SideSummary, type Verdict } from './types.js';

export { DEFAULT_ALPHA, VERDICT_RULE, type Comparison, type RunSummary, type SeriesComparison, type SideSummary, type Verdict } from './types.js';

/** A series' threshold: an explicit --threshold rule naming its metric, else the calibration's, else the default. */
function seriesThreshold(opts: CompareOptions, scenario: string, target: string, metric: string): { threshold: number; source?: string } {
  const t = thresholdFor(opts.thresholds, scenario, target, metric);
  if (t.source !== undefined || !opts.calibration) return t;
  const c = calibrationThreshold(opts.calibration.calibration, scenario, target, metric);
  return c !== undefined ? { threshold: c, source: 'calibration' } : t;
}

export interface CompareOptions {
  thresholds: Thresholds;
  /** Per-series thresholds from `tsbench calibrate` (calibration.ts), below explicit --threshold rules, above the default. */
  calibration?: { path: string; calibration: Calibration };
  /** @default 0.01 */
  alpha?: number;
  /** @default 1 */
  seed?: number;
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

/** One side of a series: n of the values that count, and the stored median and its CI (the median of `xs` when the file stores none). */
export function side(t: TargetResult, metric: string, xs: readonly number[]): SideSummary {
  const st = t.stats[metric];
  const med = st?.median ?? median(xs);
  return { n: xs.length, median: med, ciLow: st?.ciLow ?? med, ciHigh: st?.ciHigh ?? med };
}

function pct(x: number): string {
  return `${Number((x * 100).toPrecision(3))}%`;
}

/** One series to judge: base samples a, head samples b. */
export interface SeriesInput {
  a: readonly number[];
  b: readonly number[];
  better: 'lower' | 'higher';
  threshold: number;
  /** Seed of the change's bootstrap interval. */
  seed: number;
  /** The target runs in a VM and the accelerator differs between the runs. */
  acceleratorDiffers?: boolean;
}

export type SeriesJudgement = Pick<SeriesComparison, 'change' | 'p' | 'q' | 'minP' | 'exactTest' | 'mde' | 'verdict' | 'reason'>;

/**
 * Judges a family of series together (one comparison, or one step of a
 * history): each gets a Mann–Whitney p-value, the testable ones (those that
 * could reach p < α at all, Tarone 1990) share a Benjamini–Hochberg adjustment,
 * and the verdicts follow VERDICT_RULE with q in place of p.
 */
export function judgeFamily(items: readonly SeriesInput[], alpha: number): SeriesJudgement[] {
  const pre = items.map((it): SeriesJudgement & { testable: boolean } => {
    const minP = minAttainableP(it.a.length, it.b.length);
    if (it.acceleratorDiffers) return { minP, verdict: 'inconclusive', reason: 'accelerator differs between the runs', testable: false };
    if (it.a.length < 2 || it.b.length < 2)
      return { minP, verdict: 'inconclusive', reason: `n=${it.a.length} vs ${it.b.length}: under 2 samples`, testable: false };
    const first = it.a[0] as number;
    if (it.a.every((x) => x === first) && it.b.every((x) => x === first)) {
      // Every sample of both runs is the same value (e.g. instances = 50): nothing to test.
      return { minP, change: { change: 0, ciLow: 0, ciHigh: 0 }, verdict: 'unchanged', reason: 'every sample identical', testable: false };
    }
    const test = mannWhitney(it.a, it.b);
    const change = changeOfMedians(it.a, it.b, deriveSeed(it.seed, 'change'));
    const mde = change ? Math.max(it.threshold, minimumDetectableEffect(change, alpha)) : undefined;
    const common = { p: test.p, minP: test.minP, exactTest: test.exact, change, mde };
    if (test.minP >= alpha) {
      return {
        ...common,
        verdict: 'inconclusive',
        reason: `n=${it.a.length} vs ${it.b.length}: smallest attainable p is ${Number(test.minP.toPrecision(2))} ≥ α=${alpha}; take more samples (--runs)`,
        testable: false,
      };
    }
    return { ...common, verdict: 'unchanged', reason: '', testable: true };
  });
  const testable = pre.flatMap((x, i) => (x.testable ? [i] : []));
  const qs = benjaminiHochberg(testable.map((i) => pre[i]?.p ?? 1));
  testable.forEach((i, k) => {
    const x = pre[i] as SeriesJudgement & { testable: boolean };
    const it = items[i] as SeriesInput;
    const q = qs[k] as number;
    x.q = q;
    if (!x.change) {
      // Base median 0: a relative change is undefined.
      x.verdict = q < alpha ? 'inconclusive' : 'unchanged';
      x.reason = q < alpha ? 'base median is 0: relative change undefined' : `base median is 0; q ≥ α=${alpha}`;
      return;
    }
    const c = x.change.change;
    if (q < alpha && Math.abs(c) > it.threshold) {
      const worse = it.better === 'lower' ? c > 0 : c < 0;
      x.verdict = worse ? 'regression' : 'improvement';
      x.reason = `q < α and |change| > ${pct(it.threshold)}; ${it.better} is better`;
    } else {
      x.verdict = 'unchanged';
      x.reason = q < alpha ? `|change| ≤ threshold ${pct(it.threshold)}` : `q ≥ α=${alpha}`;
    }
  });
  return pre.map(({ testable: _testable, ...rest }) => rest);
}

/** Judges one series alone (a family of one: q = p). */
export function judgeSeries(a: readonly number[], b: readonly number[], opts: Omit<SeriesInput, 'a' | 'b'> & { alpha: number }): SeriesJudgement {
  return judgeFamily([{ a, b, ...opts }], opts.alpha)[0] as SeriesJudgement;
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
  const inputs: SeriesInput[] = [];
  const pending: Omit<SeriesComparison, keyof SeriesJudgement>[] = [];
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
        const a = valuesOf(bt, m.name);
        const b = valuesOf(ht, m.name);
        if (a.length === 0 || b.length === 0) continue;
        comparedAny = true;
        const { threshold, source } = seriesThreshold(opts, bs.name, bt.target, m.name);
        inputs.push({ a, b, better: m.better, threshold, seed: deriveSeed(seed, `${bs.name}/${bt.target}/${m.name}`), acceleratorDiffers: vm });
        pending.push({
          scenario: bs.name,
          target: bt.target,
          metric: m.name,
          unit: m.unit,
          better: m.better,
          base: side(bt, m.name, a),
          head: side(ht, m.name, b),
          threshold,
          thresholdSource: source,
        });
      }
      if (!comparedAny) {
        const why = (t: typeof bt): string => (t.state === 'completed' ? 'no samples' : `${t.state}${t.error ? `: ${t.error}` : ''}`);
        notCompared.push({ scenario: bs.name, target: bt.target, reason: `no common samples (base ${why(bt)}, head ${why(ht)})` });
      }
    }
    for (const ht of hs.targets)
      if (!bs.targets.some((t) => t.target === ht.target)) notCompared.push({ scenario: hs.name, target: ht.target, reason: 'target only in head' });
  }
  for (const hs of head.result.scenarios) {
    if (!base.result.scenarios.some((s) => s.name === hs.name)) notCompared.push({ scenario: hs.name, target: '*', reason: 'scenario only in head' });
  }

  const judged = judgeFamily(inputs, alpha);
  const series: SeriesComparison[] = pending.map((p, i) => ({ ...p, ...(judged[i] as SeriesJudgement) }));
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
    calibration: opts.calibration && { path: opts.calibration.path, notes: calibrationNotes(opts.calibration.calibration, head.result, series) },
    acceleratorAffected: [...affected].sort(),
    series,
    notCompared,
    counts,
    exitCode: counts.regression > 0 ? 1 : 0,
  };
}
