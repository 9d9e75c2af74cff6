/**
 * C14: with a snapshot, a microVM starts about as fast as a container (issue 34). Decided on KVM only:
 * TCG and KVM nested under TCG are context (they say nothing about KVM's speed), with Firecracker's
 * published resume latency as the reference point.
 */
import { ratioBetween, type HostData } from '../data.js';
import { ACCELS, atMost, figure, fmtIv, margin, ruleAccel, type ClaimBuilder, type ClaimRule, type ThresholdDef, type Thresholds } from '../judge.js';
import { requireVm } from '../pairs.js';

export const C14_THRESHOLDS = {
  restoredReadyFactor: {
    value: 3,
    unit: '×',
    claims: ['C14'],
    meaning:
      '"about as fast as a container" = a restored microVM\'s time to ready, and to the end of its first work, at most this many times the container\'s.',
  },
  templateMemoryRatio: {
    value: 0.7,
    unit: '×',
    claims: ['C14'],
    meaning: 'a RAM template pays off = per-instance PSS of restored VMs sharing a template at most this ratio to restored VMs without one (density).',
  },
} as const satisfies Record<string, ThresholdDef>;

type T = Thresholds<keyof typeof C14_THRESHOLDS>;

/** The speed parts: the scenario and metric each compares, restored VM against the container. */
const SPEED = [
  { scenario: 'startup', metric: 'toReadyMs', label: 'restored VM ready about as fast as a container' },
  { scenario: 'firstwork', metric: 'toFirstWorkMs', label: 'restored VM done with its first work about as fast as a container' },
] as const;

export const C14: ClaimRule<keyof T> = {
  id: 'C14',
  thresholds: C14_THRESHOLDS,
  text: (t) => ({
    inWords: `A VM restored from a snapshot (kvm-restore: a fresh QEMU per instance, its state loaded from a snapshot saved once per run; the window starts at QEMU's fork, as a cold boot's does) against the container. Speed: startup toReadyMs and firstwork toFirstWorkMs (launch to the end of a job that fills fresh memory, where the cost of a restore moves to page faults) each at most ${t.restoredReadyFactor}× the container's (bootstrap CI of the ratio of medians); confirmed when the whole interval is at or below, refuted when wholly above. Memory: density pssPerInstanceBytes of kvm-restore-template (guest RAM mapped copy-on-write from a shared file) at most ${t.templateMemoryRatio}× kvm-restore's. Decided on KVM only: tcg-restore and KVM nested under TCG are context both ways — emulation says nothing about KVM's restore speed.`,
    brief: `restored VM (kvm-restore) ÷ container: time to ready and to first work **≤ ${t.restoredReadyFactor}×**; template ÷ no template per-instance PSS **≤ ${t.templateMemoryRatio}×**. KVM only; TCG is context.`,
    why: `"About as fast" = within ${t.restoredReadyFactor}×: Firecracker's published resume latency (the reference point) is about a container's start, and a restore that pays QEMU's own start is still far from a cold boot. A template must save a good part of a restored VM's memory (at most ${t.templateMemoryRatio}× of it left) to be worth its shared file and its copy-on-write faults.`,
    tcg: `context only: a restore under TCG loads and runs the guest under emulation, and nested KVM runs at TCG's speed.`,
  }),
  judge(c, h, t) {
    for (const d of SPEED) for (const accel of ACCELS) speedPart(c, h, t, d, accel);
    for (const d of SPEED) requireVm(c, d.label, d.scenario, ['container', 'kvm-restore'], 'TCG and nested KVM say nothing about KVM restore speed');
    for (const accel of ACCELS) memoryPart(c, h, t, accel);
    requireVm(c, 'a template shares guest RAM', 'density', ['kvm-restore', 'kvm-restore-template'], 'TCG and nested KVM are context for C14');
  },
};

function speedPart(c: ClaimBuilder, h: HostData, t: T, d: (typeof SPEED)[number], accel: 'kvm' | 'tcg'): void {
  const target = `${accel}-restore`;
  if (!h.has(d.scenario, target)) return;
  const label = `${d.label} (${accel})`;
  const vm = h.metric(d.scenario, target, d.metric);
  const ct = h.metric(d.scenario, 'container', d.metric);
  if (!vm.ok || !ct.ok) {
    c.missing({ label, accelerator: accel, targets: [target, 'container'] }, !vm.ok ? vm.reason : !ct.ok ? ct.reason : '', d.scenario, ['container', target]);
    return;
  }
  c.use(vm.found, ct.found);
  c.fig(figure(d.metric, vm.found.interval, 'ms', target));
  c.fig(figure(d.metric, ct.found.interval, 'ms', 'container'));
  const r = ratioBetween(vm.found, ct.found);
  if (!r) return;
  c.fig(figure(`${target} / container ${d.metric}`, r, '×', target));
  const decides = ruleAccel(h, accel) === 'kvm';
  c.part({
    label,
    verdict: atMost(r, t.restoredReadyFactor),
    evidence: `${fmtIv(r, '×')} the container's ${d.metric} (bound ${t.restoredReadyFactor}×)${decides ? '' : ' — context: not measured on KVM'}.`,
    bearing: decides ? 'decides' : 'context',
    accelerator: accel,
    targets: [target, 'container'],
    margins: [margin(r, t.restoredReadyFactor, vm.found, ct.found)],
  });
}

function memoryPart(c: ClaimBuilder, h: HostData, t: T, accel: 'kvm' | 'tcg'): void {
  const plain = `${accel}-restore`;
  const template = `${accel}-restore-template`;
  if (!h.has('density', template)) return;
  const label = `a template shares guest RAM (${accel})`;
  const a = h.metric('density', template, 'pssPerInstanceBytes');
  const b = h.metric('density', plain, 'pssPerInstanceBytes');
  if (!a.ok || !b.ok) {
    c.missing({ label, accelerator: accel, targets: [template, plain] }, !a.ok ? a.reason : !b.ok ? b.reason : '', 'density', [plain, template]);
    return;
  }
  c.use(a.found, b.found);
  const r = ratioBetween(a.found, b.found);
  if (!r) return;
  c.fig(figure('PSS per instance, template / none', r, '×', template));
  const decides = ruleAccel(h, accel) === 'kvm';
  c.part({
    label,
    verdict: atMost(r, t.templateMemoryRatio),
    evidence: `a restored VM sharing a template costs ${fmtIv(r, '×')} the PSS of one without (bound ${t.templateMemoryRatio}×)${decides ? '' : ' — context: not measured on KVM'}.`,
    bearing: decides ? 'decides' : 'context',
    accelerator: accel,
    targets: [template, plain],
    margins: [margin(r, t.templateMemoryRatio, a.found, b.found)],
  });
}
