/**
 * Output of `tsbench compare`: text for a terminal, Markdown for a CI summary or
 * pull-request comment, JSON for machines. Each is a pure function of a
 * Comparison, so the whole output exists before the first byte is printed.
 */
import { VERDICT_RULE, type Comparison, type SeriesComparison, type Verdict } from './types.js';
import { mdCell } from '../markdown-escape.js';
import { fmt } from '../table.js';

export type CompareFormat = 'text' | 'md' | 'json';
export const COMPARE_FORMATS: readonly CompareFormat[] = ['text', 'md', 'json'];

/** A fraction as a percentage, 3 significant digits (0.05 → `5%`). */
export function pct(x: number): string {
  return `${Number((x * 100).toPrecision(3))}%`;
}

/** A relative change as a signed percentage, 3 significant digits. */
export function signedPct(x: number): string {
  const v = Number((x * 100).toPrecision(3));
  return `${v > 0 ? '+' : ''}${v}%`;
}

function changeText(s: SeriesComparison): string {
  if (!s.change) return 'n/a';
  return `${signedPct(s.change.change)} [${signedPct(s.change.ciLow)}, ${signedPct(s.change.ciHigh)}]`;
}

/** A p- or q-value, 2 significant digits; '—' when there is none. */
export function prob(x: number | undefined): string {
  if (x === undefined) return '—';
  return x < 1e-4 ? '<0.0001' : String(Number(x.toPrecision(2)));
}

const MARK: Record<Verdict, string> = { regression: 'REGRESSION', improvement: 'improvement', unchanged: 'unchanged', inconclusive: 'inconclusive' };

function warningLine(w: Comparison['warnings'][number]): string {
  if (w.base === '') return `${w.label}: ${w.head}`;
  if (w.head === '') return `${w.label}: ${w.base}`;
  return `${w.label} differs: ${w.base} → ${w.head}${w.accelerator ? ' (VM verdicts inconclusive)' : ''}`;
}

function header(c: Comparison): string[] {
  return [
    `base: ${c.base.path} (${c.base.startedAt}, tsbench ${c.base.version})`,
    `head: ${c.head.path} (${c.head.startedAt}, tsbench ${c.head.version})`,
    `α = ${c.alpha}, default threshold ${pct(c.defaultThreshold)}, seed ${c.seed}`,
    ...(c.calibration ? [`thresholds from the calibration ${c.calibration.path} (thr 'cal'), explicit --threshold rules first`] : []),
  ];
}

/** The minimum detectable effect beside an unchanged verdict: what the gate could not have seen. */
function mdeText(s: SeriesComparison): string {
  return s.verdict === 'unchanged' && s.mde !== undefined && s.change && !(s.change.ciLow === 0 && s.change.ciHigh === 0)
    ? `±${Number((s.mde * 100).toPrecision(2))}%`
    : '—';
}

/** Warnings: fingerprint differences, then what does not fit in the calibration. */
function warningLines(c: Comparison): string[] {
  return [...c.warnings.map(warningLine), ...(c.calibration?.notes ?? [])];
}

function summaryLine(c: Comparison): string {
  const n = c.counts;
  return `${n.regression} regression(s), ${n.improvement} improvement(s), ${n.unchanged} unchanged, ${n.inconclusive} inconclusive of ${c.series.length} series → exit ${c.exitCode}`;
}

function rows(c: Comparison): string[][] {
  return c.series.map((s) => [
    s.scenario,
    s.target,
    s.metric,
    `${fmt(s.base.median)} ${s.unit}`,
    `${fmt(s.head.median)} ${s.unit}`,
    changeText(s),
    prob(s.p),
    prob(s.q),
    `${s.base.n}/${s.head.n}`,
    `${pct(s.threshold)}${s.thresholdSource === 'calibration' ? ' cal' : ''}`,
    MARK[s.verdict],
    mdeText(s),
    s.reason,
  ]);
}

const HEAD = ['scenario', 'target', 'metric', 'base median', 'head median', 'change [95% CI]', 'p', 'q', 'n', 'thr', 'verdict', 'mde', 'why'];
const VERDICT_COLUMN = HEAD.indexOf('verdict');

/** Plain text: warnings first, then one aligned line per series, the summary and the rule. */
export function compareText(c: Comparison): string {
  const out: string[] = [];
  const warnings = warningLines(c);
  for (const w of warnings) out.push(`warning: ${w}`);
  if (warnings.length > 0) out.push('');
  out.push(...header(c), '');
  const table = [HEAD, ...rows(c)];
  const widths = HEAD.map((_, i) => Math.max(...table.map((r) => (r[i] ?? '').length)));
  if (c.series.length === 0) out.push('no scenario × target × metric is in both results');
  else
    for (const r of table)
      out.push(
        r
          .map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
          .join('  ')
          .trimEnd(),
      );
  if (c.notCompared.length > 0) {
    out.push('', 'not compared:');
    for (const x of c.notCompared) out.push(`  ${x.scenario}${x.target === '*' ? '' : ` ${x.target}`}: ${x.reason}`);
  }
  out.push('', summaryLine(c), '', 'rule:');
  for (const line of VERDICT_RULE) out.push(`  ${line}`);
  return `${out.join('\n')}\n`;
}

/** Markdown: warnings as a quote, a table, the summary and the rule (for $GITHUB_STEP_SUMMARY). */
export function compareMarkdown(c: Comparison): string {
  const out: string[] = ['## tsbench compare', ''];
  const warnings = warningLines(c);
  if (warnings.length > 0) {
    for (const w of warnings) out.push(`> ⚠️ ${mdCell(w)}  `);
    out.push('');
  }
  for (const h of header(c)) out.push(`${mdCell(h)}  `);
  out.push('', `**${summaryLine(c)}**`, '');
  if (c.series.length === 0) out.push('No scenario × target × metric is in both results.');
  else out.push(`| ${HEAD.join(' | ')} |`, `|${HEAD.map(() => '---').join('|')}|`);
  for (const r of rows(c)) {
    const cells = r.map(mdCell);
    if (r[VERDICT_COLUMN] === MARK.regression) cells[VERDICT_COLUMN] = `**${cells[VERDICT_COLUMN] ?? ''}**`;
    out.push(`| ${cells.join(' | ')} |`);
  }
  if (c.notCompared.length > 0) {
    out.push('', 'Not compared:', '');
    for (const x of c.notCompared) out.push(`- ${mdCell(`${x.scenario}${x.target === '*' ? '' : ` ${x.target}`}: ${x.reason}`)}`);
  }
  out.push('', 'Rule:', '');
  for (const line of VERDICT_RULE) out.push(`- ${line}`);
  return `${out.join('\n')}\n`;
}

/** JSON: the Comparison as is, plus the rule. */
export function compareJson(c: Comparison): string {
  return `${JSON.stringify({ tool: 'tsbench compare', rule: VERDICT_RULE, ...c }, null, 2)}\n`;
}

export function formatComparison(c: Comparison, format: CompareFormat): string {
  if (format === 'md') return compareMarkdown(c);
  if (format === 'json') return compareJson(c);
  return compareText(c);
}
