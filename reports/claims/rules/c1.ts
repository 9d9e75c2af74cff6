/** C1: a container starts in well under a second; a VM takes much longer. Judged on each image pair. */
import { targetWithImage } from '../../../drivers/index.js';
import { ratioBetween, type HostData, type MetricFound } from '../data.js';
import {
  atLeast,
  atMost,
  figure,
  fmt,
  fmtIv,
  margin,
  PEERS,
  ruleAccel,
  say,
  tcgBearing,
  underNote,
  type ClaimBuilder,
  type ClaimRule,
  type ThresholdDef,
  type Thresholds,
} from '../judge.js';
import { eachVm, LEAN_PAIR, PAIRS_BRIEF, pairLabel, pairRule, pairsIn, requireVm, type Pair } from '../pairs.js';

export const C1_THRESHOLDS = {
  containerReadyMs: { value: 1000, unit: 'ms', claims: ['C1'], meaning: "a container's median time to ready must be below this (its CI's upper end)." },
  muchLongerFactor: { value: 10, unit: '×', claims: ['C1'], meaning: '"much longer" = a VM\'s time to ready at least this many times the container\'s.' },
} as const satisfies Record<string, ThresholdDef>;

type T = Thresholds<keyof typeof C1_THRESHOLDS>;

export const C1: ClaimRule<keyof typeof C1_THRESHOLDS> = {
  id: 'C1',
  thresholds: C1_THRESHOLDS,
  text: (t) => ({
    inWords: `The container part is confirmed when the upper end of the 95 % CI of the container's median time to ready (startup toReadyMs) is below ${t.containerReadyMs} ms, refuted when the lower end is above it. The VM part is confirmed when a VM's median time to ready is at least ${t.muchLongerFactor}× the container's with the whole bootstrap interval of that ratio at or above ${t.muchLongerFactor}×, refuted when the whole interval is below. A TCG boot is slower than a KVM boot, so under TCG only a refutation or an inconclusive result decides; a TCG confirmation is context and the VM part waits for kvm. Peer runtimes are context. ${pairRule()}`,
    brief: `container: CI upper end < **${fmt(t.containerReadyMs, 'ms')}**; VM: VM ÷ container time to ready ≥ **${t.muchLongerFactor}×** (bootstrap CI of the ratio). Under TCG: see above. Peers: context.${PAIRS_BRIEF}`,
    why: `The claim's own "under ${say(t.containerReadyMs, 'a second')}". "Much longer" = ${say(t.muchLongerFactor, 'an order of magnitude')}: anything less would not be described as a whole kernel boot vs a process start.`,
    tcg: `"a VM takes much longer": a TCG confirmation is context; a TCG refutation decides (a KVM boot is faster still).`,
  }),
  judge(c, h, t) {
    for (const pair of pairsIn(h, 'startup')) judgePair(c, h, pair, t);
  },
};

/** A target's time to ready and, where recorded, to exit, as figures. */
function startupFigures(c: ClaimBuilder, h: HostData, target: string, ready: MetricFound): void {
  c.fig(figure('time to ready', ready.interval, 'ms', target));
  const exit = h.metric('startup', target, 'toExitMs');
  if (exit.ok) c.fig(figure('time to exit', exit.found.interval, 'ms', target));
}

/** C1 on one image pair: its container under a second, its VMs much longer. */
function judgePair(c: ClaimBuilder, h: HostData, pair: Pair, t: T): void {
  const containerPart = (target: string, bearing: 'decides' | 'context'): MetricFound | undefined => {
    const base = { label: pairLabel(`${target} ready in < ${fmt(t.containerReadyMs, 'ms')}`, pair), bearing, targets: [target], image: pair.image };
    const ready = h.metric('startup', target, 'toReadyMs');
    if (!ready.ok) {
      c.missing(base, ready.reason, 'startup', ['native', target]);
      return undefined;
    }
    c.use(ready.found);
    startupFigures(c, h, target, ready.found);
    const iv = ready.found.interval;
    c.part({
      ...base,
      verdict: atMost(iv, t.containerReadyMs),
      evidence: `ready in ${fmtIv(iv, 'ms')} against a bound of ${fmt(t.containerReadyMs, 'ms')}.`,
      margins: [margin(iv, t.containerReadyMs, ready.found)],
    });
    return ready.found;
  };
  const ct = containerPart(pair.container, 'decides');
  for (const p of PEERS) {
    const peer = targetWithImage(p, pair.image);
    if (h.has('startup', peer)) containerPart(peer, 'context');
  }

  const label = 'VM takes much longer';
  eachVm(c, h, { label, scenario: 'startup', metric: 'toReadyMs', pair }, (accel, target, vm) => {
    startupFigures(c, h, target, vm);
    const r = ct ? ratioBetween(vm, ct) : undefined;
    if (!ct || !r) return;
    c.fig(figure(`${target} / ${pair.container} time to ready`, r, '×', target));
    const verdict = atLeast(r, t.muchLongerFactor);
    const bearing = tcgBearing(ruleAccel(h, accel), verdict, 'confirmed');
    const note = underNote(h, accel, bearing, {
      tcg: ' under TCG emulation',
      lead: ', ',
      context: ', which boots slower than KVM: this says nothing about a KVM VM',
    });
    const vmWords = pair === LEAN_PAIR ? `a ${accel} VM` : `a ${target} VM`;
    c.part({
      label: pairLabel(label, pair, accel),
      verdict,
      evidence: `${vmWords} is ready in ${fmtIv(vm.interval, 'ms')}, ${fmtIv(r, '×')} the container's${note}.`,
      bearing,
      accelerator: accel,
      targets: [target, pair.container],
      margins: [margin(r, t.muchLongerFactor, vm, ct)],
      image: pair.image,
    });
  });
  requireVm(c, label, 'startup', ['native', pair.container, pair.vm.kvm], 'a TCG boot is slower than a KVM boot', pair);
}
