/**
 * `tsbench reproduce`: the original's plan run again on this host through
 * `tsbench run`'s path, what cannot be matched said before the first sample,
 * and one side-by-side report that verify finds consistent.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Result } from '../core/schema.js';
import { tsbench } from './helpers/cli.js';

const work = mkdtempSync(join(tmpdir(), 'tsbench-reproduce-'));
after(() => rmSync(work, { recursive: true, force: true }));
const original = join(work, 'original');

describe('tsbench reproduce', () => {
  before(async () => {
    const r = await tsbench(['run', 'startup', '--targets', 'native,container', '--runs', '3', '--warmup', '1', '--seed', '5', '--out', original]);
    assert.equal(r.exitCode, 0, r.stderr);
  });

  test('a native,container startup report reproduced here gives a side-by-side report that verify finds consistent, and exits 0', async () => {
    const out = join(work, 'again');
    const r = await tsbench(['reproduce', join(original, 'report.html'), '--out', out]);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.match(r.stderr, /reproduce: this host matches the original's environment/);
    assert.match(r.stdout, /0 regression\(s\), 0 improvement\(s\), 0 unchanged, 4 inconclusive of 4 series/, '3 vs 3 samples cannot reach significance');
    assert.equal(
      readFileSync(join(out, 'original', 'results.json'), 'utf8'),
      readFileSync(join(original, 'results.json'), 'utf8'),
      'the original, byte for byte',
    );
    const orig = JSON.parse(readFileSync(join(original, 'results.json'), 'utf8')) as Result;
    const again = JSON.parse(readFileSync(join(out, 'reproduction', 'results.json'), 'utf8')) as Result;
    assert.deepEqual(
      again.targets.map((t) => t.name),
      ['native', 'container'],
    );
    assert.equal(again.seed, 5);
    assert.deepEqual(
      again.scenarios.map((s) => [s.name, s.runs, s.warmup]),
      orig.scenarios.map((s) => [s.name, s.runs, s.warmup]),
    );
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    assert.match(html, /<section id="reproduction">/);
    for (const series of ['native/startup/toReadyMs', 'native/startup/toExitMs', 'container/startup/toReadyMs', 'container/startup/toExitMs'])
      assert.match(html, new RegExp(`data-series="${series}" data-verdict="inconclusive"`));
    assert.match(html, /<h3>Host [^<]+ \(original\)<\/h3>/, 'claims of the original');
    assert.match(html, /<h3>Host [^<]+ \(reproduction\)<\/h3>/, 'and of the reproduction');
    assert.match(readFileSync(join(out, 'report.md'), 'utf8'), /## Reproduction/);
    assert.equal((JSON.parse(readFileSync(join(out, 'comparison.json'), 'utf8')) as { series: unknown[] }).series.length, 4);
    const v = await tsbench(['verify', join(out, 'report.html')]);
    assert.equal(v.exitCode, 0, v.stdout + v.stderr);
    assert.match(v.stdout, /consistent: 2 result files/);
  });

  test('--runs overrides the original’s rounds', async () => {
    const out = join(work, 'runs');
    const r = await tsbench(['reproduce', join(original, 'results.json'), '--runs', '2', '--out', out]);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    const again = JSON.parse(readFileSync(join(out, 'reproduction', 'results.json'), 'utf8')) as Result;
    assert.deepEqual(
      again.scenarios[0]?.targets.map((t) => t.samples.length),
      [2, 2],
    );
  });

  test('a target this host cannot run is said before the first sample, the others run, and the exit is 1 without --allow-missing', async () => {
    const doc = JSON.parse(readFileSync(join(original, 'results.json'), 'utf8')) as Result;
    doc.targets.push({ name: 'firecracker', available: true });
    doc.host.kernel = '9.9.9-elsewhere';
    const path = join(work, 'elsewhere.json');
    writeFileSync(path, JSON.stringify(doc, null, 2));
    const out = join(work, 'elsewhere');
    const r = await tsbench(['reproduce', path, '--runs', '2', '--out', out]);
    assert.equal(r.exitCode, 1, r.stdout + r.stderr);
    const lines = r.stderr.split('\n');
    const said = lines.findIndex((l) => l.includes('target firecracker: this tsbench has no such target; not run'));
    assert.ok(said > 0, r.stderr);
    assert.ok(
      lines.some((l) => /^ {2}kernel: 9\.9\.9-elsewhere there, .+ here$/.test(l)),
      r.stderr,
    );
    assert.match(lines[said - 2] ?? lines[0] ?? '', /what cannot be matched on this host/);
    const again = JSON.parse(readFileSync(join(out, 'reproduction', 'results.json'), 'utf8')) as Result;
    assert.deepEqual(
      again.scenarios[0]?.targets.map((t) => [t.target, t.state]),
      [
        ['native', 'completed'],
        ['container', 'completed'],
      ],
    );
    const ok = await tsbench(['reproduce', path, '--runs', '2', '--allow-missing', '--out', join(work, 'elsewhere2')]);
    assert.equal(ok.exitCode, 0, ok.stdout + ok.stderr);
  });

  test("compare's --threshold rules, --alpha and a calibration judge the reproduction, travel in the page, and verify recomputes with them", async () => {
    const cal = join(work, 'cal.json');
    const c = await tsbench(['calibrate', '--from', join(original, 'results.json'), join(work, 'runs', 'reproduction', 'results.json'), '-o', cal]);
    assert.equal(c.exitCode, 0, c.stdout + c.stderr);
    const out = join(work, 'gated');
    const r = await tsbench([
      'reproduce',
      join(original, 'report.html'),
      '--threshold',
      'startup.container.toExitMs=50%',
      '--alpha',
      '0.05',
      '--calibration',
      cal,
      '--out',
      out,
    ]);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    const comparison = JSON.parse(readFileSync(join(out, 'comparison.json'), 'utf8')) as {
      alpha: number;
      series: { target: string; metric: string; threshold: number; thresholdSource?: string }[];
    };
    assert.equal(comparison.alpha, 0.05);
    const thr = new Map(comparison.series.map((s) => [`${s.target}/${s.metric}`, [s.threshold, s.thresholdSource]]));
    assert.deepEqual(thr.get('container/toExitMs'), [0.5, 'startup.container.toExitMs=50%'], 'the explicit rule wins');
    assert.equal(thr.get('container/toReadyMs')?.[1], 'calibration', 'the calibration below it');
    const html = readFileSync(join(out, 'report.html'), 'utf8');
    assert.match(html, /<td>50% <span class="small muted">\(startup\.container\.toExitMs=50%\)<\/span><\/td>/);
    assert.match(html, /<span class="small muted">\(calibrated\)<\/span>/);
    const v = await tsbench(['verify', join(out, 'report.html')]);
    assert.equal(v.exitCode, 0, v.stdout + v.stderr);
    const edited = join(work, 'gated-edited.html');
    writeFileSync(edited, html.replace('"thresholdRules":["startup.container.toExitMs=50%"]', '"thresholdRules":["startup.container.toExitMs=40%"]'));
    const e = await tsbench(['verify', edited]);
    assert.equal(e.exitCode, 1, e.stdout + e.stderr);
    assert.match(e.stdout + e.stderr, /container\/startup\/toExitMs: the page shows a threshold of 0\.5, the comparison's settings give 0\.4/);
  });

  test('a --threshold naming no metric of the original, or an unreadable --calibration, is one line and exit 2 before anything runs', async () => {
    const out = join(work, 'never-gated');
    for (const args of [
      ['--threshold', 'startup.nosuch=5%'],
      ['--calibration', join(work, 'no-such-calibration.json')],
    ]) {
      const r = await tsbench(['reproduce', join(original, 'results.json'), ...args, '--out', out]);
      assert.equal(r.exitCode, 2, r.stdout + r.stderr);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, new RegExp(args[0]!));
      assert.equal(existsSync(out), false, 'nothing ran');
    }
  });

  test("the original's container settings (TSBENCH_CONFINEMENT, TSBENCH_CONTAINER_UPPER) are used again, whatever this environment says, and an override is said", async () => {
    const unconfined = join(work, 'unconfined');
    const env = { TSBENCH_CONFINEMENT: 'unconfined', TSBENCH_CONTAINER_UPPER: 'disk' };
    const o = await tsbench(['run', 'startup', '--targets', 'native,container', '--runs', '2', '--warmup', '0', '--out', unconfined], { env });
    assert.equal(o.exitCode, 0, o.stderr);
    const details = (path: string): Record<string, unknown> | undefined =>
      (JSON.parse(readFileSync(path, 'utf8')) as Result).targets.find((t) => t.name === 'container')?.details;
    for (const [name, envHere] of [
      ['plain', { TSBENCH_CONFINEMENT: '', TSBENCH_CONTAINER_UPPER: '' }],
      ['overridden', { TSBENCH_CONFINEMENT: 'docker-default', TSBENCH_CONTAINER_UPPER: 'tmpfs' }],
    ] as const) {
      const out = join(work, `unconfined-${name}`);
      const r = await tsbench(['reproduce', join(unconfined, 'results.json'), '--out', out], { env: envHere });
      assert.equal(r.exitCode, 0, r.stdout + r.stderr);
      const d = details(join(out, 'reproduction', 'results.json'));
      assert.match(String(d?.['confinement']), /^unconfined:/);
      assert.equal(d?.['upper'], 'disk');
      if (name === 'plain') assert.match(r.stderr, /this host matches the original's environment/);
      else {
        assert.match(r.stderr, /^ {2}TSBENCH_CONFINEMENT=docker-default here: the original's unconfined is used$/m);
        assert.match(r.stderr, /^ {2}TSBENCH_CONTAINER_UPPER=tmpfs here: the original's disk is used$/m);
      }
    }
  });

  test('of a page holding several result files, --source picks the one reproduced; without it the exit is 2 naming them', async () => {
    const page = join(work, 'two.html');
    const rep = await tsbench(['report', join(original, 'results.json'), join(work, 'runs', 'reproduction', 'results.json'), '-o', page]);
    assert.equal(rep.exitCode, 0, rep.stderr);
    const none = await tsbench(['reproduce', page, '--out', join(work, 'never-two')]);
    assert.equal(none.exitCode, 2);
    assert.equal(none.stderr.trim().split('\n').length, 1, none.stderr);
    assert.match(none.stderr, /holds 2 result files; pass --source with the one to reproduce: 1 \(original-results\.json\), 2 \(reproduction-results\.json\)/);
    const out = join(work, 'second');
    const r = await tsbench(['reproduce', page, '--source', 'reproduction-results.json', '--out', out]);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.equal(
      readFileSync(join(out, 'original', 'results.json'), 'utf8'),
      readFileSync(join(work, 'runs', 'reproduction', 'results.json'), 'utf8'),
      'the second file, byte for byte',
    );
    assert.deepEqual(
      (JSON.parse(readFileSync(join(out, 'reproduction', 'results.json'), 'utf8')) as Result).scenarios[0]?.targets.map((t) => t.samples.length),
      [2, 2],
      'its rounds, not the first file’s',
    );
  });

  test('a page from another tool or with no embedded data is one line and exit 2', async () => {
    const page = join(work, 'other.html');
    writeFileSync(page, '<!doctype html><html><head><meta name="generator" content="tsbench 0.1.0"></head><body></body></html>');
    const r = await tsbench(['reproduce', page, '--out', join(work, 'never')]);
    assert.equal(r.exitCode, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /embeds no #tsbench-results/);
  });
});
