/**
 * A result's figures from its samples: the one path from raw samples to the
 * `stats` and `ratioToNative` blocks. The runner computes them with it after
 * every round, and every reader (core/load.ts) computes them again on loading,
 * so a stored block is only a cache: one that disagrees with its samples is
 * named, one line per series, and replaced by the recomputed figures. The
 * same values (core/samples.ts), the same statistics (core/stats.ts) and the
 * same seeds (the run's seed and the series' name), so recomputing a file that
 * tsbench wrote gives back exactly what it stored.
 */
import { valuesOf } from './samples.js';
import type { Result, ScenarioResult, TargetResult } from './schema.js';
import { deriveSeed, ratioOfMedians, summarize, type Ratio, type Stats } from './stats.js';

/** Recomputes the statistics and ratios to native of one scenario, in place, from the values that count (core/samples.ts). */
export function computeStats(sc: ScenarioResult, seed: number): void {
  const native = sc.targets.find((t) => t.target === 'native');
  for (const t of sc.targets) {
    t.stats = {};
    t.ratioToNative = {};
    for (const m of sc.metrics) {
      const xs = valuesOf(t, m.name);
      if (xs.length === 0) continue;
      t.stats[m.name] = summarize(xs, deriveSeed(seed, `${sc.name}/${t.target}/${m.name}`));
      if (native && t !== native) {
        const r = ratioOfMedians(xs, valuesOf(native, m.name), deriveSeed(seed, `${sc.name}/${t.target}/${m.name}/ratio`));
        if (r) t.ratioToNative[m.name] = r;
      }
    }
  }
}

/**
 * Relative tolerance of a stored figure against its recomputation. JSON round-trips doubles exactly and the
 * computation is deterministic, so a file tsbench wrote matches to the bit; the tolerance only forgives a writer
 * that printed a figure with a few digits less than a double holds.
 */
export const FIGURE_TOLERANCE = 1e-9;

/** Whether two figures agree within FIGURE_TOLERANCE. */
export function sameFigure(a: number, b: number): boolean {
  if (a === b) return true;
  return Math.abs(a - b) <= FIGURE_TOLERANCE * Math.max(Math.abs(a), Math.abs(b));
}

/** The fields of a Stats block in the order a disagreement is reported (the median first: it is what every figure shows). */
export const STATS_FIELDS = [
  'median',
  'ciLow',
  'ciHigh',
  'n',
  'mean',
  'sd',
  'min',
  'max',
  'p95',
  'p99',
  'outliers',
] as const satisfies readonly (keyof Stats)[];
const RATIO_FIELDS = ['ratio', 'ciLow', 'ciHigh'] as const satisfies readonly (keyof Ratio)[];

/** A Stats field in words, for messages. */
export const STATS_WORDS: Record<string, string> = { ciLow: 'CI low', ciHigh: 'CI high' };
const RATIO_WORDS: Record<string, string> = { ratio: 'ratio to native', ciLow: 'ratio to native CI low', ciHigh: 'ratio to native CI high' };

/** A figure for a message: 6 significant digits, all of them when that would hide the difference. */
function num(x: number, other: number): string {
  const short = (v: number): string => String(Number(v.toPrecision(6)));
  return short(x) === short(other) ? String(x) : short(x);
}

/** The first field of `stored` that disagrees with `computed`, in words: `median 1000 ≠ 1100`; undefined when all agree. */
function firstDifference<T extends object>(stored: T, computed: T, fields: readonly (keyof T & string)[], words: Record<string, string>): string | undefined {
  for (const f of fields) {
    const s = stored[f] as unknown;
    const c = computed[f] as unknown;
    if (typeof s !== 'number' || typeof c !== 'number' || !sameFigure(s, c)) {
      const sv = typeof s === 'number' ? num(s, typeof c === 'number' ? c : s) : 'none';
      const cv = typeof c === 'number' ? num(c, typeof s === 'number' ? s : c) : 'none';
      return `${words[f] ?? f} ${sv} ≠ ${cv}`;
    }
  }
  return undefined;
}

/** One series whose stored figures disagree with its samples. */
export interface FigureDisagreement {
  scenario: string;
  target: string;
  metric: string;
  /** `container/cpu/eventsPerS: stored median 1000 ≠ 1100 from its 30 samples` */
  line: string;
}

/** The name of a series in messages: `target/scenario/metric`. */
export function seriesName(scenario: string, target: string, metric: string): string {
  return `${target}/${scenario}/${metric}`;
}

/** How the stored blocks of one target disagree with the recomputed ones, one entry per metric. */
function disagreements(sc: ScenarioResult, stored: Pick<TargetResult, 'stats' | 'ratioToNative'>, computed: TargetResult): FigureDisagreement[] {
  const out: FigureDisagreement[] = [];
  const metrics = [...new Set([...sc.metrics.map((m) => m.name), ...Object.keys(stored.stats), ...Object.keys(stored.ratioToNative)])];
  for (const metric of metrics) {
    const parts: string[] = [];
    const s = stored.stats[metric];
    const c = computed.stats[metric];
    // A block that is simply absent is not a disagreement: it is recomputed silently.
    if (s && !c) parts.push(`median ${num(s.median, s.median)} but none of its samples counts`);
    else if (s && c) {
      const d = firstDifference(s, c, STATS_FIELDS, STATS_WORDS);
      if (d) parts.push(d);
    }
    const sr = stored.ratioToNative[metric];
    const cr = computed.ratioToNative[metric];
    if (sr && !cr) parts.push(`ratio to native ${num(sr.ratio, sr.ratio)} but the samples give none`);
    else if (sr && cr) {
      const d = firstDifference(sr, cr, RATIO_FIELDS, RATIO_WORDS);
      if (d) parts.push(d);
    }
    if (parts.length === 0) continue;
    const n = c?.n ?? 0;
    out.push({
      scenario: sc.name,
      target: computed.target,
      metric,
      line: `${seriesName(sc.name, computed.target, metric)}: stored ${parts.join(', ')} from its ${n} sample${n === 1 ? '' : 's'}`,
    });
  }
  return out;
}

/**
 * Recomputes every figure of a result from its samples, in place, and returns the series whose stored figures
 * disagreed (none for a file tsbench wrote and nobody edited; none either where a block was absent).
 */
export function recomputeFigures(result: Result): FigureDisagreement[] {
  const out: FigureDisagreement[] = [];
  for (const sc of result.scenarios) {
    const stored = sc.targets.map((t) => ({ stats: t.stats, ratioToNative: t.ratioToNative }));
    computeStats(sc, result.seed);
    sc.targets.forEach((t, i) => out.push(...disagreements(sc, stored[i] as (typeof stored)[number], t)));
  }
  return out;
}
