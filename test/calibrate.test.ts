import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { calibrate } from '../reports/compare/calibrate.js';
import { CalibrationSchema, type Calibration } from '../reports/compare/calibration.js';
import { compareResults } from '../reports/compare/index.js';
import { parseThresholds } from '../reports/compare/thresholds.js';
import { UsageError } from '../core/errors.js';
import type { Result } from '../core/schema.js';
import { STARTUP, craftResult } from './fixtures/compare/craft.js';
import { tsbench } from './helpers/cli.js';

const work = mkdtempSync(join(tmpdir(), 'tsbench-calibrate-test-'));
after(() => rmSync(work, { recursive: true, force: true }));

const SC = { ...STARTUP, samples: 20 };
/** Three A/A nights: the same distribution, different seeds; kvm twice as noisy via its own runs below. */
const aa = (cv = 0.05, seed = 70): { path: string; result: Result }[] =>
  [0, 1, 2].map((i) => ({ path: `aa-${i}.json`, result: craftResult({ seed: seed + i, scenarios: [SC], cv, startedAt: `2026-12-0${i + 1}T03:00:00.000Z` }) }));

function entry(c: Calibration, key: string) {
  const e = c.series.find((s) => `${s.scenario}/${s.target}/${s.metric}` === key);
  assert.ok(e, `no ${key}`);
  return e;
}

describe('calibrate', () => {
  const c = calibrate(aa(), { thresholds: parseThresholds([]) });

  test('gives every series its sample size, A/A changes, minimum detectable effect and a threshold at least that large', () => {
    assert.equal(c.series.length, 6);
    for (const s of c.series) {
      assert.equal(s.n, 20);
      assert.equal(s.changes.length, 3, 'three pairs of runs');
      assert.ok(s.mde > 0 && s.threshold >= s.mde - 1e-12 && s.threshold >= 2.5758 * s.drift - 1e-12, JSON.stringify(s));
      assert.equal(s.aa.comparisons, 3 + 3 * 2, 'three pairs, two splits of each run');
    }
    // 5 % noise, 20 vs 20: SE of the change ≈ √2 × 1.25 × 5 % / √20 ≈ 2 %; MDE ≈ 3.4 × that.
    const m = entry(c, 'startup/container/toReadyMs');
    assert.ok(m.se > 0.01 && m.se < 0.04, `se ${m.se}`);
    assert.ok(CalibrationSchema.safeParse(c).success);
  });

  test('a noisier host gets larger thresholds', () => {
    const noisy = calibrate(aa(0.15), { thresholds: parseThresholds([]) });
    for (const s of noisy.series) assert.ok(s.threshold > entry(c, `${s.scenario}/${s.target}/${s.metric}`).threshold, s.metric);
  });

  test('counts the false alarms of the configured gate, and those left with the calibrated thresholds', () => {
    // A 0.5 % threshold on 15 % noise: the gate can flag A/A noise; the calibrated thresholds cannot flag less.
    const strict = calibrate(aa(0.15, 90), { thresholds: parseThresholds(['0.5%']) });
    const flagged = strict.series.reduce((n, s) => n + s.aa.flagged, 0);
    const left = strict.series.reduce((n, s) => n + s.aa.flaggedCalibrated, 0);
    assert.ok(left <= flagged, `${left} ≤ ${flagged}`);
  });

  test('compare takes a series threshold from the calibration, below an explicit --threshold rule and above the default', () => {
    const [a, b] = aa();
    const cmp = compareResults(a as { path: string; result: Result }, b as { path: string; result: Result }, {
      thresholds: parseThresholds(['startup.native.toExitMs=2%']),
      calibration: { path: 'cal.json', calibration: c },
    });
    const s = (key: string) => cmp.series.find((x) => `${x.scenario}/${x.target}/${x.metric}` === key);
    assert.equal(s('startup/container/toReadyMs')?.threshold, entry(c, 'startup/container/toReadyMs').threshold);
    assert.equal(s('startup/container/toReadyMs')?.thresholdSource, 'calibration');
    assert.equal(s('startup/native/toExitMs')?.threshold, 0.02);
    assert.deepEqual(cmp.calibration, { path: 'cal.json', notes: [] });
  });

  test('a calibration from another host or at another sample size is named in the notes', () => {
    const other = craftResult({ seed: 80, scenarios: [{ ...SC, samples: 30 }], host: { hostname: 'elsewhere' } });
    const base = craftResult({ seed: 81, scenarios: [{ ...SC, samples: 30 }], host: { hostname: 'elsewhere' } });
    const cmp = compareResults(
      { path: 'a', result: base },
      { path: 'b', result: other },
      { thresholds: parseThresholds([]), calibration: { path: 'cal.json', calibration: c } },
    );
    assert.match(cmp.calibration?.notes[0] ?? '', /^calibrated on runner \(AMD EPYC 7763\), head ran on elsewhere/);
    assert.match(cmp.calibration?.notes[1] ?? '', /^6 series calibrated at n=20 are compared at n=30 vs 30: the minimum detectable effect scales as 1\/√n/);
  });

  test('fewer than two runs, or runs of two hosts, are usage errors', () => {
    const [one] = aa();
    assert.throws(() => calibrate([one as { path: string; result: Result }], { thresholds: parseThresholds([]) }), UsageError);
    const elsewhere = { path: 'b.json', result: craftResult({ seed: 3, scenarios: [SC], host: { hostname: 'elsewhere' } }) };
    assert.throws(() => calibrate([one as { path: string; result: Result }, elsewhere], { thresholds: parseThresholds([]) }), /b\.json is from elsewhere/);
  });
});

describe('the calibrate command', () => {
  const paths = aa().map((r, i) => {
    const p = join(work, `aa-${i}.json`);
    writeFileSync(p, JSON.stringify(r.result));
    return p;
  });

  test('--from prints the calibration JSON on stdout and the table on stderr; -o writes it to a file', async () => {
    const r = await tsbench(['calibrate', '--from', ...paths]);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.ok(CalibrationSchema.safeParse(JSON.parse(r.stdout)).success);
    assert.match(r.stderr, /^A\/A calibration of 3 runs on runner/);
    assert.match(r.stderr, /startup\s+container\s+toReadyMs\s+[\d.]+ ms\s+20\s+/);
    const out = join(work, 'cal.json');
    const w = await tsbench(['calibrate', '--from', ...paths, '-o', out]);
    assert.equal(w.exitCode, 0, w.stderr);
    assert.match(w.stdout, new RegExp(`calibration: ${out} \\(use it with tsbench compare --calibration`));
    const cmp = await tsbench(['compare', paths[0] as string, paths[1] as string, '--calibration', out]);
    assert.ok(cmp.exitCode === 0 || cmp.exitCode === 1, cmp.stderr);
    assert.match(cmp.stdout, /thresholds from the calibration .*cal\.json/);
    assert.match(cmp.stdout, /startup\s+container\s+toReadyMs .* cal /);
  });

  test('runs the targets --repeats times and writes the calibration beside the runs', { timeout: 180_000 }, async () => {
    const dir = join(work, 'run');
    const r = await tsbench(['calibrate', 'startup', '--targets', 'native,container', '--runs', '4', '--warmup', '0', '--repeats', '2', '--out', dir]);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.ok(existsSync(join(dir, 'aa-1', 'results.json')) && existsSync(join(dir, 'aa-2', 'results.json')));
    const c = CalibrationSchema.parse(JSON.parse(readFileSync(join(dir, 'calibration.json'), 'utf8')));
    assert.deepEqual(
      c.series.map((s) => `${s.target}/${s.metric}/${s.n}`),
      ['native/toReadyMs/4', 'native/toExitMs/4', 'container/toReadyMs/4', 'container/toExitMs/4'],
    );
    assert.match(r.stdout, /A\/A calibration of 2 runs on /);
  });

  const errors: [string, string[], RegExp][] = [
    ['--repeats 1', ['startup', '--targets', 'native', '--repeats', '1'], /--repeats must be a whole number ≥ 2/],
    ['neither scenarios nor --from', [], /calibrate: name the scenarios and --targets to run/],
    ['both scenarios and --from', ['startup', '--targets', 'native', '--from', 'x.json'], /give either --from RESULTS… or SCENARIO… --targets LIST, not both/],
    ['a single result with --from', ['--from', join(work, 'aa-0.json')], /calibrate needs at least two runs/],
  ];
  for (const [what, args, message] of errors) {
    test(`${what} exits 2 with one line`, async () => {
      const r = await tsbench(['calibrate', ...args]);
      assert.equal(r.exitCode, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    });
  }
});
