/**
 * `tsbench history`'s data: the median and its CI of every scenario × target ×
 * metric across a series of results ordered by start time, with each step
 * between consecutive runs judged by the same rule as `tsbench compare`, so a
 * jump is flagged and a slow drift is visible on the chart. Pure.
 */
import type { Result } from '../../core/schema.js';
import { valuesOf } from '../../core/samples.js';
import { deriveSeed } from '../../core/stats.js';
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

export interface HistorySeries {
  scenario: string;
  target: string;
  metric: string;
  unit: string;
  better: 'lower' | 'higher';
  /** One entry per run (same order as History.runs); null where the run lacks the series. */
  points: (HistoryPoint | null)[];
}

export interface History {
  runs: HistoryRun[];
  series: HistorySeries[];
  /** Fingerprint differences between each run and the one before it. */
  changes: { index: number; diffs: FingerprintDiff[] }[];
  alpha: number;
  defaultThreshold: number;
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
export function buildHistory(loaded: readonly { path: string; result: Result }[], opts: { thresholds: Thresholds; alpha?: number; seed?: number }): History {
  const alpha = opts.alpha ?? DEFAULT_ALPHA;
  const seed = opts.seed ?? 1;
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
          series.set(key, { scenario: sc.name, target: t.target, metric: m.name, unit: m.unit, better: m.better, points: runs.map(() => null) });
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
        ...(j.change ? { change: j.change.change } : {}),
        ...(j.p !== undefined ? { p: j.p } : {}),
        ...(j.q !== undefined ? { q: j.q } : {}),
        reason: j.reason,
      };
    });
  });

  const minutes = runs.map((r) => label(r.result.startedAt, false));
  const seconds = new Set(minutes).size < minutes.length;
  return {
    runs: runs.map(({ path, result }) => ({ path, startedAt: result.startedAt, version: result.tool.version, label: label(result.startedAt, seconds) })),
    series: ordered,
    changes,
    alpha,
    defaultThreshold: opts.thresholds.fallback,
  };
}
