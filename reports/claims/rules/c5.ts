/** C5: more containers than VMs fit on the same host. Judged on each image pair. */
import { guestUsed, type HostData, type Interval } from '../data.js';
import { figure, fmtIv, say, type ClaimBuilder, type ClaimRule, type ThresholdDef, type Thresholds } from '../judge.js';
import { eachVm, LEAN_PAIR, PAIRS_BRIEF, pairLabel, pairRule, pairsIn, requireVm, type Pair } from '../pairs.js';
import type { ClaimPart, Verdict } from '../types.js';

export const C5_THRESHOLDS = {
  moreFitFactor: { value: 2, unit: '×', claims: ['C5'], meaning: '"more fit" = a VM needs at least this many times a container\'s host memory per instance.' },
} as const satisfies Record<string, ThresholdDef>;

type T = Thresholds<keyof typeof C5_THRESHOLDS>;

export const C5: ClaimRule<keyof T> = {
  id: 'C5',
  thresholds: C5_THRESHOLDS,
  text: (t) => ({
    inWords: `Idle instances are bounded by host memory, so "more fit" = a VM needs at least ${t.moreFitFactor}× a container's host memory per instance (density pssPerInstanceBytes, N instances at once), i.e. at least ${say(t.moreFitFactor, 'twice')} as many containers fit: confirmed when the VM's CI lower end is at least ${t.moreFitFactor}× the container's upper end, refuted when the VM's upper end is below ${t.moreFitFactor}× the container's lower end. Under TCG the PSS includes TCG's translation cache, so a TCG VM confirms only on its guest's memory in use (memory scenario, same image and idle job: a lower bound of any VM) and refutes on its PSS. Startup p50/p99 under concurrency and the MemAvailable drop are shown beside. Where the run recorded it (density vmmOverheadPerInstanceBytes: qemu's PSS less its guest RAM's, per instance), the evidence gives the VMM's own overhead beside the total, and a context part, "counting only the VMM, more containers than VMs fit", applies the same test to it (overhead lower end ≥ ${t.moreFitFactor}× the container's upper end → confirmed; upper end < ${t.moreFitFactor}× its lower end → refuted): guest memory can be shared or handed back (KSM, ballooning, free page reporting), the VMM's own cost per instance cannot. It never decides; under TCG the overhead includes TCG's translation buffer. ${pairRule()}`,
    brief: `VM per instance ≥ **${t.moreFitFactor}×** container per instance (VM lower ≥ ${t.moreFitFactor} × container upper → confirmed; VM upper < ${t.moreFitFactor} × container lower → refuted). TCG: as C3. Context: the same test on the VMM overhead per instance alone.${PAIRS_BRIEF}`,
    why: `Idle instances are bounded by memory; "more fit" = at least ${say(t.moreFitFactor, 'twice')} as many, not a few percent. \`instances\` is not used: by default the scenario starts at most 4 VMs. The VMM overhead is the part of a VM's cost no guest-memory sharing removes.`,
    tcg: `"more fit": as C3 — a TCG VM confirms only on its guest's memory in use (memory scenario) and refutes only on its PSS per instance; its VMM overhead includes the translation buffer (context only).`,
  }),
  judge(c, h, t) {
    for (const pair of pairsIn(h, 'density')) judgePair(c, h, pair, t);
  },
};

/** C5 on one image pair: host memory per idle instance of its container against its VMs'. */
function judgePair(c: ClaimBuilder, h: HostData, pair: Pair, t: T): void {
  const ct = h.metric('density', pair.container, 'pssPerInstanceBytes');
  if (!ct.ok) {
    const part = { label: pairLabel('more containers than VMs fit', pair), targets: [pair.container], image: pair.image };
    c.missing(part, ct.reason, 'density', ['native', pair.container, pair.vm.kvm]);
    return;
  }
  c.use(ct.found);
  const extras = (target: string): void => {
    for (const [m, label, unit] of [
      ['memAvailableDeltaPerInstanceBytes', 'MemAvailable drop per instance', 'bytes'],
      ['startupP50Ms', 'startup p50 under concurrency', 'ms'],
      ['startupP99Ms', 'startup p99 under concurrency', 'ms'],
      ['instances', 'instances at once', 'count'],
    ] as const) {
      const x = h.metric('density', target, m);
      if (x.ok) c.fig(figure(label, x.found.interval, unit, target));
    }
  };
  const ctIv = ct.found.interval;
  c.fig(figure('PSS per instance', ctIv, 'bytes', pair.container));
  extras(pair.container);
  const label = 'more containers than VMs fit';
  eachVm(c, h, { label, scenario: 'density', metric: 'pssPerInstanceBytes', pair }, (accel, target, vm) => {
    const vmIv = vm.interval;
    c.fig(figure('PSS per instance', vmIv, 'bytes', target));
    extras(target);
    const refuted = vmIv.hi < t.moreFitFactor * ctIv.lo;
    let confirmOn: Interval | undefined = vmIv;
    let boundWords = '';
    if (accel === 'tcg') {
      confirmOn = undefined;
      const mem = h.metric('memory', target, 'guestAvailableBytes');
      if (mem.ok) {
        const used = guestUsed(mem.found);
        if (used) {
          c.use(mem.found);
          c.fig(figure('guest memory in use (lower bound of any VM)', used, 'bytes', target));
          confirmOn = used;
          boundWords = ` — judged under TCG: its guest alone has ${fmtIv(used, 'bytes')} in use, which any VM's host must back whatever the accelerator`;
        }
      }
      if (!confirmOn)
        boundWords = ' — judged under TCG, whose PSS includes its translation cache, and no guest memory figures (memory scenario) bound it from below';
    }
    const verdict: Verdict = confirmOn && confirmOn.lo >= t.moreFitFactor * ctIv.hi ? 'confirmed' : refuted ? 'refuted' : 'inconclusive';
    // The VMM's own overhead per instance, where the run split it (from the same file as the PSS).
    const overhead = h.metric('density', target, 'vmmOverheadPerInstanceBytes');
    let alone: ClaimPart | undefined;
    let overheadWords = '';
    if (overhead.ok && overhead.found.source === vm.source) {
      const o = overhead.found.interval;
      const tcgNote = accel === 'tcg' ? ", TCG's translation buffer included" : '';
      c.fig(figure('VMM overhead per instance (PSS − guest RAM)', o, 'bytes', target));
      const v: Verdict = o.lo >= t.moreFitFactor * ctIv.hi ? 'confirmed' : o.hi < t.moreFitFactor * ctIv.lo ? 'refuted' : 'inconclusive';
      alone = {
        label: pairLabel('counting only the VMM, more containers than VMs fit', pair, accel),
        verdict: v,
        evidence: `a container takes ${fmtIv(ctIv, 'bytes')} per instance; the ${accel} VMM alone (qemu's PSS less its guest RAM${tcgNote}) ${fmtIv(o, 'bytes')}, against ${t.moreFitFactor}× the container's.`,
        bearing: 'context',
        accelerator: accel,
        targets: [pair.container, target],
        image: pair.image,
      };
      const relation = v === 'confirmed' ? 'at least' : v === 'refuted' ? 'under' : 'not clearly at least';
      overheadWords = ` Of the VM's, ${fmtIv(o, 'bytes')} is the VMM's own overhead${tcgNote}: ${relation} ${t.moreFitFactor}× a container on its own (context).`;
    }
    c.part({
      label: pairLabel(label, pair, accel),
      verdict,
      evidence: `a container takes ${fmtIv(ctIv, 'bytes')} per instance, a ${pair === LEAN_PAIR ? accel : target} VM ${fmtIv(vmIv, 'bytes')}${boundWords}.${overheadWords}`,
      accelerator: accel,
      targets: [pair.container, target],
      image: pair.image,
    });
    if (alone) c.part(alone);
  });
  requireVm(c, label, 'density', ['native', pair.container, pair.vm.kvm], '', pair);
}
