/**
 * The two-sample statistics behind `tsbench compare`: a seeded permutation test
 * on the difference of medians, the smallest p-value such a test can reach with
 * the samples at hand, and the relative change of the median with a seeded
 * bootstrap interval. Pure functions; the same inputs and seed give the same answer.
 */
import { quantileSorted } from 'simple-statistics';
import { ratioOfMedians, seededRandom } from '../stats.js';

/** Random permutations drawn when exact enumeration would be too long. 9999 gives p-values in steps of 1e-4. */
export const PERMUTATIONS = 9999;

/** Up to this many distinct splits the test enumerates them all (8 vs 8 = 12,870) and its p-value is exact. */
export const EXACT_LIMIT = 20_000;

export interface PermutationTest {
  /** Two-sided p-value of H0 "both samples come from one distribution", on |median(b) − median(a)|. */
  p: number;
  /** The smallest p-value this test can give for these sample sizes (see `minAttainableP`). */
  minP: number;
  /** true when every split was enumerated; false for a seeded Monte Carlo estimate. */
  exact: boolean;
  /** Splits evaluated (all of them when exact). */
  permutations: number;
}

function median(xs: number[]): number {
  return quantileSorted(xs.sort((a, b) => a - b), 0.5);
}

/** Binomial coefficient C(n, k) as a float (exact below 2^53, Infinity-safe above). */
export function choose(n: number, k: number): number {
  if (k < 0 || k > n) return 0;
  const kk = Math.min(k, n - k);
  let c = 1;
  for (let i = 1; i <= kk; i++) c = (c * (n - kk + i)) / i;
  return Math.round(c);
}

/**
 * The smallest two-sided p-value a permutation test can report for samples of
 * sizes n1 and n2: the observed split always counts, and with equal sizes its
 * mirror image (the groups swapped) gives the same |statistic|. 3 vs 3 → 2/20 =
 * 0.1, so such a test can never be significant at α = 0.01. Monte Carlo p-values
 * cannot go below 1/(permutations + 1) either.
 */
export function minAttainableP(n1: number, n2: number, permutations = PERMUTATIONS): number {
  const splits = choose(n1 + n2, n1);
  const exact = (n1 === n2 ? 2 : 1) / splits;
  return splits <= EXACT_LIMIT ? Math.min(1, exact) : Math.max(exact, 1 / (permutations + 1));
}

/**
 * Two-sided permutation test of the difference of medians (the statistic the
 * report shows). Exact when there are at most EXACT_LIMIT splits, otherwise
 * `permutations` seeded random relabelings with p = (1 + hits) / (1 + permutations),
 * the estimate that never reports 0 (Phipson & Smyth 2010).
 */
export function permutationTest(a: readonly number[], b: readonly number[], seed: number, permutations = PERMUTATIONS): PermutationTest {
  const n1 = a.length;
  const n2 = b.length;
  if (n1 === 0 || n2 === 0) throw new RangeError('permutationTest needs two non-empty samples');
  const pooled = [...a, ...b];
  const n = pooled.length;
  const observed = Math.abs(median([...b]) - median([...a]));
  // Floating-point noise must not turn an equal statistic into a smaller one.
  const tolerance = 1e-9 * Math.max(1, ...pooled.map(Math.abs));
  const atLeastAsExtreme = (x: number[], y: number[]): boolean => Math.abs(median(y) - median(x)) >= observed - tolerance;
  const minP = minAttainableP(n1, n2, permutations);
  const splits = choose(n, n1);

  if (splits <= EXACT_LIMIT) {
    let hits = 0;
    let total = 0;
    const chosen: number[] = [];
    const visit = (start: number): void => {
      if (chosen.length === n1) {
        const inA = new Set(chosen);
        const x: number[] = [];
        const y: number[] = [];
        for (let i = 0; i < n; i++) (inA.has(i) ? x : y).push(pooled[i] as number);
        total++;
        if (atLeastAsExtreme(x, y)) hits++;
        return;
      }
      for (let i = start; i <= n - (n1 - chosen.length); i++) {
        chosen.push(i);
        visit(i + 1);
        chosen.pop();
      }
    };
    visit(0);
    return { p: hits / total, minP, exact: true, permutations: total };
  }

  const rand = seededRandom(seed);
  const work = [...pooled];
  let hits = 0;
  for (let r = 0; r < permutations; r++) {
    // Partial Fisher–Yates: the first n1 slots become a uniformly random subset.
    for (let i = 0; i < n1; i++) {
      const j = i + Math.floor(rand() * (n - i));
      const t = work[i] as number;
      work[i] = work[j] as number;
      work[j] = t;
    }
    if (atLeastAsExtreme(work.slice(0, n1), work.slice(n1))) hits++;
  }
  return { p: (1 + hits) / (1 + permutations), minP, exact: false, permutations };
}

export interface RelativeChange {
  /** median(head) / median(base) − 1; 0.1 is +10 %. */
  change: number;
  /** Seeded bootstrap 95 % interval of the same quantity. */
  ciLow: number;
  ciHigh: number;
}

/** Relative change of the median from base to head with its bootstrap interval; undefined when the base median is 0. */
export function relativeChange(base: readonly number[], head: readonly number[], seed: number): RelativeChange | undefined {
  const r = ratioOfMedians(head, base, seed);
  if (!r) return undefined;
  return { change: r.ratio - 1, ciLow: r.ciLow - 1, ciHigh: r.ciHigh - 1 };
}
