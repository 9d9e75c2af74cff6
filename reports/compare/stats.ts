/**
 * The rank tests behind `tsbench compare`: an exact Mann–Whitney rank test,
 * the smallest p-value it can reach with the samples at hand, and the
 * Benjamini–Hochberg adjustment across series. The relative change of the
 * median and its interval come from core/stats.ts. Pure functions.
 */

/** Up to this many pooled samples the p-value comes from the exact permutation distribution; above, a normal approximation. */
export const EXACT_MAX_SAMPLES = 100;

export interface RankTest {
  /** Two-sided p-value of H0 "both samples come from one distribution" (Mann–Whitney U / Wilcoxon rank-sum). */
  p: number;
  /** The smallest p-value this test can give for these samples' sizes and ties (see `minAttainableP`). */
  minP: number;
  /** true: exact permutation distribution; false: normal approximation with tie and continuity corrections. */
  exact: boolean;
  /** U of the first sample: pairs (x from a, y from b) with x > y, ties counting ½. */
  u: number;
}

/** Binomial coefficient C(n, k) as a float (exact below 2^53). */
export function choose(n: number, k: number): number {
  if (k < 0 || k > n) return 0;
  const kk = Math.min(k, n - k);
  let c = 1;
  for (let i = 1; i <= kk; i++) c = (c * (n - kk + i)) / i;
  return Math.round(c);
}

/**
 * The smallest two-sided p-value a rank test can report for samples of sizes
 * n1 and n2 without ties: only the two most extreme splits (every x below
 * every y, or above) reach it, so it is 2 / C(n1 + n2, n1). 3 vs 3 → 0.1: such a
 * test can never be significant at α = 0.01. 5 vs 5 → 0.0079, 10 vs 10 → 1.1e-5.
 */
export function minAttainableP(n1: number, n2: number): number {
  return Math.min(1, 2 / choose(n1 + n2, n1));
}

/** Doubled mid-ranks (integers) of the pooled values, and the tie groups' sizes. */
function doubledRanks(pooled: readonly number[]): { r2: number[]; ties: number[] } {
  const order = pooled.map((v, i) => [v, i] as const).sort((x, y) => x[0] - y[0]);
  const r2 = new Array<number>(pooled.length).fill(0);
  const ties: number[] = [];
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && (order[j + 1] as readonly [number, number])[0] === (order[i] as readonly [number, number])[0]) j++;
    // ranks i+1 … j+1 share their mean (i + j + 2) / 2; doubled it is an integer.
    for (let k = i; k <= j; k++) r2[(order[k] as readonly [number, number])[1]] = i + j + 2;
    ties.push(j - i + 1);
    i = j + 1;
  }
  return { r2, ties };
}

/** Standard normal upper tail, from erfc (Numerical Recipes' erfcc, relative error < 1.2e-7 everywhere). */
function normalUpperTail(z: number): number {
  const x = z / Math.SQRT2;
  const t = 1 / (1 + 0.5 * Math.abs(x));
  const y =
    t *
    Math.exp(
      -x * x -
        1.26551223 +
        t *
          (1.00002368 +
            t *
              (0.37409196 +
                t * (0.09678418 + t * (-0.18628806 + t * (0.27886187 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return (x >= 0 ? y : 2 - y) / 2;
}

/**
 * Two-sided Mann–Whitney U test (Wilcoxon rank-sum). Up to EXACT_MAX_SAMPLES
 * pooled samples the p-value is exact: the permutation distribution of the
 * rank sum over every split of the pooled samples, counted by dynamic
 * programming on doubled mid-ranks, so ties are exact too. Above that, the
 * normal approximation with tie and continuity corrections. Deterministic: no
 * resampling, no seed.
 */
export function mannWhitney(a: readonly number[], b: readonly number[]): RankTest {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 === 0 || n2 === 0) throw new RangeError('mannWhitney needs two non-empty samples');
  const n = n1 + n2;
  const { r2, ties } = doubledRanks([...a, ...b]);
  let w2 = 0;
  for (let i = 0; i < n1; i++) w2 += r2[i] as number;
  const u = w2 / 2 - (n1 * (n1 + 1)) / 2;
  const mean2 = n1 * (n + 1); // E[doubled rank sum of a]
  const dev = Math.abs(w2 - mean2);

  if (n <= EXACT_MAX_SAMPLES) {
    // count[k][s]: splits of the items seen so far with k of them in `a` and doubled rank sum s.
    // Items go in ascending rank order, so k of the first i span sums prefix[k] … prefix[i] − prefix[i − k].
    const total = n * (n + 1);
    const ranks = Float64Array.from(r2).sort();
    const prefix = new Float64Array(n + 1);
    for (let i = 0; i < n; i++) prefix[i + 1] = (prefix[i] as number) + (ranks[i] as number);
    const count = Array.from({ length: n1 + 1 }, () => new Float64Array(total + 1));
    (count[0] as Float64Array)[0] = 1;
    for (let i = 0; i < n; i++) {
      const r = ranks[i] as number;
      for (let k = Math.min(i + 1, n1); k >= 1; k--) {
        const from = count[k - 1] as Float64Array;
        const to = count[k] as Float64Array;
        const hi = (prefix[i + 1] as number) - (prefix[i + 1 - k] as number);
        const lo = Math.max(r, prefix[k] as number);
        for (let s = hi; s >= lo; s--) to[s] = (to[s] as number) + (from[s - r] as number);
      }
    }
    const dist = count[n1] as Float64Array;
    let all = 0;
    let hits = 0;
    let maxDev = 0;
    for (let s = 0; s <= total; s++) {
      const c = dist[s] as number;
      if (c === 0) continue;
      all += c;
      const d = Math.abs(s - mean2);
      if (d >= dev) hits += c;
      if (d > maxDev) maxDev = d;
    }
    let extreme = 0;
    for (let s = 0; s <= total; s++) if (Math.abs(s - mean2) === maxDev) extreme += dist[s] as number;
    return { p: Math.min(1, hits / all), minP: Math.min(1, extreme / all), exact: true, u };
  }

  // Normal approximation; variance of the rank sum with the tie correction, in doubled units (×4).
  const tieTerm = ties.reduce((acc, t) => acc + (t * t * t - t), 0) / (n * (n - 1));
  const var2 = ((4 * n1 * n2) / 12) * (n + 1 - tieTerm);
  if (var2 <= 0) return { p: 1, minP: 1, exact: false, u };
  const pOf = (d: number): number => Math.min(1, 2 * normalUpperTail(Math.max(0, d - 1) / Math.sqrt(var2)));
  // The most extreme split: a holds the n1 largest doubled ranks.
  const top = [...r2]
    .sort((x, y) => y - x)
    .slice(0, n1)
    .reduce((acc, r) => acc + r, 0);
  return { p: pOf(dev), minP: pOf(Math.abs(top - mean2)), exact: false, u };
}

/**
 * Benjamini–Hochberg adjusted p-values (q-values): a family of tests whose
 * q < α has an expected share of false discoveries ≤ α, and when nothing
 * changed at all, a chance ≤ α of any false alarm. Order is kept.
 */
export function benjaminiHochberg(ps: readonly number[]): number[] {
  const m = ps.length;
  const order = ps.map((p, i) => [p, i] as const).sort((x, y) => x[0] - y[0]);
  const q = new Array<number>(m).fill(1);
  let running = 1;
  for (let rank = m; rank >= 1; rank--) {
    const [p, i] = order[rank - 1] as readonly [number, number];
    running = Math.min(running, (p * m) / rank);
    q[i] = Math.min(1, running);
  }
  return q;
}
