/**
 * The summary at the top of the report page: what the run answers, on one
 * screen. Per scenario its headline metric (model.ts headlineMetrics): a compact
 * chart of each target's median with its 95 % CI, and the same figures as a
 * small table in human units with the ratio to native (the chart's text
 * alternative); then each verdict the run gives in one line linking to its row
 * in the claims table, and in one line the claims it could not measure with the
 * run that would. Everything shown is a figure or verdict the page embeds for
 * `tsbench verify` (the series' statistics, the claims' verdicts).
 */
import type { ChartSpec } from './charts.js';
import { summaryChart } from './charts.js';
import { escapeHtml as e, targetColor } from './common.js';
import {
  interval,
  slug,
  summaryOverview,
  withUnit,
  type ReportModel,
  type ReportSummary,
  type SummaryBlock,
  type SummaryOverview,
  type SummaryVerdict,
} from '../model.js';
import { fmt } from '../table.js';

function swatch(target: string): string {
  return `<span class="swatch" style="background:${e(targetColor(target))}"></span>`;
}

/** The table of a block: target, median, 95 % CI, ratio to native; `data-median` holds the exact median for readers and tests. */
function blockTable(b: SummaryBlock, chartId: string | undefined): string {
  const u = b.metric.unit;
  const rows = b.rows.map((r) => {
    const s = r.series;
    const name = `${swatch(s.target)}${e(s.label)}`;
    if (!r.stats)
      return `<tr class="missing" data-target="${e(s.label)}"><th scope="row">${name}</th><td colspan="2" class="small muted">${e(r.missing ?? 'no figure')}</td></tr>`;
    const ratio = r.ratio
      ? `<b>${e(fmt(r.ratio.ratio))}×</b><br><span class="small muted">${e(fmt(r.ratio.ciLow))}–${e(fmt(r.ratio.ciHigh))}</span>`
      : s.target === 'native'
        ? '<span class="muted">1×</span><br><span class="small muted">baseline</span>'
        : '<span class="muted">—</span>';
    return (
      `<tr data-target="${e(s.label)}"><th scope="row">${name}</th>` +
      `<td class="num" data-median="${e(String(r.stats.median))}"><b>${e(withUnit(r.stats.median, u))}</b><br><span class="small muted">${e(interval(r.stats.ciLow, r.stats.ciHigh, u))}</span></td>` +
      `<td class="num">${ratio}</td></tr>`
    );
  });
  return (
    `<div class="scroll"><table class="summary-table chart-data"${chartId ? ` id="${e(chartId)}-table" data-chart="${e(chartId)}"` : ''} data-scenario="${e(b.scenario)}" data-metric="${e(b.metric.name)}">` +
    `<caption class="sr-only">${e(b.scenario)}: ${e(b.metric.name)} per target (median, its 95% CI, ratio to native)</caption>` +
    '<thead><tr><th>target</th><th class="num">median<br><span class="small muted">95% CI</span></th><th class="num">× native<br><span class="small muted">95% CI</span></th></tr></thead>' +
    `<tbody>${rows.join('')}</tbody></table></div>`
  );
}

/**
 * The overview of a run of several scenarios: one row a target, one column a headline metric, each cell the
 * median in human units and its ratio to native (`data-median` the exact median); the blocks below hold the CIs.
 */
function overviewTable(o: SummaryOverview): string {
  const head = o.blocks
    .map(
      (b) =>
        `<th scope="col" class="num" data-scenario="${e(b.scenario)}" data-metric="${e(b.metric.name)}"><a href="#scenario-${e(slug(b.scenario))}">${e(b.scenario)}</a><br>` +
        `<span class="small muted">${e(b.metric.name)} (${e(b.metric.better)} better)</span></th>`,
    )
    .join('');
  const rows = o.rows.map((row) => {
    const cells = row.cells.map((c, i) => {
      const b = o.blocks[i] as SummaryBlock;
      if (c === undefined) return '<td class="num muted" title="not in this scenario">·</td>';
      if (!c.stats) return `<td class="num muted" title="${e(c.missing ?? 'no figure')}">—</td>`;
      const ratio = c.ratio ? ` <span class="small muted">${e(fmt(c.ratio.ratio))}×</span>` : '';
      return `<td class="num" data-scenario="${e(b.scenario)}" data-metric="${e(b.metric.name)}" data-median="${e(String(c.stats.median))}">${e(withUnit(c.stats.median, b.metric.unit))}${ratio}</td>`;
    });
    return `<tr data-target="${e(row.label)}"><th scope="row">${swatch(row.target)}${e(row.label)}</th>${cells.join('')}</tr>`;
  });
  return (
    '<div class="scroll"><table class="summary-overview chart-data">' +
    '<caption class="sr-only">Every headline metric per target: median and ratio to native</caption>' +
    `<thead><tr><th>target</th>${head}</tr></thead><tbody>${rows.join('')}</tbody></table></div>` +
    '<p class="small muted">Each cell: the median, then × native (median(target) / median(native)); —: no figure (hover for why); ·: not run in that scenario. Each metric\'s chart, 95% CIs and every other figure follow.</p>'
  );
}

function block(model: ReportModel, b: SummaryBlock, specs: ChartSpec[]): string {
  const sc = model.scenarios.find((s) => s.name === b.scenario);
  const id = `chart-summary-${slug(b.scenario)}-${slug(b.metric.name)}`;
  const spec = sc ? summaryChart(id, sc, b.metric.name) : undefined;
  if (spec) specs.push(spec);
  const rows = b.rows.filter((r) => r.stats).length;
  const chart = spec
    ? `<div class="canvas" style="height:${44 + 24 * rows}px"><canvas id="${e(id)}" role="img" aria-label="${e(`${b.scenario}: ${b.metric.name} per target, median and 95% CI`)}" aria-describedby="${e(id)}-table"></canvas></div>`
    : '';
  return (
    `<figure class="chart summary-block" data-scenario="${e(b.scenario)}"><figcaption><b><a href="#scenario-${e(slug(b.scenario))}">${e(b.scenario)}</a></b> · ${e(b.metric.name)} ` +
    `<span class="small muted">(${e(b.metric.unit)}, ${e(b.metric.better)} is better)</span></figcaption>${chart}${blockTable(b, spec ? id : undefined)}</figure>`
  );
}

function verdictLine(v: SummaryVerdict, manyHosts: boolean): string {
  const tcg = v.tcg ? ' <span class="accel accel-tcg" title="QEMU TCG binary translation: never evidence about KVM">TCG</span>' : '';
  const need = v.samplesNeeded !== undefined ? ` <span class="small muted">(about ${v.samplesNeeded} samples per target would decide it)</span>` : '';
  const host = manyHosts ? ` <span class="small muted">${e(v.host)}</span>` : '';
  return (
    `<li data-claim="${e(v.id)}"><span class="verdict verdict-${slug(v.verdict)}">${e(v.verdict)}</span> ` +
    `<b>${e(v.id)}</b>${host} ${e(v.claim)}${tcg}${need} <a href="#${e(v.anchor)}">evidence</a></li>`
  );
}

/** The summary section; its charts' specs are appended to `specs`. */
export function summarySection(model: ReportModel, summary: ReportSummary, specs: ChartSpec[], manyHosts: boolean): string {
  const out: string[] = ['<section id="summary" aria-label="Summary"><h2>Summary</h2>'];
  const overview = summaryOverview(summary);
  if (overview) out.push(overviewTable(overview));
  if (summary.blocks.length > 0) out.push(`<div class="summary-grid">${summary.blocks.map((b) => block(model, b, specs)).join('\n')}</div>`);
  else out.push('<p class="muted">No figures were recorded.</p>');
  out.push(
    '<p class="small muted">Dot: the median; whiskers: its 95% CI; × native: median(target) / median(native). Every figure of every metric is under each scenario below.</p>',
  );
  if (summary.verdicts.length > 0) out.push(`<ul class="verdict-lines">${summary.verdicts.map((v) => verdictLine(v, manyHosts)).join('')}</ul>`);
  if (summary.notMeasured.length > 0) {
    out.push(
      `<p class="undecided small">Not measured by this run: ${e(summary.notMeasured.join(', '))}${summary.command ? ` — <code>${e(summary.command)}</code> would measure them` : ''} (<a href="#claims">claims</a>).</p>`,
    );
  }
  out.push('</section>');
  return out.join('\n');
}
