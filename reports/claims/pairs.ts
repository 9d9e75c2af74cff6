/**
 * The image pairs: a container and the VMs that run the same workload image, what C1, C3, C4 and C5
 * compare (and C9's two container images), with the words that state how pairs are judged, and the
 * VM parts every claim about VMs shares: a VM that was not measured, and the kvm part a claim waits for.
 */
import { targetWithImage, vmTargetName, type ImageName } from '../../drivers/index.js';
import type { HostData, MetricFound } from './data.js';
import { ACCELS, NESTED_KVM, type Accel, type ClaimBuilder } from './judge.js';

/** A container and the VMs that run the same workload image. */
export interface Pair {
  image: ImageName;
  /** in reports: "lean pair", "Debian pair" */
  name: string;
  container: string;
  vm: Readonly<Record<Accel, string>>;
}

/** The lean pair (tsbench's lean image in a container and in the lean microVM). */
export const LEAN_PAIR: Pair = { image: 'lean', name: 'lean pair', container: 'container', vm: { kvm: 'kvm', tcg: 'tcg' } };

/** The lean pair, then the Debian pair (the Debian image in a container and in the stock VM with Debian's kernel, initrd and systemd). */
export const PAIRS: readonly Pair[] = [
  LEAN_PAIR,
  {
    image: 'debian',
    name: 'Debian pair',
    container: targetWithImage('container', 'debian'),
    vm: { kvm: targetWithImage(vmTargetName('kvm', 'cloud'), 'debian'), tcg: targetWithImage(vmTargetName('tcg', 'cloud'), 'debian') },
  },
];

/** An image pair's name in reports: "lean pair", "Debian pair". */
export function pairName(image: ImageName): string {
  return PAIRS.find((p) => p.image === image)?.name ?? `${image} pair`;
}

/** "Debian pair: container@debian vs kvm-cloud@debian" (one VM) or "… vs tcg-cloud@debian / kvm-cloud@debian". */
function pairWords(pair: Pair, accel?: Accel): string {
  return `${pair.name}: ${pair.container} vs ${accel ? pair.vm[accel] : `${pair.vm.tcg} / ${pair.vm.kvm}`}`;
}

/** A part's label for a pair: the lean pair's as before pairs ("… (kvm)"), another pair's naming it ("… (kvm; Debian pair: container@debian vs kvm-cloud@debian)"). */
export function pairLabel(label: string, pair: Pair, accel?: Accel): string {
  if (pair.image === 'lean') return accel ? `${label} (${accel})` : label;
  return `${label} (${accel ? `${accel}; ` : ''}${pairWords(pair, accel)})`;
}

/**
 * The pairs a claim is judged on, from the targets of `scenario` the results hold: every pair one of
 * whose targets is there, and the lean pair also when none is (so that nothing measured reads "not measured").
 */
export function pairsIn(h: HostData, scenario: string): Pair[] {
  const held = (p: Pair): boolean => h.has(scenario, p.container) || ACCELS.some((a) => h.has(scenario, p.vm[a]));
  const others = PAIRS.filter((p) => p !== LEAN_PAIR && held(p));
  return held(LEAN_PAIR) || others.length === 0 ? [LEAN_PAIR, ...others] : others;
}

/** The part of one accelerator whose figure is missing: not measured, with why and the run that would measure it, when the files have that target at all. */
export function vmNotMeasured(c: ClaimBuilder, h: HostData, label: string, scenario: string, accel: Accel, reason: string, pair: Pair = LEAN_PAIR): void {
  const vm = pair.vm[accel];
  if (!h.has(scenario, vm)) return;
  c.missing({ label: pairLabel(label, pair, accel), accelerator: accel, targets: [vm], image: pair.image }, reason, scenario, ['native', pair.container, vm]);
}

/**
 * For each VM of a pair (kvm, then tcg) that has `metric` in `scenario`: records it read and calls
 * `judge`; a VM the files have but without the metric gets its not-measured part (vmNotMeasured).
 */
export function eachVm(
  c: ClaimBuilder,
  h: HostData,
  o: { label: string; scenario: string; metric: string; pair: Pair },
  judge: (accel: Accel, target: string, vm: MetricFound) => void,
): void {
  for (const accel of ACCELS) {
    const target = o.pair.vm[accel];
    const vm = h.metric(o.scenario, target, o.metric);
    if (!vm.ok) vmNotMeasured(c, h, o.label, o.scenario, accel, vm.reason, o.pair);
    else {
      c.use(vm.found);
      judge(accel, target, vm.found);
    }
  }
}

/**
 * When no VM part of the pair decides with a measured verdict, adds the deciding "not
 * measured" part for KVM: the claim's VM half waits for a kvm run. `pair` for claims
 * judged on image pairs; without it the lean targets, and the part names no pair.
 */
export function requireVm(c: ClaimBuilder, label: string, scenario: string, run: readonly string[], tcgWhy: string, pair?: Pair): void {
  const image = pair?.image;
  const vmParts = c.parts.filter((p) => p.accelerator !== undefined && p.label.startsWith(label) && p.image === image);
  if (vmParts.some((p) => (p.bearing ?? 'decides') === 'decides' && p.verdict !== 'not measured')) return;
  // A kvm part that decides nothing was measured nested under TCG: the claim's VM half still waits for a real KVM host.
  if (vmParts.some((p) => p.accelerator === 'kvm' && p.bearing !== 'context')) return;
  const tcgContext = vmParts.find((p) => p.bearing === 'context');
  const kvm = (pair ?? LEAN_PAIR).vm.kvm;
  const where = tcgContext?.accelerator === 'kvm' ? `only as ${NESTED_KVM}` : 'only under TCG';
  const reason = tcgContext ? `measured ${where}, which cannot decide it (${tcgWhy})` : `no \`${scenario}\` result for ${kvm}`;
  c.missing({ label: pairLabel(label, pair ?? LEAN_PAIR, 'kvm'), accelerator: 'kvm', targets: [kvm], image }, reason, scenario, run);
}

// ---- in words ------------------------------------------------------------------

/** The image pairs in words. */
const PAIRS_IN_WORDS = `the lean pair (tsbench's lean image: container vs the lean microVM, tcg/kvm) and the Debian pair (Debian bookworm with systemd: container@debian vs the stock VM that boots Debian's kernel, its initrd and systemd, tcg-cloud@debian/kvm-cloud@debian)`;

/** How the image pairs' parts combine into a claim's verdict, stated once (RULE_TEXTS, docs/claims.md). */
export const PAIR_RULE = `Every pair's parts decide: the claim is confirmed only if every pair judged confirms it, refuted if any pair refutes it, not measured if a pair judged lacks a part it needs (its container, or its kvm VM where TCG cannot decide), inconclusive otherwise.`;

/** When a claim's pairs are judged, in words: the pairs the results hold. */
const PAIRS_HELD = 'the results hold (a pair is judged when one of its targets ran the scenario; the lean pair also when none did)';

/** The image-pair sentence of a claim judged on pairs; `held` says when a pair is judged. */
export function pairRule(held: string = PAIRS_HELD): string {
  return `Image pairs: the rule is applied to each image pair ${held} — ${PAIRS_IN_WORDS} — on that pair's own targets, its parts labelled with the pair (the lean pair's as before pairs), the TCG rules applying within each pair. ${PAIR_RULE}`;
}

/** The end of a brief rule of a claim judged on pairs. */
export const PAIRS_BRIEF = ' Each image pair (lean; Debian) is judged alike and decides: see "Image pairs".';

/** The section of docs/claims.md on image pairs (doc.ts). */
export const IMAGE_PAIRS_TEXT = `C1, C3, C4 and C5 compare a container with a VM running the same workload image, and are judged on each image pair: ${PAIRS_IN_WORDS}. A pair is judged when the results hold one of its targets in the claim's scenario (C4: when some result records the image's sizes); the lean pair also when no pair is there, so that nothing measured reads "not measured". Each pair's parts are judged by the claim's rule on that pair's own targets and labelled with the pair ("VM takes much longer (kvm; Debian pair: container@debian vs kvm-cloud@debian)"; the lean pair's labels are those from before pairs), and TCG never decides for KVM within a pair, as below. ${PAIR_RULE} A verdict's \`pairs\` names the pairs whose parts carry its verdict: the pair that refuted it, or every pair that confirmed it.`;
