/**
 * The environment fingerprint of a result — what, besides the code under test,
 * moves the numbers — and the differences between two results, printed as
 * warnings at the top of a comparison.
 *
 * An accelerator difference (the host's KVM verdict, or the accelerator a VM
 * target ran under) makes the verdicts of every VM target inconclusive. Native
 * and container targets keep theirs: they never touch the accelerator, and the
 * other differences (kernel, CPU, …) are warned about, not judged, because a
 * nightly runner pool changes them often and the user decides what they mean.
 */
import { resultImages } from '../../core/load.js';
import type { Result } from '../../core/schema.js';
import { targetParts } from '../../drivers/index.js';

export interface FingerprintDiff {
  /** Stable key: `kernel`, `cpuModel`, `accelerator`, `limits`, `scenario:io`, … */
  key: string;
  /** Human label: "kernel", "CPU model", … */
  label: string;
  base: string;
  head: string;
  /** true when this difference makes the verdicts of VM targets inconclusive. */
  accelerator: boolean;
}

/** A target that runs in a VM: it records an accelerator, or is named after one (`kvm`, `tcg-cloud`, `container-in-kvm`, each also `@IMAGE`). */
export function isVmTarget(result: Result, target: string): boolean {
  const info = result.targets.find((t) => t.name === target);
  return info?.details?.['accelerator'] !== undefined || /(^|-)(kvm|tcg)(-cloud)?$/.test(targetParts(target).base);
}

function kvmVerdict(r: Result): string {
  if (!r.host.kvm) return 'not probed';
  return r.host.kvm.available ? 'available' : 'unavailable';
}

/** Targets that took at least one sample, sorted. */
function ranTargets(r: Result, filter: (t: string) => boolean): string {
  const names = new Set<string>();
  for (const sc of r.scenarios) for (const t of sc.targets) if (t.samples.length > 0 && filter(t.target)) names.add(t.target);
  return [...names].sort().join(', ') || 'none';
}

function limits(r: Result): string {
  const l = r.options.limits;
  const parts: string[] = [];
  if (l.cpus !== undefined) parts.push(`cpus ${l.cpus}`);
  if (l.memoryBytes !== undefined) parts.push(`memory ${Math.round(l.memoryBytes / 2 ** 20)} MiB`);
  if (l.pids !== undefined) parts.push(`pids ${l.pids}`);
  return parts.join(', ') || 'defaults';
}

function runOptions(r: Result): string {
  return `runs ${r.options.runs ?? 'per scenario'}, warmup ${r.options.warmup ?? 'per scenario'}`;
}

/** Every fingerprint difference between base and head, in a fixed order. */
export function fingerprintDiffs(base: Result, head: Result): FingerprintDiff[] {
  const out: FingerprintDiff[] = [];
  const add = (key: string, label: string, b: string, h: string, accelerator = false): void => {
    if (b !== h) out.push({ key, label, base: b, head: h, accelerator });
  };
  add('tool', 'tsbench version', base.tool.version, head.tool.version);
  add('cpuModel', 'CPU model', base.host.cpuModel, head.host.cpuModel);
  add('cpuCores', 'CPU cores', String(base.host.cpuCores), String(head.host.cpuCores));
  add('memory', 'host memory', `${Math.round(base.host.memoryBytes / 2 ** 30)} GiB`, `${Math.round(head.host.memoryBytes / 2 ** 30)} GiB`);
  add('kernel', 'kernel', base.host.kernel, head.host.kernel);
  add('cgroup', 'cgroup version', base.host.cgroup, head.host.cgroup);
  add('qemu', 'QEMU version', base.host.qemuVersion ?? 'none', head.host.qemuVersion ?? 'none');
  add('node', 'Node.js', base.host.node, head.host.node);
  // "not probed" on one side says nothing about the accelerator: warn, do not judge.
  const bk = kvmVerdict(base);
  const hk = kvmVerdict(head);
  add('kvm', 'KVM verdict', bk, hk, bk !== 'not probed' && hk !== 'not probed');
  const vmAccel = (r: Result): Map<string, string> =>
    new Map(r.targets.flatMap((t) => (t.details?.['accelerator'] !== undefined ? [[t.name, t.details['accelerator']] as const] : [])));
  const ba = vmAccel(base);
  const ha = vmAccel(head);
  for (const [name, accel] of ba) {
    const other = ha.get(name);
    if (other !== undefined && other !== accel) add(`accelerator:${name}`, `accelerator of ${name}`, accel, other, true);
  }
  // Each target's other details as its probe recorded them (confinement, upper layer, VM profile, runtime versions, …).
  for (const bt of base.targets) {
    const ht = head.targets.find((t) => t.name === bt.name);
    if (!bt.details || !ht?.details) continue;
    for (const k of [...new Set([...Object.keys(bt.details), ...Object.keys(ht.details)])].sort()) {
      if (k === 'accelerator') continue;
      add(`target:${bt.name}:${k}`, `${bt.name} ${k}`, bt.details[k] ?? 'none', ht.details[k] ?? 'none');
    }
  }
  add(
    'vmTargets',
    'VM targets that ran',
    ranTargets(base, (t) => isVmTarget(base, t)),
    ranTargets(head, (t) => isVmTarget(head, t)),
  );
  add('limits', 'limits (--cpus/--memory)', limits(base), limits(head));
  add('options', 'run options', runOptions(base), runOptions(head));
  // Each image by name; the lean one under the key results had before images had names.
  const bi = resultImages(base);
  const hi = resultImages(head);
  for (const name of [...new Set([...bi, ...hi].map((i) => i.name))].sort((a, b) => Number(b === 'lean') - Number(a === 'lean'))) {
    const hash = (images: typeof bi): string => images.find((i) => i.name === name)?.hash ?? 'none';
    add(name === 'lean' ? 'image' : `image:${name}`, name === 'lean' ? 'workload image' : `workload image (${name})`, hash(bi), hash(hi));
  }
  for (const sc of base.scenarios) {
    const other = head.scenarios.find((s) => s.name === sc.name);
    if (other) add(`scenario:${sc.name}`, `${sc.name} parameters`, JSON.stringify(sc.parameters), JSON.stringify(other.parameters));
  }
  if (!base.complete) out.push({ key: 'completeBase', label: 'base run', base: 'incomplete (interrupted)', head: '', accelerator: false });
  if (!head.complete) out.push({ key: 'completeHead', label: 'head run', base: '', head: 'incomplete (interrupted)', accelerator: false });
  return out;
}
