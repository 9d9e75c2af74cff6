/**
 * Change points of a series: E-divisive with means (Matteson & James 2014, as
 * MongoDB's and Apache Otava's detectors use it) with the significance of each
 * candidate from Student's t-test instead of random permutations, so the same
 * series always gives the same change points. Pure functions.
 *
 * The series is a list of groups (one night each: its median alone, or all its
 * samples); a change point falls between two groups. Each step of the
 * hierarchical search looks, in every segment between the change points found
 * so far, for the split that maximises the energy statistic Q̂ with at least
 * `minSegment` groups either side, tests it with a two-sided pooled Student's
 * t-test of the values left of the split against those right of it (up to the
 * neighbouring change points), and multiplies that p by the number of splits
 * the segment allowed (Bonferroni: the split was chosen from them). The most
 * significant candidate is accepted while its adjusted p is below α; the
 * search stops at the first step where none is. On a series with no step the
 * chance of reporting any change point is therefore at most α (normal noise).
 */
import tCdf from '@stdlib/stats-base-dists-t-cdf';
import { tTestTwoSample } from 'simple-statistics';

export interface ChangePointOptions {
  /** Fewest groups a segment may have on either side of a change point. @default 3 */
  minSegment?: number;
  /** Significance level of the Bonferroni-adjusted p. @default 0.01 */
  alpha?: number;
}

/** The groups a segment spans, [from, to). */
export interface GroupRange {
  from: number;
  to: number;
}

export interface ChangePoint {
  /** The first group after the change. */
  index: number;
  /** Q̂ of the split (energy distance between the two sides, scaled by their sizes). */
  qhat: number;
  /** Pooled two-sample t of the values after the change against those before it. */
  t: number;
  /** Its degrees of freedom: values on both sides − 2. */
  df: number;
  /** Two-sided p of t. */
  p: number;
  /** p × the number of splits the segment allowed, at most 1: what was compared with α. */
  pAdjusted: number;
  /** The segments tested when it was accepted (bounded by the change points found before it). */
  before: GroupRange;
  after: GroupRange;
}

/** The default fewest groups on either side of a change point. */
export const DEFAULT_MIN_SEGMENT = 3;

/** Two-sided p of a pooled Student's t-test of a against b; 1 when neither side varies and the means agree. */
export function studentT(a: readonly number[], b: readonly number[]): { t: number; df: number; p: number } {
  const df = a.length + b.length - 2;
  if (a.length < 2 || b.length < 2) throw new RangeError('studentT needs at least two values on each side');
  const t = tTestTwoSample([...b], [...a], 0) ?? Number.NaN;
  if (Number.isNaN(t)) return { t: 0, df, p: 1 };
  if (!Number.isFinite(t)) return { t, df, p: 0 };
  return { t, df, p: Math.min(1, 2 * tCdf(-Math.abs(t), df)) };
}

/**
 * Q̂ at every split of z[s, e) in `splits` (indices into z): with X = z[s, τ) of
 * size m and Y = z[τ, e) of size k, Q̂ = m·k/(m+k) · (2·mean|x − y| − mean|x − x'| − mean|y − y'|),
 * the within-sample means over distinct pairs (0 for a side of one value).
 * O((e − s)²) for all splits together: each side's within-pair sums grow by one row per value.
 */
export function qhatAt(z: readonly number[], s: number, e: number, splits: readonly number[]): number[] {
  const n = e - s;
  // left[j]: Σ_{s ≤ i < j} |z_i − z_j|; right[j]: Σ_{j < i < e} |z_i − z_j|.
  const left = new Float64Array(n);
  const right = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    const zj = z[s + j] as number;
    for (let i = 0; i < j; i++) {
      const d = Math.abs((z[s + i] as number) - zj);
      left[j] = (left[j] as number) + d;
      right[i] = (right[i] as number) + d;
    }
  }
  // within-left sums W_L(τ) = Σ_{j < τ} left[j]; within-right W_R(τ) = Σ_{j ≥ τ} right[j].
  const wl = new Float64Array(n + 1);
  for (let j = 0; j < n; j++) wl[j + 1] = (wl[j] as number) + (left[j] as number);
  const wr = new Float64Array(n + 1);
  for (let j = n - 1; j >= 0; j--) wr[j] = (wr[j + 1] as number) + (right[j] as number);
  const total = wl[n] as number;
  return splits.map((tau) => {
    const m = tau - s;
    const k = e - tau;
    const withinL = wl[m] as number;
    const withinR = wr[m] as number;
    const between = total - withinL - withinR;
    const pairs = (x: number): number => (x * (x - 1)) / 2;
    const e1 = (2 * between) / (m * k);
    const e2 = m > 1 ? withinL / pairs(m) : 0;
    const e3 = k > 1 ? withinR / pairs(k) : 0;
    return ((m * k) / (m + k)) * (e1 - e2 - e3);
  });
}

/**
 * The change points of a series of groups (see the module comment), in order.
 * A group may be empty only if it is not needed on a side with under two
 * values; every group counts towards `minSegment` whatever its size.
 */
export function eDivisive(groups: readonly (readonly number[])[], opts: ChangePointOptions = {}): ChangePoint[] {
  const minSegment = opts.minSegment ?? DEFAULT_MIN_SEGMENT;
  const alpha = opts.alpha ?? 0.01;
  if (!Number.isInteger(minSegment) || minSegment < 2) throw new RangeError('minSegment must be an integer of at least 2');
  if (!(alpha > 0 && alpha < 1)) throw new RangeError('alpha must lie between 0 and 1');
  const z = groups.flat();
  const offsets = [0];
  for (const g of groups) offsets.push((offsets[offsets.length - 1] as number) + g.length);
  const at = (g: number): number => offsets[g] as number;
  const found: ChangePoint[] = [];

  for (;;) {
    const bounds = [0, ...found.map((c) => c.index).sort((a, b) => a - b), groups.length];
    let best: ChangePoint | undefined;
    for (let b = 0; b + 1 < bounds.length; b++) {
      const from = bounds[b] as number;
      const to = bounds[b + 1] as number;
      const splits: number[] = [];
      for (let g = from + minSegment; g <= to - minSegment; g++) if (at(g) - at(from) >= 2 && at(to) - at(g) >= 2) splits.push(g);
      if (splits.length === 0) continue;
      const q = qhatAt(
        z,
        at(from),
        at(to),
        splits.map((g) => at(g)),
      );
      let k = 0;
      for (let i = 1; i < q.length; i++) if ((q[i] as number) > (q[k] as number)) k = i;
      const index = splits[k] as number;
      const test = studentT(z.slice(at(from), at(index)), z.slice(at(index), at(to)));
      const cand: ChangePoint = {
        index,
        qhat: q[k] as number,
        ...test,
        pAdjusted: Math.min(1, test.p * splits.length),
        before: { from, to: index },
        after: { from: index, to },
      };
      if (!best || cand.pAdjusted < best.pAdjusted || (cand.pAdjusted === best.pAdjusted && cand.qhat > best.qhat)) best = cand;
    }
    if (!best || !(best.pAdjusted < alpha)) break;
    found.push(best);
  }
  return found.sort((a, b) => a.index - b.index);
}
