/**
 * Summary statistics of one metric's samples, and the ratio of a target to
 * native. Pure functions; every random choice comes from a seeded generator so
 * the same samples and seed always give the same intervals.
 */
import {
  mean as ssMean,
  medianAbsoluteDeviation,
  quantileSorted,
  sampleStandardDeviation,
} from 'simple-statistics';

export interface Stats {
  /** Number of samples. */
  n: number;
  min: number;
  max: number;
  mean: number;
  /** Sample standard deviation (n − 1); 0 for a single sample. */
  sd: number;
  median: number;
  /** 95th percentile, linear interpolation between order statistics (R type 7, numpy default). */
  p95: number;
  /** 99th percentile, same definition. */
  p99: number;
  /** Lower end of the seeded bootstrap 95 % confidence interval of the median. */
  ciLow: number;
  /** Upper end of the same interval. */
  ciHigh: number;
  /** Samples whose modified z-score exceeds 3.5 (see `outlierCount`). */
  outliers: number;
}

export interface Ratio {
  /** median(target) / median(baseline). */
  ratio: number;
  /** Seeded bootstrap 95 % interval of the ratio of medians. */
  ciLow: number;
  ciHigh: number;
}

/** Bootstrap resamples per interval. 2000 keeps the 2.5 % tails within about ±1 % of their value. */
export const BOOTSTRAP_RESAMPLES = 2000;

/** mulberry32: a small, fast, well-distributed 32-bit generator; returns floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sorted(xs: readonly number[]): number[] {
  return [...xs].sort((a, b) => a - b);
}

function medianOfSorted(s: readonly number[]): number {
  return quantileSorted(s as number[], 0.5);
}

/** Median of `count` values drawn with replacement from `xs`. */
function resampledMedian(xs: readonly number[], rand: () => number): number {
  const draw = new Array<number>(xs.length);
  for (let i = 0; i < xs.length; i++) draw[i] = xs[Math.floor(rand() * xs.length)] as number;
  return medianOfSorted(draw.sort((a, b) => a - b));
}

/** 2.5th and 97.5th percentiles of bootstrap estimates. */
function percentileInterval(estimates: number[]): [number, number] {
  const s = estimates.sort((a, b) => a - b);
  return [quantileSorted(s, 0.025), quantileSorted(s, 0.975)];
}

/** Seeded bootstrap 95 % confidence interval of the median (percentile method). */
export function bootstrapMedianCI(xs: readonly number[], seed: number, resamples = BOOTSTRAP_RESAMPLES): [number, number] {
  if (xs.length === 0) throw new RangeError('no samples');
  if (xs.length === 1) return [xs[0] as number, xs[0] as number];
  const rand = seededRandom(seed);
  const est: number[] = [];
  for (let b = 0; b < resamples; b++) est.push(resampledMedian(xs, rand));
  return percentileInterval(est);
}

/**
 * Outliers by the modified z-score of Iglewicz and Hoaglin (1993), as hyperfine
 * does: M = 0.6745 (x − median) / MAD, an outlier when |M| > 3.5. When more than
 * half the samples are equal the MAD is 0; then the mean absolute deviation
 * stands in, scaled by 1.253314 (the IBM SPSS convention), and when that is 0 too
 * the samples are all equal and none is an outlier.
 */
export function outlierCount(xs: readonly number[]): number {
  if (xs.length < 3) return 0;
  const s = sorted(xs);
  const med = medianOfSorted(s);
  const mad = medianAbsoluteDeviation(s);
  let scale: number;
  if (mad > 0) scale = mad / 0.6745;
  else {
    const meanAD = ssMean(s.map((x) => Math.abs(x - med)));
    if (meanAD === 0) return 0;
    scale = 1.253314 * meanAD;
  }
  return s.filter((x) => Math.abs(x - med) / scale > 3.5).length;
}

/** All statistics of a non-empty sample. */
export function summarize(xs: readonly number[], seed: number): Stats {
  if (xs.length === 0) throw new RangeError('summarize needs at least one sample');
  const s = sorted(xs);
  const [ciLow, ciHigh] = bootstrapMedianCI(s, seed);
  return {
    n: s.length,
    min: s[0] as number,
    max: s[s.length - 1] as number,
    mean: ssMean(s),
    sd: s.length > 1 ? sampleStandardDeviation(s) : 0,
    median: medianOfSorted(s),
    p95: quantileSorted(s, 0.95),
    p99: quantileSorted(s, 0.99),
    ciLow,
    ciHigh,
    outliers: outlierCount(s),
  };
}

/**
 * Ratio of medians target / baseline with a seeded bootstrap interval: both
 * samples are resampled independently and the 2.5–97.5 % range of the ratios
 * taken. Undefined when the baseline's median is 0.
 */
export function ratioOfMedians(target: readonly number[], baseline: readonly number[], seed: number, resamples = BOOTSTRAP_RESAMPLES): Ratio | undefined {
  if (target.length === 0 || baseline.length === 0) return undefined;
  const base = medianOfSorted(sorted(baseline));
  if (base === 0) return undefined;
  const ratio = medianOfSorted(sorted(target)) / base;
  const rand = seededRandom(seed);
  const est: number[] = [];
  for (let b = 0; b < resamples; b++) {
    const d = resampledMedian(baseline, rand);
    if (d !== 0) est.push(resampledMedian(target, rand) / d);
  }
  if (est.length === 0) return { ratio, ciLow: ratio, ciHigh: ratio };
  const [ciLow, ciHigh] = percentileInterval(est);
  return { ratio, ciLow, ciHigh };
}

/** A stable per-series seed derived from the run's seed and a label, so each metric gets its own stream. */
export function deriveSeed(seed: number, label: string): number {
  let h = seed >>> 0;
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}
