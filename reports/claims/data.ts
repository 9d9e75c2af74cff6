/**
 * The results of one host, as the claim rules read them: which file holds a
 * scenario × target, its statistics, and intervals derived from raw samples
 * (ratios and differences between two targets, per-sample combinations).
 */
import { resultImages, type LoadedResult, type NamedImage } from '../../core/load.js';
import type { ImageName } from '../../drivers/index.js';
import { derivedValues, valuesOf } from '../../core/samples.js';
import type { Result, ScenarioResult, TargetResult } from '../../core/schema.js';
import { deriveSeed, differenceOfMedians, ratioOfMedians, summarize, type Stats } from '../../core/stats.js';

/** A value with its 95 % interval, in one unit. */
export interface Interval {
  value: number;
  lo: number;
  hi: number;
}

/** One scenario × target found in one result file. */
export interface Found {
  source: string;
  result: Result;
  scenario: ScenarioResult;
  target: TargetResult;
}

/** A metric of one target: its statistics and where they came from. */
export interface MetricFound extends Found {
  metric: string;
  stats: Stats;
  interval: Interval;
}

export type Lookup<T> = { ok: true; found: T } | { ok: false; reason: string };

/** The results of one host. Several files are read as one; see `find`. */
export class HostData {
  /** files some rule read from, in the order given */
  private readonly usedFiles = new Set<string>();

  constructor(
    readonly label: string,
    readonly files: readonly LoadedResult[],
  ) {}

  /**
   * The file to read `scenario` × `target` from: among files where that target
   * completed (and `need` holds), the newest by startedAt, files of finished runs
   * before interrupted ones. When it completed nowhere, the reason is the newest
   * file's error (errored, skipped, cancelled) or that no file has it.
   */
  find(scenario: string, target: string, need?: (t: TargetResult) => boolean): Lookup<Found> {
    const candidates: Found[] = [];
    for (const f of this.files) {
      const sc = f.result.scenarios.find((s) => s.name === scenario);
      const t = sc?.targets.find((x) => x.target === target);
      if (sc && t) candidates.push({ source: f.path, result: f.result, scenario: sc, target: t });
    }
    const newestFirst = (a: Found, b: Found): number =>
      Number(b.result.complete) - Number(a.result.complete) || Date.parse(b.result.startedAt) - Date.parse(a.result.startedAt);
    const usable = candidates.filter((c) => c.target.state === 'completed' && (!need || need(c.target))).sort(newestFirst);
    if (usable[0]) return { ok: true, found: usable[0] };
    const latest = candidates.sort(newestFirst)[0];
    if (!latest) return { ok: false, reason: `no \`${scenario}\` result for ${target}` };
    const t = latest.target;
    if (t.state === 'completed') return { ok: false, reason: `${target} completed \`${scenario}\` in ${latest.source} but did not record the metric` };
    const why = t.error ? `: ${t.error}` : t.state === 'running' ? ' (the run was interrupted)' : '';
    return { ok: false, reason: `${target} ${t.state} in \`${scenario}\` (${latest.source})${why}` };
  }

  /** A metric's statistics for one target (the median and the bootstrap CI of the median). */
  metric(scenario: string, target: string, metric: string): Lookup<MetricFound> {
    const r = this.find(scenario, target, (t) => t.stats[metric] !== undefined);
    if (!r.ok) return r;
    const stats = r.found.target.stats[metric] as Stats;
    return { ok: true, found: { ...r.found, metric, stats, interval: { value: stats.median, lo: stats.ciLow, hi: stats.ciHigh } } };
  }

  /** A metric's ratio to native as the run recorded it (same file's native). */
  ratioToNative(scenario: string, target: string, metric: string): Lookup<MetricFound & { ratio: Interval }> {
    const r = this.find(scenario, target, (t) => t.stats[metric] !== undefined && t.ratioToNative[metric] !== undefined);
    if (!r.ok) {
      const has = this.metric(scenario, target, metric);
      return has.ok ? { ok: false, reason: `no native ${scenario} result beside ${target} in ${has.found.source} to take the ratio to` } : has;
    }
    const stats = r.found.target.stats[metric] as Stats;
    const q = r.found.target.ratioToNative[metric] as { ratio: number; ciLow: number; ciHigh: number };
    return {
      ok: true,
      found: {
        ...r.found,
        metric,
        stats,
        interval: { value: stats.median, lo: stats.ciLow, hi: stats.ciHigh },
        ratio: { value: q.ratio, lo: q.ciLow, hi: q.ciHigh },
      },
    };
  }

  /** Marks a file as read by a rule (HostClaims.sources). */
  markUsed(source: string): void {
    this.usedFiles.add(source);
  }

  /** The files some rule read from, in the order they were given. */
  used(): string[] {
    return this.files.map((f) => f.path).filter((p) => this.usedFiles.has(p));
  }

  /** Whether any file of this host has `target` in `scenario`, in any state. */
  has(scenario: string, target: string): boolean {
    return this.files.some((f) => f.result.scenarios.some((s) => s.name === scenario && s.targets.some((t) => t.target === target)));
  }

  /**
   * An image of this host's results by name (absent: lean): from `source` when it records it, else
   * from the newest file that does (core/load.ts `resultImages`: a file from before images had names
   * recorded the lean one).
   */
  image(source?: string, name: ImageName = 'lean'): { source: string; image: NamedImage } | undefined {
    const of = (f: LoadedResult): NamedImage | undefined => resultImages(f.result).find((i) => i.name === name);
    const own = this.files.find((f) => f.path === source && of(f));
    const newest = [...this.files].filter((f) => of(f)).sort((a, b) => Date.parse(b.result.startedAt) - Date.parse(a.result.startedAt));
    const f = own ?? newest[0];
    const image = f ? of(f) : undefined;
    return f && image ? { source: f.path, image } : undefined;
  }

  /** The names of the images this host's results record. */
  imageNames(): Set<ImageName> {
    return new Set(this.files.flatMap((f) => resultImages(f.result).map((i) => i.name)));
  }

  /**
   * What VM a target was, in words, from the newest file whose target list has it
   * (drivers/qemu: its probe's `profile` detail): "lean microVM" or "stock VM", or
   * "stock kernel, image as initramfs" for a VM of a file from before the profiles.
   * Undefined for a target that is no VM.
   */
  vmProfile(target: string): string | undefined {
    const newest = [...this.files].sort((a, b) => Date.parse(b.result.startedAt) - Date.parse(a.result.startedAt));
    for (const f of newest) {
      const details = f.result.targets.find((t) => t.name === target)?.details;
      if (details?.['accelerator'] === undefined) continue;
      const profile = details['profile'];
      return profile === 'lean' ? 'lean microVM' : profile === 'cloud' ? 'stock VM (cloud kernel)' : 'stock kernel, image as initramfs';
    }
    return undefined;
  }

  /**
   * Whether this host is itself a VM under TCG (bench/host.ts `nestedUnder`, e.g. the nested KVM test
   * host): its kvm targets ran the KVM code path, but at TCG's speed, so the rules judge them as TCG.
   */
  nestedUnderTcg(): boolean {
    return this.files.some((f) => f.result.host.nestedUnder === 'tcg');
  }

  /** Why kvm did not run on this host, from the newest file's cached probe verdict. */
  kvmUnavailable(): string | undefined {
    const newest = [...this.files].sort((a, b) => Date.parse(b.result.startedAt) - Date.parse(a.result.startedAt))[0];
    const kvm = newest?.result.host.kvm;
    if (!kvm || kvm.available) return undefined;
    return kvm.reason ?? 'the probe boot failed';
  }
}

/** A per-sample combination of metrics (the values that count, core/samples.ts), summarised with its median CI. */
export function derived(found: Found, label: string, f: (values: Readonly<Record<string, number>>) => number | undefined): Interval | undefined {
  const xs = derivedValues(found.target, f);
  if (xs.length === 0) return undefined;
  const st = summarize(xs, deriveSeed(found.result.seed, `claims/${found.scenario.name}/${found.target.target}/${label}`));
  return { value: st.median, lo: st.ciLow, hi: st.ciHigh };
}

/** median(a) / median(b) of one metric on two targets, with the seeded bootstrap interval (core/stats.ts). */
export function ratioBetween(a: MetricFound, b: MetricFound): Interval | undefined {
  const r = ratioOfMedians(
    valuesOf(a.target, a.metric),
    valuesOf(b.target, b.metric),
    deriveSeed(a.result.seed, `claims/${a.scenario.name}/${a.target.target}/${b.target.target}/${a.metric}`),
  );
  return r ? { value: r.ratio, lo: r.ciLow, hi: r.ciHigh } : undefined;
}

/** median(a) − median(b) of one metric on two targets, with the seeded bootstrap interval (core/stats.ts). */
export function differenceBetween(a: MetricFound, b: MetricFound): Interval | undefined {
  const d = differenceOfMedians(
    valuesOf(a.target, a.metric),
    valuesOf(b.target, b.metric),
    deriveSeed(a.result.seed, `claims/${a.scenario.name}/${a.target.target}/${b.target.target}/${a.metric}/diff`),
  );
  return d ? { value: d.difference, lo: d.ciLow, hi: d.ciHigh } : undefined;
}

/**
 * Groups result files by host: by hostname, and by hostname and CPU model when
 * two different machines share a hostname (the label then names the CPU too).
 */
export function groupByHost(results: readonly LoadedResult[]): HostData[] {
  const byName = new Map<string, Map<string, LoadedResult[]>>();
  for (const r of results) {
    const { hostname, cpuModel } = r.result.host;
    const models = byName.get(hostname) ?? new Map<string, LoadedResult[]>();
    models.set(cpuModel, [...(models.get(cpuModel) ?? []), r]);
    byName.set(hostname, models);
  }
  const hosts: HostData[] = [];
  for (const [hostname, models] of byName) {
    for (const [cpuModel, files] of models) hosts.push(new HostData(models.size > 1 ? `${hostname} (${cpuModel})` : hostname, files));
  }
  return hosts;
}

/**
 * The memory a VM's guest has in use (guestTotalBytes − guestAvailableBytes) per sample, summarised:
 * a lower bound of any VM's host memory whatever its accelerator (C3, C5 under TCG).
 */
export function guestUsed(found: Found): Interval | undefined {
  return derived(found, 'guestUsedBytes', (v) =>
    v.guestTotalBytes !== undefined && v.guestAvailableBytes !== undefined ? v.guestTotalBytes - v.guestAvailableBytes : undefined,
  );
}
