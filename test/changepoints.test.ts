import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { eDivisive, qhatAt, studentT } from '../core/changepoints.js';
import { accuracy, stepSeries } from './fixtures/series.js';

const close = (actual: number, expected: number, eps = 1e-9): void =>
  assert.ok(Math.abs(actual - expected) <= eps, `${actual} is not within ${eps} of ${expected}`);

/** Q̂ straight from its definition, every pair summed anew. */
function qhatByDefinition(x: readonly number[], y: readonly number[]): number {
  const mean = (a: readonly number[], b: readonly number[], distinct: boolean): number => {
    let sum = 0;
    let n = 0;
    a.forEach((u, i) =>
      b.forEach((v, j) => {
        if (distinct && j <= i) return;
        sum += Math.abs(u - v);
        n++;
      }),
    );
    return n === 0 ? 0 : sum / n;
  };
  const m = x.length;
  const k = y.length;
  return ((m * k) / (m + k)) * (2 * mean(x, y, false) - mean(x, x, true) - mean(y, y, true));
}

describe('the t-test behind each change point', () => {
  test('gives the pooled two-sample t and p that R gives for 1 2 3 4 against 3 4 5 6', () => {
    const r = studentT([1, 2, 3, 4], [3, 4, 5, 6]);
    close(r.t, 2 / Math.sqrt((5 / 3) * 0.5));
    assert.equal(r.df, 6);
    close(r.p, 0.07099, 1e-5); // t.test(c(3,4,5,6), c(1,2,3,4), var.equal = TRUE)$p.value
  });

  test('two constant sides give p = 1 when they agree and p = 0 when they differ', () => {
    assert.equal(studentT([5, 5, 5], [5, 5, 5]).p, 1);
    assert.equal(studentT([5, 5, 5], [6, 6, 6]).p, 0);
  });
});

describe('the energy statistic', () => {
  test('Q̂ at every split equals its definition computed pair by pair', () => {
    const z = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5];
    const splits = [2, 3, 4, 5, 6, 7, 8, 9];
    const fast = qhatAt(z, 0, z.length, splits);
    splits.forEach((tau, i) => close(fast[i] as number, qhatByDefinition(z.slice(0, tau), z.slice(tau))));
    // and inside a sub-segment
    const sub = qhatAt(z, 2, 9, [4, 5, 6]);
    [4, 5, 6].forEach((tau, i) => close(sub[i] as number, qhatByDefinition(z.slice(2, tau), z.slice(tau, 9))));
  });
});

describe('E-divisive change points', () => {
  test('a 10 % step under 3 % noise over 30 nights is found within ±1 night in at least 95 % of 200 seeded trials', () => {
    const a = accuracy(200, { step: 0.1, cv: 0.03 });
    assert.ok(a.found >= 190, `found in ${a.found} of 200`);
    assert.ok(a.correct / a.reported >= 0.9, `precision ${a.correct} of ${a.reported}`);
  });

  test('fewer than 5 % of 200 step-free series report a change point', () => {
    const a = accuracy(200, { step: 0, cv: 0.03, seed: 50_000 });
    assert.ok(a.anyReported < 10, `${a.anyReported} of 200 reported one`);
  });

  test('the same series always gives the same change points', () => {
    const { groups } = stepSeries({ seed: 7, step: 0.1, cv: 0.03 });
    assert.deepEqual(eDivisive(groups), eDivisive(groups));
  });

  test('two steps are both found, each tested against its own neighbours', () => {
    const values = [...Array(10).fill(100), ...Array(10).fill(120), ...Array(10).fill(105)].map((v, i) => [v * (1 + 0.01 * Math.sin(i * 2.7))]);
    const cps = eDivisive(values);
    assert.deepEqual(
      cps.map((c) => c.index),
      [10, 20],
    );
    assert.ok(cps.every((c) => c.pAdjusted < 0.01));
    const second = cps.find((c) => c.index === 20);
    assert.ok(second && second.t < 0, 'the second step goes down');
  });

  test('a constant series has none; a noiseless step is found with p = 0', () => {
    assert.deepEqual(eDivisive(Array.from({ length: 12 }, () => [4])), []);
    const cps = eDivisive(Array.from({ length: 12 }, (_, i) => [i < 5 ? 4 : 5]));
    assert.equal(cps.length, 1);
    assert.equal(cps[0]?.index, 5);
    assert.equal(cps[0]?.p, 0);
  });

  test('no segment is shorter than minSegment, and a series under twice that is not searched', () => {
    // A step two nights from the end cannot be a change point with minSegment 3.
    const late = Array.from({ length: 12 }, (_, i) => [i < 10 ? 100 + (i % 2) : 200]);
    assert.ok(eDivisive(late).every((c) => c.index >= 3 && c.index <= 9));
    assert.deepEqual(eDivisive([[1], [1], [1], [9], [9]]), []);
    assert.equal(eDivisive(late, { minSegment: 2 })[0]?.index, 10);
    assert.throws(() => eDivisive(late, { minSegment: 1 }), /minSegment/);
  });

  test('with all samples of each night the change point falls between nights', () => {
    const { groups, at } = stepSeries({ seed: 3, nights: 12, step: 0.1, cv: 0.03, perNight: 10 });
    const cps = eDivisive(groups);
    assert.equal(cps.length, 1);
    assert.equal(cps[0]?.index, at);
    assert.equal(cps[0]?.df, 12 * 10 - 2);
  });
});
