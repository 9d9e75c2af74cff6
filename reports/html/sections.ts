/**
 * The report page's sections as HTML. Tables are rendered here, on the server
 * side, so they read (and print) without the page's script; every string from
 * a result goes through `e()` (escapeHtml).
 */
import type { ClaimPart, ClaimVerdict, Figure, HostClaims, Verdict } from '../claims/types.js';
import { namesPairs, pairName } from '../claims/index.js';
import type { EmbeddedSource } from '../embedded.js';
import { escapeHtml as e, targetColor } from './common.js';
import { valueOf } from '../../core/samples.js';
import { median } from '../../core/stats.js';
import { fmt } from '../table.js';
import { type ChartSpec, densityMemoryChart, densityReadyChart, metricChart, ratioChart, ratioRows, timelineChart } from './charts.js';
import {
  claimAnchor,
  interval,
  medianPhases,
  problem,
  ratioText,
  slug,
  sourceName,
  withUnit,
  type ReportHost,
  type ReportModel,
  type ReportScenario,
  type Series,
} from '../model.js';

export { slug };

function verdictClass(v: Verdict): string {
  return `verdict verdict-${slug(v)}`;
}

function swatch(target: string): string {
  return `<span class="swatch" style="background:${e(targetColor(target))}"></span>`;
}

function acceleratorBadge(acc: 'kvm' | 'tcg' | undefined): string {
  if (acc === 'tcg') return '<span class="accel accel-tcg" title="QEMU TCG binary translation: never evidence about KVM">TCG emulation — not KVM</span>';
  if (acc === 'kvm') return '<span class="accel accel-kvm" title="hardware-assisted virtualization">KVM</span>';
  return '';
}

/** A figure with its target's swatch; `named` adds the target's name (two image pairs share colours' hues and labels). */
function figureText(f: Figure, named: boolean): string {
  const ci = f.ciLow !== undefined && f.ciHigh !== undefined ? ` (95% CI ${interval(f.ciLow, f.ciHigh, f.unit)})` : '';
  return `${f.target ? `${swatch(f.target)}${named ? `${e(f.target)} ` : ''}` : ''}${e(f.label)}: <b>${e(withUnit(f.value, f.unit))}</b>${e(ci)}`;
}

/** Escaped text with `code` spans (as the claims engine writes commands) set as <code>. */
function prose(text: string): string {
  return e(text).replace(/`([^`]+)`/g, '<code>$1</code>');
}

function pairBadge(p: ClaimPart, shown: boolean): string {
  return shown && p.image ? `<span class="pair" title="the image pair this part judged">${e(pairName(p.image))}</span>` : '';
}

function partLine(p: ClaimPart, pairs: boolean): string {
  const context = p.bearing === 'context' ? ' <span class="context" title="shown for context; does not decide the verdict">context only</span>' : '';
  const need =
    p.verdict === 'inconclusive' && p.samplesNeeded !== undefined
      ? ` <span class="small muted needed">about ${p.samplesNeeded} samples per target would decide it</span>`
      : '';
  return `<li><span class="${verdictClass(p.verdict)}">${e(p.verdict)}</span> ${e(p.label)}${acceleratorBadge(p.accelerator)}${pairBadge(p, pairs)}${context}${need}</li>`;
}

/** "decided by the Debian pair" under a verdict that judged several pairs (or another than lean). */
function decidingPairs(c: ClaimVerdict): string {
  if (!namesPairs(c) || !c.pairs || c.pairs.length === 0) return '';
  return `<div class="small pairs">decided by the ${e(c.pairs.map(pairName).join(' and the '))}</div>`;
}

function partDetail(p: ClaimPart): string {
  const targets = p.targets && p.targets.length > 0 ? ` <span class="muted">[${e(p.targets.join(', '))}]</span>` : '';
  return `<li><b>${e(p.label)}</b>${targets}: ${prose(p.evidence)}</li>`;
}

/** The accelerators a verdict's VM figures came from: the claim's own, else its parts'. */
function accelerators(c: ClaimVerdict): string {
  if (c.accelerator) return acceleratorBadge(c.accelerator);
  const seen = new Map<'kvm' | 'tcg', string>();
  for (const p of c.parts) if (p.accelerator && !seen.has(p.accelerator)) seen.set(p.accelerator, p.verdict);
  return [...seen].map(([a, v]) => `${acceleratorBadge(a)} <span class="small muted">${e(v)}</span>`).join('<br>');
}

/** " (lean microVM)" after a VM target of a verdict: which VM produced its figures. */
function vmProfile(c: ClaimVerdict, target: string): string {
  const p = c.vmProfiles?.[target];
  return p === undefined ? '' : ` <span class="muted vm-profile">(${e(p)})</span>`;
}

function claimRow(c: ClaimVerdict, anchor: string): string {
  const pairs = namesPairs(c);
  const parts = c.parts.length > 0 ? `<ul class="parts">${c.parts.map((p) => partLine(p, pairs)).join('')}</ul>` : '';
  const detail =
    `<details class="small"><summary>how it was decided</summary>` +
    (c.parts.length > 0 ? `<ul>${c.parts.map(partDetail).join('')}</ul>` : '') +
    `<p class="rule"><b>Rule:</b> ${prose(c.rule)}</p></details>`;
  const figures =
    c.figures.length > 0 ? `<ul class="figures">${c.figures.map((f) => `<li>${figureText(f, pairs)}</li>`).join('')}</ul>` : '<span class="muted">—</span>';
  const vm = accelerators(c);
  return (
    `<tr class="claim" id="${e(anchor)}" data-claim="${e(c.id)}" data-verdict="${e(c.verdict)}">` +
    `<th scope="row">${e(c.id)}</th>` +
    `<td>${prose(c.claim)}<div class="muted small">decided by ${prose(c.decidedBy)}</div></td>` +
    `<td><span class="${verdictClass(c.verdict)}">${e(c.verdict)}</span></td>` +
    `<td>${prose(c.evidence)}${parts}${detail}</td>` +
    `<td class="small">${figures}</td>` +
    `<td class="small">${c.reference ? prose(c.reference) : '<span class="muted">—</span>'}</td>` +
    `<td>${vm || '<span class="muted small">no VM</span>'}${decidingPairs(c)}<div class="small">${c.targets.map((t) => `${swatch(t)}${e(t)}${vmProfile(c, t)}`).join('<br>')}</div></td>` +
    '</tr>'
  );
}

/** The claims table of each host: one row per verdict. */
export function claimsSection(claims: readonly HostClaims[], multiHost: boolean): string {
  const out: string[] = ['<section id="claims"><h2>Claims</h2>'];
  out.push(
    '<p class="lede">Each claim of the containers-versus-VMs literature, judged from these results by a stated rule: ' +
      '<span class="verdict verdict-confirmed">confirmed</span> <span class="verdict verdict-refuted">refuted</span> ' +
      '<span class="verdict verdict-inconclusive">inconclusive</span> (the intervals cannot tell) ' +
      '<span class="verdict verdict-not-measured">not measured</span> (a target or scenario is missing). ' +
      'A verdict measured on TCG emulation is labelled as such: it says nothing about KVM. The rules are in docs/claims.md.</p>',
  );
  if (claims.length === 0) out.push('<p class="muted">No host in these results.</p>');
  for (const h of claims) {
    if (multiHost || claims.length > 1) out.push(`<h3>Host ${e(h.host)}</h3>`);
    out.push(`<p class="small muted">from ${h.sources.map((s) => `<code>${e(s)}</code>`).join(', ')}</p>`);
    out.push(
      `<div class="scroll"><table class="claims" data-host="${e(h.host)}"><colgroup><col class="c-id"><col class="c-claim"><col class="c-verdict"><col class="c-evidence"><col class="c-numbers"><col class="c-ref"><col class="c-with"></colgroup>` +
        '<thead><tr><th>id</th><th>claim</th><th>verdict</th><th>evidence</th><th>numbers</th><th>published reference</th><th>measured with</th></tr></thead><tbody>',
    );
    out.push(...h.verdicts.map((c) => claimRow(c, claimAnchor(h.host, c.id, claims.length > 1))));
    out.push('</tbody></table></div>');
    if (h.verdicts.length === 0) out.push('<p class="muted">No claim verdicts were computed for these results.</p>');
  }
  out.push('</section>');
  return out.join('\n');
}

function row(label: string, value: string): string {
  return `<tr><th scope="row">${e(label)}</th><td>${value}</td></tr>`;
}

/** Each host's dimensions, its image, and its unavailable targets with why. */
export function hostsSection(model: ReportModel): string {
  const out: string[] = ['<section id="hosts"><h2>Hosts</h2><div class="hosts">'];
  for (const h of model.hosts) out.push(hostCard(h));
  out.push('</div></section>');
  return out.join('\n');
}

function hostCard(h: ReportHost): string {
  const d = h.dims;
  const rows: string[] = [
    row('hostname', e(d.hostname)),
    row('CPU', `${e(d.cpuModel)}, ${e(String(d.cpuCores))} cores (${e(d.arch)})`),
    row('memory', e(withUnit(d.memoryBytes, 'bytes'))),
    row('OS', e(d.os)),
    row('kernel', e(d.kernel)),
    row('cgroup', e(d.cgroup)),
    row('Node.js', e(d.node)),
    row('QEMU', d.qemuVersion ? e(d.qemuVersion) : '<span class="muted">not found</span>'),
  ];
  if (d.virtualization) rows.push(row('virtualization (informative)', e(d.virtualization)));
  if (d.nestedUnder)
    rows.push(
      row(
        'nested under',
        `<span class="verdict verdict-refuted">${e(d.nestedUnder.toUpperCase())}</span> this host is a VM whose CPU TCG emulates: kvm ran the KVM code path at TCG's speed, and no timing here is a KVM or native figure`,
      ),
    );
  rows.push(
    row(
      'KVM',
      d.kvm
        ? `<span class="${d.kvm.available ? 'verdict verdict-confirmed' : 'verdict verdict-refuted'}">${d.kvm.available ? 'available' : 'unavailable'}</span> ${d.kvm.reason ? e(d.kvm.reason) : ''}`
        : '<span class="muted">not probed in this run</span>',
    ),
  );
  const images = h.images;
  for (const i of images) {
    // One image keeps the rows' plain names; several are told apart by name.
    const of = (label: string): string => (images.length > 1 ? `${label} (${i.name})` : label);
    rows.push(
      row(of('image'), `<code>${e(i.hash)}</code>${images.length > 1 || i.name !== 'lean' ? ` ${e(i.name)}` : ''}`),
      row(of('container root filesystem'), e(withUnit(i.rootfsBytes, 'bytes'))),
      row(of('VM image packing'), e(i.packing)),
      ...(i.rootDiskBytes !== undefined ? [row(of('VM root disk'), e(withUnit(i.rootDiskBytes, 'bytes')))] : []),
      row(
        of('VM initramfs'),
        `${e(withUnit(i.initramfsBytes, 'bytes'))} (${i.name === 'debian' ? 'kernel modules on the root disk' : 'kernel modules inside'}: ${e(withUnit(i.modulesBytes, 'bytes'))})`,
      ),
      row(of('VM kernel'), `${e(withUnit(i.kernelBytes, 'bytes'))}, ${e(i.kernelRelease)}`),
    );
  }
  for (const t of h.notes) rows.push(row(`target ${t.name}`, e(t.reason ?? '')));
  for (const t of h.unavailable)
    rows.push(row(`target ${t.name}`, `<span class="verdict verdict-not-measured">unavailable</span> ${e(t.reason ?? 'no reason given')}`));
  return `<div class="host"><h3>${e(h.label)}</h3><table class="dims">${rows.join('')}</table><p class="small muted">${h.sources.map((s) => `<code>${e(s)}</code>`).join(' ')}</p></div>`;
}

/** What was run: every file's command, times, tool version, seed, and whether it finished. */
export function runsSection(model: ReportModel, data: readonly Pick<EmbeddedSource, 'path' | 'sha256' | 'jsonName' | 'csvName'>[] = []): string {
  const out: string[] = [
    '<section id="runs"><h2>Runs</h2><div class="scroll"><table class="runs"><thead><tr><th>file</th><th>host</th><th>command</th><th>started (UTC)</th><th>last write</th><th>tsbench</th><th>seed</th><th>limits</th><th>state</th><th>raw data</th></tr></thead><tbody>',
  ];
  for (const [i, s] of model.sources.entries()) {
    const d = data[i];
    const raw = d
      ? `<span class="small">SHA-256 <code class="sha256" title="${e(d.sha256)}">${e(d.sha256.slice(0, 16))}…</code></span> ` +
        `<button type="button" class="download" data-source="${i}" data-format="json" data-name="${e(d.jsonName)}">JSON</button> ` +
        `<button type="button" class="download" data-source="${i}" data-format="csv" data-name="${e(d.csvName)}">CSV</button>`
      : '';
    const lim = [s.limits.cpus !== undefined ? `${s.limits.cpus} CPU` : '', s.limits.memoryBytes !== undefined ? withUnit(s.limits.memoryBytes, 'bytes') : '']
      .filter(Boolean)
      .join(', ');
    const state = s.complete ? 'complete' : s.interrupted ? `interrupted: ${s.interrupted}` : 'incomplete (still running or stopped)';
    out.push(
      `<tr><td><code>${e(s.path)}</code></td><td>${e(s.host)}</td><td><code>tsbench ${e(s.command.join(' '))}</code></td><td>${e(s.startedAt)}</td><td>${e(s.updatedAt)}</td>` +
        `<td>${e(s.toolVersion)}</td><td>${e(String(s.seed))}</td><td>${e(lim || 'scenario defaults')}</td><td class="${s.complete ? '' : 'problem'}">${e(state)}</td><td>${raw}</td></tr>`,
    );
  }
  out.push('</tbody></table></div>');
  if (data.length > 0)
    out.push(
      '<p class="small muted">Raw data: each file as it was read (its SHA-256 above) and its figures as CSV, from the data embedded in this page. <code>tsbench verify report.html</code> recomputes every figure and verdict here from those samples; <code>tsbench reproduce report.html</code> measures the same on your host.</p>',
    );
  out.push('</section>');
  return out.join('\n');
}

/** A chart's figures as a table (its text alternative), folded under the chart; `head` and `rows` are HTML cells. */
function chartTable(id: string, head: readonly string[], rows: readonly string[][]): string {
  return (
    `<details class="chart-table small"><summary>figures as a table</summary><div class="scroll"><table class="chart-data" id="${e(id)}-table" data-chart="${e(id)}">` +
    `<thead><tr>${head.map((h) => `<th>${e(h)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${r.join('')}</tr>`).join('')}</tbody></table></div></details>`
  );
}

function num(text: string, raw?: number): string {
  return `<td class="num"${raw !== undefined ? ` data-value="${e(String(raw))}"` : ''}>${e(text)}</td>`;
}

function labelCell(s: Series, prefix = ''): string {
  return `<td>${swatch(s.target)}${e(prefix)}${e(s.label)}</td>`;
}

/** The figures of one metric's chart: n, median and CI per target. */
function metricTable(id: string, sc: ReportScenario, metric: string, unit: string): string {
  const rows = sc.series.flatMap((s) => {
    const st = s.stats[metric];
    return st ? [[labelCell(s), num(String(st.n)), num(withUnit(st.median, unit), st.median), num(interval(st.ciLow, st.ciHigh, unit))]] : [];
  });
  return chartTable(id, ['target', 'n', 'median', '95% CI'], rows);
}

function ratioTable(id: string, sc: ReportScenario): string {
  const rows: string[][] = [];
  for (const m of sc.metrics)
    for (const s of sc.series) {
      const r = s.ratioToNative[m.name];
      if (r) rows.push([labelCell(s, `${m.name} · `), num(`${fmt(r.ratio)}×`, r.ratio), num(`${fmt(r.ciLow)}–${fmt(r.ciHigh)}`)]);
    }
  return chartTable(id, ['metric · target', 'ratio to native', '95% CI'], rows);
}

function timelineTable(id: string, sc: ReportScenario): string {
  const withPhases = sc.series.map((s) => ({ s, phases: medianPhases(s) })).filter((x) => x.phases.length > 0);
  const names: string[] = [];
  for (const x of withPhases) for (const p of x.phases) if (!names.includes(p.name)) names.push(p.name);
  const rows = withPhases.map(({ s, phases }) => [
    labelCell(s),
    ...names.map((n) => {
      const p = phases.find((x) => x.name === n);
      return p ? num(withUnit(p.ms, 'ms'), p.ms) : '<td class="muted">—</td>';
    }),
  ]);
  return chartTable(id, ['target', ...names.map((n) => `${n} (median)`)], rows);
}

function readyTable(id: string, sc: ReportScenario): string {
  const rows: string[][] = [];
  for (const s of sc.series)
    for (const sample of s.samples) {
      const v = (sample.extra as { toReadyMs?: unknown } | undefined)?.toReadyMs;
      if (sample.status !== 'ok' || !Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'number')) continue;
      const t = [...(v as number[])].sort((a, b) => a - b);
      rows.push([
        labelCell(s),
        num(String(sample.round)),
        num(String(t.length)),
        num(withUnit(t[0] ?? NaN, 'ms')),
        num(withUnit(median(t), 'ms')),
        num(withUnit(t.at(-1) ?? NaN, 'ms')),
      ]);
    }
  return chartTable(id, ['target', 'sample', 'instances ready', 'first ready', 'median', 'last ready'], rows);
}

function densityMemoryTable(id: string, sc: ReportScenario): string {
  const rows: string[][] = [];
  for (const s of sc.series)
    for (const sample of s.samples) {
      const n = valueOf(sample, 'instances');
      const per = valueOf(sample, 'pssPerInstanceBytes');
      if (n === undefined || per === undefined) continue;
      rows.push([labelCell(s), num(String(sample.round)), num(String(n)), num(withUnit(per * n, 'bytes'), per * n)]);
    }
  return chartTable(id, ['target', 'sample', 'instances', 'PSS of all instances'], rows);
}

function canvas(spec: ChartSpec, title: string, caption: string, heightPx: number, wide = false, table = ''): string {
  return (
    `<figure class="chart${wide ? ' wide' : ''}"><figcaption><b>${e(title)}</b> <span class="small muted">${e(caption)}</span></figcaption>` +
    `<div class="canvas" style="height:${heightPx}px"><canvas id="${e(spec.id)}" role="img" aria-label="${e(title)}"${table ? ` aria-describedby="${e(spec.id)}-table"` : ''}></canvas></div>${table}</figure>`
  );
}

function paramText(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** One scenario: problems first, then charts per metric, ratios, timeline, density, and the table of figures. */
export function scenarioSection(sc: ReportScenario, specs: ChartSpec[]): string {
  const id = `scenario-${slug(sc.name)}`;
  const out: string[] = [`<section id="${id}" class="scenario"><h2>Scenario: ${e(sc.name)}</h2><p>${e(sc.description)}</p>`];
  out.push('<details class="params"><summary>Parameters</summary>');
  for (const p of sc.parameters) {
    out.push(`<p class="small"><code>${e(sourceName(p.source))}</code>: ${e(String(p.runs))} samples per target after ${e(String(p.warmup))} warmup</p><dl>`);
    for (const [k, v] of Object.entries(p.parameters)) out.push(`<dt>${e(k)}</dt><dd>${e(paramText(v))}</dd>`);
    out.push('</dl>');
  }
  out.push('</details>');

  const problems = sc.series.map((s) => ({ s, why: problem(s) })).filter((x): x is { s: Series; why: string } => x.why !== undefined);
  if (problems.length > 0) {
    out.push('<div class="problems"><h3>Targets that did not complete</h3><ul>');
    for (const { s, why } of problems) {
      const tail = s.errorTail && s.errorTail.length > 0 ? `<details><summary>last output</summary><pre>${e(s.errorTail.join('\n'))}</pre></details>` : '';
      out.push(`<li class="problem" data-target="${e(s.label)}">${swatch(s.target)}<b>${e(s.label)}</b> — ${e(why)}${tail}</li>`);
    }
    out.push('</ul></div>');
  }

  const grid: string[] = [];
  for (const m of sc.metrics) {
    const spec = metricChart(`chart-${slug(sc.name)}-${slug(m.name)}`, sc, m.name);
    if (!spec) continue;
    specs.push(spec);
    grid.push(
      canvas(
        spec,
        `${m.name} (${m.unit}, ${m.better} is better)`,
        `${m.description}. Dots: every sample; thick mark: the median; whiskers: its 95% CI.`,
        260,
        false,
        metricTable(spec.id, sc, m.name, m.unit),
      ),
    );
  }
  if (grid.length > 0) out.push(`<h3 id="${id}-metrics">Metrics by target</h3><div class="grid">${grid.join('\n')}</div>`);
  else out.push('<p class="muted">No samples were recorded for this scenario.</p>');

  const ratio = ratioChart(`chart-${slug(sc.name)}-ratio`, sc);
  if (ratio) {
    specs.push(ratio);
    out.push(`<h3 id="${id}-ratio">Overhead: ratio to native</h3>`);
    out.push(
      canvas(
        ratio,
        `${sc.name}: median(target) / median(native)`,
        'Dot: ratio of medians; whiskers: its bootstrap 95% CI; dashed line: native (1×). Above 1 for a lower-is-better metric is a cost; below 1 for a higher-is-better metric is a cost.',
        110 + 26 * ratioRows(sc),
        true,
        ratioTable(ratio.id, sc),
      ),
    );
  }
  const timeline = sc.name === 'startup' ? timelineChart(`chart-${slug(sc.name)}-timeline`, sc) : undefined;
  if (timeline) {
    specs.push(timeline);
    out.push(`<h3 id="${id}-timeline">Startup timeline</h3>`);
    const rows = ((timeline.config['data'] as { labels: unknown[] }).labels ?? []).length;
    out.push(
      canvas(
        timeline,
        'Startup phases, stacked (median of each phase)',
        'From the launcher’s fork. A VM: qemu to the guest kernel’s first output; kernel: to the agent starting; agent: to ready; exit: ready to the VM being reaped. The launcher’s own marks (native, container, runc, crun): fork or clone until the child runs; a container’s set-up (cgroups, mounts, namespaces, confine, seccomp); exec: to the agent’s first instruction (runc’s or crun’s whole work under its name); agent: to ready; exit: to the reap. docker’s phases come from its daemon’s events (create, ready, start, die, exit).',
        90 + 40 * rows,
        true,
        timelineTable(timeline.id, sc),
      ),
    );
  }
  if (sc.name === 'density') {
    const ready = densityReadyChart(`chart-${slug(sc.name)}-ready`, sc);
    const memory = densityMemoryChart(`chart-${slug(sc.name)}-memory`, sc);
    const figs: string[] = [];
    if (ready) {
      specs.push(ready);
      figs.push(
        canvas(
          ready,
          'Instances ready over time',
          'All instances launched at once; one step line per sample: how many were ready how long after launch.',
          300,
          false,
          readyTable(ready.id, sc),
        ),
      );
    }
    if (memory) {
      specs.push(memory);
      figs.push(
        canvas(
          memory,
          'Host memory vs instances',
          'One point per sample: the summed PSS of every host process of every instance, all N running.',
          300,
          false,
          densityMemoryTable(memory.id, sc),
        ),
      );
    }
    if (figs.length > 0) out.push(`<h3 id="${id}-density">Density</h3><div class="grid">${figs.join('\n')}</div>`);
  }
  out.push(`<h3 id="${id}-figures">Figures</h3>${figuresTable(sc)}`);
  out.push('</section>');
  return out.join('\n');
}

/** Every figure: n, median, CI, p95, min, max and the ratio to native, per metric and target. */
export function figuresTable(sc: ReportScenario): string {
  const out: string[] = [
    '<div class="scroll"><table class="figures"><thead><tr><th>metric</th><th>target</th><th>n</th><th>median</th><th>95% CI of median</th><th>p95</th><th>min</th><th>max</th><th>ratio to native (95% CI)</th></tr></thead><tbody>',
  ];
  for (const m of sc.metrics) {
    for (const s of sc.series) {
      const st = s.stats[m.name];
      if (!st) continue;
      const r = s.ratioToNative[m.name];
      out.push(
        `<tr><td>${e(m.name)}</td><td>${swatch(s.target)}${e(s.label)}</td><td class="num">${st.n}</td><td class="num"><b>${e(withUnit(st.median, m.unit))}</b></td>` +
          `<td class="num">${e(interval(st.ciLow, st.ciHigh, m.unit))}</td><td class="num">${e(withUnit(st.p95, m.unit))}</td><td class="num">${e(withUnit(st.min, m.unit))}</td>` +
          `<td class="num">${e(withUnit(st.max, m.unit))}</td><td class="num">${r ? e(ratioText(r)) : s.target === 'native' ? '1× (baseline)' : '—'}</td></tr>`,
      );
    }
  }
  for (const s of sc.series) {
    if (Object.keys(s.stats).length > 0) continue;
    out.push(`<tr class="problem"><td>—</td><td>${swatch(s.target)}${e(s.label)}</td><td colspan="7">${e(problem(s) ?? 'no samples')}</td></tr>`);
  }
  out.push('</tbody></table></div>');
  return out.join('');
}
