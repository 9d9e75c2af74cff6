/** C12: container networking through a bridge and NAT costs little; a VM's virtual NIC costs more. */
import { ACCELS, figure, fmt, fmtIv, pct, ratiosPart, ruleAccel, tcgBearing, underNote, type ClaimRule, type ThresholdDef, type Thresholds } from '../judge.js';
import { requireVm, vmNotMeasured } from '../pairs.js';
import type { Verdict } from '../types.js';

export const C12_THRESHOLDS = {
  littleNetRatio: {
    value: 0.9,
    unit: '×',
    claims: ['C12'],
    meaning: '"costs little" on the network = at least this fraction of native\'s throughput and transactions/s, and a round trip at most 1/this of native\'s.',
  },
} as const satisfies Record<string, ThresholdDef>;

/** C12's threshold, and C6's that its words compare with. */
type T = Thresholds<keyof typeof C12_THRESHOLDS | 'littleIoRatio'>;

/** The net scenario's figures of one network: throughput both ways and transactions/s (at least "little" of native's), the round trip (at most). */
const NET_FIGURES = ['RxGbps', 'TxGbps', 'Tps', 'RttP50Us'] as const;

export const C12: ClaimRule<keyof T> = {
  id: 'C12',
  thresholds: C12_THRESHOLDS,
  text: (t) => ({
    inWords: `net ratios to native (native: both ends over loopback) with bootstrap 95 % CIs. "Costs little" (the container on the nat network: a veth on a bridge and a published port through nftables DNAT, as \`docker run -p\`): natRxGbps, natTxGbps and natTps each keep at least ${t.littleNetRatio}× native's and the median round trip natRttP50Us is at most ${fmt(1 / t.littleNetRatio, '×')} native's — confirmed when every CI lies on that side, refuted when any CI lies wholly beyond. The host, veth and bridge networks are judged the same way as context: they show which step costs. "A VM's virtual NIC costs more": the VM's median round trip over its tap and virtio-net (tapRttP50Us ÷ native) against the container's on nat — confirmed when the VM's whole CI lies above the container's, refuted when wholly below, inconclusive when they overlap. TCG emulates the guest's network stack and its NIC, so a TCG VM costing more is context; one costing less decides.`,
    brief: `container on nat: Rx, Tx, transactions/s each **≥ ${t.littleNetRatio}×** native and p50 round trip **≤ ${fmt(1 / t.littleNetRatio, '×')}** (every CI → confirmed, any CI wholly beyond → refuted); host, veth, bridge judged alike as context. VM: tap p50 round trip ÷ native wholly above the container's nat ratio → confirmed, wholly below → refuted. Under TCG: see above.`,
    why: `"Little" = within ${pct(t.littleNetRatio)}${t.littleNetRatio === t.littleIoRatio ? ', as for I/O (C6)' : ''}. The round trip is what Felter et al. found a VM's NIC adds (≈ 30 µs); throughput and transactions/s are what a service sees. Native's loopback is the baseline: the same two processes with no network layer between them.`,
    tcg: `"a VM's NIC costs more": a TCG confirmation is context (the guest's stack and NIC are emulated); a TCG VM that costs no more than the container decides.`,
  }),
  judge(c, h, t) {
    for (const net of ['nat', 'host', 'veth', 'bridge'] as const) {
      ratiosPart(c, {
        scenario: 'net',
        target: 'container',
        label: net === 'nat' ? 'container through a bridge and NAT: costs little' : `container on ${net}: costs little`,
        bearing: net === 'nat' ? 'decides' : 'context',
        ratios: NET_FIGURES.map((f) =>
          f === 'RttP50Us'
            ? { metric: `${net}${f}`, bound: 1 / t.littleNetRatio, side: 'atMost' }
            : { metric: `${net}${f}`, bound: t.littleNetRatio, side: 'atLeast' },
        ),
        asks: `≥ ${t.littleNetRatio}× for throughput and transactions/s, ≤ ${fmt(1 / t.littleNetRatio, '×')} for the round trip`,
      });
    }

    const label = "VM's virtual NIC costs more";
    const ct = h.ratioToNative('net', 'container', 'natRttP50Us');
    for (const accel of ACCELS) {
      const vm = h.ratioToNative('net', accel, 'tapRttP50Us');
      if (!vm.ok || !ct.ok) {
        vmNotMeasured(c, h, label, 'net', accel, !vm.ok ? vm.reason : !ct.ok ? ct.reason : '');
        continue;
      }
      c.use(vm.found, ct.found);
      c.fig(figure('tapRttP50Us / native', vm.found.ratio, '×', accel));
      for (const m of ['tapRxGbps', 'tapTxGbps', 'tapTps']) {
        const r = h.ratioToNative('net', accel, m);
        if (r.ok) c.fig(figure(`${m} / native`, r.found.ratio, '×', accel));
      }
      const verdict: Verdict = vm.found.ratio.lo > ct.found.ratio.hi ? 'confirmed' : vm.found.ratio.hi < ct.found.ratio.lo ? 'refuted' : 'inconclusive';
      const bearing = tcgBearing(ruleAccel(h, accel), verdict, 'confirmed');
      const note = underNote(h, accel, bearing, {
        tcg: ' under TCG',
        lead: ', ',
        context: ", which emulates the guest's network stack and NIC and so says nothing about a KVM VM",
      });
      c.part({
        label: `${label} (${accel})`,
        verdict,
        evidence: `median round trip over the tap and virtio-net ${fmtIv(vm.found.ratio, '×')} native vs the container's through the bridge and NAT ${fmtIv(ct.found.ratio, '×')}${note}.`,
        bearing,
        accelerator: accel,
        targets: ['native', 'container', accel],
      });
    }
    requireVm(c, label, 'net', ['native', 'container', 'kvm'], "TCG emulates the guest's network stack and NIC, which overstates a KVM VM's cost");
  },
};
