/** C8: namespaces keep a container from seeing the host's processes, network, mounts, IPC and hostname. */
import { figure, type ClaimRule } from '../judge.js';
import type { Verdict } from '../types.js';

/** The isolation scenario's probes: metric, and what of the host it looks for. */
export const ISOLATION_PROBES = [
  ['seesHostPids', 'processes'],
  ['seesHostNet', 'network'],
  ['seesHostMounts', 'mounts'],
  ['seesHostIpc', 'IPC'],
  ['seesHostHostname', 'hostname'],
] as const;

export const C8: ClaimRule<never> = {
  id: 'C8',
  thresholds: {},
  text: () => ({
    inWords: `isolation probes (1 = the instance sees the host's marker). Per namespace: confirmed when the container saw the host's marker in no sample while native, the control, saw it in every sample; refuted when the container saw it in any sample; inconclusive when the control missed it (the probe is broken); not measured without the native control.`,
    brief: `per namespace: the container saw the host marker in **no** sample and native (the control) in **every** sample → confirmed; the container saw it in any sample → refuted; the control missed it → inconclusive (probe broken); no native control → not measured.`,
    why: `A probe that cannot see the host natively proves nothing inside.`,
  }),
  judge(c, h) {
    let samples = Infinity;
    for (const [metric, what] of ISOLATION_PROBES) {
      const label = `container does not see the host's ${what}`;
      const ct = h.metric('isolation', 'container', metric);
      const nat = h.metric('isolation', 'native', metric);
      if (!ct.ok || !nat.ok) {
        const why = !ct.ok ? ct.reason : !nat.ok ? `no native control: ${nat.reason}` : '';
        c.missing({ label, targets: ['native', 'container'] }, why, 'isolation', ['native', 'container']);
        continue;
      }
      c.use(ct.found, nat.found);
      samples = Math.min(samples, ct.found.stats.n);
      const seen = (st: { mean: number; n: number }): number => Math.round(st.mean * st.n);
      const ctSeen = seen(ct.found.stats);
      const natSeen = seen(nat.found.stats);
      c.fig({ label: `samples seeing the host's ${what}`, value: ctSeen, unit: `of ${ct.found.stats.n}`, target: 'container' });
      c.fig({ label: `samples seeing the host's ${what}`, value: natSeen, unit: `of ${nat.found.stats.n}`, target: 'native' });
      let verdict: Verdict;
      if (ct.found.stats.max > 0) verdict = 'refuted';
      else if (nat.found.stats.min < 1) verdict = 'inconclusive';
      else verdict = 'confirmed';
      const control =
        nat.found.stats.min < 1
          ? `, but the native control saw it in only ${natSeen} of ${nat.found.stats.n}: the probe is not reliable`
          : ` (native, the control, saw it in ${natSeen} of ${nat.found.stats.n})`;
      c.part({
        label,
        verdict,
        evidence: `the container saw the host's ${what} marker in ${ctSeen} of ${ct.found.stats.n} samples${control}.`,
        targets: ['native', 'container'],
      });
    }
    c.confirmedSummary = `In each of ${samples} samples the container saw none of the host's processes, network, mounts, IPC or hostname markers, while native, the control, saw every one.`;
    for (const [metric, label] of [
      ['visiblePids', 'visible processes'],
      ['netInterfaces', 'network interfaces'],
      ['mounts', 'mounts'],
      ['ipcObjects', 'SysV IPC objects'],
    ] as const) {
      for (const target of ['native', 'container']) {
        const m = h.metric('isolation', target, metric);
        if (m.ok) c.fig(figure(label, m.found.interval, 'count', target));
      }
    }
  },
};
