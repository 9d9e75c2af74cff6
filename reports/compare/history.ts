/**
 * `tsbench history`'s data: the median and its CI of every scenario × target ×
 * metric across a series of results ordered by start time, with each step
 * between consecutive runs judged by the same rule as `tsbench compare`, so a
 * jump is flagged and a slow drift is visible on the chart, and the change
 * points of each series (core/changepoints.ts), where its level stepped. Pure.
 */
import type { Result } from '../../core/schema.js';
import { valuesOf } from '../../core/samples.js';
import { DEFAULT_MIN_SEGMENT, eDivisive } from '../../core/changepoints.js';
import { changeOfMedians, deriveSeed, type Change } from '../../core/stats.js';
import { fingerprintDiffs, isVmTarget, type FingerprintDiff } from './fingerprint.js';
import { catalogue, DEFAULT_ALPHA, judgeFamily, side, type SeriesInput, type Verdict } from './index.js';
import { thresholdFor, validateThresholds, type Thresholds } from './thresholds.js';
import { twinOrder } from '../targets.js';

export interface HistoryRun {
  path: string;
  startedAt: string;
  version: string;
  /** Short label for an axis: `2026-11-23 12:29` (UTC). */
  label: string;
}

export interface HistoryPoint {
  n: number;
  median: number;
  ciLow: number;
  ciHigh: number;
  /** The verdict of this run against the previous run that has this series; absent for the first point. */
  step?: { verdict: Verdict; change?: number; p?: number; q?: number; reason: string };
}

/** What the change-point detector reads of each run: its median, or all its samples. */
export type ChangeSeries = 'medians' | 'samples';
export const CHANGE_SERIES: readonly ChangeSeries[] = ['medians', 'samples'];

/** A change point of one series: where its level stepped, between two runs. */
export interface HistoryChangePoint {
  /** Index (History.runs) of the first run after the change. */
  run: number;
  /** Index of the last run before it that holds the series. */
  runBefore: number;
  /** The runs of the segments either side, up to the neighbouring change points (indices into History.runs, inclusive). */
  before: { first: number; last: number; runs: number };
  after: { first: number; last: number; runs: number };
  /** median(after) / median(before) − 1 with a seeded bootstrap 95 % CI, from the values of the two segments (their runs' medians, or all their samples). */
  step?: Change;
  /** The t-test that admitted it: t, its degrees of freedom, p, and p × the splits its segment allowed. */
  t: number;
  df: number;
  p: number;
  pAdjusted: number;
  /** Fingerprint differences between the runs either side. */
  environment: FingerprintDiff[];
}

export interface HistorySeries {
  scenario: string;
  target: string;
  metric: string;
  unit: string;
  better: 'lower' | 'higher';
  /** One entry per run (same order as History.runs); null where the run lacks the series. */
  points: (HistoryPoint | null)[];
  /** Change points in run order; none when the series holds under 2 × minSegment runs. */
  changePoints: HistoryChangePoint[];
}

/** How the change points were found, stated for the reader. */
export interface ChangePointMethod {
  series: ChangeSeries;
  minSegment: number;
  alpha: number;
}

/** The change-point rule in words, as the outputs state it. */
export function changePointRule(m: ChangePointMethod): string {
  const what = m.series === 'medians' ? "each run's median" : "every sample of each run (a run's samples stay together)";
  return (
    `change points: E-divisive with means over ${what}, at least ${m.minSegment} runs either side; the split with the largest energy statistic Q̂ in each segment is tested by a two-sided pooled Student's t-test of the values before it against those after it (up to the neighbouring change points), ` +
    `its p multiplied by the number of splits the segment allowed (Bonferroni), and accepted while that is < α = ${m.alpha}; deterministic, no permutations. ` +
    `The step is median(after) / median(before) − 1 of the two segments' values with a seeded bootstrap 95% CI.`
  );
}

export interface History {
  runs: HistoryRun[];
  series: HistorySeries[];
  /** Fingerprint differences between each run and the one before it. */
  changes: { index: number; diffs: FingerprintDiff[] }[];
  alpha: number;
  defaultThreshold: number;
  changePoints: ChangePointMethod & { rule: string };
}

/** `2026-11-23 12:29` (UTC), or with seconds when two runs started in the same minute. */
function label(iso: string, seconds: boolean): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime())
    ? iso
    : d
        .toISOString()
        .slice(0, seconds ? 19 : 16)
        .replace('T', ' ');
}

/** Builds the history of results (any order; sorted here by startedAt, then path). */
export function buildHistory(
  loaded: readonly { path: string; result: Result }[],
  opts: { thresholds: Thresholds; alpha?: number; seed?: number; changeSeries?: ChangeSeries; minSegment?: number },
): History {
  const alpha = opts.alpha ?? DEFAULT_ALPHA;
  const seed = opts.seed ?? 1;
  const method: ChangePointMethod = { series: opts.changeSeries ?? 'medians', minSegment: opts.minSegment ?? DEFAULT_MIN_SEGMENT, alpha };
  const runs = [...loaded].sort((a, b) => a.result.startedAt.localeCompare(b.result.startedAt) || a.path.localeCompare(b.path));
  validateThresholds(opts.thresholds, catalogue(runs.map((r) => r.result)));

  const changes: History['changes'] = [];
  const acceleratorChangedAt = new Set<number>();
  for (let i = 1; i < runs.length; i++) {
    const diffs = fingerprintDiffs((runs[i - 1] as (typeof runs)[number]).result, (runs[i] as (typeof runs)[number]).result);
    if (diffs.length > 0) changes.push({ index: i, diffs });
    if (diffs.some((d) => d.accelerator)) acceleratorChangedAt.add(i);
  }

  // Series in first-seen order: scenario, then target, then the scenario's metric order.
  const series = new Map<string, HistorySeries>();
  runs.forEach(({ result }) => {
    for (const sc of result.scenarios) {
      for (const t of sc.targets) {
        for (const m of sc.metrics) {
          const key = `${sc.name}\u0000${t.target}\u0000${m.name}`;
          if (series.has(key) || valuesOf(t, m.name).length === 0) continue;
          series.set(key, {
            scenario: sc.name,
            target: t.target,
            metric: m.name,
            unit: m.unit,
            better: m.better,
            points: runs.map(() => null),
            changePoints: [],
          });
        }
      }
    }
  });
  // container@debian's series right after container's, within each scenario.
  const ordered = twinOrder(
    [...series.values()],
    (s) => s.target,
    (s) => s.scenario,
  );

  // Each run's steps (against the previous run holding the series) are one family, judged together as compare does.
  const families = runs.map(() => [] as { series: HistorySeries; input: SeriesInput }[]);
  for (const s of ordered) {
    let prev: { index: number; values: number[] } | undefined;
    runs.forEach(({ result }, i) => {
      const t = result.scenarios.find((x) => x.name === s.scenario)?.targets.find((x) => x.target === s.target);
      const xs = valuesOf(t, s.metric);
      if (!t || xs.length === 0) return;
      s.points[i] = side(t, s.metric, xs);
      if (prev) {
        let accel = false;
        for (let k = prev.index + 1; k <= i; k++) if (acceleratorChangedAt.has(k)) accel = true;
        families[i]?.push({
          series: s,
          input: {
            a: prev.values,
            b: xs,
            better: s.better,
            threshold: thresholdFor(opts.thresholds, s.scenario, s.target, s.metric).threshold,
            seed: deriveSeed(seed, `${i}/${s.scenario}/${s.target}/${s.metric}`),
            acceleratorDiffers: accel && isVmTarget(result, s.target),
          },
        });
      }
      prev = { index: i, values: xs };
    });
  }
  families.forEach((family, i) => {
    const judged = judgeFamily(
      family.map((f) => f.input),
      alpha,
    );
    family.forEach((f, k) => {
      const j = judged[k];
      const point = f.series.points[i];
      if (!j || !point) return;
      point.step = {
        verdict: j.verdict,
        change: j.change?.change,
        p: j.p,
        q: j.q,
        reason: j.reason,
      };
    });
  });

  for (const s of ordered) s.changePoints = changePointsOf(s, runs, method, seed);

  const minutes = runs.map((r) => label(r.result.startedAt, false));
  const seconds = new Set(minutes).size < minutes.length;
  return {
    runs: runs.map(({ path, result }) => ({ path, startedAt: result.startedAt, version: result.tool.version, label: label(result.startedAt, seconds) })),
    series: ordered,
    changes,
    alpha,
    defaultThreshold: opts.thresholds.fallback,
    changePoints: { ...method, rule: changePointRule(method) },
  };
}

/** The change points of one series, over the runs that hold it, each with its step and the environment changes across it. */
function changePointsOf(s: HistorySeries, runs: readonly { result: Result }[], m: ChangePointMethod, seed: number): HistoryChangePoint[] {
  const present: number[] = [];
  const groups: number[][] = [];
  s.points.forEach((p, i) => {
    if (!p) return;
    present.push(i);
    const t = runs[i]?.result.scenarios.find((x) => x.name === s.scenario)?.targets.find((x) => x.target === s.target);
    groups.push(m.series === 'medians' ? [p.median] : valuesOf(t, s.metric));
  });
  if (groups.length < 2 * m.minSegment) return [];
  const found = eDivisive(groups, { minSegment: m.minSegment, alpha: m.alpha });
  const bounds = [0, ...found.map((c) => c.index), groups.length];
  return found.map((c, k) => {
    const from = bounds[k] as number;
    const to = bounds[k + 2] as number;
    const before = groups.slice(from, c.index).flat();
    const after = groups.slice(c.index, to).flat();
    const run = present[c.index] as number;
    const runBefore = present[c.index - 1] as number;
    const step = changeOfMedians(before, after, deriveSeed(seed, `changepoint/${run}/${s.scenario}/${s.target}/${s.metric}`));
    const a = runs[runBefore]?.result;
    const b = runs[run]?.result;
    return {
      run,
      runBefore,
      before: { first: present[from] as number, last: runBefore, runs: c.index - from },
      after: { first: run, last: present[to - 1] as number, runs: to - c.index },
      step,
      t: c.t,
      df: c.df,
      p: c.p,
      pAdjusted: c.pAdjusted,
      environment: a && b ? fingerprintDiffs(a, b) : [],
    };
  });
}
