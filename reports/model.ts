/**
 * What a report shows, merged from one or more result files: hosts, and per
 * scenario the series (one target on one host, from one file) with their
 * statistics. Shared by the HTML page and the Markdown summary.
 *
 * Merging: files of the same host merge by scenario (their targets side by
 * side); when the files come from more than one host, every series is labelled
 * `target @ host`. A label that still clashes (the same target of the same host
 * in two files) gets the file's directory name.
 */
import { basename, dirname } from 'node:path';
import { resultImages, type LoadedResult, type NamedImage } from '../core/load.js';
import type { z } from 'zod';
import type { Host, ImageInfo, MetricSpec, Sample, TargetInfoSchema, TargetResult } from '../core/schema.js';
import { median, type Ratio, type Stats } from '../core/stats.js';
import type { HostClaims, Verdict } from './claims/types.js';
import { fmt } from './table.js';
import { twinOrder } from './targets.js';

type TargetInfo = z.infer<typeof TargetInfoSchema>;

export interface ReportSource {
  path: string;
  /** host label of this file */
  host: string;
  command: string[];
  toolVersion: string;
  seed: number;
  startedAt: string;
  updatedAt: string;
  complete: boolean;
  interrupted?: string;
  scenarios: string[];
  limits: { cpus?: number; memoryBytes?: number; pids?: number };
}

export interface ReportHost {
  label: string;
  /** dimensions from the host's latest file */
  dims: Host;
  /** the lean image, or the only one (a result's `image`), from the newest file that records one */
  image?: ImageInfo;
  /** every image of this host's files by name, each from the newest file that records it (lean first) */
  images: NamedImage[];
  /** the files from this host */
  sources: string[];
  /** targets of this host's runs that were unavailable, with why */
  unavailable: TargetInfo[];
  /** availability notes of available targets (e.g. the accelerator) */
  notes: TargetInfo[];
}

export interface Series {
  /** shown in charts and tables: `container`, `container @ hostA`, … */
  label: string;
  target: string;
  /** the image the target ran (absent: lean, or none) */
  image?: string;
  host: string;
  /** index of the host in ReportModel.hosts (point style in charts) */
  hostIndex: number;
  source: string;
  state: TargetResult['state'];
  error?: string;
  errorTail?: string[];
  samples: Sample[];
  stats: Record<string, Stats>;
  ratioToNative: Record<string, Ratio>;
}

export interface ReportScenario {
  name: string;
  description: string;
  metrics: MetricSpec[];
  /** parameters of each file's run of this scenario, by source path */
  parameters: { source: string; runs: number; warmup: number; parameters: Record<string, unknown> }[];
  series: Series[];
}

export interface ReportModel {
  sources: ReportSource[];
  hosts: ReportHost[];
  scenarios: ReportScenario[];
  /** true when the files come from more than one host */
  multiHost: boolean;
}

function hostKey(h: Host): string {
  return `${h.hostname}\u0000${h.cpuModel}\u0000${h.cpuCores}\u0000${h.memoryBytes}`;
}

/** Merges loaded results into what the report shows. */
export function buildReportModel(results: readonly LoadedResult[]): ReportModel {
  // Hosts in order of first appearance; hostnames that clash get the CPU model.
  const keys: string[] = [];
  for (const r of results) if (!keys.includes(hostKey(r.result.host))) keys.push(hostKey(r.result.host));
  const byKey = new Map<string, Host>();
  for (const r of results) byKey.set(hostKey(r.result.host), r.result.host);
  const nameCount = new Map<string, number>();
  for (const k of keys) {
    const n = byKey.get(k)?.hostname ?? '';
    nameCount.set(n, (nameCount.get(n) ?? 0) + 1);
  }
  const labelOf = (h: Host): string => ((nameCount.get(h.hostname) ?? 0) > 1 ? `${h.hostname} (${h.cpuModel}, ${h.cpuCores} cores)` : h.hostname);

  const hosts: ReportHost[] = keys.map((k) => {
    const files = results.filter((r) => hostKey(r.result.host) === k);
    const latest = [...files].sort((a, b) => a.result.startedAt.localeCompare(b.result.startedAt)).at(-1) ?? files[0];
    const dims = (latest ?? files[0])!.result.host;
    const image = [...files].reverse().find((r) => r.result.image)?.result.image;
    const images = new Map<string, NamedImage>();
    for (const f of [...files].sort((a, b) => a.result.startedAt.localeCompare(b.result.startedAt)))
      for (const i of resultImages(f.result)) images.set(i.name, i);
    const unavailable = new Map<string, TargetInfo>();
    const notes = new Map<string, TargetInfo>();
    for (const f of files) {
      for (const t of f.result.targets) {
        if (!t.available) unavailable.set(t.name, t);
        else if (t.reason) notes.set(t.name, t);
      }
    }
    return {
      label: labelOf(dims),
      dims,
      image,
      images: [...images.values()].sort((a, b) => Number(b.name === 'lean') - Number(a.name === 'lean')),
      sources: files.map((f) => f.path),
      unavailable: [...unavailable.values()],
      notes: [...notes.values()],
    };
  });
  const multiHost = hosts.length > 1;

  const sources: ReportSource[] = results.map((r) => ({
    path: r.path,
    host: labelOf(r.result.host),
    command: r.result.command,
    toolVersion: r.result.tool.version,
    seed: r.result.seed,
    startedAt: r.result.startedAt,
    updatedAt: r.result.updatedAt,
    complete: r.result.complete,
    interrupted: r.result.interrupted,
    scenarios: r.result.scenarios.map((s) => s.name),
    limits: r.result.options.limits,
  }));

  const scenarios: ReportScenario[] = [];
  for (const r of results) {
    const host = labelOf(r.result.host);
    const hostIndex = keys.indexOf(hostKey(r.result.host));
    for (const sc of r.result.scenarios) {
      let out = scenarios.find((s) => s.name === sc.name);
      if (!out) {
        out = { name: sc.name, description: sc.description, metrics: [], parameters: [], series: [] };
        scenarios.push(out);
      }
      for (const m of sc.metrics) if (!out.metrics.some((x) => x.name === m.name)) out.metrics.push(m);
      out.parameters.push({ source: r.path, runs: sc.runs, warmup: sc.warmup, parameters: sc.parameters });
      for (const t of sc.targets) {
        out.series.push({
          label: multiHost ? `${t.target} @ ${host}` : t.target,
          target: t.target,
          image: t.image,
          host,
          hostIndex,
          source: r.path,
          state: t.state,
          error: t.error,
          errorTail: t.errorTail,
          samples: t.samples,
          stats: t.stats,
          ratioToNative: t.ratioToNative,
        });
      }
    }
  }
  for (const sc of scenarios) {
    const count = new Map<string, number>();
    for (const s of sc.series) count.set(s.label, (count.get(s.label) ?? 0) + 1);
    for (const s of sc.series) if ((count.get(s.label) ?? 0) > 1) s.label = `${s.label} (${sourceName(s.source)})`;
    // container@debian right after container, on the same host.
    sc.series = twinOrder(
      sc.series,
      (s) => s.target,
      (s) => s.host,
    );
  }
  return { sources, hosts, scenarios, multiHost };
}

/** A short name for a result file: its directory's name (tsbench writes one results.json per directory). */
export function sourceName(path: string): string {
  return basename(path) === 'results.json' ? basename(dirname(path)) || path : basename(path);
}

/** Median duration of each boot phase over a series' ok samples, in phase order; empty when it has none. */
export function medianPhases(series: Series): { name: string; ms: number }[] {
  const names: string[] = [];
  const values = new Map<string, number[]>();
  for (const s of series.samples) {
    if (s.status !== 'ok') continue;
    for (const p of s.timeline?.phases ?? []) {
      if (!values.has(p.name)) {
        names.push(p.name);
        values.set(p.name, []);
      }
      values.get(p.name)?.push(p.ms);
    }
  }
  return names.map((name) => ({ name, ms: median(values.get(name) as number[]) }));
}

const BINARY = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];

/** A value with its unit; bytes are shown in binary units, counts bare. */
export function withUnit(x: number, unit: string): string {
  if (unit === 'bytes') {
    let v = x;
    let i = 0;
    while (Math.abs(v) >= 1024 && i < BINARY.length - 1) {
      v /= 1024;
      i++;
    }
    return `${fmt(v)} ${BINARY[i]}`;
  }
  return unit && unit !== 'count' ? `${fmt(x)} ${unit}` : fmt(x);
}

/** A confidence interval `low – high` in the unit. */
export function interval(low: number, high: number, unit: string): string {
  return unit === 'bytes' ? `${withUnit(low, unit)} – ${withUnit(high, unit)}` : `${fmt(low)} – ${fmt(high)}${unit && unit !== 'count' ? ` ${unit}` : ''}`;
}

/** A ratio to native with its interval, e.g. `3.36× (3.09–5.15)`. */
export function ratioText(r: Ratio): string {
  return `${fmt(r.ratio)}× (${fmt(r.ciLow)}–${fmt(r.ciHigh)})`;
}

/** A one-line reason for a series that did not complete, or undefined when it did. */
export function problem(s: Series): string | undefined {
  if (s.state === 'completed' || s.state === 'running') {
    const bad = s.samples.filter((x) => x.status !== 'ok');
    return bad.length > 0 ? `${bad.length} sample(s) not ok: ${bad[0]?.status}${bad[0]?.reason ? ` — ${bad[0].reason}` : ''}` : undefined;
  }
  return `${s.state}: ${s.error ?? (s.state === 'skipped' ? 'unavailable' : 'no reason recorded')}`;
}

/** An id fragment from any text: letters, digits and dashes only (the page's anchors). */
export function slug(text: string): string {
  return (
    text
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '') || 'x'
  );
}

/** The anchor of a claim's row in the claims table (the page's and the Markdown's): `claim-c1`, or `claim-<host>-c1` with several hosts. */
export function claimAnchor(host: string, id: string, manyHosts: boolean): string {
  return manyHosts ? `claim-${slug(host)}-${slug(id)}` : `claim-${slug(id)}`;
}

/**
 * The metrics a scenario's summary shows: those its definitions mark `headline`
 * that some series measured, else the first metric in the results' order that
 * one did — so a scenario no report knows of still gets a summary.
 */
export function headlineMetrics(sc: ReportScenario): MetricSpec[] {
  const measured = (m: MetricSpec): boolean => sc.series.some((s) => s.stats[m.name] !== undefined);
  const marked = sc.metrics.filter((m) => m.headline === true && measured(m));
  if (marked.length > 0) return marked;
  const first = sc.metrics.find(measured);
  return first ? [first] : [];
}

/** One target's headline figure: its statistics and ratio to native, or why it has none. */
export interface SummaryRow {
  series: Series;
  stats?: Stats;
  ratio?: Ratio;
  /** why the series has no figure for this metric */
  missing?: string;
}

/** One scenario's headline metric with every target's figure side by side. */
export interface SummaryBlock {
  scenario: string;
  metric: MetricSpec;
  rows: SummaryRow[];
}

/**
 * The summary's overview, for a run of several scenarios: every target a row, every headline metric (the
 * summary's blocks, in order) a column, so that the first screen holds every figure however many blocks follow.
 */
export interface SummaryOverview {
  blocks: SummaryBlock[];
  /** one per series label, in the order the blocks first name them; `cells[i]` is its row of `blocks[i]` */
  rows: { label: string; target: string; cells: (SummaryRow | undefined)[] }[];
}

/** The overview of a summary with two or more blocks; undefined for one block or none (the block is its own overview). */
export function summaryOverview(summary: ReportSummary): SummaryOverview | undefined {
  if (summary.blocks.length < 2) return undefined;
  const rows = new Map<string, SummaryOverview['rows'][number]>();
  summary.blocks.forEach((b, i) => {
    for (const r of b.rows) {
      let row = rows.get(r.series.label);
      if (row === undefined) {
        row = { label: r.series.label, target: r.series.target, cells: summary.blocks.map(() => undefined) };
        rows.set(r.series.label, row);
      }
      row.cells[i] = r;
    }
  });
  return { blocks: summary.blocks, rows: [...rows.values()] };
}

/** One verdict the run decided (or measured but could not decide), in one line. */
export interface SummaryVerdict {
  host: string;
  id: string;
  claim: string;
  verdict: Verdict;
  /** the anchor of its row in the claims table */
  anchor: string;
  /** TCG measured it: never evidence about KVM */
  tcg: boolean;
  /** an inconclusive verdict: about how many samples per target would decide it (its parts' largest) */
  samplesNeeded?: number;
}

/** What a report says first: the headline figures, the verdicts, and in one line what the run could not decide. */
export interface ReportSummary {
  blocks: SummaryBlock[];
  verdicts: SummaryVerdict[];
  /** the claims not measured (ids, once each, in claim order) */
  notMeasured: string[];
  /** the one run that would measure them: the scenarios and targets their evidence names, merged */
  command?: string;
}

const RUN_HINT = /`tsbench run ([a-z0-9-]+) --targets ([^`\s]+)`/g;

/** `tsbench run A B --targets x,y,z`: every run hint in the texts, merged (scenarios and targets in order of first mention). */
export function mergedRunHint(texts: readonly string[]): string | undefined {
  const scenarios: string[] = [];
  const targets: string[] = [];
  for (const t of texts) {
    for (const m of t.matchAll(RUN_HINT)) {
      const [, scenario, list] = m;
      if (scenario && !scenarios.includes(scenario)) scenarios.push(scenario);
      for (const x of (list ?? '').split(',')) if (x && !targets.includes(x)) targets.push(x);
    }
  }
  return scenarios.length > 0 ? `tsbench run ${scenarios.join(' ')} --targets ${targets.join(',')}` : undefined;
}

/** The summary of a report: built from the same model and verdicts as the sections below it. */
export function buildSummary(model: ReportModel, claims: readonly HostClaims[]): ReportSummary {
  const blocks: SummaryBlock[] = [];
  for (const sc of model.scenarios) {
    for (const metric of headlineMetrics(sc)) {
      blocks.push({
        scenario: sc.name,
        metric,
        rows: sc.series.map((series) => {
          const stats = series.stats[metric.name];
          // A target's failure in a word here; its reason is under the scenario, where it is listed in full.
          const missing = series.state === 'completed' || series.state === 'running' ? `no ${metric.name}` : `${series.state}: see ${sc.name} below`;
          return { series, stats, ratio: series.ratioToNative[metric.name], missing: stats ? undefined : missing };
        }),
      });
    }
  }
  const many = claims.length > 1;
  const verdicts: SummaryVerdict[] = [];
  const notMeasured: string[] = [];
  const hints: string[] = [];
  for (const h of claims) {
    for (const c of h.verdicts) {
      if (c.verdict === 'not measured') {
        if (!notMeasured.includes(c.id)) notMeasured.push(c.id);
        hints.push(c.evidence, ...c.parts.map((p) => p.evidence));
        continue;
      }
      const needs = c.parts.map((p) => (p.verdict === 'inconclusive' ? p.samplesNeeded : undefined)).filter((n): n is number => n !== undefined);
      verdicts.push({
        host: h.host,
        id: c.id,
        claim: c.claim,
        verdict: c.verdict,
        anchor: claimAnchor(h.host, c.id, many),
        tcg: c.accelerator === 'tcg' || (c.accelerator === undefined && c.parts.some((p) => p.accelerator === 'tcg' && p.bearing !== 'context')),
        samplesNeeded: c.verdict === 'inconclusive' && needs.length > 0 ? Math.max(...needs) : undefined,
      });
    }
  }
  return { blocks, verdicts, notMeasured, command: mergedRunHint(hints) };
}
