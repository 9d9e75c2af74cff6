/**
 * The published report: one self-contained HTML page, readable offline from
 * file://. chart.js and the page's script are inlined, the data travels in JSON
 * script elements (jsonForScript: no string can end them) — the result files
 * byte for byte with their SHA-256, and every figure and verdict shown, which
 * `tsbench verify` checks (reports/embedded.ts) — a
 * Content-Security-Policy forbids every network request, and every string that
 * comes from a result is escaped. Sections: the summary first (html/summary.ts:
 * headline figures, verdicts in one line each), then the contents, claims, hosts,
 * runs, and per scenario the charts and the table of figures (reports/html/*).
 */
import { claimsOf, embeddedSources, pageFigures } from '../embedded.js';
import type { LoadedResult } from '../../core/load.js';
import { toolVersion } from '../../core/version.js';
import { chartJsSource, escapeHtml as e, htmlPage, jsonForScript } from './common.js';
import type { ChartSpec } from './charts.js';
import { CLIENT_SCRIPT } from './client.js';
import { buildReportModel, buildSummary, type ReportModel } from '../model.js';
import { reproductionSection } from './reproduction.js';
import { claimsSection, hostsSection, runsSection, scenarioSection, slug } from './sections.js';
import { REPORT_CSS } from './style.js';
import { summarySection } from './summary.js';
import type { ReportOptions, ReportWriter } from '../writer.js';

/** The Content-Security-Policy of the page: inline script and style only, images only from data: URLs, nothing from the network. */
export const REPORT_CSP = "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:";

function unique<T>(xs: readonly T[]): T[] {
  return [...new Set(xs)];
}

/** One line saying what the report covers. */
function summary(model: ReportModel): string {
  const scenarios = model.scenarios.map((s) => s.name);
  const targets = unique(model.scenarios.flatMap((s) => s.series.map((x) => x.target)));
  const hosts = model.hosts.map((h) => h.label);
  return `${scenarios.join(', ') || 'no scenario'} on ${targets.join(', ') || 'no target'} · ${hosts.length === 1 ? 'host' : 'hosts'} ${hosts.join(', ')}`;
}

function header(model: ReportModel, generatedAt: Date): string {
  const s = model.sources;
  const first = s[0];
  const what =
    s.length === 1 && first
      ? `<p>Command: <code>tsbench ${e(first.command.join(' '))}</code></p>` +
        `<p class="small">Started ${e(first.startedAt)}, last written ${e(first.updatedAt)} (UTC) by tsbench ${e(first.toolVersion)}, bootstrap seed ${e(String(first.seed))}` +
        `${first.complete ? '' : ` · <span class="problem">${e(first.interrupted ? `interrupted: ${first.interrupted}` : 'incomplete: still running or stopped early')}</span>`}</p>`
      : `<p>${s.length} result files, ${e(unique(s.map((x) => x.startedAt.slice(0, 10))).join(', '))} (UTC); see <a href="#runs">Runs</a> for each command.</p>`;
  return (
    `<header><h1>tsbench report</h1><p class="lede">${e(summary(model))}</p>${what}` +
    `<p class="small muted">Generated ${e(generatedAt.toISOString())} by tsbench ${e(toolVersion())}. Every interval is a seeded bootstrap 95% confidence interval; ratios are median(target) / median(native) of the same host and file.</p></header>`
  );
}

function toc(model: ReportModel): string {
  const items = [
    '<li><a href="#summary">Summary</a></li>',
    '<li><a href="#claims">Claims</a></li>',
    '<li><a href="#hosts">Hosts</a></li>',
    '<li><a href="#runs">Runs</a></li>',
  ];
  for (const sc of model.scenarios) {
    const id = `scenario-${slug(sc.name)}`;
    items.push(`<li><a href="#${id}">Scenario: ${e(sc.name)}</a> <span class="small">(<a href="#${id}-figures">figures</a>)</span></li>`);
  }
  return `<nav class="toc" aria-label="Contents"><h2>Contents</h2><ol>${items.join('')}</ol></nav>`;
}

/** Renders the report page for one or more loaded results. */
export function renderHtml(results: readonly LoadedResult[], opts: ReportOptions = {}): string {
  const model = buildReportModel(results);
  const claimsBy = opts.claimsBy ?? 'host';
  const claims = opts.claims ?? claimsOf(results, claimsBy);
  const sources = embeddedSources(results);
  const figures = pageFigures(results, claims, claimsBy, opts.reproduction);
  const specs: ChartSpec[] = [];
  const summaryHtml = summarySection(model, buildSummary(model, claims), specs, claims.length > 1);
  const scenarios = model.scenarios.map((sc) => scenarioSection(sc, specs));
  const title = `tsbench report: ${summary(model)}`;
  return htmlPage({
    csp: REPORT_CSP,
    title: e(title),
    head: [`<meta name="generator" content="tsbench ${e(toolVersion())}">`],
    afterTitle: ['<link rel="icon" href="data:,">'],
    css: REPORT_CSS,
    body: `${header(model, opts.generatedAt ?? new Date())}
<main>
${summaryHtml}
${toc(model)}
${opts.reproduction ? reproductionSection(opts.reproduction.comparison, model) : ''}
${claimsSection(claims, model.multiHost || claimsBy === 'file')}
${hostsSection(model)}
${runsSection(model, sources)}
${scenarios.join('\n')}
</main>
<footer class="small muted">tsbench ${e(toolVersion())} · the result files are embedded in this page byte for byte, with their SHA-256 (script element <code>#tsbench-results</code>), and so is every figure and verdict it shows (<code>#tsbench-figures</code>): <code>tsbench verify</code> on this file recomputes them from the samples, and <code>tsbench reproduce</code> runs the same measurement on your host.</footer>
<script type="application/json" id="tsbench-charts">${jsonForScript(specs)}</script>
<script type="application/json" id="tsbench-results">${jsonForScript(sources)}</script>
<script type="application/json" id="tsbench-figures">${jsonForScript(figures)}</script>
<script>${chartJsSource()}</script>
<script>${CLIENT_SCRIPT}</script>`,
  });
}

/** report.html: one page for any number of result files. */
export const htmlWriter: ReportWriter = { format: 'html', extension: '.html', holds: 'many', render: renderHtml };
