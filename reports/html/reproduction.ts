/**
 * The reproduction section of a side-by-side report (`tsbench reproduce`): per
 * series, both runs' medians with their 95 % intervals and compare's verdict on
 * the difference (reports/compare/), after the environment differences.
 */
import type { Comparison, SeriesComparison } from '../compare/index.js';
import { pct, prob, signedPct } from '../compare/render.js';
import { escapeHtml as e } from './common.js';
import { interval, sourceName, withUnit, type ReportModel } from '../model.js';

function changeCell(s: SeriesComparison): string {
  if (!s.change) return 'n/a';
  return `${signedPct(s.change.change)} <span class="small">(${signedPct(s.change.ciLow)} to ${signedPct(s.change.ciHigh)})</span>`;
}

/** The series' threshold and what set it: the default, a --threshold rule, or the calibration. */
function thresholdCell(s: SeriesComparison): string {
  if (s.thresholdSource === undefined) return e(pct(s.threshold));
  const from = s.thresholdSource === 'calibration' ? 'calibrated' : s.thresholdSource;
  return `${e(pct(s.threshold))} <span class="small muted">(${e(from)})</span>`;
}

const VERDICT_CLASS: Record<SeriesComparison['verdict'], string> = {
  regression: 'verdict verdict-refuted',
  improvement: 'verdict verdict-refuted',
  unchanged: 'verdict verdict-confirmed',
  inconclusive: 'verdict verdict-inconclusive',
};

/** What the verdict means between two hosts: no regression or improvement, only "differs". */
const VERDICT_WORDS: Record<SeriesComparison['verdict'], string> = {
  regression: 'differs (worse)',
  improvement: 'differs (better)',
  unchanged: 'no significant difference',
  inconclusive: 'inconclusive',
};

/** Whether a comparison found a difference beyond the hosts' noise in any series. */
export function reproductionDiffers(c: Comparison): boolean {
  return c.series.some((s) => s.verdict === 'regression' || s.verdict === 'improvement');
}

export function reproductionSection(c: Comparison, model: ReportModel): string {
  const base = sourceName(c.base.path);
  const head = sourceName(c.head.path);
  const hostOf = (path: string): string => model.sources.find((s) => s.path === path)?.host ?? '';
  const differing = c.series.filter((s) => s.verdict === 'regression' || s.verdict === 'improvement').length;
  const out: string[] = [
    '<section id="reproduction"><h2>Reproduction</h2>',
    `<p class="lede">The original run <code>${e(base)}</code> (host ${e(hostOf(c.base.path))}) and its reproduction <code>${e(head)}</code> (host ${e(hostOf(c.head.path))}), ` +
      `same scenarios, targets, limits and parameters. ${differing === 0 ? 'No series differs beyond the hosts’ own noise.' : `${differing} of ${c.series.length} series differ beyond the hosts’ own noise.`}</p>`,
    `<p class="small muted">compare's rule: change = median(reproduction) / median(original) − 1 with its bootstrap 95% CI; a series differs when the Mann–Whitney p, adjusted by Benjamini–Hochberg, is below α = ${e(String(c.alpha))} and the change exceeds the series' threshold (${pct(c.defaultThreshold)} unless a --threshold rule${c.calibration ? ` or the calibration <code>${e(c.calibration.path)}</code>` : ''} names it).</p>`,
  ];
  if (c.calibration && c.calibration.notes.length > 0) {
    out.push('<ul class="small">');
    for (const n of c.calibration.notes) out.push(`<li>${e(n)}</li>`);
    out.push('</ul>');
  }
  if (c.warnings.length > 0) {
    out.push('<p>What differs between the two environments:</p><ul class="small">');
    for (const w of c.warnings)
      out.push(
        `<li>${e(w.label)}: <code>${e(w.base || '—')}</code> → <code>${e(w.head || '—')}</code>${w.accelerator ? ' (VM verdicts inconclusive)' : ''}</li>`,
      );
    out.push('</ul>');
  }
  out.push(
    `<table class="figures reproduction"><thead><tr><th>scenario</th><th>target</th><th>metric</th><th>original median (95% CI)</th><th>reproduction median (95% CI)</th><th>change (95% CI)</th><th>q</th><th>n</th><th>threshold</th><th>verdict</th></tr></thead><tbody>`,
  );
  for (const s of c.series) {
    const side = (x: SeriesComparison['base']): string =>
      `${e(withUnit(x.median, s.unit))} <span class="small">(${e(interval(x.ciLow, x.ciHigh, s.unit))})</span>`;
    out.push(
      `<tr data-series="${e(`${s.target}/${s.scenario}/${s.metric}`)}" data-verdict="${e(s.verdict)}"><td>${e(s.scenario)}</td><td>${e(s.target)}</td><td>${e(s.metric)}</td>` +
        `<td>${side(s.base)}</td><td>${side(s.head)}</td><td>${changeCell(s)}</td><td>${e(prob(s.q))}</td><td>${s.base.n}/${s.head.n}</td><td>${thresholdCell(s)}</td>` +
        `<td><span class="${VERDICT_CLASS[s.verdict]}">${e(VERDICT_WORDS[s.verdict])}</span> <span class="small muted">${e(s.reason)}</span></td></tr>`,
    );
  }
  out.push('</tbody></table>');
  if (c.notCompared.length > 0) {
    out.push('<p class="small">Not compared:</p><ul class="small">');
    for (const n of c.notCompared) out.push(`<li>${e(n.target)} / ${e(n.scenario)}: ${e(n.reason)}</li>`);
    out.push('</ul>');
  }
  out.push('</section>');
  return out.join('\n');
}
