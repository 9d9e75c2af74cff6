/** C3: a container uses much less host memory than a VM. Judged on each image pair. */
import { derived, guestUsed, type HostData, type Interval, type MetricFound } from '../data.js';
import { figure, fmt, fmtIv, say, type Accel, type ClaimBuilder, type ClaimRule, type ThresholdDef, type Thresholds } from '../judge.js';
import { eachVm, PAIRS_BRIEF, pairLabel, pairRule, pairsIn, requireVm, type Pair } from '../pairs.js';
import type { ClaimPart, Verdict } from '../types.js';

export const C3_THRESHOLDS = {
  muchLessMemoryFactor: {
    value: 10,
    unit: '×',
    claims: ['C3'],
    meaning: '"much less memory" = the container\'s extra host memory at most 1/this of the VM\'s.',
  },
} as const satisfies Record<string, ThresholdDef>;

/** C3's thresholds, and C1's factor its words compare with. */
type T = Thresholds<keyof typeof C3_THRESHOLDS | 'muchLongerFactor'>;

export const C3: ClaimRule<keyof T> = {
  id: 'C3',
  thresholds: C3_THRESHOLDS,
  text: (t) => {
    const k = t.muchLessMemoryFactor;
    return {
      inWords: `Extra host memory of one idle instance = its footprintPssBytes minus native's, as an interval from the two medians' CIs. "Much less" = the container's extra at most 1/${k} of the VM's: confirmed when ${k}× the container's upper bound is at most the VM's lower bound, refuted when ${k}× the container's lower bound exceeds the VM's upper bound. Under TCG the qemu process also holds TCG's translation cache, which a KVM VM does not, so a TCG VM confirms only on a lower bound every VM pays whatever its accelerator — the memory its guest has in use (guestTotalBytes − guestAvailableBytes) — and refutes on its PSS. The VM's PSS is also split, where the run recorded it (vmmOverheadBytes), into the guest RAM its guest has touched (guestRamTouchedBytes, the PSS of qemu's guest RAM mapping) and the VMM's own overhead (PSS − guest RAM, Firecracker's "VMM overhead"): the evidence states both beside the total, and a context part, "much less memory than the VMM alone", judges the container's extra against the overhead alone by the same factor (${k}× the container's upper bound at most the overhead's lower bound → confirmed; ${k}× its lower bound above the overhead's upper bound → refuted). That part never decides — the claim is about the whole VM, guest included — but says whether the VM's cost is its guest's kernel and OS, as the claim has it, or the VMM itself. Under TCG the overhead includes TCG's translation buffer. ${pairRule()}`,
      brief: `container's extra ≤ **1/${k}** of the VM's extra: ${k} × container upper ≤ VM lower → confirmed; ${k} × container lower > VM upper → refuted. TCG: confirm on guest memory in use, refute on PSS. Context: the same test against the VMM overhead alone (PSS − guest RAM touched).${PAIRS_BRIEF}`,
      why: `"Much less" = ${say(k, 'an order of magnitude')}${k === t.muchLongerFactor ? ', as in C1' : ''}. Subtracting native leaves what the isolation layer adds. The overhead is not offset by native: the guest runs its own copy of the workload in its RAM, so native's share is in guest RAM. Splitting the VM's PSS shows whether its cost is its guest's memory (what the claim names: "its own kernel and OS") or the VMM itself; Firecracker states ≤ 5 MiB for its VMM alone.`,
      tcg: `"much less memory": a TCG VM confirms only on a lower bound that every VM pays whatever its accelerator — the memory its guest has in use (\`guestTotalBytes − guestAvailableBytes\` from the memory scenario), which the host must back — and refutes only on its PSS (an upper bound: it includes TCG's translation cache). Without guest figures a TCG VM cannot confirm (inconclusive). The VMM overhead under TCG includes the translation buffer, so its context part can flatter the claim there.`,
    };
  },
  judge(c, h, t) {
    for (const pair of pairsIn(h, 'memory')) judgePair(c, h, pair, t);
  },
};

/** a − b for two intervals, widest (interval arithmetic). */
const minus = (a: Interval, b: Interval): Interval => ({ value: a.value - b.value, lo: a.lo - b.hi, hi: a.hi - b.lo });

/** ", N× the container's" for the medians of two extras, when the container's is above 0. */
const times = (vm: Interval, ct: Interval): string => (ct.value > 0 ? `, ${fmt(vm.value / ct.value, '×')} the container's` : '');

/** Whether the container's extra (clamped at 0) is at most 1/k of `vm`'s: confirmed, refuted or inconclusive. */
function muchLess(k: number, ctExtra: Interval, vm: { lo: number; hi: number }, refuteOn: { hi: number } = vm): Verdict {
  const [lo, hi] = [Math.max(0, ctExtra.lo), Math.max(0, ctExtra.hi)];
  return k * hi <= vm.lo ? 'confirmed' : k * lo > refuteOn.hi ? 'refuted' : 'inconclusive';
}

/** C3 on one image pair: its container's extra host memory against its VMs'. */
function judgePair(c: ClaimBuilder, h: HostData, pair: Pair, t: T): void {
  const nat = h.metric('memory', 'native', 'footprintPssBytes');
  const ct = h.metric('memory', pair.container, 'footprintPssBytes');
  if (!nat.ok || !ct.ok) {
    const why = !ct.ok ? ct.reason : !nat.ok ? nat.reason : '';
    const part = { label: pairLabel('container vs VM memory', pair), targets: ['native', pair.container], image: pair.image };
    c.missing(part, why, 'memory', ['native', pair.container, pair.vm.kvm]);
    return;
  }
  c.use(nat.found, ct.found);
  const ctExtra = minus(ct.found.interval, nat.found.interval);
  if (!c.figures.some((f) => f.target === 'native' && f.label === 'idle footprint (PSS)'))
    c.fig(figure('idle footprint (PSS)', nat.found.interval, 'bytes', 'native'));
  c.fig(figure('idle footprint (PSS)', ct.found.interval, 'bytes', pair.container));
  c.fig(figure('extra over native', ctExtra, 'bytes', pair.container));
  const cg = h.metric('memory', pair.container, 'cgroupUsageBytes');
  if (cg.ok) c.fig(figure('cgroup memory usage', cg.found.interval, 'bytes', pair.container));
  const label = 'container uses much less memory than a VM';
  const k = t.muchLessMemoryFactor;
  eachVm(c, h, { label, scenario: 'memory', metric: 'footprintPssBytes', pair }, (accel, target, vm) => {
    const vmExtra = minus(vm.interval, nat.found.interval);
    c.fig(figure('idle footprint (PSS)', vm.interval, 'bytes', target));
    c.fig(figure('extra over native', vmExtra, 'bytes', target));
    const ctWords = `the container adds ${fmtIv(ctExtra, 'bytes')} over native`;
    const split = vmSplit(c, h, vm, accel, ctExtra, pair, k);
    const base = { label: pairLabel(label, pair, accel), accelerator: accel, targets: ['native', pair.container, target], image: pair.image };
    if (accel === 'kvm') {
      c.part({
        ...base,
        verdict: muchLess(k, ctExtra, vmExtra),
        evidence: `${ctWords}, a KVM VM ${fmtIv(vmExtra, 'bytes')}${times(vmExtra, ctExtra)}.${split.words}`,
      });
      if (split.part) c.part(split.part);
      return;
    }
    const used = guestUsed(vm);
    const bound = used ? minus(used, nat.found.interval) : undefined;
    if (used) c.fig(figure('guest memory in use (lower bound of any VM)', used, 'bytes', target));
    // Under TCG: confirmed only on the guest's memory in use, refuted on the PSS.
    const verdict = muchLess(k, ctExtra, bound ?? { lo: -Infinity, hi: Infinity }, vmExtra);
    const boundWords = bound
      ? `its guest alone has ${fmtIv(used as Interval, 'bytes')} in use, which any VM's host must back whatever the accelerator`
      : "no guest memory figures to bound it with, and TCG's own PSS includes its translation cache";
    c.part({
      ...base,
      verdict,
      evidence: `${ctWords}; a TCG VM adds ${fmtIv(vmExtra, 'bytes')}${times(vmExtra, ctExtra)} — judged under TCG: ${boundWords}.${split.words}`,
    });
    if (split.part) c.part(split.part);
  });
  requireVm(c, label, 'memory', ['native', pair.container, pair.vm.kvm], '', pair);
}

/**
 * C3's split of a VM's PSS, where its memory result has one: the guest RAM
 * touched and the VMM overhead as figures; the sentence the deciding part's
 * evidence ends with; and the context part that judges the container's extra
 * against the overhead alone, to be added after the deciding part. Nothing for
 * results without the split.
 */
function vmSplit(c: ClaimBuilder, h: HostData, vm: MetricFound, accel: Accel, ctExtra: Interval, pair: Pair, k: number): { words: string; part?: ClaimPart } {
  const target = pair.vm[accel];
  const guest = h.metric('memory', target, 'guestRamTouchedBytes');
  const overhead = h.metric('memory', target, 'vmmOverheadBytes');
  // Both from the file that gave the PSS: a split from another run would not add up to it.
  if (!guest.ok || !overhead.ok || guest.found.source !== vm.source || overhead.found.source !== vm.source) return { words: '' };
  const g = guest.found.interval;
  const o = overhead.found.interval;
  c.fig(figure('guest RAM touched', g, 'bytes', target));
  c.fig(figure('VMM overhead (PSS − guest RAM)', o, 'bytes', target));
  const share = derived(vm, 'guestRamShare', (v) =>
    v.guestRamTouchedBytes !== undefined && v.footprintPssBytes ? (100 * v.guestRamTouchedBytes) / v.footprintPssBytes : undefined,
  );
  if (share) c.fig(figure('guest RAM share of PSS', share, '%', target));
  const verdict = muchLess(k, ctExtra, o);
  const tcgNote = accel === 'tcg' ? ", TCG's translation buffer included" : '';
  const whose = share ? ` (${fmt(share.value, '%')} of it guest RAM)` : '';
  const relation = verdict === 'confirmed' ? 'under' : verdict === 'refuted' ? 'over' : 'not clearly under';
  return {
    words: ` Of the VM's ${fmt(vm.interval.value, 'bytes')} PSS${whose}, ${fmtIv(g, 'bytes')} is guest RAM its guest has touched and ${fmtIv(o, 'bytes')} the VMM's own overhead${tcgNote}; the container's extra is ${relation} 1/${k} of the overhead alone (context).`,
    part: {
      label: pairLabel('container uses much less memory than the VMM alone', pair, accel),
      verdict,
      evidence: `the container adds ${fmtIv(ctExtra, 'bytes')} over native; the ${accel} VMM alone (qemu's PSS less its guest RAM${tcgNote}) takes ${fmtIv(o, 'bytes')}, against ${k}× the container's extra (at most ${fmt(k * Math.max(0, ctExtra.hi), 'bytes')}).`,
      bearing: 'context',
      accelerator: accel,
      targets: ['native', pair.container, target],
      image: pair.image,
    },
  };
}
