/** C11: containers share the host's scheduler, so no CPU is spent on an extra layer. */
import { ACCELS, atMost, figure, fmt, fmtIv, margin, pct, type ClaimRule } from '../judge.js';

/** C11 judges by C2's "near-native" bound. */
export const C11: ClaimRule<'nearNativeRatio'> = {
  id: 'C11',
  thresholds: {},
  text: (t) => ({
    inWords: `cpu hostCpuPerEventUs (host CPU time, cgroup or process accounting, per sysbench event), ratio of medians to native with its bootstrap 95 % CI: confirmed when the whole CI is at or below ${t.nearNativeRatio}× (no more than ${pct(t.nearNativeRatio)} extra, the same bound as "near-native"), refuted when wholly above. hostCpuMsWork and the VMs' ratios (qemu's own CPU) are shown as contrast.`,
    brief: `CI **≤ ${t.nearNativeRatio}×** → confirmed; wholly above → refuted.`,
    why: `The same ${pct(t.nearNativeRatio)} as near-native: "no CPU spent on a layer" cannot be stricter than the measurement's noise.`,
  }),
  judge(c, h, t) {
    const label = 'no host CPU spent on a container layer';
    const r = h.ratioToNative('cpu', 'container', 'hostCpuPerEventUs');
    if (!r.ok) c.missing({ label, targets: ['container'] }, r.reason, 'cpu', ['native', 'container']);
    else {
      c.use(r.found);
      c.fig(figure('host CPU per event', r.found.interval, 'µs', 'container'));
      c.fig(figure('host CPU per event / native', r.found.ratio, '×', 'container'));
      const w = h.ratioToNative('cpu', 'container', 'hostCpuMsWork');
      if (w.ok) c.fig(figure('host CPU during the work / native', w.found.ratio, '×', 'container'));
      c.part({
        label,
        verdict: atMost(r.found.ratio, t.nearNativeRatio),
        evidence: `the container costs the host ${fmtIv(r.found.ratio, '×')} native's CPU per event (${fmt(r.found.interval.value, 'µs')}); the bound is ${t.nearNativeRatio}×.`,
        targets: ['native', 'container'],
        margins: [margin(r.found.ratio, t.nearNativeRatio, r.found)],
      });
    }
    const nat = h.metric('cpu', 'native', 'hostCpuPerEventUs');
    if (nat.ok) c.fig(figure('host CPU per event', nat.found.interval, 'µs', 'native'));
    for (const accel of ACCELS) {
      const v = h.ratioToNative('cpu', accel, 'hostCpuPerEventUs');
      if (v.ok) {
        c.use(v.found);
        c.fig(figure('host CPU per event / native (contrast)', v.found.ratio, '×', accel));
      }
    }
  },
};
