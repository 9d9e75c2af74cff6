import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'puppeteer-core';
import { evaluateClaims } from '../reports/claims/index.js';
import type { HostClaims } from '../reports/claims/types.js';
import { loadResult, type LoadedResult } from '../core/load.js';
import type { Result } from '../core/schema.js';
import { REPORT_CSP, renderHtml } from '../reports/html/index.js';
import { wantsLog } from '../reports/html/charts.js';
import { buildReportModel } from '../reports/model.js';
import { launchBrowser, openFile, type OpenedPage } from './helpers/browser.js';
import { tsbench } from './helpers/cli.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/report/', import.meta.url));
const MULTI = join(FIXTURES, 'cpu-memory-io-density.json');
const STARTUP = join(FIXTURES, 'startup-tcg.json');
const SCREENSHOT = fileURLToPath(new URL('../../test-artifacts/report.png', import.meta.url));

const work = mkdtempSync(join(tmpdir(), 'tsbench-report-html-'));
after(() => rmSync(work, { recursive: true, force: true }));

const HOSTILE_HOST = '</script><script>alert(1)</script>';
const HOSTILE_ERROR = '<img src=x onerror=alert(1)>';

/** A real result made hostile: every string a reader's browser could run, in the places results carry text. */
function hostileResult(): Result {
  const r = JSON.parse(readFileSync(STARTUP, 'utf8')) as Result;
  r.host.hostname = HOSTILE_HOST;
  r.command = [...r.command, '--out', '"><svg onload=alert(2)>'];
  const sc = r.scenarios[0];
  assert.ok(sc);
  const m = sc.metrics[0];
  if (m) m.description = `<iframe src="https://example.com"></iframe> ${m.description}`;
  const tcg = sc.targets.find((t) => t.target === 'tcg');
  assert.ok(tcg);
  tcg.state = 'errored';
  tcg.error = HOSTILE_ERROR;
  tcg.errorTail = ['</pre><script>alert(3)</script>'];
  return r;
}

/** Checks every offline and drawing property a published page must have; returns the opened page for more checks. */
async function assertPageSound(browser: Browser, file: string): Promise<OpenedPage> {
  const page = await openFile(browser, file);
  assert.deepEqual(page.record.pageErrors, [], 'page errors');
  assert.deepEqual(page.record.consoleErrors, [], 'console errors');
  assert.deepEqual(page.otherRequests(), [], 'requests other than the page itself');
  assert.deepEqual(page.record.dialogs, [], 'dialogs');
  const specs = await page.evaluate<number>("JSON.parse(document.getElementById('tsbench-charts').textContent).length");
  const drawn = await page.evaluate<string | null>("document.documentElement.getAttribute('data-charts-drawn')");
  assert.equal(drawn, String(specs), 'every chart spec was drawn');
  const canvases = await page.canvases();
  assert.equal(canvases.length, specs);
  assert.ok(canvases.length > 0, 'the page has charts');
  for (const c of canvases) assert.ok(c.drawnPixels > 500, `canvas ${c.id} drew ${c.drawnPixels} pixels`);
  const refs = await page.evaluate<string[]>("[...document.querySelectorAll('[src],[href]')].map((e) => e.getAttribute('src') ?? e.getAttribute('href'))");
  for (const ref of refs) assert.ok(ref.startsWith('#') || ref.startsWith('data:'), `a reference that could leave the page: ${ref}`);
  const csp = await page.evaluate<string | null>("document.querySelector('meta[http-equiv=\"Content-Security-Policy\"]')?.getAttribute('content') ?? null");
  assert.equal(csp, REPORT_CSP);
  return page;
}

async function claimRows(page: OpenedPage): Promise<number> {
  assert.ok(await page.evaluate<boolean>("document.querySelector('#claims table.claims') !== null"), 'the claims table is present');
  return page.evaluate<number>("document.querySelectorAll('#claims table.claims tbody tr').length");
}

describe('the report page in headless Chromium', () => {
  let browser: Browser;
  before(async () => {
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
  });

  test('tsbench run leaves a report.html beside results.json that loads offline with every chart drawn', async () => {
    const out = join(work, 'run');
    const r = await tsbench(['run', 'startup', '--targets', 'native,container', '--runs', '3', '--warmup', '1', '--out', out]);
    assert.equal(r.exitCode, 0, r.stderr);
    const html = join(out, 'report.html');
    assert.ok(existsSync(html), 'report.html written');
    assert.match(r.stdout, new RegExp(`${html.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`), 'the run says where the report is');
    const page = await assertPageSound(browser, html);
    try {
      const loaded = await loadResult(join(out, 'results.json'));
      const verdicts = evaluateClaims([loaded]).reduce((n, h) => n + h.verdicts.length, 0);
      assert.equal(await claimRows(page), verdicts, 'one claims row per verdict');
      const text = await page.evaluate<string>('document.body.innerText');
      assert.match(text, /Scenario: startup/);
      assert.match(text, /toReadyMs/);
    } finally {
      await page.close();
    }
  });

  test('a multi-scenario report of two committed real results draws every chart and is saved as a screenshot', async () => {
    const file = join(work, 'fixtures.html');
    const r = await tsbench(['report', MULTI, STARTUP, '-o', file]);
    assert.equal(r.exitCode, 0, r.stderr);
    const page = await assertPageSound(browser, file);
    try {
      const loaded = [await loadResult(MULTI), await loadResult(STARTUP)];
      const verdicts = evaluateClaims(loaded).reduce((n, h) => n + h.verdicts.length, 0);
      assert.equal(await claimRows(page), verdicts, 'one claims row per verdict');
      const ids = await page.evaluate<string[]>("[...document.querySelectorAll('canvas')].map((c) => c.id)");
      for (const id of ['chart-startup-timeline', 'chart-density-ready', 'chart-density-memory', 'chart-cpu-ratio', 'chart-io-randreadiops'])
        assert.ok(ids.includes(id), `${id} is drawn`);
      const sections = await page.evaluate<string[]>("[...document.querySelectorAll('section.scenario h2')].map((h) => h.textContent)");
      assert.deepEqual(sections, ['Scenario: cpu', 'Scenario: memory', 'Scenario: io', 'Scenario: density', 'Scenario: startup']);
      // native ≈ 0.5 ms beside tcg ≈ 4 s: the startup axes say they are logarithmic.
      const startupTitle = await page.evaluate<string>(
        "JSON.parse(document.getElementById('tsbench-charts').textContent).find((s) => s.id === 'chart-startup-toreadyms').config.options.scales.y.title.text",
      );
      assert.match(startupTitle, /\(ms\), log scale$/);
      const rows = await page.evaluate<number>("document.querySelectorAll('#scenario-io table.figures tbody tr').length");
      assert.equal(rows, 16 * 2 + 8, 'every io figure: 16 metrics for native and container, 8 for tcg');
      const shot = await page.screenshot(SCREENSHOT);
      console.log(`report screenshot: ${shot}`);
      assert.ok(existsSync(shot));
    } finally {
      await page.close();
    }
  });

  test('a hostname, command, description and error text carrying markup render inert and visible as text', async () => {
    const input = join(work, 'hostile.json');
    writeFileSync(input, JSON.stringify(hostileResult()));
    const file = join(work, 'hostile.html');
    const r = await tsbench(['report', input, '-o', file]);
    assert.equal(r.exitCode, 0, r.stderr);
    const page = await assertPageSound(browser, file);
    try {
      assert.deepEqual(page.record.dialogs, [], 'no alert ran');
      assert.equal(
        await page.evaluate<number>("document.querySelectorAll('script').length"),
        5,
        'only the page’s own scripts: charts data, results data, figures data, chart.js, the page script',
      );
      assert.equal(await page.evaluate<number>("document.querySelectorAll('img, iframe, svg').length"), 0, 'no element injected');
      const text = await page.evaluate<string>('document.body.innerText');
      assert.ok(text.includes(HOSTILE_HOST), 'the hostname is shown literally');
      assert.ok(text.includes(HOSTILE_ERROR), 'the error is shown literally');
      assert.ok(text.includes('"><svg onload=alert(2)>'), 'the command is shown literally');
      assert.match(text, /tcg — errored: <img src=x onerror=alert\(1\)>/, 'the errored target is listed with its reason');
      const embedded = await page.evaluate<string>("JSON.parse(JSON.parse(document.getElementById('tsbench-results').textContent)[0].json).host.hostname");
      assert.equal(embedded, HOSTILE_HOST, 'the embedded data round-trips');
    } finally {
      await page.close();
    }
  });
});

describe('the report page, rendered', () => {
  const claims: HostClaims[] = [
    {
      host: 'vm',
      sources: ['a/results.json'],
      verdicts: [
        {
          id: 'C1',
          claim: 'A container starts in well under a second.',
          decidedBy: '`startup`: toReadyMs',
          verdict: 'confirmed',
          evidence: 'ready in 1.95 ms.',
          rule: 'confirmed when the CI is below 1 s',
          parts: [
            { label: 'VM much slower (tcg)', verdict: 'confirmed', evidence: '2,042× under TCG', bearing: 'context', accelerator: 'tcg', targets: ['tcg'] },
          ],
          figures: [{ label: 'time to ready', value: 1.95, unit: 'ms', ciLow: 1.78, ciHigh: 6.55, target: 'container' }],
          reference: 'docker run: 0.2–0.5 s',
          accelerator: 'tcg',
          targets: ['container', 'tcg'],
        },
        {
          id: 'C2',
          claim: 'near native',
          decidedBy: 'cpu',
          verdict: 'refuted',
          evidence: '<b>x</b>',
          rule: 'r',
          parts: [],
          figures: [],
          targets: ['container'],
        },
        {
          id: 'C3',
          claim: 'memory',
          decidedBy: 'memory',
          verdict: 'not measured',
          evidence: 'no memory result',
          rule: 'r',
          parts: [],
          figures: [],
          targets: [],
        },
      ],
    },
  ];

  test('crafted verdicts give one claims row each, styled by verdict, with the TCG label and escaped evidence', async () => {
    const html = renderHtml([await loadResult(STARTUP)], { claims });
    assert.equal(html.match(/<tr class="claim"/g)?.length, 3);
    assert.match(html, /data-claim="C1" data-verdict="confirmed"/);
    assert.match(html, /class="verdict verdict-refuted">refuted/);
    assert.match(html, /class="verdict verdict-not-measured">not measured/);
    assert.match(html, /TCG emulation — not KVM/);
    assert.match(html, /context only/);
    assert.match(html, /&#60;b&#62;x&#60;\/b&#62;/, 'evidence is escaped');
    assert.match(html, /decided by <code>startup<\/code>/);
  });

  test('a value axis turns logarithmic only when values span more than 50×', () => {
    assert.equal(wantsLog([0.5, 3300]), true);
    assert.equal(wantsLog([1, 40]), false);
    assert.equal(wantsLog([-1, 5000]), false, 'a value at or below 0 cannot be on a log axis');
  });

  test('results from two hosts are labelled target @ host, and files of one host merge by scenario', async () => {
    const a = await loadResult(STARTUP);
    const b: LoadedResult = { path: 'other/results.json', result: { ...a.result, host: { ...a.result.host, hostname: 'hostB' } } };
    const two = buildReportModel([a, b]);
    assert.equal(two.hosts.length, 2);
    assert.deepEqual(
      two.scenarios[0]?.series.map((s) => s.label),
      ['native @ vm', 'container @ vm', 'tcg @ vm', 'native @ hostB', 'container @ hostB', 'tcg @ hostB'],
    );
    const merged = buildReportModel([await loadResult(MULTI), a]);
    assert.equal(merged.hosts.length, 1);
    assert.deepEqual(
      merged.scenarios.map((s) => s.name),
      ['cpu', 'memory', 'io', 'density', 'startup'],
    );
    assert.ok(
      merged.scenarios.every((s) => s.series.every((x) => !x.label.includes('@'))),
      'one host: plain target names',
    );
  });
});
