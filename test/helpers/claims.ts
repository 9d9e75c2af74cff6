/**
 * Result files crafted for the claim rules: samples per scenario × target, their statistics
 * computed by the runner's own computeStats, validated against the result schema.
 */
import assert from 'node:assert/strict';
import { evaluateClaims, type ClaimVerdict } from '../../reports/claims/index.js';
import type { LoadedResult, NamedImage } from '../../core/load.js';
import { computeStats } from '../../core/figures.js';
import { ResultSchema, type ImageInfo, type Result, type ScenarioResult, type TargetResult } from '../../core/schema.js';

/** A target's samples (metric → one value per round), or a target that did not complete. */
export type TargetSpec = Record<string, number[]> | { state: 'errored' | 'skipped'; error: string };

export interface CraftOptions {
  path?: string;
  hostname?: string;
  cpuModel?: string;
  startedAt?: string;
  image?: ImageInfo;
  /** every image of the run, each named (a result's `images`) */
  images?: NamedImage[];
  kvmAvailable?: boolean;
  /** the host is a VM under TCG (the nested KVM test host) */
  nestedUnder?: 'tcg';
  /** scenario → target → samples */
  scenarios: Record<string, Record<string, TargetSpec>>;
  /** the run's target list, with the probes' details */
  targets?: Result['targets'];
}

export const IMAGE: ImageInfo = {
  hash: 'h',
  packing: 'initramfs (initramfs.cpio, unpacked into guest RAM)',
  rootfsBytes: 100e6,
  initramfsBytes: 101e6,
  kernelBytes: 14e6,
  modulesBytes: 0.2e6,
  kernelRelease: '6.1.0-test',
};

export function craft(o: CraftOptions): LoadedResult {
  const scenarios: ScenarioResult[] = Object.entries(o.scenarios).map(([name, targets]) => {
    const metricNames = new Set<string>();
    const targetResults: TargetResult[] = Object.entries(targets).map(([target, spec]) => {
      if ('state' in spec && typeof spec.state === 'string') {
        return { target, state: spec.state, error: spec.error as string, samples: [], stats: {}, ratioToNative: {} };
      }
      const values = spec as Record<string, number[]>;
      const rounds = Math.max(...Object.values(values).map((xs) => xs.length));
      for (const m of Object.keys(values)) metricNames.add(m);
      const samples = Array.from({ length: rounds }, (_, round) => ({
        round,
        status: 'ok' as const,
        values: Object.fromEntries(Object.entries(values).flatMap(([m, xs]) => (xs[round] === undefined ? [] : [[m, xs[round] as number]]))),
      }));
      // A run names each target's image: TARGET@IMAGE runs IMAGE (the driver's imageName, bench/runner.ts).
      const image = target.includes('@') ? (target.slice(target.indexOf('@') + 1) as NamedImage['name']) : undefined;
      return { target, image, state: 'completed', samples, stats: {}, ratioToNative: {} };
    });
    const sc: ScenarioResult = {
      name,
      description: name,
      metrics: [...metricNames].map((m) => ({ name: m, unit: 'u', better: 'lower' as const, description: m })),
      parameters: {},
      runs: 5,
      warmup: 0,
      targets: targetResults,
    };
    computeStats(sc, 7);
    return sc;
  });
  const result: Result = {
    schema: 'tsbench/result',
    schemaVersion: 1,
    tool: { name: 'tsbench', version: '0.0.0-test' },
    command: ['run'],
    seed: 7,
    startedAt: o.startedAt ?? '2026-01-01T00:00:00.000Z',
    updatedAt: o.startedAt ?? '2026-01-01T00:00:00.000Z',
    complete: true,
    options: { limits: {} },
    host: {
      hostname: o.hostname ?? 'box',
      cpuModel: o.cpuModel ?? 'Test CPU',
      cpuCores: 2,
      memoryBytes: 8 * 2 ** 30,
      os: 'Debian',
      kernel: '6.1',
      arch: 'x64',
      cgroup: 'v2',
      node: 'v20',
      kvm: o.kvmAvailable === false ? { available: false, reason: 'no /dev/kvm' } : { available: true },
      nestedUnder: o.nestedUnder,
    },
    image: o.image,
    images: o.images,
    targets: o.targets ?? [],
    scenarios,
  };
  return { path: o.path ?? 'results.json', result: ResultSchema.parse(result) };
}

/** n values spread evenly by ±spread (a fraction) around `median`. */
export function around(median: number, spread = 0.01, n = 5): number[] {
  return Array.from({ length: n }, (_, i) => median * (1 + spread * (n === 1 ? 0 : (2 * i) / (n - 1) - 1)));
}
export const constant = (x: number, n = 5): number[] => Array.from({ length: n }, () => x);

/** The one host's verdict for a claim. */
export function claim(id: string, ...files: LoadedResult[]): ClaimVerdict {
  const hosts = evaluateClaims(files);
  assert.equal(hosts.length, 1, 'one host');
  const v = hosts[0]?.verdicts.find((x) => x.id === id);
  assert.ok(v, `${id} is judged`);
  return v;
}

export function part(v: ClaimVerdict, label: string) {
  const p = v.parts.find((x) => x.label === label);
  assert.ok(p, `${v.id} has a part "${label}"; parts: ${v.parts.map((x) => x.label).join(' | ')}`);
  return p;
}

export const one = (scenarios: CraftOptions['scenarios'], extra: Partial<CraftOptions> = {}): LoadedResult => craft({ scenarios, ...extra });
