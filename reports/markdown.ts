/**
 * The Markdown summary (`tsbench report --format md`), for CI job summaries and
 * pull requests: the host, the summary (headline figures per scenario, the
 * verdicts in one line each: `summaryLines`), the claims with their verdicts, a table of medians
 * with CIs and ratios per scenario, and every target that did not complete with
 * its reason; for a reproduction (its report.md), compare's table at the end.
 * Cells are escaped (markdown-escape.ts): `|`, newlines, HTML and Markdown
 * emphasis from a result cannot break a table or inject markup.
 */
import { namesPairs, pairName } from './claims/index.js';
import type { ClaimPart, ClaimVerdict, HostClaims } from './claims/types.js';
import type { LoadedResult } from '../core/load.js';
import { toolVersion } from '../core/version.js';
import { compareMarkdown } from './compare/render.js';
import { claimsOf } from './embedded.js';
import { mdCell, mdCode } from './markdown-escape.js';
import { fmt } from './table.js';
import {
  buildReportModel,
  buildSummary,
  claimAnchor,
  interval,
  problem,
  ratioText,
  summaryOverview,
  withUnit,
  type ReportHost,
  type ReportModel,
  type ReportSummary,
  type SummaryBlock,
} from './model.js';
import type { ReportOptions, ReportWriter } from './writer.js';

function table(head: string[], rows: string[][]): string[] {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)];
}

function hostLine(h: ReportHost): string {
  const d = h.dims;
  const kvm = d.kvm ? (d.kvm.available ? 'available' : `unavailable (${d.kvm.reason ?? 'no reason'})`) : 'not probed';
  const parts = [
    `${d.cpuModel}, ${d.cpuCores} cores`,
    withUnit(d.memoryBytes, 'bytes'),
    d.os,
    `kernel ${d.kernel}`,
    `cgroup ${d.cgroup}`,
    `QEMU ${d.qemuVersion ?? 'not found'}`,
    `KVM ${kvm}`,
    ...(d.nestedUnder ? [`nested under ${d.nestedUnder.toUpperCase()}: a VM whose CPU TCG emulates, its timings no KVM or native figures`] : []),
  ];
  return `**Host ${mdCell(h.label)}**: ${mdCell(parts.join(' · '))}`;
}

const ACCELERATOR = { tcg: 'TCG emulation (not KVM)', kvm: 'KVM' } as const;

/** " (about N samples per target would decide it)" after an inconclusive part that says so (judge.ts samplesNeeded). */
export function needed(p: ClaimPart): string {
  return p.verdict === 'inconclusive' && p.samplesNeeded !== undefined ? ` (about ${p.samplesNeeded} samples per target would decide it)` : '';
}

/** The accelerator behind a verdict: the claim's own, else each of its parts' with that part's verdict. */
function accelerator(c: ClaimVerdict): string {
  // Which VM (lean microVM, stock VM) each VM target was.
  const profiles = Object.entries(c.vmProfiles ?? {})
    .map(([t, p]) => `${t}: ${p}`)
    .join('; ');
  const vms = profiles === '' ? '' : ` (${profiles})`;
  if (c.accelerator) return ACCELERATOR[c.accelerator] + vms;
  const seen = new Map<'kvm' | 'tcg', string>();
  for (const p of c.parts) if (p.accelerator && !seen.has(p.accelerator)) seen.set(p.accelerator, p.verdict);
  return seen.size > 0 ? [...seen].map(([a, v]) => `${ACCELERATOR[a]}: ${v}`).join('; ') + vms : 'no VM';
}

function claimsTable(h: HostClaims, manyHosts: boolean): string[] {
  if (h.verdicts.length === 0) return ['No claim verdicts were computed for these results.'];
  const rows = h.verdicts.map((c) => {
    const pairs = namesPairs(c);
    // With two image pairs, "time to ready" is four figures: each names its target.
    const numbers = c.figures
      .map(
        (f) =>
          `${pairs && f.target ? `${f.target} ` : ''}${f.label}: ${withUnit(f.value, f.unit)}${f.ciLow !== undefined && f.ciHigh !== undefined ? ` (${interval(f.ciLow, f.ciHigh, f.unit)})` : ''}`,
      )
      .join('; ');
    const parts = c.parts
      .map(
        (p) =>
          `${p.label}: ${p.verdict}${p.accelerator === 'tcg' ? ' [TCG]' : ''}${pairs && p.image ? ` [${pairName(p.image)}]` : ''}${p.bearing === 'context' ? ' (context)' : ''}${needed(p)}`,
      )
      .join('; ');
    const decided = pairs && c.pairs && c.pairs.length > 0 ? `decided by the ${c.pairs.map(pairName).join(' and the ')}` : '';
    return [
      `<a id="${claimAnchor(h.host, c.id, manyHosts)}"></a>${mdCell(c.id)}`,
      mdCell(c.claim),
      `**${mdCell(c.verdict)}**`,
      mdCell(c.evidence) + (parts ? `<br>${mdCell(parts)}` : ''),
      mdCell(numbers || '—'),
      mdCell(c.reference ?? '—'),
      mdCell([accelerator(c), decided, c.targets.join(', ')].filter(Boolean).join('; ')),
    ];
  });
  return table(['id', 'claim', 'verdict', 'evidence', 'numbers', 'reference', 'measured with'], rows);
}

function summaryLine(model: ReportModel): string {
  const s = model.sources;
  const first = s[0];
  if (s.length === 1 && first) {
    return `Run ${mdCode(`tsbench ${first.command.join(' ')}`)} — started ${mdCell(first.startedAt)}, tsbench ${mdCell(first.toolVersion)}${first.complete ? '' : `, **${mdCell(first.interrupted ? `interrupted: ${first.interrupted}` : 'incomplete')}**`}`;
  }
  return `${s.length} result files: ${s.map((x) => `${mdCode(x.path)} (${mdCell(x.host)}, ${mdCell(x.startedAt)}${x.complete ? '' : ', incomplete'})`).join(', ')}`;
}

/**
 * The summary at the top (the HTML page's, as text): per scenario its headline
 * metric, every target side by side (median, 95 % CI, ratio to native); each
 * verdict in one line linking to its row; the claims not measured in one line.
 */
export function summaryLines(summary: ReportSummary, manyHosts: boolean): string[] {
  const out: string[] = ['## Summary', ''];
  const overview = summaryOverview(summary);
  if (overview) {
    const head = ['target', ...overview.blocks.map((b) => `${mdCell(b.scenario)} · ${mdCell(b.metric.name)}`)];
    const rows = overview.rows.map((row) => [
      mdCell(row.label),
      ...row.cells.map((c, i) => {
        const b = overview.blocks[i] as SummaryBlock;
        if (c === undefined) return '·';
        if (!c.stats) return '—';
        return `${mdCell(withUnit(c.stats.median, b.metric.unit))}${c.ratio ? ` (${fmt(c.ratio.ratio)}×)` : ''}`;
      }),
    ]);
    out.push(...table(head, rows), '');
    out.push('Each cell: the median (× native); —: no figure; ·: not run in that scenario. Each metric with its 95% CIs follows.', '');
  }
  for (const b of summary.blocks) {
    const u = b.metric.unit;
    out.push(`**${mdCell(b.scenario)}** · ${mdCell(b.metric.name)} (${mdCell(u)}, ${b.metric.better} is better)`, '');
    const rows = b.rows.map((r) => {
      const s = r.series;
      if (!r.stats) return [mdCell(s.label), '—', '—', mdCell(r.missing ?? 'no figure')];
      const ratio = r.ratio ? `${fmt(r.ratio.ratio)}× (${fmt(r.ratio.ciLow)}–${fmt(r.ratio.ciHigh)})` : s.target === 'native' ? '1× (baseline)' : '—';
      return [mdCell(s.label), `**${mdCell(withUnit(r.stats.median, u))}**`, mdCell(interval(r.stats.ciLow, r.stats.ciHigh, u)), mdCell(ratio)];
    });
    out.push(...table(['target', 'median', '95% CI', '× native (95% CI)'], rows), '');
  }
  if (summary.blocks.length === 0) out.push('No figures were recorded.', '');
  for (const v of summary.verdicts) {
    const tcg = v.tcg ? ' [TCG emulation, not KVM]' : '';
    const need = v.samplesNeeded !== undefined ? ` (about ${v.samplesNeeded} samples per target would decide it)` : '';
    out.push(
      `- **${mdCell(v.verdict)}** ${mdCell(v.id)}${manyHosts ? ` (${mdCell(v.host)})` : ''}: ${mdCell(v.claim)}${tcg}${need} — [evidence](#${v.anchor})`,
    );
  }
  if (summary.verdicts.length > 0) out.push('');
  if (summary.notMeasured.length > 0)
    out.push(
      `Not measured by this run: ${mdCell(summary.notMeasured.join(', '))}${summary.command ? ` — ${mdCode(summary.command)} would measure them` : ''}.`,
      '',
    );
  return out;
}

/** Renders the Markdown summary of one or more loaded results; a reproduction's comparison (compare's Markdown) goes at the end. */
export function renderMarkdown(results: readonly LoadedResult[], opts: ReportOptions = {}): string {
  const model = buildReportModel(results);
  const claims = opts.claims ?? claimsOf(results, opts.claimsBy ?? 'host');
  const out: string[] = ['# tsbench report', ''];
  for (const h of model.hosts) out.push(hostLine(h), '');
  out.push(summaryLine(model), '');
  out.push(...summaryLines(buildSummary(model, claims), claims.length > 1));
  out.push('## Claims', '');
  for (const h of claims) {
    if (claims.length > 1) out.push(`### Host ${mdCell(h.host)}`, '');
    out.push(...claimsTable(h, claims.length > 1), '');
  }
  for (const sc of model.scenarios) {
    out.push(`## ${mdCell(sc.name)}`, '', mdCell(sc.description), '');
    const rows: string[][] = [];
    for (const m of sc.metrics) {
      for (const s of sc.series) {
        const st = s.stats[m.name];
        if (!st) continue;
        const r = s.ratioToNative[m.name];
        rows.push([
          mdCell(m.name),
          mdCell(s.label),
          String(st.n),
          mdCell(withUnit(st.median, m.unit)),
          mdCell(interval(st.ciLow, st.ciHigh, m.unit)),
          mdCell(r ? ratioText(r) : s.target === 'native' ? '1×' : '—'),
        ]);
      }
    }
    if (rows.length > 0) out.push(...table(['metric', 'target', 'n', 'median', '95% CI', 'ratio to native (95% CI)'], rows), '');
    else out.push('No samples were recorded.', '');
    const problems = sc.series.map((s) => ({ s, why: problem(s) })).filter((x) => x.why !== undefined);
    if (problems.length > 0) {
      out.push('**Targets that did not complete**', '');
      for (const { s, why } of problems) out.push(`- ${mdCell(s.label)}: ${mdCell(why ?? '')}`);
      out.push('');
    }
  }
  const unavailable = model.hosts.flatMap((h) => h.unavailable.map((t) => ({ h, t })));
  if (unavailable.length > 0) {
    out.push('## Unavailable targets', '');
    for (const { h, t } of unavailable) out.push(`- ${mdCell(model.multiHost ? `${t.name} @ ${h.label}` : t.name)}: ${mdCell(t.reason ?? 'no reason given')}`);
    out.push('');
  }
  out.push(`<sub>tsbench ${mdCell(toolVersion())}; intervals are seeded bootstrap 95% CIs; ratios are median(target) / median(native).</sub>`, '');
  const text = out.join('\n');
  return opts.reproduction ? `${text}\n## Reproduction\n\n${compareMarkdown(opts.reproduction.comparison)}` : text;
}

/** report.md: the summary of any number of result files. */
export const markdownWriter: ReportWriter = { format: 'md', extension: '.md', holds: 'many', render: renderMarkdown };
