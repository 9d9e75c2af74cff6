/**
 * Output of `tsbench history`: a self-contained HTML trend page (chart.js
 * inlined, data in a JSON script element, every result string escaped, a
 * Content-Security-Policy that forbids any network request), Markdown, or JSON.
 */
import type { History, HistoryChangePoint, HistorySeries } from './history.js';
import { VERDICT_RULE } from './types.js';
import { chartJsSource, escapeHtml, htmlPage, jsonForScript, targetColor } from '../html/common.js';
import { prob, signedPct } from './render.js';
import { mdCell } from '../markdown-escape.js';
import { fmt } from '../table.js';

export type HistoryFormat = 'html' | 'md' | 'json';
export const HISTORY_FORMATS: readonly HistoryFormat[] = ['html', 'md', 'json'];

/** Steps judged regression or improvement, in run order. */
function flaggedSteps(h: History): { run: number; s: HistorySeries; verdict: string; change?: number; p?: number; q?: number; reason: string }[] {
  const out: ReturnType<typeof flaggedSteps> = [];
  for (let i = 0; i < h.runs.length; i++) {
    for (const s of h.series) {
      const step = s.points[i]?.step;
      if (step && (step.verdict === 'regression' || step.verdict === 'improvement')) out.push({ run: i, s, ...step });
    }
  }
  return out;
}

/** Every change point, in run order, with its series. */
function changePoints(h: History): { s: HistorySeries; c: HistoryChangePoint }[] {
  return h.series.flatMap((s) => s.changePoints.map((c) => ({ s, c }))).sort((a, b) => a.c.run - b.c.run);
}

/** A change point's step: `+10.2% [+8.1%, +12.5%]`. */
function stepText(c: HistoryChangePoint): string {
  return c.step ? `${signedPct(c.step.change)} [${signedPct(c.step.ciLow)}, ${signedPct(c.step.ciHigh)}]` : 'n/a';
}

/** The environment changes across a change point, one line; 'none' when the fingerprints agree. */
function environmentText(c: HistoryChangePoint): string {
  // A long value (a target's confinement in words) keeps its first clause.
  const short = (v: string): string => {
    if (v === '') return '—';
    if (v.length <= 48) return v;
    const cut = v.indexOf(': ');
    return cut > 0 && cut <= 48 ? `${v.slice(0, cut)} …` : `${v.slice(0, 47)}…`;
  };
  return c.environment.length === 0 ? 'none' : c.environment.map((d) => `${d.label}: ${short(d.base)} → ${short(d.head)}`).join('; ');
}

/** "2026-11-03 03:17 → 2026-11-04 03:17". */
function betweenText(h: History, c: HistoryChangePoint): string {
  return `${h.runs[c.runBefore]?.label ?? ''} → ${h.runs[c.run]?.label ?? ''}`;
}

/** "8 runs → 7 runs". */
function segmentsText(c: HistoryChangePoint): string {
  return `${c.before.runs} → ${c.after.runs}`;
}

/** Groups series by scenario and metric: one chart each, one line per target. */
function charts(h: History): { scenario: string; metric: string; unit: string; better: string; series: HistorySeries[] }[] {
  const out = new Map<string, { scenario: string; metric: string; unit: string; better: string; series: HistorySeries[] }>();
  for (const s of h.series) {
    const key = `${s.scenario}\u0000${s.metric}`;
    const c = out.get(key) ?? { scenario: s.scenario, metric: s.metric, unit: s.unit, better: s.better, series: [] };
    c.series.push(s);
    out.set(key, c);
  }
  return [...out.values()];
}

/** Targets orders of magnitude apart (native 0.5 ms, a VM 3 s) share a log axis, so each line's drift stays visible. */
function logScale(series: readonly HistorySeries[]): boolean {
  const values = series.flatMap((s) => s.points.flatMap((p) => (p ? [p.ciLow, p.ciHigh, p.median] : [])));
  if (values.length === 0 || values.some((v) => !(v > 0))) return false;
  return Math.max(...values) / Math.min(...values) > 20;
}

const DRAW = `
(() => {
  const data = JSON.parse(document.getElementById('tsbench-history').textContent);
  Chart.defaults.animation = false;
  Chart.defaults.font.family = 'system-ui, sans-serif';
  const alpha = (hex) => hex + '33';
  const lines = new Map();
  // A change point: a dashed line in the target's colour between the runs either side, labelled with its step.
  const changeLines = {
    id: 'tsbenchChanges',
    afterDatasetsDraw(chart, _args, opts) {
      const { ctx, chartArea, scales } = chart;
      (opts.changes || []).forEach((c, k) => {
        const x = (scales.x.getPixelForValue(c.before) + scales.x.getPixelForValue(c.after)) / 2;
        ctx.save();
        ctx.strokeStyle = c.color;
        ctx.fillStyle = c.color;
        ctx.lineWidth = 2;
        ctx.setLineDash([6, 4]);
        ctx.beginPath();
        ctx.moveTo(x, chartArea.top);
        ctx.lineTo(x, chartArea.bottom);
        ctx.stroke();
        ctx.font = '11px system-ui, sans-serif';
        ctx.fillText(c.label, x + 3, chartArea.top + 12 + 13 * k);
        ctx.restore();
      });
      lines.set(chart.id, (opts.changes || []).length);
      document.body.dataset.changeLines = String([...lines.values()].reduce((a, b) => a + b, 0));
    },
  };
  let drawn = 0;
  data.charts.forEach((c, i) => {
    const canvas = document.querySelector('canvas[data-chart="' + i + '"]');
    if (!canvas) return;
    const datasets = [];
    for (const d of c.datasets) {
      datasets.push({ label: d.target + ' CI high', band: true, data: d.highs, borderWidth: 0, pointRadius: 0, pointHitRadius: 0, backgroundColor: alpha(d.color), fill: false });
      datasets.push({ label: d.target + ' CI low', band: true, data: d.lows, borderWidth: 0, pointRadius: 0, pointHitRadius: 0, backgroundColor: alpha(d.color), fill: '-1' });
      datasets.push({
        label: d.target, data: d.medians, notes: d.notes, borderColor: d.color, backgroundColor: d.color, borderWidth: 2, fill: false,
        pointStyle: d.flags.map((f) => (f === 'regression' ? 'triangle' : f === 'improvement' ? 'rectRot' : 'circle')),
        pointRadius: d.flags.map((f) => (f ? 8 : 3)),
        pointBorderColor: d.flags.map((f) => (f === 'regression' ? '#C00000' : f === 'improvement' ? '#007A33' : d.color)),
        pointBorderWidth: d.flags.map((f) => (f ? 3 : 1)),
      });
    }
    new Chart(canvas, {
      type: 'line',
      plugins: [changeLines],
      data: { labels: data.labels, datasets },
      options: {
        animation: false, responsive: true, maintainAspectRatio: false, spanGaps: false,
        interaction: { mode: 'nearest', intersect: false },
        plugins: {
          tsbenchChanges: { changes: c.changes },
          legend: { labels: { filter: (item, chart) => !chart.datasets[item.datasetIndex].band } },
          tooltip: {
            filter: (item) => !item.dataset.band,
            callbacks: { label: (item) => item.dataset.label + ': ' + (item.dataset.notes[item.dataIndex] || '') },
          },
        },
        scales: {
          x: { title: { display: true, text: 'run (start time, UTC)' } },
          y: { type: c.log ? 'logarithmic' : 'linear', title: { display: true, text: c.yTitle + (c.log ? ' (log scale)' : '') } },
        },
      },
    });
    drawn++;
  });
  document.body.dataset.chartsDrawn = String(drawn);
})();
`;

const HISTORY_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'";

const HISTORY_CSS = `
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 72rem; padding: 0 1rem; color: #111; }
section { display: grid; grid-template-columns: repeat(auto-fill, minmax(32rem, 1fr)); gap: 1rem; }
section > h2 { grid-column: 1 / -1; margin-bottom: 0; }
figure { margin: 0; border: 1px solid #ddd; border-radius: 4px; padding: 0.5rem; }
figcaption { font-weight: 600; } .unit { font-weight: normal; color: #555; }
.chart { position: relative; height: 16rem; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 0.2rem 0.5rem; text-align: left; }
tr.regression td { background: #fde2e2; } tr.improvement td { background: #e2f5e8; } tr.change td { background: #eef2fb; }
`;

/** The trend page. Every string that comes from a result is escaped or travels inside the JSON element. */
export function historyHtml(h: History): string {
  const groups = charts(h);
  const data = {
    labels: h.runs.map((r) => r.label),
    charts: groups.map((c) => ({
      yTitle: c.unit,
      log: logScale(c.series),
      changes: c.series.flatMap((s) =>
        s.changePoints.map((cp) => ({
          before: cp.runBefore,
          after: cp.run,
          color: targetColor(s.target),
          label: `${s.target}: ${cp.step ? signedPct(cp.step.change) : 'step'}`,
        })),
      ),
      datasets: c.series.map((s) => ({
        target: s.target,
        color: targetColor(s.target),
        medians: s.points.map((p) => p?.median ?? null),
        lows: s.points.map((p) => p?.ciLow ?? null),
        highs: s.points.map((p) => p?.ciHigh ?? null),
        flags: s.points.map((p) => (p?.step && (p.step.verdict === 'regression' || p.step.verdict === 'improvement') ? p.step.verdict : '')),
        notes: s.points.map((p) =>
          p
            ? `${fmt(p.median)} ${s.unit} [${fmt(p.ciLow)}–${fmt(p.ciHigh)}], n=${p.n}` +
              (p.step ? ` · vs previous: ${p.step.change !== undefined ? signedPct(p.step.change) : 'n/a'}, ${p.step.verdict}` : '')
            : '',
        ),
      })),
    })),
  };
  const e = escapeHtml;
  const first = h.runs[0];
  const last = h.runs[h.runs.length - 1];
  const flagged = flaggedSteps(h);
  const body: string[] = [];
  body.push('<h1>tsbench history</h1>');
  body.push(
    `<p>${h.runs.length} run(s)${first && last ? `, ${e(first.label)} to ${e(last.label)} UTC` : ''}. Each chart shows the median of every target with its 95% CI band.` +
      ` A step from one run to the next is judged as <code>tsbench compare</code> judges it (α = ${h.alpha}, default threshold ${Number((h.defaultThreshold * 100).toPrecision(3))}%):` +
      ' a red triangle marks a regression, a green diamond an improvement.' +
      ` A dashed line in a target's colour marks a change point: where that series' level stepped, found over the whole series (${e(h.changePoints.series === 'medians' ? "each run's median" : 'all samples')}, at least ${h.changePoints.minSegment} runs either side).</p>`,
  );
  body.push('<details><summary>The rule</summary><ul>' + [...VERDICT_RULE, h.changePoints.rule].map((l) => `<li>${e(l)}</li>`).join('') + '</ul></details>');
  const cps = changePoints(h);
  body.push('<h2>Change points</h2>');
  if (cps.length === 0) body.push(`<p>No change point in any series (series of under ${2 * h.changePoints.minSegment} runs are not searched).</p>`);
  else {
    body.push(
      '<table><thead><tr><th>between</th><th>scenario</th><th>target</th><th>metric</th><th>step [95% CI]</th><th>p (adjusted)</th><th>runs before → after</th><th>environment changes</th></tr></thead><tbody>',
    );
    for (const { s, c } of cps) {
      body.push(
        `<tr class="change"><td>${e(betweenText(h, c))}</td><td>${e(s.scenario)}</td><td>${e(s.target)}</td><td>${e(s.metric)}</td><td>${e(stepText(c))}</td>` +
          `<td>${e(prob(c.pAdjusted))}</td><td>${e(segmentsText(c))}</td><td>${e(environmentText(c))}</td></tr>`,
      );
    }
    body.push('</tbody></table>');
  }
  body.push('<h2>Flagged steps</h2>');
  if (flagged.length === 0) body.push('<p>No regression or improvement between consecutive runs.</p>');
  else {
    body.push(
      '<table><thead><tr><th>run</th><th>scenario</th><th>target</th><th>metric</th><th>change</th><th>p</th><th>q</th><th>verdict</th></tr></thead><tbody>',
    );
    for (const f of flagged) {
      body.push(
        `<tr class="${e(f.verdict)}"><td>${e(h.runs[f.run]?.label ?? '')}</td><td>${e(f.s.scenario)}</td><td>${e(f.s.target)}</td><td>${e(f.s.metric)}</td>` +
          `<td>${f.change !== undefined ? e(signedPct(f.change)) : 'n/a'}</td><td>${e(prob(f.p))}</td><td>${e(prob(f.q))}</td><td>${e(f.verdict)}</td></tr>`,
      );
    }
    body.push('</tbody></table>');
  }
  if (h.changes.length > 0) {
    body.push('<h2>Environment changes</h2><ul>');
    for (const c of h.changes) {
      const diffs = c.diffs.map((d) => `${e(d.label)}: ${e(d.base)} → ${e(d.head)}${d.accelerator ? ' (VM steps inconclusive)' : ''}`).join('; ');
      body.push(`<li>${e(h.runs[c.index]?.label ?? '')}: ${diffs}</li>`);
    }
    body.push('</ul>');
  }
  let scenario = '';
  groups.forEach((c, i) => {
    if (c.scenario !== scenario) {
      if (scenario !== '') body.push('</section>');
      scenario = c.scenario;
      body.push(`<section><h2>${e(c.scenario)}</h2>`);
    }
    body.push(
      `<figure><figcaption>${e(c.metric)} <span class="unit">(${e(c.unit)}, ${e(c.better)} is better)</span></figcaption>` +
        `<div class="chart"><canvas data-chart="${i}" role="img" aria-label="${e(`${c.scenario} ${c.metric} over runs`)}"></canvas></div></figure>`,
    );
  });
  if (scenario !== '') body.push('</section>');
  body.push('<h2>Runs</h2><ol>');
  for (const r of h.runs) body.push(`<li>${e(r.label)} — <code>${e(r.path)}</code> (tsbench ${e(r.version)})</li>`);
  body.push('</ol>');

  return htmlPage({
    csp: HISTORY_CSP,
    title: 'tsbench history',
    css: HISTORY_CSS,
    body: `${body.join('\n')}
<script type="application/json" id="tsbench-history">${jsonForScript(data)}</script>
<script>${chartJsSource()}</script>
<script>${DRAW}</script>`,
  });
}

/** Markdown: flagged steps, then each series' medians run by run (regressions in bold with ▲). */
export function historyMarkdown(h: History): string {
  const out: string[] = ['## tsbench history', ''];
  out.push(`${h.runs.length} run(s); α = ${h.alpha}, default threshold ${Number((h.defaultThreshold * 100).toPrecision(3))}%.`, '');
  const flagged = flaggedSteps(h);
  out.push('### Flagged steps', '');
  if (flagged.length === 0) out.push('No regression or improvement between consecutive runs.');
  else {
    out.push('| run | scenario | target | metric | change | p | q | verdict |', '|---|---|---|---|---|---|---|---|');
    for (const f of flagged) {
      out.push(
        `| ${mdCell(h.runs[f.run]?.label ?? '')} | ${mdCell(f.s.scenario)} | ${mdCell(f.s.target)} | ${mdCell(f.s.metric)} | ${f.change !== undefined ? signedPct(f.change) : 'n/a'} | ${prob(f.p)} | ${prob(f.q)} | ${f.verdict} |`,
      );
    }
  }
  const cps = changePoints(h);
  out.push('', '### Change points', '');
  if (cps.length === 0) out.push(`No change point in any series (series of under ${2 * h.changePoints.minSegment} runs are not searched).`);
  else {
    out.push(
      '| between | scenario | target | metric | step [95% CI] | p (adjusted) | runs before → after | environment changes |',
      '|---|---|---|---|---|---|---|---|',
    );
    for (const { s, c } of cps) {
      out.push(
        `| ${mdCell(betweenText(h, c))} | ${mdCell(s.scenario)} | ${mdCell(s.target)} | ${mdCell(s.metric)} | ${stepText(c)} | ${prob(c.pAdjusted)} | ${segmentsText(c)} | ${mdCell(environmentText(c))} |`,
      );
    }
  }
  out.push('', `Rule: ${h.changePoints.rule}`);
  out.push('', '### Medians', '');
  out.push(`| scenario | target | metric | unit | ${h.runs.map((r) => mdCell(r.label)).join(' | ')} |`);
  out.push(`|${['', '', '', '', ...h.runs.map(() => '')].map(() => '---').join('|')}|`);
  for (const s of h.series) {
    const cells = s.points.map((p) => {
      if (!p) return '';
      const v = fmt(p.median);
      if (p.step?.verdict === 'regression') return `**${v}** ▲`;
      if (p.step?.verdict === 'improvement') return `${v} ▽`;
      return v;
    });
    out.push(`| ${mdCell(s.scenario)} | ${mdCell(s.target)} | ${mdCell(s.metric)} | ${mdCell(s.unit)} | ${cells.join(' | ')} |`);
  }
  if (h.changes.length > 0) {
    out.push('', '### Environment changes', '');
    for (const c of h.changes) out.push(`- ${mdCell(h.runs[c.index]?.label ?? '')}: ${c.diffs.map((d) => `${d.label}: ${d.base} → ${d.head}`).join('; ')}`);
  }
  return `${out.join('\n')}\n`;
}

export function historyJson(h: History): string {
  return `${JSON.stringify({ tool: 'tsbench history', rule: VERDICT_RULE, ...h }, null, 2)}\n`;
}

export function formatHistory(h: History, format: HistoryFormat): string {
  if (format === 'md') return historyMarkdown(h);
  if (format === 'json') return historyJson(h);
  return historyHtml(h);
}
