/** C6: containers add little I/O overhead; VMs pay for device virtualisation. */
import type { Interval } from '../data.js';
import { ACCELS, figure, fmtIv, pct, ratiosPart, ruleAccel, tcgBearing, underNote, type ClaimRule, type ThresholdDef } from '../judge.js';
import { requireVm, vmNotMeasured } from '../pairs.js';
import type { Verdict } from '../types.js';

export const C6_THRESHOLDS = {
  littleIoRatio: {
    value: 0.9,
    unit: '×',
    claims: ['C6'],
    meaning: '"little I/O overhead" = at least this fraction of native throughput; a VM "pays" below it.',
  },
} as const satisfies Record<string, ThresholdDef>;

/** The fio figures a container keeps near native's: sequential MiB/s and 4 KiB random IOPS (overlay… on the overlay root). */
const IO_THROUGHPUT = ['seqReadMiBps', 'seqWriteMiBps', 'randReadIops', 'randWriteIops'] as const;
const upperFirst = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1);

export const C6: ClaimRule<keyof typeof C6_THRESHOLDS> = {
  id: 'C6',
  thresholds: C6_THRESHOLDS,
  text: (t) => ({
    inWords: `io ratios to native with bootstrap 95 % CIs. "Little overhead" (container volume, the data path Felter et al. measured): each of sequential read/write MiB/s and 4 KiB random read/write IOPS keeps at least ${t.littleIoRatio * 100} % of native — confirmed when every ratio's CI lower end is ≥ ${t.littleIoRatio}, refuted when any CI lies wholly below. The overlay root is judged the same way as context (copy-on-write is a cost of the root filesystem, not of the data path). "VMs pay": both 4 KiB random IOPS ratios (the per-request device cost) wholly below ${t.littleIoRatio} → confirmed, both wholly at or above → refuted. TCG emulates the guest's I/O path, so a TCG VM "paying" is context; only a TCG VM that does not pay decides.`,
    brief: `container volume: seq read/write MiB/s and 4 KiB random read/write IOPS each **≥ ${t.littleIoRatio}×** (every CI lower end ≥ ${t.littleIoRatio} → confirmed, any CI wholly below → refuted); overlay root judged the same as context; VM: both random IOPS ratios **< ${t.littleIoRatio}×** → "pays", both ≥ ${t.littleIoRatio}× → refuted.`,
    why: `"Little" = within ${pct(t.littleIoRatio)}. The volume is the data path Felter et al. measured; overlay copy-on-write is a root-filesystem cost, shown beside. Random 4 KiB IOPS carry the per-request device cost (Felter's reference point).`,
    tcg: `"VMs pay for device virtualisation": a TCG confirmation is context; a TCG VM without an I/O penalty would decide.`,
  }),
  judge(c, h, t) {
    for (const [prefix, bearing] of [
      ['', 'decides'],
      ['overlay', 'context'],
    ] as const) {
      ratiosPart(c, {
        scenario: 'io',
        target: 'container',
        label: prefix ? 'container overlay root: little I/O overhead' : 'container volume: little I/O overhead',
        bearing,
        ratios: IO_THROUGHPUT.map((m) => ({ metric: prefix ? `${prefix}${upperFirst(m)}` : m, bound: t.littleIoRatio, side: 'atLeast' })),
        asks: `≥ ${t.littleIoRatio}×`,
      });
    }
    for (const m of ['randReadP50Us', 'randWriteP50Us']) {
      const r = h.ratioToNative('io', 'container', m);
      if (r.ok) c.fig(figure(`${m} / native`, r.found.ratio, '×', 'container'));
    }

    const label = 'VM pays for device virtualisation';
    for (const accel of ACCELS) {
      const rr = h.ratioToNative('io', accel, 'randReadIops');
      const rw = h.ratioToNative('io', accel, 'randWriteIops');
      if (!rr.ok || !rw.ok) {
        const why = !rr.ok ? rr.reason : !rw.ok ? rw.reason : '';
        vmNotMeasured(c, h, label, 'io', accel, why);
        continue;
      }
      c.use(rr.found, rw.found);
      c.fig(figure('randReadIops / native', rr.found.ratio, '×', accel));
      c.fig(figure('randWriteIops / native', rw.found.ratio, '×', accel));
      for (const m of ['seqReadMiBps', 'seqWriteMiBps']) {
        const r = h.ratioToNative('io', accel, m);
        if (r.ok) c.fig(figure(`${m} / native`, r.found.ratio, '×', accel));
      }
      const below = (iv: Interval): boolean => iv.hi < t.littleIoRatio;
      const notBelow = (iv: Interval): boolean => iv.lo >= t.littleIoRatio;
      const verdict: Verdict =
        below(rr.found.ratio) && below(rw.found.ratio) ? 'confirmed' : notBelow(rr.found.ratio) && notBelow(rw.found.ratio) ? 'refuted' : 'inconclusive';
      const bearing = tcgBearing(ruleAccel(h, accel), verdict, 'confirmed');
      const note = underNote(h, accel, bearing, { tcg: ' under TCG', lead: ', ', context: ', which emulates the I/O path and so says nothing about a KVM VM' });
      c.part({
        label: `${label} (${accel})`,
        verdict,
        evidence: `4 KiB random IOPS on the virtio disk: read ${fmtIv(rr.found.ratio, '×')}, write ${fmtIv(rw.found.ratio, '×')} native${note}.`,
        bearing,
        accelerator: accel,
        targets: ['native', accel],
      });
    }
    requireVm(c, label, 'io', ['native', 'container', 'kvm'], "TCG emulates the guest I/O path, which overstates a KVM VM's cost");
  },
};
