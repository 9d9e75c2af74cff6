/**
 * C13: gVisor gives VM-like isolation with container-like startup and footprint, at a price on
 * system-call-heavy work. Judged on `runsc` (gVisor's default platform); `runsc-kvm` beside it as context.
 */
import { derived, guestUsed, type Interval, type MetricFound } from '../data.js';
import { ACCELS, atLeast, atMost, figure, fmt, fmtIv, margin, say, type ClaimBuilder, type ClaimRule, type ThresholdDef, type Thresholds } from '../judge.js';
import type { Verdict } from '../types.js';
import { ISOLATION_PROBES } from './c8.js';

export const C13_THRESHOLDS = {
  syscallMultiple: {
    value: 2,
    unit: '×',
    claims: ['C13'],
    meaning: (v: number) => `"a price on system calls" = a raw system call (syscall getppidNs) at least ${fmt(v, '×')} native's.`,
  },
} as const satisfies Record<string, ThresholdDef>;

/** C13's threshold, and C1's container bound its startup part reuses. */
type T = Thresholds<keyof typeof C13_THRESHOLDS | 'containerReadyMs'>;

/** gVisor's targets: the default platform decides, the KVM platform is context. */
const GVISOR = [
  { target: 'runsc', bearing: 'decides' },
  { target: 'runsc-kvm', bearing: 'context' },
] as const;

/** The syscall scenario's per-call costs beside the raw call that decides. */
const OTHER_CALLS = ['openReadCloseNs', 'mmapTouchNs', 'pipeRoundTripNs'] as const;

/** a − b for two intervals, widest (interval arithmetic). */
const minus = (a: Interval, b: Interval): Interval => ({ value: a.value - b.value, lo: a.lo - b.hi, hi: a.hi - b.lo });

export const C13: ClaimRule<keyof T> = {
  id: 'C13',
  thresholds: C13_THRESHOLDS,
  text: (t) => ({
    inWords: `Four parts, on runsc (gVisor's default platform; runsc-kvm judged alike as context where it ran). Startup "container-like": runsc's median time to ready (startup toReadyMs) with its 95 % CI upper end below ${fmt(t.containerReadyMs, 'ms')} (C1's container bound) → confirmed, lower end above it → refuted. Footprint "container-like": the extra host memory of one idle instance (memory footprintPssBytes minus native's, intervals from the medians' CIs) closer to the container's than to a VM's, i.e. 2 × runsc's extra below the container's extra plus the VM's: 2 × runsc's upper end below the sum of the lower ends → confirmed, 2 × its lower end above the sum of the upper ends → refuted; one part per VM accelerator that ran; under TCG the VM's lower end is the memory its guest has in use (guestTotalBytes − guestAvailableBytes, which every VM pays) and its upper end its PSS, which holds TCG's translation cache. "A price on system calls": the raw call's cost (syscall getppidNs) as a ratio to native with its bootstrap CI at or above ${fmt(t.syscallMultiple, '×')} → confirmed, wholly below → refuted; file open/read/close, anonymous mmap/touch/munmap and the pipe round trip are shown beside. "VM-like isolation": per isolation probe (processes, network, mounts, IPC, hostname), as C8 judges the container: runsc saw the host's marker in no sample while native, the control, saw it in every one → confirmed; runsc saw it in any sample → refuted; the control missed it → inconclusive.`,
    brief: `runsc: ready CI upper end < **${fmt(t.containerReadyMs, 'ms')}**; idle footprint's extra over native closer to the container's than to each VM's (2 × runsc < container + VM, on the intervals); raw syscall (getppidNs) ÷ native **≥ ${fmt(t.syscallMultiple, '×')}** (CI); every isolation probe blind to the host, native seeing it. runsc-kvm: context.`,
    why: `"Container-like startup" takes C1's own container bound, so gVisor is held to what a container is. "Closer to a container's than a VM's" is the claim's comparison, with no bound of its own. "A price" = ${say(t.syscallMultiple, 'double')} native's cost or more: a call that costs less extra than itself is no price a user notices. The probes are C8's, which a VM passes as well as a container.`,
    tcg: `The footprint part under TCG confirms only on the memory a VM's guest has in use (a lower bound every VM pays, as C3) and refutes on its PSS.`,
  }),
  judge(c, h, t) {
    for (const { target, bearing } of GVISOR) {
      if (bearing === 'context' && !['startup', 'syscall', 'memory', 'isolation'].some((s) => h.has(s, target))) continue;
      startupPart(c, target, bearing, t);
      memoryParts(c, target, bearing);
      syscallPart(c, target, bearing, t);
      isolationParts(c, target, bearing);
    }
  },
};

function startupPart(c: ClaimBuilder, target: string, bearing: 'decides' | 'context', t: T): void {
  const base = { label: `${target} starts like a container (ready < ${fmt(t.containerReadyMs, 'ms')})`, bearing, targets: [target] };
  const ready = c.host.metric('startup', target, 'toReadyMs');
  if (!ready.ok) {
    c.missing(base, ready.reason, 'startup', ['native', 'container', target]);
    return;
  }
  c.use(ready.found);
  c.fig(figure('time to ready', ready.found.interval, 'ms', target));
  for (const other of ['container', 'runc']) {
    const o = c.host.metric('startup', other, 'toReadyMs');
    if (o.ok && !c.figures.some((f) => f.target === other && f.label === 'time to ready')) c.fig(figure('time to ready', o.found.interval, 'ms', other));
  }
  const iv = ready.found.interval;
  c.part({
    ...base,
    verdict: atMost(iv, t.containerReadyMs),
    evidence: `ready in ${fmtIv(iv, 'ms')} against the container bound of ${fmt(t.containerReadyMs, 'ms')}.`,
    margins: [margin(iv, t.containerReadyMs, ready.found)],
  });
}

function memoryParts(c: ClaimBuilder, target: string, bearing: 'decides' | 'context'): void {
  const h = c.host;
  const label = `${target}'s footprint is closer to a container's than to a VM's`;
  const nat = h.metric('memory', 'native', 'footprintPssBytes');
  const ct = h.metric('memory', 'container', 'footprintPssBytes');
  const gv = h.metric('memory', target, 'footprintPssBytes');
  if (!nat.ok || !ct.ok || !gv.ok) {
    const why = !gv.ok ? gv.reason : !ct.ok ? ct.reason : !nat.ok ? nat.reason : '';
    c.missing({ label, bearing, targets: ['native', 'container', target] }, why, 'memory', ['native', 'container', target, 'tcg']);
    return;
  }
  c.use(nat.found, ct.found, gv.found);
  const gvExtra = minus(gv.found.interval, nat.found.interval);
  const ctExtra = minus(ct.found.interval, nat.found.interval);
  c.fig(figure('idle footprint (PSS)', gv.found.interval, 'bytes', target));
  if (!c.figures.some((f) => f.target === 'container' && f.label === 'idle footprint (PSS)'))
    c.fig(figure('idle footprint (PSS)', ct.found.interval, 'bytes', 'container'));
  let judged = 0;
  for (const accel of ACCELS) {
    const vm = h.metric('memory', accel, 'footprintPssBytes');
    if (!vm.ok) continue;
    c.use(vm.found);
    judged++;
    const vmPss = minus(vm.found.interval, nat.found.interval);
    // Under TCG only what the guest has in use is a floor every VM pays; the PSS (TCG's translation cache too) is the ceiling.
    const used: Interval | undefined = accel === 'tcg' ? guestUsed(vm.found) : vmPss;
    const floor = used?.lo;
    const verdict: Verdict =
      floor !== undefined && 2 * gvExtra.hi < ctExtra.lo + floor ? 'confirmed' : 2 * gvExtra.lo > ctExtra.hi + vmPss.hi ? 'refuted' : 'inconclusive';
    const under = accel === 'tcg' ? `; under TCG the VM's floor is its guest's memory in use, ${used ? fmtIv(used, 'bytes') : 'not recorded'}` : '';
    c.part({
      label: `${label} (${accel})`,
      verdict,
      evidence: `extra host memory over native: ${target} ${fmtIv(gvExtra, 'bytes')}, the container ${fmtIv(ctExtra, 'bytes')}, a ${accel} VM ${fmtIv(vmPss, 'bytes')}${under}.`,
      bearing,
      accelerator: accel,
      targets: ['native', 'container', target, accel],
    });
    addUsage(c, target, gv.found);
  }
  if (judged === 0)
    c.missing({ label, bearing, targets: [target, 'tcg'] }, 'no VM beside it in the memory results', 'memory', ['native', 'container', target, 'tcg']);
}

/** The cgroup's usage beside the PSS, when recorded. */
function addUsage(c: ClaimBuilder, target: string, gv: MetricFound): void {
  if (c.figures.some((f) => f.target === target && f.label === 'cgroup memory usage')) return;
  const usage = derived(gv, 'cgroupUsageBytes', (v) => v.cgroupUsageBytes);
  if (usage) c.fig(figure('cgroup memory usage', usage, 'bytes', target));
}

function syscallPart(c: ClaimBuilder, target: string, bearing: 'decides' | 'context', t: T): void {
  const base = { label: `${target}'s raw system call costs at least ${fmt(t.syscallMultiple, '×')} native's`, bearing, targets: ['native', target] };
  const r = c.host.ratioToNative('syscall', target, 'getppidNs');
  if (!r.ok) {
    c.missing(base, r.reason, 'syscall', ['native', 'container', target]);
    return;
  }
  c.use(r.found);
  c.fig(figure('getppid per call', r.found.interval, 'ns', target));
  c.fig(figure('getppidNs / native', r.found.ratio, '×', target));
  const beside: string[] = [];
  for (const m of OTHER_CALLS) {
    const o = c.host.ratioToNative('syscall', target, m);
    if (!o.ok) continue;
    c.fig(figure(`${m} / native`, o.found.ratio, '×', target));
    beside.push(`${m} ${fmtIv(o.found.ratio, '×')}`);
  }
  const ctr = c.host.ratioToNative('syscall', 'container', 'getppidNs');
  if (ctr.ok) c.fig(figure('getppidNs / native', ctr.found.ratio, '×', 'container'));
  c.part({
    ...base,
    verdict: atLeast(r.found.ratio, t.syscallMultiple),
    evidence: `a getppid costs ${fmtIv(r.found.interval, 'ns')}, ${fmtIv(r.found.ratio, '×')} native's${beside.length > 0 ? ` (beside it: ${beside.join(', ')})` : ''}; the rule asks at least ${fmt(t.syscallMultiple, '×')}.`,
    margins: [margin(r.found.ratio, t.syscallMultiple, r.found)],
  });
}

function isolationParts(c: ClaimBuilder, target: string, bearing: 'decides' | 'context'): void {
  for (const [metric, what] of ISOLATION_PROBES) {
    const label = `${target} does not see the host's ${what}`;
    const gv = c.host.metric('isolation', target, metric);
    const nat = c.host.metric('isolation', 'native', metric);
    if (!gv.ok || !nat.ok) {
      const why = !gv.ok ? gv.reason : !nat.ok ? `no native control: ${nat.reason}` : '';
      c.missing({ label, bearing, targets: ['native', target] }, why, 'isolation', ['native', target]);
      continue;
    }
    c.use(gv.found, nat.found);
    const seen = (st: { mean: number; n: number }): number => Math.round(st.mean * st.n);
    const verdict: Verdict = gv.found.stats.max > 0 ? 'refuted' : nat.found.stats.min < 1 ? 'inconclusive' : 'confirmed';
    c.part({
      label,
      verdict,
      evidence: `${target} saw the host's ${what} marker in ${seen(gv.found.stats)} of ${gv.found.stats.n} samples; native, the control, in ${seen(nat.found.stats)} of ${nat.found.stats.n}.`,
      bearing,
      targets: ['native', target],
    });
  }
}
