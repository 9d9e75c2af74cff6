/** C7: cgroups cap a container's resources — a memory limit and a CPU quota hold. */
import { derived } from '../data.js';
import { atMost, figure, fmt, fmtIv, pct, PEERS, type ClaimRule, type ThresholdDef } from '../judge.js';
import type { Verdict } from '../types.js';

export const C7_THRESHOLDS = {
  cpuQuotaSlack: { value: 1.1, unit: '×', claims: ['C7'], meaning: 'the CPU quota holds when delivered CPUs are at most this many times the quota.' },
} as const satisfies Record<string, ThresholdDef>;

/** How many times its memory limit the limits scenario's hog keeps resident (bench/scenarios/limits.ts). */
const HOG_TIMES_LIMIT = 2;

export const C7: ClaimRule<keyof typeof C7_THRESHOLDS> = {
  id: 'C7',
  thresholds: C7_THRESHOLDS,
  text: (t) => ({
    inWords: `limits scenario. Memory: confirmed when in every sample the hog keeping ${HOG_TIMES_LIMIT}× the limit resident was OOM-killed and reported as such (memLimitHeld = 1 in all), refuted when any sample ran past its limit (a limit that fails once does not hold). CPU: delivered CPUs ÷ quota per sample; confirmed when the CI of its median is at most ${t.cpuQuotaSlack}× (the quota caps within ${pct(t.cpuQuotaSlack)}), refuted when wholly above. Judged on tsbench's container; runc, crun, podman, docker are context.`,
    brief: `memory: the hog at ${HOG_TIMES_LIMIT}× the limit was OOM-killed and reported in **every** sample → confirmed; any sample where it ran past → refuted. CPU: delivered ÷ quota per sample, median CI **≤ ${t.cpuQuotaSlack}×**. Container decides; runc, crun, podman, docker are context.`,
    why: `A limit that fails once does not hold. ${pct(t.cpuQuotaSlack)} allows for accounting granularity (CFS periods).`,
  }),
  judge(c, h, t) {
    const judgeTarget = (target: string, bearing: 'decides' | 'context'): void => {
      const mem = h.metric('limits', target, 'memLimitHeld');
      const memLabel = `${target}: memory limit holds`;
      if (!mem.ok) c.missing({ label: memLabel, bearing, targets: [target] }, mem.reason, 'limits', ['native', target]);
      else {
        c.use(mem.found);
        const st = mem.found.stats;
        const limit = h.metric('limits', target, 'memLimitBytes');
        const held = Math.round(st.mean * st.n);
        c.fig({ label: 'samples where the memory limit held', value: held, unit: `of ${st.n}`, target });
        if (limit.ok) c.fig(figure('memory limit', limit.found.interval, 'bytes', target));
        const peak = h.metric('limits', target, 'memPeakBytes');
        if (peak.ok) c.fig(figure('peak memory under the hog', peak.found.interval, 'bytes', target));
        const verdict: Verdict = st.min >= 1 ? 'confirmed' : 'refuted';
        const limitWords = limit.ok ? ` of ${fmt(limit.found.interval.value, 'bytes')}` : '';
        c.part({
          label: memLabel,
          verdict,
          evidence: `a hog at ${HOG_TIMES_LIMIT}× the limit${limitWords} was OOM-killed and reported in ${held} of ${st.n} samples.`,
          bearing,
          targets: [target],
        });
      }
      const cpuLabel = `${target}: CPU quota holds`;
      const cpu = h.metric('limits', target, 'cpuQuotaDeliveredCpus');
      const quota = h.metric('limits', target, 'cpuQuotaCpus');
      if (!cpu.ok || !quota.ok) {
        const why = !cpu.ok ? cpu.reason : !quota.ok ? `${target} records no CPU quota (cpuQuotaCpus) in ${quota.reason}` : '';
        c.missing({ label: cpuLabel, bearing, targets: [target] }, why, 'limits', ['native', target]);
        return;
      }
      c.use(cpu.found);
      const share = derived(cpu.found, 'deliveredPerQuota', (v) =>
        v.cpuQuotaDeliveredCpus !== undefined && v.cpuQuotaCpus ? v.cpuQuotaDeliveredCpus / v.cpuQuotaCpus : undefined,
      );
      c.fig(figure('CPUs delivered under the quota', cpu.found.interval, 'CPUs', target));
      c.fig(figure('CPU quota', quota.found.interval, 'CPUs', target));
      if (!share) {
        c.missing({ label: cpuLabel, bearing, targets: [target] }, 'no sample has both delivered CPUs and the quota', 'limits', ['native', target]);
        return;
      }
      c.fig(figure('delivered / quota', share, '×', target));
      c.part({
        label: cpuLabel,
        verdict: atMost(share, t.cpuQuotaSlack),
        evidence: `a busy loop wanting more got ${fmtIv(cpu.found.interval, 'CPUs')} under a quota of ${fmt(quota.found.interval.value, 'CPUs')}: ${fmtIv(share, '×')} the quota against a bound of ${t.cpuQuotaSlack}×.`,
        bearing,
        targets: [target],
      });
    };
    judgeTarget('container', 'decides');
    for (const p of PEERS) if (h.has('limits', p)) judgeTarget(p, 'context');
  },
};
