/** The report page's stylesheet: system fonts only (no font is fetched), light, and print-friendly. */
export const REPORT_CSS = `
:root { color-scheme: light; --fg: #1d1d1f; --muted: #666; --line: #ddd; --bg: #fff; --soft: #f6f7f9; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1280px; padding: 24px 28px 48px; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); background: var(--bg); }
h1 { font-size: 26px; margin: 0 0 6px; }
h2 { font-size: 20px; margin: 32px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--fg); }
h3 { font-size: 16px; margin: 22px 0 8px; }
code, pre { font: 12px/1.4 ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; }
code { background: var(--soft); padding: 1px 4px; border-radius: 3px; overflow-wrap: anywhere; }
pre { background: var(--soft); padding: 8px; overflow-x: auto; white-space: pre-wrap; }
a { color: #0b5cad; }
.lede { font-size: 15px; }
.small { font-size: 12px; }
.muted { color: var(--muted); }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; }
th, td { border-bottom: 1px solid var(--line); padding: 5px 8px; text-align: left; vertical-align: top; }
thead th { background: var(--soft); font-weight: 600; white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.dims th { width: 34%; font-weight: 500; color: var(--muted); }
table.dims td { overflow-wrap: anywhere; }
.hosts { display: grid; grid-template-columns: repeat(auto-fit, minmax(min(420px, 100%), 1fr)); gap: 18px; }
.toc ol { columns: 2; margin: 0; }
.toc h2 { border: 0; font-size: 16px; margin: 18px 0 4px; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 5px; vertical-align: baseline; }
.verdict { display: inline-block; padding: 1px 7px; border-radius: 10px; font-weight: 600; font-size: 12px; white-space: nowrap; border: 1px solid transparent; }
.verdict-confirmed { background: #dff3e4; color: #0f5b25; border-color: #9fd4ae; }
.verdict-refuted { background: #fbe0df; color: #8a1c16; border-color: #eba7a3; }
.verdict-inconclusive { background: #fff1d0; color: #7a5200; border-color: #e8c877; }
.verdict-not-measured { background: #eceef1; color: #4a4f57; border-color: #c9cdd3; }
.accel { display: inline-block; margin-left: 6px; padding: 1px 6px; border-radius: 3px; font-size: 11px; font-weight: 700; letter-spacing: .02em; }
.accel-tcg { background: #E69F00; color: #000; }
.accel-kvm { background: #D55E00; color: #fff; }
.pair { display: inline-block; margin-left: 6px; padding: 0 6px; border: 1px solid #555; border-radius: 3px; font-size: 11px; }
.context { font-size: 11px; color: var(--muted); border: 1px dashed var(--muted); padding: 0 4px; border-radius: 3px; }
table.claims { table-layout: fixed; min-width: 960px; }
table.claims td, table.claims th { font-size: 13px; overflow-wrap: anywhere; }
col.c-id { width: 44px; } col.c-claim { width: 18%; } col.c-verdict { width: 112px; } col.c-evidence { width: 30%; } col.c-numbers { width: 15%; } col.c-ref { width: 13%; } col.c-with { width: 124px; }
table.claims ul.parts { list-style: none; padding-left: 0; }
table.claims ul.parts li { margin: 2px 0; }
table.claims ul.figures { padding-left: 0; list-style: none; }
table.claims details summary { cursor: pointer; color: #0b5cad; }
table.claims ul { margin: 4px 0; padding-left: 16px; }
.rule { margin-top: 4px; color: var(--muted); }
.problem { color: #8a1c16; }
.problems { border-left: 4px solid #c0392b; background: #fdf2f1; padding: 4px 12px; margin: 10px 0; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(380px, 100%), 1fr)); gap: 16px; }
figure.chart { margin: 0; padding: 10px; border: 1px solid var(--line); border-radius: 6px; background: #fff; break-inside: avoid; page-break-inside: avoid; }
figure.chart.wide { margin: 8px 0; }
figcaption { margin-bottom: 6px; }
.canvas { position: relative; width: 100%; }
details.params dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 4px 0 8px; }
details.params dt { color: var(--muted); }
details.params dd { margin: 0; overflow-wrap: anywhere; }
footer { margin-top: 40px; border-top: 1px solid var(--line); padding-top: 8px; }
/* Wide tables scroll in their own box; the page itself never scrolls sideways (390 px phones included). */
.scroll { overflow-x: auto; max-width: 100%; }
.host { min-width: 0; }
.sr-only { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
#summary h2 { margin-top: 14px; }
.summary-grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(min(340px, 100%), 1fr)); gap: 10px; }
figure.summary-block { padding: 8px; min-width: 0; }
table.summary-table { margin: 4px 0 0; }
table.summary-table th, table.summary-table td { padding: 2px 6px; font-size: 13px; }
table.summary-table tbody th { font-weight: 500; white-space: nowrap; }
table.summary-overview { margin: 4px 0 2px; }
table.summary-overview th, table.summary-overview td { padding: 1px 6px; font-size: 12.5px; white-space: nowrap; }
table.summary-overview thead th { vertical-align: bottom; white-space: normal; min-width: 72px; }
table.summary-overview tbody th { font-weight: 500; }
ul.verdict-lines { list-style: none; padding: 0; margin: 8px 0 4px; }
ul.verdict-lines li { margin: 3px 0; }
details.chart-table { margin-top: 6px; }
details.chart-table summary { cursor: pointer; color: #0b5cad; }
@media (max-width: 600px) {
  body { padding: 12px 12px 32px; }
  h1 { font-size: 22px; }
  .toc ol { columns: 1; }
}
@media print {
  body { max-width: none; padding: 0; font-size: 11px; background: #fff; }
  .toc, details.params { display: none; }
  h2 { break-after: avoid; page-break-after: avoid; }
  .grid { grid-template-columns: 1fr 1fr; }
  figure.chart, table.claims tr, .host, ul.verdict-lines li { break-inside: avoid; page-break-inside: avoid; }
  .scroll { overflow: visible; }
  /* On paper nothing scrolls: wide tables wrap their cells instead of running off the page. */
  table.figures, table.runs { font-size: 9px; }
  thead th, td.num { white-space: normal; }
  table.claims { min-width: 0; }
  .summary-grid { grid-template-columns: 1fr 1fr; }
  canvas { max-width: 100% !important; height: auto !important; }
  a { color: inherit; text-decoration: none; }
}
`;
