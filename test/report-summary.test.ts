import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import type { Browser } from 'puppeteer-core';
import { listScenarios } from '../bench/scenarios/index.js';
import { loadResult, type LoadedResult } from '../core/load.js';
import { evaluateClaims } from '../reports/claims/index.js';
import { renderHtml } from '../reports/html/index.js';
import { renderMarkdown } from '../reports/markdown.js';
import { buildReportModel, buildSummary, headlineMetrics, mergedRunHint, summaryOverview } from '../reports/model.js';
import { launchBrowser, openFile } from './helpers/browser.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/report/', import.meta.url));
const MULTI = join(FIXTURES, 'cpu-memory-io-density.json');
const STARTUP = join(FIXTURES, 'startup-tcg.json');

const work = mkdtempSync(join(tmpdir(), 'tsbench-report-summary-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** A median as the summary's table holds it, keyed `scenario/metric/target`, from the results file's own statistics. */
function mediansOf(results: readonly LoadedResult[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of results)
    for (const sc of r.result.scenarios)
      for (const t of sc.targets) for (const [m, st] of Object.entries(t.stats)) out.set(`${sc.name}/${m}/${t.target}`, st.median);
  return out;
}

describe('the summary of a report', () => {
  test('every scenario marks a headline metric among its own metrics', () => {
    for (const sc of listScenarios()) {
      const marked = sc.metrics.filter((m) => m.headline === true);
      assert.ok(marked.length > 0, `${sc.name} marks no headline metric`);
      assert.ok(marked.length <= 2, `${sc.name} marks ${marked.length} headline metrics: the summary must stay one screen`);
    }
  });

  test('a scenario shows its marked headline metric, or without one the first metric some target measured', async () => {
    const multi = await loadResult(MULTI);
    const model = buildReportModel([multi]);
    const io = model.scenarios.find((s) => s.name === 'io');
    assert.ok(io);
    assert.deepEqual(
      headlineMetrics(io).map((m) => m.name),
      ['seqReadMiBps'],
      'results written before the flag: the first metric',
    );
    const marked = io.metrics.find((m) => m.name === 'randReadIops');
    assert.ok(marked);
    marked.headline = true;
    assert.deepEqual(
      headlineMetrics(io).map((m) => m.name),
      ['randReadIops'],
    );
  });

  test('the run hints of the claims not measured merge into one command', () => {
    assert.equal(
      mergedRunHint([
        'run `tsbench run cpu --targets native,container`.',
        'x `tsbench run startup --targets native,kvm` y `tsbench run cpu --targets native,tcg`',
      ]),
      'tsbench run cpu startup --targets native,container,kvm,tcg',
    );
    assert.equal(mergedRunHint(['no hint here']), undefined);
  });

  test('a startup-only run: one block of every target, the decided verdicts one line each, the rest in one line with the command', async () => {
    const loaded = await loadResult(STARTUP);
    const claims = evaluateClaims([loaded]);
    const s = buildSummary(buildReportModel([loaded]), claims);
    assert.deepEqual(
      s.blocks.map((b) => `${b.scenario}/${b.metric.name}`),
      ['startup/toReadyMs'],
    );
    assert.deepEqual(
      s.blocks[0]?.rows.map((r) => r.series.target),
      ['native', 'container', 'tcg'],
    );
    const all = claims.flatMap((h) => h.verdicts);
    assert.deepEqual(
      s.verdicts.map((v) => v.id),
      all.filter((c) => c.verdict !== 'not measured').map((c) => c.id),
    );
    assert.deepEqual(
      s.notMeasured,
      all.filter((c) => c.verdict === 'not measured').map((c) => c.id),
    );
    assert.match(s.command ?? '', /^tsbench run startup .*cpu.* --targets native,container,kvm/);

    const html = renderHtml([loaded]);
    assert.ok(html.indexOf('id="summary"') < html.indexOf('id="claims"'), 'the summary comes before the claims');
    assert.equal(html.match(/Not measured by this run:/g)?.length, 1, 'the claims not measured are one line');
    for (const v of s.verdicts) assert.match(html, new RegExp(`<tr class="claim" id="${v.anchor}"`), `${v.id}'s evidence row has its anchor`);
    for (const [, id] of html.matchAll(/<canvas id="([^"]+)"/g)) assert.match(html, new RegExp(`id="${id}-table" data-chart="${id}"`), `${id} has its table`);

    const md = renderMarkdown([loaded]);
    assert.ok(md.indexOf('## Summary') < md.indexOf('## Claims'));
    assert.match(md, /\| native \| \*\*0\.496 ms\*\* \| 0\.416 – 1\.49 ms \| 1× \(baseline\) \|/);
    assert.match(md, /\| tcg \| \*\*3,972 ms\*\* \| 3,776 – 4,368 ms \| 8,015× \(2,665–9,590\) \|/);
    assert.equal(md.match(/^Not measured by this run:/gm)?.length, 1);
    assert.match(md, /\(#claim-c4\)/);
  });

  test('a run of several scenarios opens with an overview: a row a target, a column a headline metric, the same medians and ratios', async () => {
    const loaded = await loadResult(MULTI);
    const model = buildReportModel([loaded]);
    const s = buildSummary(model, evaluateClaims([loaded]));
    assert.ok(s.blocks.length > 1);
    const o = summaryOverview(s);
    assert.ok(o !== undefined);
    assert.deepEqual(o.blocks, s.blocks);
    const labels = [...new Set(s.blocks.flatMap((b) => b.rows.map((r) => r.series.label)))];
    assert.deepEqual(
      o.rows.map((r) => r.label),
      labels,
    );
    for (const row of o.rows)
      row.cells.forEach((c, i) =>
        assert.equal(
          c,
          s.blocks[i]?.rows.find((r) => r.series.label === row.label),
          `${row.label} in ${s.blocks[i]?.scenario}`,
        ),
      );
    const md = renderMarkdown([loaded]);
    const header = `| target | ${s.blocks.map((b) => `${b.scenario} · ${b.metric.name}`).join(' | ')} |`;
    assert.ok(md.indexOf(header) > md.indexOf('## Summary') && md.indexOf(header) < md.indexOf(`**${s.blocks[0]?.scenario}**`), 'the overview comes first');
    // one block: no overview (the block is one already)
    assert.equal(summaryOverview({ ...s, blocks: s.blocks.slice(0, 1) }), undefined);
  });
});

describe('the summary in headless Chromium', () => {
  let browser: Browser;
  before(async () => {
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
  });

  const cases: [string, string[]][] = [
    ['a startup-only run', [STARTUP]],
    ['a multi-scenario run', [MULTI, STARTUP]],
  ];
  for (const [name, files] of cases) {
    test(`${name}: the figures fit the first screen at 1400 px, the page never scrolls sideways at 390 px, the tables hold the results' medians`, async () => {
      const loaded = await Promise.all(files.map((f) => loadResult(f)));
      const file = join(work, `${name.replace(/\W+/g, '-')}.html`);
      writeFileSync(file, renderHtml(loaded));

      const wide = await openFile(browser, file, { width: 1400, height: 1000 });
      try {
        assert.deepEqual(wide.record.pageErrors, []);
        const bottoms = await wide.evaluate<number[]>(
          "[...document.querySelectorAll('#summary table.summary-table')].map((t) => t.getBoundingClientRect().bottom + window.scrollY)",
        );
        const summary = buildSummary(buildReportModel(loaded), evaluateClaims(loaded));
        const blocks = summary.blocks.length;
        assert.equal(bottoms.length, blocks, 'one table per headline metric');
        const medians = mediansOf(loaded);
        if (blocks > 1) {
          // Several scenarios: the overview (a row a target, a column a headline metric) holds every figure on the first screen.
          const overview = await wide.evaluate<{ bottom: number; cells: { scenario: string; metric: string; target: string; median: string }[] }>(
            "(() => { const t = document.querySelector('#summary table.summary-overview'); return { bottom: t ? t.getBoundingClientRect().bottom + window.scrollY : -1, cells: t ? [...t.querySelectorAll('td[data-median]')].map((c) => ({ scenario: c.dataset.scenario, metric: c.dataset.metric, target: c.parentElement.dataset.target, median: c.dataset.median })) : [] }; })()",
          );
          assert.ok(overview.bottom > 0 && overview.bottom <= 1000, `the overview ends at ${Math.round(overview.bottom)} px, below the first 1,000 px`);
          assert.equal(overview.cells.length, summary.blocks.flatMap((b) => b.rows.filter((r) => r.stats)).length, 'a cell for every headline figure');
          for (const c of overview.cells)
            assert.equal(Number(c.median), medians.get(`${c.scenario}/${c.metric}/${c.target}`), `overview ${c.scenario}/${c.metric}/${c.target}`);
        } else for (const b of bottoms) assert.ok(b <= 1000, `a summary table ends at ${Math.round(b)} px, below the first 1,000 px`);
        const drawn = await wide.canvases();
        for (const c of drawn.filter((x) => x.id.startsWith('chart-summary-'))) assert.ok(c.drawnPixels > 300, `${c.id} drew ${c.drawnPixels} pixels`);

        // Each summary table's medians are the results file's; so are the medians of every metric chart's table.
        const cells = await wide.evaluate<{ scenario: string; metric: string; target: string; median: string }[]>(
          "[...document.querySelectorAll('#summary table.summary-table')].flatMap((t) => [...t.querySelectorAll('tbody tr[data-target]')].filter((r) => r.querySelector('[data-median]')).map((r) => ({ scenario: t.dataset.scenario, metric: t.dataset.metric, target: r.dataset.target, median: r.querySelector('[data-median]').dataset.median })))",
        );
        assert.ok(cells.length > 0);
        for (const c of cells) assert.equal(Number(c.median), medians.get(`${c.scenario}/${c.metric}/${c.target}`), `${c.scenario}/${c.metric}/${c.target}`);
        const startup = await wide.evaluate<{ target: string; median: string }[]>(
          "[...document.querySelectorAll('#chart-startup-toreadyms-table tbody tr')].map((r) => ({ target: r.cells[0].textContent, median: r.cells[2].dataset.value }))",
        );
        assert.deepEqual(
          startup.map((r) => Number(r.median)),
          ['native', 'container', 'tcg'].map((t) => medians.get(`startup/toReadyMs/${t}`)),
          "the startup chart's table holds the results' medians",
        );
      } finally {
        await wide.close();
      }

      const narrow = await openFile(browser, file, { width: 390, height: 844 });
      try {
        const { scrollWidth, innerWidth } = await narrow.evaluate<{ scrollWidth: number; innerWidth: number }>(
          '({ scrollWidth: document.scrollingElement.scrollWidth, innerWidth: window.innerWidth })',
        );
        assert.ok(scrollWidth <= innerWidth, `the document scrolls sideways at 390 px: ${scrollWidth} > ${innerWidth}`);
      } finally {
        await narrow.close();
      }
    });
  }
});
