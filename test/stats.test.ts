import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { bootstrapMedianCI, outlierCount, ratioOfMedians, seededRandom, summarize } from '../core/stats.js';

const close = (actual: number, expected: number, eps = 1e-9): void =>
  assert.ok(Math.abs(actual - expected) <= eps, `${actual} is not within ${eps} of ${expected}`);

describe('statistics', () => {
  test('a skewed sample gives the hand-computed figures', () => {
    const s = summarize([4, 1, 100, 3, 2], 1);
    assert.equal(s.n, 5);
    assert.equal(s.min, 1);
    assert.equal(s.max, 100);
    assert.equal(s.mean, 22);
    close(s.sd, Math.sqrt(7610 / 4)); // deviations −21 −20 −19 −18 78
    assert.equal(s.median, 3);
    close(s.p95, 80.8); // (n−1)·0.95 = 3.8 → 4 + 0.8·(100 − 4)
    close(s.p99, 96.16);
    assert.equal(s.outliers, 1); // MAD = 1, 0.6745·97/1 ≫ 3.5
  });

  test('a constant sample has no spread, no outliers and a point interval', () => {
    const s = summarize([5, 5, 5, 5], 7);
    assert.deepEqual([s.sd, s.median, s.p95, s.p99, s.ciLow, s.ciHigh, s.outliers], [0, 5, 5, 5, 5, 5, 0]);
  });

  test('a single sample is its own median, interval and extreme values', () => {
    const s = summarize([7], 3);
    assert.deepEqual([s.n, s.min, s.max, s.mean, s.sd, s.median, s.ciLow, s.ciHigh], [1, 7, 7, 7, 0, 7, 7, 7]);
  });

  test('two samples interpolate their percentiles linearly', () => {
    const s = summarize([3, 1], 3);
    assert.equal(s.median, 2);
    close(s.p95, 2.9);
    close(s.sd, Math.SQRT2);
    assert.equal(s.outliers, 0);
  });

  test('an empty sample is refused', () => {
    assert.throws(() => summarize([], 1), RangeError);
  });

  test('outliers are still found when more than half the samples are equal', () => {
    // MAD = 0; the mean absolute deviation 49/7 = 7 stands in: 49 / (1.253314·7) ≈ 5.6 > 3.5.
    assert.equal(outlierCount([1, 1, 1, 1, 1, 1, 50]), 1);
    assert.equal(outlierCount([1, 1, 1, 1, 1, 1, 1]), 0);
  });

  test('the bootstrap interval is reproducible for a seed and brackets the median', () => {
    const draw = seededRandom(1);
    const xs = Array.from({ length: 101 }, () => 100 * draw());
    const med = summarize(xs, 1).median;
    const a = bootstrapMedianCI(xs, 42);
    assert.deepEqual(bootstrapMedianCI(xs, 42), a);
    // The bootstrap median only takes sample values, so nearby seeds often agree; across ten they must not all.
    const distinct = new Set(Array.from({ length: 10 }, (_, i) => JSON.stringify(bootstrapMedianCI(xs, i))));
    assert.ok(distinct.size > 1, 'the seed changes the resampling');
    assert.ok(a[0] < med && a[1] > med && med - a[0] < 20 && a[1] - med < 20, `interval ${a} around ${med}`);
  });

  test('the seeded generator repeats its sequence and stays in [0, 1)', () => {
    const r1 = seededRandom(9);
    const r2 = seededRandom(9);
    for (let i = 0; i < 1000; i++) {
      const x = r1();
      assert.equal(x, r2());
      assert.ok(x >= 0 && x < 1);
    }
  });

  test('the ratio of medians of constant samples is exact', () => {
    assert.deepEqual(ratioOfMedians([6, 6, 6], [3, 3, 3, 3], 1), { ratio: 2, ciLow: 2, ciHigh: 2 });
  });

  test('the ratio interval brackets the ratio and the ratio is undefined over a zero baseline', () => {
    const base = [10, 11, 9, 10, 12, 10, 9, 11];
    const r = ratioOfMedians(base.map((x) => x * 3), base, 5);
    assert.ok(r);
    close(r.ratio, 3);
    assert.ok(r.ciLow <= 3 && r.ciHigh >= 3);
    assert.equal(ratioOfMedians([1, 2], [0, 0, 0], 1), undefined);
  });
});
