import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { computeStats } from '../core/figures.js';
import { derivedValues, valueOf, valuesOf } from '../core/samples.js';
import { metricChart } from '../reports/html/charts.js';
import type { Sample, ScenarioResult } from '../core/schema.js';
import {
  bootstrap,
  bootstrapMedianCI,
  changeOfMedians,
  differenceOfMedians,
  median,
  outlierCount,
  quantile,
  ratioOfMedians,
  seededRandom,
  sorted,
  summarize,
} from '../core/stats.js';

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
    const r = ratioOfMedians(
      base.map((x) => x * 3),
      base,
      5,
    );
    assert.ok(r);
    close(r.ratio, 3);
    assert.ok(r.ciLow <= 3 && r.ciHigh >= 3);
    assert.equal(ratioOfMedians([1, 2], [0, 0, 0], 1), undefined);
  });

  test('the median of an even sample is the mean of its middle two, and quantiles interpolate linearly', () => {
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.equal(median([9, 1, 5]), 5);
    close(quantile([4, 1, 100, 3, 2], 0.95), 80.8);
    assert.equal(quantile([4, 1, 100, 3, 2], 0), 1);
    assert.equal(quantile([4, 1, 100, 3, 2], 1), 100);
    assert.throws(() => median([]), RangeError);
  });

  test('sorting leaves the input alone and orders numbers by value, not as text', () => {
    const xs = [10, 9, 100, 1];
    assert.deepEqual(sorted(xs), [1, 9, 10, 100]);
    assert.deepEqual(xs, [10, 9, 100, 1]);
  });

  test('the median interval is the bootstrap of one sample’s median', () => {
    const xs = [12, 15, 11, 19, 14, 13, 30];
    assert.deepEqual(
      bootstrapMedianCI(xs, 4),
      bootstrap((draw) => draw(xs), 4),
    );
  });

  test('a bootstrap whose every estimate is undefined has no interval', () => {
    assert.equal(
      bootstrap(() => undefined, 1, 50),
      undefined,
    );
  });

  test('the change of medians is the ratio of medians minus one, interval included', () => {
    const base = [10, 11, 9, 10, 12, 10, 9];
    const head = [12, 13, 11, 12, 15, 12, 11];
    const r = ratioOfMedians(head, base, 8);
    const c = changeOfMedians(base, head, 8);
    assert.ok(r && c);
    close(c.change, 0.2);
    close(c.change, r.ratio - 1, 1e-12);
    close(c.ciLow, r.ciLow - 1, 1e-12);
    close(c.ciHigh, r.ciHigh - 1, 1e-12);
    assert.equal(changeOfMedians([0, 0, 1], head, 1), undefined);
  });

  test('the difference of medians of a shifted sample is the shift, and its interval brackets it', () => {
    const b = [10, 11, 9, 10, 12, 10, 9, 11];
    const d = differenceOfMedians(
      b.map((x) => x + 5),
      b,
      3,
    );
    assert.ok(d);
    assert.equal(d.difference, 5);
    assert.ok(d.ciLow <= 5 && d.ciHigh >= 5);
    assert.deepEqual(differenceOfMedians([4, 4], [1, 1, 1], 2), { difference: 3, ciLow: 3, ciHigh: 3 });
    assert.equal(differenceOfMedians([], [1], 2), undefined);
  });
});

/** A sample of the given status and values. */
function sample(round: number, status: Sample['status'], values: Record<string, number>): Sample {
  return { round, status, values };
}

describe('the values of a metric', () => {
  const samples = [
    sample(0, 'ok', { ms: 1 }),
    sample(1, 'failed', { ms: 2 }),
    sample(2, 'oom-killed', { ms: Number.NaN }),
    sample(3, 'timeout', {}),
    sample(4, 'ok', { ms: Number.POSITIVE_INFINITY }),
    sample(5, 'ok', { ms: 3, other: 4 }),
  ];

  test('a sample counts when it recorded a finite value, whatever its status', () => {
    assert.deepEqual(valuesOf({ samples }, 'ms'), [1, 2, 3]);
    assert.equal(valueOf(samples[1] as Sample, 'ms'), 2);
    assert.equal(valueOf(samples[2] as Sample, 'ms'), undefined);
    assert.equal(valueOf(samples[3] as Sample, 'ms'), undefined);
    assert.deepEqual(valuesOf(undefined, 'ms'), []);
  });

  test('a per-sample combination keeps the samples where it comes out finite', () => {
    assert.deepEqual(
      derivedValues({ samples }, (v) => (v['ms'] !== undefined && v['other'] !== undefined ? v['ms'] + v['other'] : undefined)),
      [7],
    );
    assert.deepEqual(
      derivedValues({ samples }, (v) => (v['ms'] ?? 0) * 2),
      [2, 4, 0, 6],
    );
  });

  test('the runner’s stored statistics and ratios are those of the values that count', () => {
    const sc: ScenarioResult = {
      name: 'startup',
      description: '',
      metrics: [{ name: 'ms', unit: 'ms', better: 'lower', description: '' }],
      parameters: {},
      runs: 4,
      warmup: 0,
      targets: [
        {
          target: 'native',
          state: 'completed',
          samples: [sample(0, 'ok', { ms: 10 }), sample(1, 'ok', { ms: 12 }), sample(2, 'ok', { ms: 11 })],
          stats: {},
          ratioToNative: {},
        },
        { target: 'container', state: 'completed', samples, stats: {}, ratioToNative: {} },
      ],
    };
    computeStats(sc, 5);
    const [native, container] = sc.targets;
    assert.ok(native && container);
    const xs = valuesOf(container, 'ms');
    assert.equal(container.stats['ms']?.n, 3);
    assert.equal(container.stats['ms']?.median, median(xs));
    assert.equal(container.ratioToNative['ms']?.ratio, median(xs) / median(valuesOf(native, 'ms')));

    // The report's chart draws a dot for exactly the values its n and median come from.
    const series = sc.targets.map((t, hostIndex) => ({
      label: t.target,
      target: t.target,
      host: 'h',
      hostIndex,
      source: 'r.json',
      state: t.state,
      samples: t.samples,
      stats: t.stats,
      ratioToNative: t.ratioToNative,
    }));
    const chart = metricChart('c', { name: sc.name, description: '', metrics: sc.metrics, parameters: [], series }, 'ms');
    const dots = (chart?.config as { data: { datasets: { data: { y: number }[] }[] } }).data.datasets.map((d) => d.data.map((p) => p.y));
    assert.deepEqual(dots, [[10, 12, 11], xs]);
  });
});
