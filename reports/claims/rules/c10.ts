/** C10: running containers inside a VM combines both worlds at little extra cost. */
import { differenceBetween, ratioBetween } from '../data.js';
import {
  ACCELS,
  atMost,
  figure,
  fmt,
  fmtIv,
  margin,
  ruleAccel,
  say,
  tcgBearing,
  underNote,
  type ClaimRule,
  type ThresholdDef,
  type Thresholds,
} from '../judge.js';
import { requireVm } from '../pairs.js';
import type { Margin, Verdict } from '../types.js';

export const C10_THRESHOLDS = {
  littleExtraStartupMs: {
    value: 100,
    unit: 'ms',
    claims: ['C10'],
    meaning: '"little extra cost" in startup = at most this many ms added to the VM\'s time to ready.',
  },
  littleExtraCpuRatio: { value: 1.1, unit: '×', claims: ['C10'], meaning: '"little extra cost" in CPU work = at most this ratio to the VM alone.' },
} as const satisfies Record<string, ThresholdDef>;

/** C10's thresholds, and C1's bound on a container's start that its words compare with. */
type T = Thresholds<keyof typeof C10_THRESHOLDS | 'containerReadyMs'>;

export const C10: ClaimRule<keyof T> = {
  id: 'C10',
  thresholds: C10_THRESHOLDS,
  text: (t) => ({
    inWords: `container-in-VM vs the same VM alone. Startup: the container may add at most ${t.littleExtraStartupMs} ms to the median time to ready (startup toReadyMs; bootstrap CI of the difference of medians) — below a fast VM boot (Firecracker's ≤ 125 ms) and well under ${say(t.containerReadyMs, 'a second')}; a ratio would be flattered by a slow TCG boot. CPU: cpu workMs at most ${t.littleExtraCpuRatio}× the VM alone (bootstrap CI of the ratio of medians). Confirmed when the whole interval is within the bound, refuted when wholly beyond. Under TCG the container's own kernel work is emulated too, which overstates its cost: a TCG confirmation decides (labelled tcg), a TCG refutation is context and the part waits for kvm.`,
    brief: `startup: the container adds **≤ ${t.littleExtraStartupMs} ms** to the VM's time to ready (bootstrap CI of the difference of medians); cpu: **≤ ${t.littleExtraCpuRatio}×** the VM alone. Under TCG: see above.`,
    why: `An absolute bound for startup: a ratio would be flattered by a slow (TCG) boot. ${t.littleExtraStartupMs} ms is below a fast VM boot (Firecracker's ≤ 125 ms) and well under C1's ${say(t.containerReadyMs, 'second')}.`,
    tcg: `"little extra cost": under TCG the container's own kernel work is emulated, overstating it, so a TCG confirmation decides and a TCG refutation is context.`,
  }),
  judge(c, h, t) {
    const dims = [
      { scenario: 'startup', metric: 'toReadyMs', label: 'little extra startup' },
      { scenario: 'cpu', metric: 'workMs', label: 'little extra CPU work' },
    ] as const;
    for (const d of dims) {
      for (const accel of ACCELS) {
        const nested = `container-in-${accel}`;
        const partLabel = `${d.label} (${accel})`;
        if (!h.has(d.scenario, nested) && !h.has(d.scenario, accel)) continue;
        const a = h.metric(d.scenario, nested, d.metric);
        const b = h.metric(d.scenario, accel, d.metric);
        if (!a.ok || !b.ok) {
          const why = !a.ok ? a.reason : !b.ok ? b.reason : '';
          c.missing({ label: partLabel, accelerator: accel, targets: [accel, nested] }, why, d.scenario, [accel, nested]);
          continue;
        }
        c.use(a.found, b.found);
        c.fig(figure(d.metric, a.found.interval, 'ms', nested));
        c.fig(figure(d.metric, b.found.interval, 'ms', accel));
        let verdict: Verdict;
        let words: string;
        let judged: Margin;
        if (d.scenario === 'startup') {
          const diff = differenceBetween(a.found, b.found);
          if (!diff) continue;
          c.fig(figure('extra time to ready', diff, 'ms', nested));
          verdict = atMost(diff, t.littleExtraStartupMs);
          judged = margin(diff, t.littleExtraStartupMs, a.found, b.found);
          words = `the container adds ${fmtIv(diff, 'ms')} to a ${accel} VM's ${fmt(b.found.interval.value, 'ms')} time to ready (bound ${t.littleExtraStartupMs} ms)`;
        } else {
          const r = ratioBetween(a.found, b.found);
          if (!r) continue;
          c.fig(figure('work time / VM alone', r, '×', nested));
          verdict = atMost(r, t.littleExtraCpuRatio);
          judged = margin(r, t.littleExtraCpuRatio, a.found, b.found);
          words = `fixed work takes ${fmtIv(r, '×')} the time it takes in the ${accel} VM alone (bound ${t.littleExtraCpuRatio}×)`;
        }
        const bearing = tcgBearing(ruleAccel(h, accel), verdict, 'refuted');
        const note = underNote(h, accel, bearing, {
          tcg: ' — under TCG',
          lead: ' — ',
          context: ", which emulates the container's kernel work and overstates it",
        });
        c.part({ label: partLabel, verdict, evidence: `${words}${note}.`, bearing, accelerator: accel, targets: [accel, nested], margins: [judged] });
      }
      const kvmRun = d.scenario === 'cpu' ? ['native', 'kvm', 'container-in-kvm'] : ['kvm', 'container-in-kvm'];
      requireVm(c, d.label, d.scenario, kvmRun, "TCG emulates the container's kernel work too, overstating its cost");
    }
  },
};
