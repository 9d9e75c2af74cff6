/** C2: a container runs at near-native speed; KVM is close behind; TCG is far slower. */
import {
  atLeast,
  atMost,
  figure,
  fmt,
  fmtIv,
  margin,
  NESTED_KVM,
  NESTED_WORDS,
  pct,
  ruleAccel,
  say,
  type Accel,
  type ClaimRule,
  type ThresholdDef,
} from '../judge.js';

export const C2_THRESHOLDS = {
  nearNativeRatio: { value: 1.05, unit: '×', claims: ['C2', 'C11'], meaning: '"near-native" / "no extra CPU" = at most this ratio to native.' },
  closeBehindRatio: { value: 1.1, unit: '×', claims: ['C2'], meaning: '"close behind" (KVM) = at most this ratio to native.' },
  farSlowerRatio: { value: 2, unit: '×', claims: ['C2'], meaning: '"far slower" (TCG) = at least this ratio to native.' },
} as const satisfies Record<string, ThresholdDef>;

export const C2: ClaimRule<keyof typeof C2_THRESHOLDS> = {
  id: 'C2',
  thresholds: C2_THRESHOLDS,
  text: (t) => ({
    inWords: `cpu workMs, ratio of medians to native with its bootstrap 95 % CI. Container "near-native": confirmed when the whole CI is at or below ${t.nearNativeRatio}× (within ${pct(t.nearNativeRatio)}; faster than native counts as near), refuted when the whole CI is above. KVM "close behind": the same with ${t.closeBehindRatio}× (within ${pct(t.closeBehindRatio)}); measured only by a kvm target. TCG "far slower": confirmed when the whole CI is at or above ${t.farSlowerRatio}×, refuted when it is wholly below. Each part is judged on its own target; TCG never stands in for KVM.`,
    brief: `container **≤ ${t.nearNativeRatio}×** (near-native = within ${pct(t.nearNativeRatio)}; faster than native counts as near); KVM **≤ ${t.closeBehindRatio}×** ("close behind"); TCG **≥ ${t.farSlowerRatio}×** ("far slower").`,
    why: `Within ${pct(t.nearNativeRatio)} is the usual reading of near-native; "close behind" must be looser than "near-native" but still close (${say((t.closeBehindRatio - 1) / (t.nearNativeRatio - 1), 'twice')} its tolerance); "far" is at least ${say(t.farSlowerRatio, 'double')}.`,
    tcg: `names KVM: the KVM part is measured only by a \`kvm\` target; TCG has a part of its own ("far slower").`,
  }),
  judge(c, h, t) {
    const parts: { target: string; label: string; accel?: Accel; bound: number; judge: typeof atMost; words: string }[] = [
      { target: 'container', label: 'container near-native', bound: t.nearNativeRatio, judge: atMost, words: `within ${pct(t.nearNativeRatio)}` },
      { target: 'kvm', label: 'KVM close behind', accel: 'kvm', bound: t.closeBehindRatio, judge: atMost, words: `within ${pct(t.closeBehindRatio)}` },
      { target: 'tcg', label: 'TCG far slower', accel: 'tcg', bound: t.farSlowerRatio, judge: atLeast, words: `at least ${t.farSlowerRatio}×` },
    ];
    for (const p of parts) {
      const r = h.ratioToNative('cpu', p.target, 'workMs');
      const base = { label: p.label, targets: [p.target], accelerator: p.accel };
      if (!r.ok) {
        c.missing(base, r.reason, 'cpu', ['native', p.target]);
        continue;
      }
      c.use(r.found);
      c.fig(figure('work time', r.found.interval, 'ms', p.target));
      c.fig(figure('work time / native', r.found.ratio, '×', p.target));
      // "KVM close behind" is about KVM's speed: a kvm target nested under TCG is context, and the part waits for a KVM host.
      const nestedKvm = p.accel !== undefined && ruleAccel(h, p.accel) !== p.accel;
      c.part({
        ...base,
        verdict: p.judge(r.found.ratio, p.bound),
        evidence: `fixed work takes ${fmtIv(r.found.ratio, '×')} native's time (${fmt(r.found.interval.value, 'ms')}); the rule asks ${p.words}${nestedKvm ? `; measured ${NESTED_WORDS}: no KVM figure` : ''}.`,
        bearing: nestedKvm ? 'context' : undefined,
        margins: [margin(r.found.ratio, p.bound, r.found)],
      });
      if (nestedKvm) c.missing(base, `measured only as ${NESTED_KVM}, which cannot decide it`, 'cpu', ['native', p.target]);
    }
    const native = h.metric('cpu', 'native', 'workMs');
    if (native.ok) c.fig(figure('work time', native.found.interval, 'ms', 'native'));
  },
};
