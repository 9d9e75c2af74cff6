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
