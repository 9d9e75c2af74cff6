import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'puppeteer-core';
import { buildHistory, type History } from '../reports/compare/history.js';
import { parseThresholds } from '../reports/compare/thresholds.js';
import type { Result } from '../core/schema.js';
import { CPU, STARTUP, craftResult, type CraftScenario } from './fixtures/compare/craft.js';
import { launchBrowser, openFile } from './helpers/browser.js';
import { tsbench } from './helpers/cli.js';

const work = mkdtempSync(join(tmpdir(), 'tsbench-history-test-'));
after(() => rmSync(work, { recursive: true, force: true }));

const HOSTILE = '</script><img src=x onerror=alert(1)>';
const STARTUP_NO_KVM: CraftScenario = { ...STARTUP, targets: ['native', 'container'] };

/** Four nights; cpu/native/workMs is 15 % slower from the third night on; the second night has no kvm. */
function nights(): { stamp: string; result: Result }[] {
  const slow = { 'cpu/native/workMs': 1.15 };
  return [
    { stamp: '2026-11-01', result: craftResult({ seed: 11, scenarios: [STARTUP, CPU], startedAt: '2026-11-01T03:17:00.000Z' }) },
    { stamp: '2026-11-02', result: craftResult({ seed: 12, scenarios: [STARTUP_NO_KVM, CPU], startedAt: '2026-11-02T03:17:00.000Z' }) },
    { stamp: '2026-11-03', result: craftResult({ seed: 13, scenarios: [STARTUP, CPU], startedAt: '2026-11-03T03:17:00.000Z', shift: slow }) },
    {
      stamp: '2026-11-04',
      result: craftResult({ seed: 14, scenarios: [STARTUP, CPU], startedAt: '2026-11-04T03:17:00.000Z', shift: slow, host: { kernel: '6.11.0-1000-azure' } }),
    },
  ];
}

/** Eight nights; cpu/native/workMs is 15 % slower from the fifth on, when the kernel changed too. */
function eightNights(): { stamp: string; result: Result }[] {
  return Array.from({ length: 8 }, (_, i) => {
    const stamp = `2026-12-0${i + 1}`;
    const later = i >= 4;
    return {
      stamp,
      result: craftResult({
        seed: 60 + i,
        scenarios: [STARTUP, CPU],
        startedAt: `${stamp}T03:17:00.000Z`,
        shift: later ? { 'cpu/native/workMs': 1.15 } : {},
        host: later ? { kernel: '6.11.0-1000-azure' } : {},
      }),
    };
  });
}

function series(h: History, key: string) {
  const s = h.series.find((x) => `${x.scenario}/${x.target}/${x.metric}` === key);
  assert.ok(s, `no series ${key}`);
  return s;
}

describe('buildHistory', () => {
  // Given in reverse: the history orders by startedAt, not by argument order.
  const h = buildHistory(
    nights()
      .reverse()
      .map((n) => ({ path: `${n.stamp}/results.json`, result: n.result })),
    { thresholds: parseThresholds([]) },
  );

  test('orders runs by start time and labels them in UTC', () => {
    assert.deepEqual(
      h.runs.map((r) => r.label),
      ['2026-11-01 03:17', '2026-11-02 03:17', '2026-11-03 03:17', '2026-11-04 03:17'],
    );
  });

  test('flags the step where the 15 % slowdown appears, and only that step', () => {
    const s = series(h, 'cpu/native/workMs');
    assert.deepEqual(
      s.points.map((p) => p?.step?.verdict ?? 'first'),
      ['first', 'unchanged', 'regression', 'unchanged'],
    );
    const step = s.points[2]?.step;
    assert.ok(step?.change !== undefined && step.change > 0.1, JSON.stringify(step));
    const others = h.series.flatMap((x) => x.points.map((p, i) => ({ key: `${x.scenario}/${x.target}/${x.metric}#${i}`, v: p?.step?.verdict })));
    assert.deepEqual(
      others.filter((o) => o.v === 'regression' || o.v === 'improvement').map((o) => o.key),
      ['cpu/native/workMs#2'],
    );
  });

  test('a run without a series leaves a gap, and the next step compares with the last run that had it', () => {
    const s = series(h, 'startup/kvm/toExitMs');
    assert.equal(s.points[1], null);
    assert.ok(s.points[2]?.step, 'night 3 is compared with night 1');
  });

  test('environment changes between consecutive runs are listed', () => {
    const kernel = h.changes.find((c) => c.diffs.some((d) => d.key === 'kernel'));
    assert.equal(kernel?.index, 3);
  });
});

describe('change points in history', () => {
  const h = buildHistory(
    eightNights().map((n) => ({ path: `${n.stamp}/results.json`, result: n.result })),
    { thresholds: parseThresholds([]) },
  );

  test('the 15 % step is the only change point, between the fourth and fifth night, with its interval and the kernel change', () => {
    const all = h.series.flatMap((s) => s.changePoints.map((c) => `${s.scenario}/${s.target}/${s.metric}@${c.run}`));
    assert.deepEqual(all, ['cpu/native/workMs@4']);
    const c = series(h, 'cpu/native/workMs').changePoints[0];
    assert.ok(c);
    assert.equal(c.runBefore, 3);
    assert.deepEqual(
      [c.before, c.after],
      [
        { first: 0, last: 3, runs: 4 },
        { first: 4, last: 7, runs: 4 },
      ],
    );
    assert.ok(c.step && c.step.ciLow > 0.1 && c.step.ciHigh < 0.2 && c.step.change > 0.12, JSON.stringify(c.step));
    assert.ok(c.pAdjusted < 0.01);
    assert.deepEqual(
      c.environment.map((d) => `${d.key}: ${d.base} → ${d.head}`),
      ['kernel: 6.8.0-1017-azure → 6.11.0-1000-azure'],
    );
    assert.match(h.changePoints.rule, /E-divisive with means over each run's median, at least 3 runs either side/);
  });

  test('with every sample as the series the same step is found at the same place', () => {
    const hs = buildHistory(
      eightNights().map((n) => ({ path: `${n.stamp}/results.json`, result: n.result })),
      { thresholds: parseThresholds([]), changeSeries: 'samples' },
    );
    const c = series(hs, 'cpu/native/workMs').changePoints;
    assert.deepEqual(
      c.map((x) => [x.run, x.df]),
      [[4, 8 * 30 - 2]],
    );
  });

  test('fewer runs than twice the minimum segment are not searched', () => {
    const short = buildHistory(
      eightNights().map((n) => ({ path: `${n.stamp}/results.json`, result: n.result })),
      { thresholds: parseThresholds([]), minSegment: 5 },
    );
    assert.ok(short.series.every((s) => s.changePoints.length === 0));
  });
});

describe('the history command', () => {
  const dir = join(work, 'nightly');
  for (const n of nights()) {
    mkdirSync(join(dir, n.stamp), { recursive: true });
    writeFileSync(join(dir, n.stamp, 'results.json'), JSON.stringify(n.result));
  }
  const hostileDir = join(work, 'hostile');
  const hostile: CraftScenario = {
    name: 'startup',
    metrics: [{ name: `to${HOSTILE}Ms`, unit: `ms${HOSTILE}`, better: 'lower', center: 2 }],
    targets: ['native', `x${HOSTILE}`],
    samples: 10,
  };
  for (const [i, stamp] of ['a', 'b'].entries()) {
    mkdirSync(join(hostileDir, stamp), { recursive: true });
    const r = craftResult({ seed: 40 + i, scenarios: [hostile], startedAt: `2026-11-0${i + 1}T00:00:00.000Z`, host: { kernel: `k${i}${HOSTILE}` } });
    writeFileSync(join(hostileDir, stamp, 'results.json'), JSON.stringify(r));
  }
  const trend = join(work, 'trend.html');
  const hostileTrend = join(work, 'hostile.html');
  const eightDir = join(work, 'eight');
  for (const n of eightNights()) {
    mkdirSync(join(eightDir, n.stamp), { recursive: true });
    writeFileSync(join(eightDir, n.stamp, 'results.json'), JSON.stringify(n.result));
  }
  const eightTrend = join(work, 'eight.html');

  test('lists each change point with the runs either side, its step and interval, and the environment change (md, json, html)', async () => {
    const md = await tsbench(['history', eightDir, '--format', 'md']);
    assert.equal(md.exitCode, 0, md.stderr);
    assert.match(
      md.stdout,
      /### Change points\n\n\| between \| scenario \| target \| metric \| step \[95% CI\] \| p \(adjusted\) \| runs before → after \| environment changes \|\n\|---\|---\|---\|---\|---\|---\|---\|---\|\n\| 2026-12-04 03:17 → 2026-12-05 03:17 \| cpu \| native \| workMs \| \+1\d(\.\d+)?% \[\+1\d(\.\d+)?%, \+1\d(\.\d+)?%\] \| <0\.0001 \| 4 → 4 \| kernel: 6\.8\.0-1017-azure → 6\.11\.0-1000-azure \|\n/,
    );
    const js = await tsbench(['history', eightDir, '--format', 'json', '--min-segment', '2', '--change-series', 'samples']);
    assert.equal(js.exitCode, 0, js.stderr);
    const doc = JSON.parse(js.stdout) as History;
    assert.deepEqual(doc.changePoints.minSegment, 2);
    assert.equal(doc.changePoints.series, 'samples');
    assert.equal(doc.series.find((s) => s.scenario === 'cpu' && s.target === 'native' && s.metric === 'workMs')?.changePoints[0]?.run, 4);
    const html = await tsbench(['history', eightDir, '-o', eightTrend]);
    assert.equal(html.exitCode, 0, html.stderr);
    assert.match(html.stderr, /history of 8 run\(s\), 12 series, 1 change point\(s\)/);
    assert.match(
      readFileSync(eightTrend, 'utf8'),
      /<tr class="change"><td>2026-12-04 03:17 → 2026-12-05 03:17<\/td><td>cpu<\/td><td>native<\/td><td>workMs<\/td>/,
    );
  });

  test('writes a self-contained trend page from a folder of nightly runs', async () => {
    const r = await tsbench(['history', dir, '-o', trend]);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stderr, /history of 4 run\(s\), \d+ series/);
    const html = readFileSync(trend, 'utf8');
    assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none'/);
    assert.doesNotMatch(html, /\s(src|href)=["']?(https?:|\/\/)/i, 'no external resource');
    assert.match(html, /Chart\.js v4/, 'chart.js is inlined');
    const json = /<script type="application\/json" id="tsbench-history">(.*?)<\/script>/s.exec(html)?.[1];
    const data = JSON.parse(json ?? 'null') as { labels: string[]; charts: { yTitle: string; datasets: { target: string; color: string }[] }[] };
    assert.equal(data.labels.length, 4);
    assert.ok(
      data.charts.some((c) => c.yTitle === 'ms'),
      'units on the y axis',
    );
    assert.equal(data.charts[0]?.datasets.find((d) => d.target === 'native')?.color, '#000000');
    assert.match(html, /<tr class="regression"><td>2026-11-03 03:17<\/td><td>cpu<\/td><td>native<\/td><td>workMs<\/td>/);
    assert.match(html, /kernel: 6\.8\.0-1017-azure → 6\.11\.0-1000-azure/);
  });

  test('escapes every string that comes from a result', async () => {
    const r = await tsbench(['history', join(hostileDir, 'a'), join(hostileDir, 'b', 'results.json'), '-o', hostileTrend]);
    assert.equal(r.exitCode, 0, r.stderr);
    const html = readFileSync(hostileTrend, 'utf8');
    assert.ok(!html.includes('<img src=x'), 'no live markup from a result');
    assert.ok(html.includes('&#60;/script&#62;&#60;img src=x onerror=alert(1)&#62;'));
  });

  test('--format md and --format json', async () => {
    const md = await tsbench(['history', dir, '--format', 'md']);
    assert.equal(md.exitCode, 0, md.stderr);
    assert.match(md.stdout, /^## tsbench history/);
    assert.match(md.stdout, /\| 2026-11-03 03:17 \| cpu \| native \| workMs \| \+1\d(\.\d+)?% \|/);
    assert.match(md.stdout, /\| cpu \| native \| workMs \| ms \| [\d.]+ \| [\d.]+ \| \*\*[\d.]+\*\* ▲ \| [\d.]+ \|/);
    const js = await tsbench(['history', dir, '--format', 'json']);
    assert.equal(js.exitCode, 0, js.stderr);
    const doc = JSON.parse(js.stdout) as History;
    assert.equal(doc.runs.length, 4);
  });

  const errors: [string, string[], RegExp][] = [
    ['a missing directory', [join(work, 'nope')], /nope: no such file or directory; pass results\.json files or directories holding them/],
    ['a directory without results', [work], /holds no results\.json/],
    ['an unknown --format', [dir, '--format', 'pdf'], /--format: unknown format 'pdf'; valid formats: html, md, json/],
    ['a --min-segment under 2', [dir, '--min-segment', '1'], /--min-segment must be a whole number ≥ 2, e\.g\. --min-segment 3/],
    ['an unknown --change-series', [dir, '--change-series', 'means'], /--change-series: unknown series 'means'; valid: medians, samples/],
  ];
  for (const [what, args, message] of errors) {
    test(`${what} exits 2 with one line`, async () => {
      const r = await tsbench(['history', ...args]);
      assert.equal(r.exitCode, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.equal(r.stdout, '');
    });
  }

  describe('in headless Chromium', () => {
    let browser: Browser | undefined;
    before(async () => {
      browser = await launchBrowser();
    });
    after(async () => {
      await browser?.close();
    });

    test('the trend page loads offline with no error or request and draws every chart', async () => {
      assert.ok(existsSync(trend), 'written by the test above');
      const page = await openFile(browser as Browser, trend);
      try {
        assert.deepEqual(page.record.consoleErrors, []);
        assert.deepEqual(page.record.pageErrors, []);
        assert.deepEqual(page.otherRequests(), []);
        const canvases = await page.canvases();
        assert.equal(canvases.length, 4, 'startup and cpu: two metrics each');
        for (const c of canvases) assert.ok(c.drawnPixels > 1000, `${c.id} drew ${c.drawnPixels} pixels`);
        assert.equal(await page.evaluate<string>('document.body.dataset.chartsDrawn'), '4');
        await page.screenshot('test-artifacts/history.png');
      } finally {
        await page.close();
      }
    });

    test('a change point is drawn as a dashed line on its chart', async () => {
      assert.ok(existsSync(eightTrend), 'written by the test above');
      const page = await openFile(browser as Browser, eightTrend);
      try {
        assert.deepEqual(page.record.pageErrors, []);
        assert.deepEqual(page.record.consoleErrors, []);
        assert.equal(await page.evaluate<string>('document.body.dataset.changeLines'), '1');
        await page.screenshot('test-artifacts/history-change-points.png');
      } finally {
        await page.close();
      }
    });

    test('hostile strings from a result stay inert text', async () => {
      const page = await openFile(browser as Browser, hostileTrend);
      try {
        assert.deepEqual(page.record.dialogs, []);
        assert.deepEqual(page.record.pageErrors, []);
        assert.deepEqual(page.otherRequests(), [], 'the injected <img src=x> was never loaded');
        assert.equal(await page.evaluate<number>('document.querySelectorAll("img").length'), 0);
        const caption = await page.evaluate<string>('document.querySelector("figcaption").textContent');
        assert.ok(caption.includes(HOSTILE), caption);
      } finally {
        await page.close();
      }
    });
  });
});
