/**
 * A/A calibration of the gate (`tsbench calibrate`): runs of the same targets
 * on the same host, where nothing changed, compared with each other by the
 * gate's own rule. Per scenario × target × metric it says how often the gate
 * raised a false alarm, the minimum detectable effect at the runs' sample size,
 * and a threshold for `compare --calibration` in place of one global
 * percentage. The file it writes, and how compare reads it: calibration.ts.
 */
import { probit } from 'simple-statistics';
import { UsageError } from '../../core/errors.js';
import type { Result } from '../../core/schema.js';
import { DEFAULT_POWER, detectableEffect, median, standardErrorOf } from '../../core/stats.js';
import { fmt } from '../table.js';
import { CALIBRATION_METHOD, type Calibration, type SeriesCalibration } from './calibration.js';
import { compareResults } from './index.js';
import { pct, signedPct } from './render.js';
import type { Thresholds } from './thresholds.js';
import { DEFAULT_ALPHA, type SeriesComparison } from './types.js';

type Loaded = { path: string; result: Result };

/** A copy of a result keeping only the samples `keep` selects (by position), without stored statistics. */
function subset(r: Loaded, label: string, keep: (i: number, n: number) => boolean): Loaded {
  const result = structuredClone(r.result);
  for (const sc of result.scenarios) {
    for (const t of sc.targets) {
      const n = t.samples.length;
      t.samples = t.samples.filter((_, i) => keep(i, n));
      t.stats = {};
      t.ratioToNative = {};
    }
  }
  return { path: `${r.path} (${label})`, result };
}

const key = (s: { scenario: string; target: string; metric: string }): string => `${s.scenario}\u0000${s.target}\u0000${s.metric}`;

interface Tally {
  series: SeriesComparison;
  /** Changes between runs (pairs) with their CIs. */
  pairs: { change: number; ciLow: number; ciHigh: number }[];
  medians: number[];
  n: number;
  comparisons: number;
  inconclusive: number;
  flagged: number;
}

/** The A/A comparisons of the runs: every pair, then each run's even/odd and first/second-half splits. */
function aaComparisons(runs: readonly Loaded[]): { base: Loaded; head: Loaded; pair: boolean }[] {
  const out: { base: Loaded; head: Loaded; pair: boolean }[] = [];
  for (let i = 0; i < runs.length; i++) for (let j = i + 1; j < runs.length; j++) out.push({ base: runs[i] as Loaded, head: runs[j] as Loaded, pair: true });
  for (const r of runs) {
    out.push({ base: subset(r, 'even rounds', (i) => i % 2 === 0), head: subset(r, 'odd rounds', (i) => i % 2 === 1), pair: false });
    out.push({ base: subset(r, 'first half', (i, n) => i < Math.floor(n / 2)), head: subset(r, 'second half', (i, n) => i >= Math.floor(n / 2)), pair: false });
  }
  return out;
}

const flaggedVerdict = (s: SeriesComparison): boolean => s.verdict === 'regression' || s.verdict === 'improvement';

/**
 * Calibrates the gate from A/A runs: at least two results of the same scenarios and targets on
 * one host. Throws a UsageError naming the file that does not fit.
 */
export function calibrate(runs: readonly Loaded[], opts: { thresholds: Thresholds; alpha?: number; seed?: number; createdAt?: string }): Calibration {
  const alpha = opts.alpha ?? DEFAULT_ALPHA;
  const seed = opts.seed ?? 1;
  if (runs.length < 2)
    throw new UsageError('calibrate needs at least two runs of the same targets: pass --repeats 2 or more, or two results or more with --from');
  const first = runs[0] as Loaded;
  for (const r of runs.slice(1)) {
    const a = first.result.host;
    const b = r.result.host;
    if (a.hostname !== b.hostname || a.cpuModel !== b.cpuModel) {
      throw new UsageError(
        `calibrate: ${r.path} is from ${b.hostname} (${b.cpuModel}), ${first.path} from ${a.hostname} (${a.cpuModel}); A/A runs must share a host`,
      );
    }
  }
  const comparisons = aaComparisons(runs);
  const tallies = new Map<string, Tally>();
  for (const c of comparisons) {
    const cmp = compareResults(c.base, c.head, { thresholds: opts.thresholds, alpha, seed });
    for (const s of cmp.series) {
      const k = key(s);
      const t = tallies.get(k) ?? { series: s, pairs: [], medians: [], n: Number.POSITIVE_INFINITY, comparisons: 0, inconclusive: 0, flagged: 0 };
      t.comparisons++;
      if (s.verdict === 'inconclusive') t.inconclusive++;
      if (flaggedVerdict(s)) t.flagged++;
      if (c.pair) {
        if (s.change) t.pairs.push(s.change);
        t.n = Math.min(t.n, s.base.n, s.head.n);
      }
      tallies.set(k, t);
    }
  }
  for (const r of runs) {
    for (const sc of r.result.scenarios)
      for (const tg of sc.targets)
        for (const [metric, st] of Object.entries(tg.stats)) tallies.get(key({ scenario: sc.name, target: tg.target, metric }))?.medians.push(st.median);
  }
  const zAlpha = probit(1 - alpha / 2);
  const series: SeriesCalibration[] = [];
  for (const t of tallies.values()) {
    if (t.pairs.length === 0) continue;
    const se = median(t.pairs.map(standardErrorOf));
    const mde = detectableEffect(se, alpha);
    const drift = Math.sqrt(t.pairs.reduce((acc, p) => acc + p.change * p.change, 0) / t.pairs.length);
    const threshold = Math.max(0.001, Math.ceil(Math.max(mde, zAlpha * drift) * 1000 - 1e-9) / 1000);
    series.push({
      scenario: t.series.scenario,
      target: t.series.target,
      metric: t.series.metric,
      unit: t.series.unit,
      n: Number.isFinite(t.n) ? t.n : 0,
      median: t.medians.length > 0 ? median(t.medians) : t.series.base.median,
      changes: t.pairs.map((p) => p.change),
      se,
      drift,
      mde,
      threshold,
      aa: { comparisons: t.comparisons, inconclusive: t.inconclusive, flagged: t.flagged, flaggedCalibrated: 0 },
    });
  }
  const calibration: Calibration = {
    tool: 'tsbench calibrate',
    version: 1,
    createdAt: opts.createdAt ?? new Date().toISOString(),
    host: { hostname: first.result.host.hostname, cpuModel: first.result.host.cpuModel },
    alpha,
    power: DEFAULT_POWER,
    defaultThreshold: opts.thresholds.fallback,
    runs: runs.map((r) => r.path),
    method: CALIBRATION_METHOD,
    series,
  };
  // The same comparisons with the calibrated thresholds (explicit --threshold rules still win, as in compare).
  const byKey = new Map(series.map((s) => [key(s), s]));
  for (const c of comparisons) {
    const cmp = compareResults(c.base, c.head, { thresholds: opts.thresholds, alpha, seed, calibration: { path: 'calibration', calibration } });
    for (const s of cmp.series) {
      const entry = byKey.get(key(s));
      if (entry && flaggedVerdict(s)) entry.aa.flaggedCalibrated++;
    }
  }
  return calibration;
}

/** A table for a terminal: one line per series, then the method. */
export function calibrationText(c: Calibration): string {
  const head = ['scenario', 'target', 'metric', 'median', 'n', 'A/A changes', 'se', 'mde', 'drift', 'threshold', 'false alarms', 'calibrated'];
  const rows = c.series.map((s) => [
    s.scenario,
    s.target,
    s.metric,
    `${fmt(s.median)} ${s.unit}`,
    String(s.n),
    s.changes.map(signedPct).join(' '),
    pct(s.se),
    pct(s.mde),
    pct(s.drift),
    pct(s.threshold),
    `${s.aa.flagged}/${s.aa.comparisons}`,
    `${s.aa.flaggedCalibrated}/${s.aa.comparisons}`,
  ]);
  const table = [head, ...rows];
  const widths = head.map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length)));
  const out = [
    `A/A calibration of ${c.runs.length} runs on ${c.host.hostname} (${c.host.cpuModel}); α = ${c.alpha}, power ${c.power * 100}%, configured threshold ${pct(c.defaultThreshold)}`,
    '',
    ...table.map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    ),
    '',
    'method:',
    ...c.method.map((l) => `  ${l}`),
  ];
  return `${out.join('\n')}\n`;
}
