/**
 * One rule per claim of catalogue.ts, with its thresholds and its words. Each
 * rule reads a host's results, judges every part of the claim from intervals
 * (never from a median alone) and never throws on missing data: a missing
 * target or metric makes its part "not measured", with the run that would
 * measure it. THRESHOLD_SPECS and RULE_TEXTS are the only statement of the
 * thresholds and rules: reports show RULE_TEXTS, and docs/claims.md is
 * generated from them (`npm run docs:claims`, see doc.ts).
 *
 * TCG and KVM: a TCG result is never evidence about KVM. Where a claim speaks
 * of VMs in general, a TCG part decides only in the direction TCG cannot
 * flatter; a TCG result that could only flatter the claim is shown as context
 * and the VM half stays "not measured" until a kvm target runs.
 */
import { CLAIMS, type ClaimSpec } from './catalogue.js';
import { derived, differenceBetween, ratioBetween, type HostData, type Interval, type MetricFound } from './data.js';
import { atLeast, atMost, all, ClaimBuilder, figure, fmt, fmtIv, margin, NESTED_KVM } from './judge.js';
import type { ClaimPart, ClaimVerdict, Margin, Verdict } from './types.js';
import { targetWithImage, type ImageName, vmTargetName } from '../../drivers/index.js';

/** A threshold: its value, unit, the claims that use it and what it means. */
export interface ThresholdSpec {
  value: number;
  /** ms, ×, fraction */
  unit: string;
  claims: readonly string[];
  meaning: string;
}

/** The thresholds every rule uses, in one place, with what each means. */
export const THRESHOLD_SPECS = {
  containerReadyMs: { value: 1000, unit: 'ms', claims: ['C1'], meaning: "a container's median time to ready must be below this (its CI's upper end)." },
  muchLongerFactor: { value: 10, unit: '×', claims: ['C1'], meaning: '"much longer" = a VM\'s time to ready at least this many times the container\'s.' },
  nearNativeRatio: { value: 1.05, unit: '×', claims: ['C2', 'C11'], meaning: '"near-native" / "no extra CPU" = at most this ratio to native.' },
  closeBehindRatio: { value: 1.1, unit: '×', claims: ['C2'], meaning: '"close behind" (KVM) = at most this ratio to native.' },
  farSlowerRatio: { value: 2, unit: '×', claims: ['C2'], meaning: '"far slower" (TCG) = at least this ratio to native.' },
  muchLessMemoryFactor: {
    value: 10,
    unit: '×',
    claims: ['C3'],
    meaning: '"much less memory" = the container\'s extra host memory at most 1/this of the VM\'s.',
  },
  smallImageFactor: {
    value: 2,
    unit: '×',
    claims: ['C4'],
    meaning: '"small compared with" = a VM must carry at least this many times the container\'s image.',
  },
  moreFitFactor: { value: 2, unit: '×', claims: ['C5'], meaning: '"more fit" = a VM needs at least this many times a container\'s host memory per instance.' },
  littleIoRatio: {
    value: 0.9,
    unit: '×',
    claims: ['C6'],
    meaning: '"little I/O overhead" = at least this fraction of native throughput; a VM "pays" below it.',
  },
  littleNetRatio: {
    value: 0.9,
    unit: '×',
    claims: ['C12'],
    meaning: '"costs little" on the network = at least this fraction of native\'s throughput and transactions/s, and a round trip at most 1/this of native\'s.',
  },
  cpuQuotaSlack: { value: 1.1, unit: '×', claims: ['C7'], meaning: 'the CPU quota holds when delivered CPUs are at most this many times the quota.' },
  sameStartupFactor: {
    value: 1.1,
    unit: '×',
    claims: ['C9'],
    meaning:
      "\"startup independent of image size\" = a container's median time to ready with the Debian image within this factor of the lean image's, either way (the CI of the ratio between 1/1.1 and 1.1×). Why: mounting an overlay over a shared image costs the same whatever the image's size, so a start that copied or read the image would show as a multiple; 10 % leaves room for what differs besides size (the dynamic loader, the files a start opens) and for noise.",
  },
  thinFraction: {
    value: 0.01,
    unit: 'fraction',
    claims: ['C9'],
    meaning: '"thin" = bytes written to the upper layer by starting at most this fraction of the image.',
  },
  littleExtraStartupMs: {
    value: 100,
    unit: 'ms',
    claims: ['C10'],
    meaning: '"little extra cost" in startup = at most this many ms added to the VM\'s time to ready.',
  },
  littleExtraCpuRatio: { value: 1.1, unit: '×', claims: ['C10'], meaning: '"little extra cost" in CPU work = at most this ratio to the VM alone.' },
} as const satisfies Record<string, ThresholdSpec>;

/** The thresholds' values (THRESHOLD_SPECS says what each means). */
export const THRESHOLDS = Object.fromEntries(Object.entries(THRESHOLD_SPECS).map(([k, s]) => [k, s.value])) as {
  readonly [K in keyof typeof THRESHOLD_SPECS]: (typeof THRESHOLD_SPECS)[K]['value'];
};

const T = THRESHOLDS;
const PEERS = ['runc', 'crun', 'podman', 'docker'] as const;
const ACCELS = ['kvm', 'tcg'] as const;
type Accel = (typeof ACCELS)[number];
const pct = (ratio: number): string => `${Math.round((ratio - 1) * 100)} %`;

/** A claim's rule in words. */
export interface RuleText {
  /** the rule as every verdict states it (ClaimVerdict.rule, shown in reports) */
  inWords: string;
  /** the rule in brief, every bound on a 95 % interval (the table of docs/claims.md) */
  brief: string;
  /** why these thresholds */
  why: string;
  /** how a TCG result bears on the claim, where it is about VMs */
  tcg?: string;
}

/** The image pairs in words (rules.ts PAIRS). */
const PAIRS_IN_WORDS = `the lean pair (tsbench's lean image: container vs the lean microVM, tcg/kvm) and the Debian pair (Debian bookworm with systemd: container@debian vs the stock VM that boots Debian's kernel, its initrd and systemd, tcg-cloud@debian/kvm-cloud@debian)`;

/** How the image pairs' parts combine into a claim's verdict, stated once (RULE_TEXTS, docs/claims.md). */
export const PAIR_RULE = `Every pair's parts decide: the claim is confirmed only if every pair judged confirms it, refuted if any pair refutes it, not measured if a pair judged lacks a part it needs (its container, or its kvm VM where TCG cannot decide), inconclusive otherwise.`;

/** The image-pair sentence of a claim judged on pairs; `held` says when a pair is judged. */
function pairRule(held: string): string {
  return `Image pairs: the rule is applied to each image pair ${held} — ${PAIRS_IN_WORDS} — on that pair's own targets, its parts labelled with the pair (the lean pair's as before pairs), the TCG rules applying within each pair. ${PAIR_RULE}`;
}
const PAIRS_HELD = 'the results hold (a pair is judged when one of its targets ran the scenario; the lean pair also when none did)';
const PAIRS_BRIEF = ' Each image pair (lean; Debian) is judged alike and decides: see "Image pairs".';

/** The section of docs/claims.md on image pairs (doc.ts). */
export const IMAGE_PAIRS_TEXT = `C1, C3, C4 and C5 compare a container with a VM running the same workload image, and are judged on each image pair: ${PAIRS_IN_WORDS}. A pair is judged when the results hold one of its targets in the claim's scenario (C4: when some result records the image's sizes); the lean pair also when no pair is there, so that nothing measured reads "not measured". Each pair's parts are judged by the claim's rule on that pair's own targets and labelled with the pair ("VM takes much longer (kvm; Debian pair: container@debian vs kvm-cloud@debian)"; the lean pair's labels are those from before pairs), and TCG never decides for KVM within a pair, as below. ${PAIR_RULE} A verdict's \`pairs\` names the pairs whose parts carry its verdict: the pair that refuted it, or every pair that confirmed it.`;

/** Every claim's rule in words, by claim id. */
export const RULE_TEXTS = {
  C1: {
    inWords: `The container part is confirmed when the upper end of the 95 % CI of the container's median time to ready (startup toReadyMs) is below ${T.containerReadyMs} ms, refuted when the lower end is above it. The VM part is confirmed when a VM's median time to ready is at least ${T.muchLongerFactor}× the container's with the whole bootstrap interval of that ratio at or above ${T.muchLongerFactor}×, refuted when the whole interval is below. A TCG boot is slower than a KVM boot, so under TCG only a refutation or an inconclusive result decides; a TCG confirmation is context and the VM part waits for kvm. Peer runtimes are context. ${pairRule(PAIRS_HELD)}`,
    brief: `container: CI upper end < **${fmt(T.containerReadyMs, 'ms')}**; VM: VM ÷ container time to ready ≥ **${T.muchLongerFactor}×** (bootstrap CI of the ratio). Under TCG: see above. Peers: context.${PAIRS_BRIEF}`,
    why: `The claim's own "under a second". "Much longer" = an order of magnitude: anything less would not be described as a whole kernel boot vs a process start.`,
    tcg: `"a VM takes much longer": a TCG confirmation is context; a TCG refutation decides (a KVM boot is faster still).`,
  },
  C2: {
    inWords: `cpu workMs, ratio of medians to native with its bootstrap 95 % CI. Container "near-native": confirmed when the whole CI is at or below ${T.nearNativeRatio}× (within 5 %; faster than native counts as near), refuted when the whole CI is above. KVM "close behind": the same with ${T.closeBehindRatio}× (within 10 %); measured only by a kvm target. TCG "far slower": confirmed when the whole CI is at or above ${T.farSlowerRatio}×, refuted when it is wholly below. Each part is judged on its own target; TCG never stands in for KVM.`,
    brief: `container **≤ ${T.nearNativeRatio}×** (near-native = within ${pct(T.nearNativeRatio)}; faster than native counts as near); KVM **≤ ${T.closeBehindRatio}×** ("close behind"); TCG **≥ ${T.farSlowerRatio}×** ("far slower").`,
    why: `Within ${pct(T.nearNativeRatio)} is the usual reading of near-native; "close behind" must be looser than "near-native" but still close (twice its tolerance); "far" is at least double.`,
    tcg: `names KVM: the KVM part is measured only by a \`kvm\` target; TCG has a part of its own ("far slower").`,
  },
  C3: {
    inWords: `Extra host memory of one idle instance = its footprintPssBytes minus native's, as an interval from the two medians' CIs. "Much less" = the container's extra at most 1/${T.muchLessMemoryFactor} of the VM's: confirmed when ${T.muchLessMemoryFactor}× the container's upper bound is at most the VM's lower bound, refuted when ${T.muchLessMemoryFactor}× the container's lower bound exceeds the VM's upper bound. Under TCG the qemu process also holds TCG's translation cache, which a KVM VM does not, so a TCG VM confirms only on a lower bound every VM pays whatever its accelerator — the memory its guest has in use (guestTotalBytes − guestAvailableBytes) — and refutes on its PSS. The VM's PSS is also split, where the run recorded it (vmmOverheadBytes), into the guest RAM its guest has touched (guestRamTouchedBytes, the PSS of qemu's guest RAM mapping) and the VMM's own overhead (PSS − guest RAM, Firecracker's "VMM overhead"): the evidence states both beside the total, and a context part, "much less memory than the VMM alone", judges the container's extra against the overhead alone by the same factor (${T.muchLessMemoryFactor}× the container's upper bound at most the overhead's lower bound → confirmed; ${T.muchLessMemoryFactor}× its lower bound above the overhead's upper bound → refuted). That part never decides — the claim is about the whole VM, guest included — but says whether the VM's cost is its guest's kernel and OS, as the claim has it, or the VMM itself. Under TCG the overhead includes TCG's translation buffer. ${pairRule(PAIRS_HELD)}`,
    brief: `container's extra ≤ **1/${T.muchLessMemoryFactor}** of the VM's extra: ${T.muchLessMemoryFactor} × container upper ≤ VM lower → confirmed; ${T.muchLessMemoryFactor} × container lower > VM upper → refuted. TCG: confirm on guest memory in use, refute on PSS. Context: the same test against the VMM overhead alone (PSS − guest RAM touched).${PAIRS_BRIEF}`,
    why: `"Much less" = an order of magnitude, as in C1. Subtracting native leaves what the isolation layer adds. The overhead is not offset by native: the guest runs its own copy of the workload in its RAM, so native's share is in guest RAM. Splitting the VM's PSS shows whether its cost is its guest's memory (what the claim names: "its own kernel and OS") or the VMM itself; Firecracker states ≤ 5 MiB for its VMM alone.`,
    tcg: `"much less memory": a TCG VM confirms only on a lower bound that every VM pays whatever its accelerator — the memory its guest has in use (\`guestTotalBytes − guestAvailableBytes\` from the memory scenario), which the host must back — and refutes only on its PSS (an upper bound: it includes TCG's translation cache). Without guest figures a TCG VM cannot confirm (inconclusive). The VMM overhead under TCG includes the translation buffer, so its context part can flatter the claim there.`,
  },
  C4: {
    inWords: `Confirmed when what a VM must carry (kernelBytes + rootDiskBytes + initramfsBytes) is at least ${T.smallImageFactor}× the container's root filesystem (rootfsBytes), refuted otherwise; sizes are exact, so there is no inconclusive. For the lean image tsbench packs the same root filesystem for both (the VM gets it as a read-only ext4 root disk, plus a kernel, and for the stock kernel a small initramfs with the modules that mount the disk), so this compares what each must carry for the same workload, not typical distribution images (a full VM disk image of GBs vs a container image of MBs). For the Debian image the container carries Debian's userland (no kernel) and the VM its whole root disk as a cloud image is — userland, kernel, modules and initrd — counted as stored (the sparse file's allocated blocks, not its free space); the kernel and initrd QEMU boots are copies of the disk's own and count once. ${pairRule('whose image some result records (the lean pair also when none does)')}`,
    brief: `VM ≥ **${T.smallImageFactor}×** the container's → confirmed, else refuted (exact sizes, no inconclusive). Debian image: container rootfs vs the root disk as stored (it holds the kernel and initrd).${PAIRS_BRIEF}`,
    why: `"Small compared with" = at most half. For the lean image tsbench packs the **same** root filesystem for both (the VM gets it as a read-only ext4 root disk, plus a kernel and, for the stock kernel, an initramfs with its modules), so this compares what each must carry for the same workload — not a typical distribution VM disk (GBs) vs a container image (MBs). The Debian image is closer to a distribution's: a whole system on the VM's disk.`,
  },
  C5: {
    inWords: `Idle instances are bounded by host memory, so "more fit" = a VM needs at least ${T.moreFitFactor}× a container's host memory per instance (density pssPerInstanceBytes, N instances at once), i.e. at least twice as many containers fit: confirmed when the VM's CI lower end is at least ${T.moreFitFactor}× the container's upper end, refuted when the VM's upper end is below ${T.moreFitFactor}× the container's lower end. Under TCG the PSS includes TCG's translation cache, so a TCG VM confirms only on its guest's memory in use (memory scenario, same image and idle job: a lower bound of any VM) and refutes on its PSS. Startup p50/p99 under concurrency and the MemAvailable drop are shown beside. Where the run recorded it (density vmmOverheadPerInstanceBytes: qemu's PSS less its guest RAM's, per instance), the evidence gives the VMM's own overhead beside the total, and a context part, "counting only the VMM, more containers than VMs fit", applies the same test to it (overhead lower end ≥ ${T.moreFitFactor}× the container's upper end → confirmed; upper end < ${T.moreFitFactor}× its lower end → refuted): guest memory can be shared or handed back (KSM, ballooning, free page reporting), the VMM's own cost per instance cannot. It never decides; under TCG the overhead includes TCG's translation buffer. ${pairRule(PAIRS_HELD)}`,
    brief: `VM per instance ≥ **${T.moreFitFactor}×** container per instance (VM lower ≥ ${T.moreFitFactor} × container upper → confirmed; VM upper < ${T.moreFitFactor} × container lower → refuted). TCG: as C3. Context: the same test on the VMM overhead per instance alone.${PAIRS_BRIEF}`,
    why: `Idle instances are bounded by memory; "more fit" = at least twice as many, not a few percent. \`instances\` is not used: by default the scenario starts at most 4 VMs. The VMM overhead is the part of a VM's cost no guest-memory sharing removes.`,
    tcg: `"more fit": as C3 — a TCG VM confirms only on its guest's memory in use (memory scenario) and refutes only on its PSS per instance; its VMM overhead includes the translation buffer (context only).`,
  },
  C6: {
    inWords: `io ratios to native with bootstrap 95 % CIs. "Little overhead" (container volume, the data path Felter et al. measured): each of sequential read/write MiB/s and 4 KiB random read/write IOPS keeps at least ${T.littleIoRatio * 100} % of native — confirmed when every ratio's CI lower end is ≥ ${T.littleIoRatio}, refuted when any CI lies wholly below. The overlay root is judged the same way as context (copy-on-write is a cost of the root filesystem, not of the data path). "VMs pay": both 4 KiB random IOPS ratios (the per-request device cost) wholly below ${T.littleIoRatio} → confirmed, both wholly at or above → refuted. TCG emulates the guest's I/O path, so a TCG VM "paying" is context; only a TCG VM that does not pay decides.`,
    brief: `container volume: seq read/write MiB/s and 4 KiB random read/write IOPS each **≥ ${T.littleIoRatio}×** (every CI lower end ≥ ${T.littleIoRatio} → confirmed, any CI wholly below → refuted); overlay root judged the same as context; VM: both random IOPS ratios **< ${T.littleIoRatio}×** → "pays", both ≥ ${T.littleIoRatio}× → refuted.`,
    why: `"Little" = within ${Math.round((1 - T.littleIoRatio) * 100)} %. The volume is the data path Felter et al. measured; overlay copy-on-write is a root-filesystem cost, shown beside. Random 4 KiB IOPS carry the per-request device cost (Felter's reference point).`,
    tcg: `"VMs pay for device virtualisation": a TCG confirmation is context; a TCG VM without an I/O penalty would decide.`,
  },
  C7: {
    inWords: `limits scenario. Memory: confirmed when in every sample the hog keeping 2× the limit resident was OOM-killed and reported as such (memLimitHeld = 1 in all), refuted when any sample ran past its limit (a limit that fails once does not hold). CPU: delivered CPUs ÷ quota per sample; confirmed when the CI of its median is at most ${T.cpuQuotaSlack}× (the quota caps within 10 %), refuted when wholly above. Judged on tsbench's container; runc, crun, podman, docker are context.`,
    brief: `memory: the hog at 2× the limit was OOM-killed and reported in **every** sample → confirmed; any sample where it ran past → refuted. CPU: delivered ÷ quota per sample, median CI **≤ ${T.cpuQuotaSlack}×**. Container decides; runc, crun, podman, docker are context.`,
    why: `A limit that fails once does not hold. ${pct(T.cpuQuotaSlack)} allows for accounting granularity (CFS periods).`,
  },
  C8: {
    inWords: `isolation probes (1 = the instance sees the host's marker). Per namespace: confirmed when the container saw the host's marker in no sample while native, the control, saw it in every sample; refuted when the container saw it in any sample; inconclusive when the control missed it (the probe is broken); not measured without the native control.`,
    brief: `per namespace: the container saw the host marker in **no** sample and native (the control) in **every** sample → confirmed; the container saw it in any sample → refuted; the control missed it → inconclusive (probe broken); no native control → not measured.`,
    why: `A probe that cannot see the host natively proves nothing inside.`,
  },
  C9: {
    inWords: `"Thin": the bytes a container's start writes to its upper layer (isolation upperBytesAtStart) are at most ${T.thinFraction * 100} % of the image's root filesystem (rootfsBytes): confirmed when the CI's upper end is below that, refuted when its lower end is above. "Startup independent of image size": a container's time to ready (startup toReadyMs) with the Debian image (container@debian) against the lean image (container) — another image size, the same job — as the ratio of medians Debian ÷ lean with its bootstrap 95 % CI: confirmed when the whole CI lies within ${T.sameStartupFactor}× either way (between 1/${T.sameStartupFactor} and ${T.sameStartupFactor}×), refuted when it lies wholly above ${T.sameStartupFactor}× or wholly below 1/${T.sameStartupFactor}, inconclusive otherwise; both images' root filesystem sizes are shown beside. It decides once both images' containers are measured; with one only it is context, not measured.`,
    brief: `thin: upper CI upper end **< ${T.thinFraction * 100} %** of the image → confirmed; lower end ≥ ${T.thinFraction * 100} % → refuted. Startup independent of image size: container@debian ÷ container time to ready, CI within **1/${T.sameStartupFactor} – ${T.sameStartupFactor}×** → confirmed, wholly above or below → refuted (decides once both images ran; context until then).`,
    why: `"Thin" = a copy of the image would be 100 %; ${T.thinFraction * 100} % leaves room for the files a start must write. "Independent" = within ${pct(T.sameStartupFactor)}: an overlay mount costs the same whatever the image's size, so a start that copied or read the image would show as a multiple, not as ${pct(T.sameStartupFactor)}.`,
  },
  C10: {
    inWords: `container-in-VM vs the same VM alone. Startup: the container may add at most ${T.littleExtraStartupMs} ms to the median time to ready (startup toReadyMs; bootstrap CI of the difference of medians) — below a fast VM boot (Firecracker's ≤ 125 ms) and well under a second; a ratio would be flattered by a slow TCG boot. CPU: cpu workMs at most ${T.littleExtraCpuRatio}× the VM alone (bootstrap CI of the ratio of medians). Confirmed when the whole interval is within the bound, refuted when wholly beyond. Under TCG the container's own kernel work is emulated too, which overstates its cost: a TCG confirmation decides (labelled tcg), a TCG refutation is context and the part waits for kvm.`,
    brief: `startup: the container adds **≤ ${T.littleExtraStartupMs} ms** to the VM's time to ready (bootstrap CI of the difference of medians); cpu: **≤ ${T.littleExtraCpuRatio}×** the VM alone. Under TCG: see above.`,
    why: `An absolute bound for startup: a ratio would be flattered by a slow (TCG) boot. ${T.littleExtraStartupMs} ms is below a fast VM boot (Firecracker's ≤ 125 ms) and well under C1's second.`,
    tcg: `"little extra cost": under TCG the container's own kernel work is emulated, overstating it, so a TCG confirmation decides and a TCG refutation is context.`,
  },
  C11: {
    inWords: `cpu hostCpuPerEventUs (host CPU time, cgroup or process accounting, per sysbench event), ratio of medians to native with its bootstrap 95 % CI: confirmed when the whole CI is at or below ${T.nearNativeRatio}× (no more than 5 % extra, the same bound as "near-native"), refuted when wholly above. hostCpuMsWork and the VMs' ratios (qemu's own CPU) are shown as contrast.`,
    brief: `CI **≤ ${T.nearNativeRatio}×** → confirmed; wholly above → refuted.`,
    why: `The same ${pct(T.nearNativeRatio)} as near-native: "no CPU spent on a layer" cannot be stricter than the measurement's noise.`,
  },
  C12: {
    inWords: `net ratios to native (native: both ends over loopback) with bootstrap 95 % CIs. "Costs little" (the container on the nat network: a veth on a bridge and a published port through nftables DNAT, as \`docker run -p\`): natRxGbps, natTxGbps and natTps each keep at least ${T.littleNetRatio}× native's and the median round trip natRttP50Us is at most ${fmt(1 / T.littleNetRatio, '×')} native's — confirmed when every CI lies on that side, refuted when any CI lies wholly beyond. The host, veth and bridge networks are judged the same way as context: they show which step costs. "A VM's virtual NIC costs more": the VM's median round trip over its tap and virtio-net (tapRttP50Us ÷ native) against the container's on nat — confirmed when the VM's whole CI lies above the container's, refuted when wholly below, inconclusive when they overlap. TCG emulates the guest's network stack and its NIC, so a TCG VM costing more is context; one costing less decides.`,
    brief: `container on nat: Rx, Tx, transactions/s each **≥ ${T.littleNetRatio}×** native and p50 round trip **≤ ${fmt(1 / T.littleNetRatio, '×')}** (every CI → confirmed, any CI wholly beyond → refuted); host, veth, bridge judged alike as context. VM: tap p50 round trip ÷ native wholly above the container's nat ratio → confirmed, wholly below → refuted. Under TCG: see above.`,
    why: `"Little" = within ${Math.round((1 - T.littleNetRatio) * 100)} %, as for I/O (C6). The round trip is what Felter et al. found a VM's NIC adds (≈ 30 µs); throughput and transactions/s are what a service sees. Native's loopback is the baseline: the same two processes with no network layer between them.`,
    tcg: `"a VM's NIC costs more": a TCG confirmation is context (the guest's stack and NIC are emulated); a TCG VM that costs no more than the container decides.`,
  },
} as const satisfies Record<string, RuleText>;

/** A claim's rule in words; throws for a claim without one. */
export function ruleText(id: string): RuleText {
  const r = (RULE_TEXTS as Record<string, RuleText>)[id];
  if (!r) throw new Error(`RULE_TEXTS lacks ${id}`);
  return r;
}

function spec(id: string): ClaimSpec {
  const s = CLAIMS.find((c) => c.id === id);
  if (!s) throw new Error(`claims catalogue lacks ${id}`);
  return s;
}

/**
 * A VM part measured under TCG decides only when its verdict is not the one
 * TCG's bias could produce on its own (`flatters`); otherwise it is context.
 */
function tcgBearing(accel: Accel, verdict: Verdict, flatters: Verdict | null): 'decides' | 'context' {
  return accel === 'tcg' && verdict === flatters ? 'context' : 'decides';
}

/**
 * The accelerator whose rule a VM part follows: its own, except kvm on a host that is itself a VM under
 * TCG (HostData.nestedUnderTcg, the nested KVM test host), whose guests run the KVM code path at TCG's
 * speed — a timing there is never KVM evidence, so it is judged as TCG's (and labelled, ClaimBuilder.part).
 */
function ruleAccel(h: HostData, accel: Accel): Accel {
  return accel === 'kvm' && h.nestedUnderTcg() ? 'tcg' : accel;
}

/** What a kvm part's evidence says on such a host. */
const NESTED_WORDS = `nested under TCG (a KVM guest on a host whose CPU TCG emulates: the KVM code path, at TCG's speed)`;

/**
 * What a VM part's evidence adds for its accelerator: `tcg` (" under TCG") for a TCG VM, `lead` and
 * NESTED_WORDS for kvm nested under TCG, nothing for KVM; then `context`, why TCG's bias says nothing
 * about KVM, when that made the part context.
 */
function underNote(h: HostData, accel: Accel, bearing: 'decides' | 'context', o: { tcg: string; lead: string; context: string }): string {
  const under = accel === 'tcg' ? o.tcg : ruleAccel(h, accel) === 'tcg' ? `${o.lead}${NESTED_WORDS}` : '';
  return under !== '' && bearing === 'context' ? `${under}${o.context}` : under;
}

// ---- image pairs ---------------------------------------------------------------

/** A container and the VMs that run the same workload image: what C1, C3, C4 and C5 compare. */
interface Pair {
  image: ImageName;
  /** in reports: "lean pair", "Debian pair" */
  name: string;
  container: string;
  vm: Readonly<Record<Accel, string>>;
}

/** The lean pair (tsbench's lean image in a container and in the lean microVM), then the Debian pair (the Debian image in a container and in the stock VM with Debian's kernel, initrd and systemd). */
const PAIRS: readonly Pair[] = [
  { image: 'lean', name: 'lean pair', container: 'container', vm: { kvm: 'kvm', tcg: 'tcg' } },
  {
    image: 'debian',
    name: 'Debian pair',
    container: targetWithImage('container', 'debian'),
    vm: { kvm: targetWithImage(vmTargetName('kvm', 'cloud'), 'debian'), tcg: targetWithImage(vmTargetName('tcg', 'cloud'), 'debian') },
  },
];
const LEAN_PAIR = PAIRS[0] as Pair;

/** An image pair's name in reports: "lean pair", "Debian pair". */
export function pairName(image: ImageName): string {
  return PAIRS.find((p) => p.image === image)?.name ?? `${image} pair`;
}

/** "Debian pair: container@debian vs kvm-cloud@debian" (one VM) or "… vs tcg-cloud@debian / kvm-cloud@debian". */
function pairWords(pair: Pair, accel?: Accel): string {
  return `${pair.name}: ${pair.container} vs ${accel ? pair.vm[accel] : `${pair.vm.tcg} / ${pair.vm.kvm}`}`;
}

/** A part's label for a pair: the lean pair's as before pairs ("… (kvm)"), another pair's naming it ("… (kvm; Debian pair: container@debian vs kvm-cloud@debian)"). */
function pairLabel(label: string, pair: Pair, accel?: Accel): string {
  if (pair.image === 'lean') return accel ? `${label} (${accel})` : label;
  return `${label} (${accel ? `${accel}; ` : ''}${pairWords(pair, accel)})`;
}

/**
 * The pairs a claim is judged on, from the targets of `scenario` the results hold: every pair one of
 * whose targets is there, and the lean pair also when none is (so that nothing measured reads "not measured").
 */
function pairsIn(h: HostData, scenario: string): Pair[] {
  const held = (p: Pair): boolean => h.has(scenario, p.container) || ACCELS.some((a) => h.has(scenario, p.vm[a]));
  const others = PAIRS.filter((p) => p !== LEAN_PAIR && held(p));
  return held(LEAN_PAIR) || others.length === 0 ? [LEAN_PAIR, ...others] : others;
}

/** The part of one accelerator whose figure is missing: not measured, with why and the run that would measure it, when the files have that target at all. */
function vmNotMeasured(c: ClaimBuilder, h: HostData, label: string, scenario: string, accel: Accel, reason: string, pair: Pair = LEAN_PAIR): void {
  const vm = pair.vm[accel];
  if (!h.has(scenario, vm)) return;
  c.part({
    label: pairLabel(label, pair, accel),
    verdict: 'not measured',
    evidence: c.notMeasured(reason, scenario, ['native', pair.container, vm]),
    accelerator: accel,
    targets: [vm],
    ...pairOf(pair),
  });
}

/** `image` of a part of a pair, where the claim is judged on pairs (C1, C3, C4, C5). */
function pairOf(pair: Pair | undefined): { image?: ImageName } {
  return pair ? { image: pair.image } : {};
}

/**
 * When no VM part of the pair decides with a measured verdict, adds the deciding "not
 * measured" part for KVM: the claim's VM half waits for a kvm run. `pair` for claims
 * judged on image pairs; without it the lean targets, and the part names no pair.
 */
function requireVm(c: ClaimBuilder, label: string, scenario: string, targets: readonly string[], tcgWhy: string, pair?: Pair): void {
  const image = pair?.image;
  const vmParts = c.parts.filter((p) => p.accelerator !== undefined && p.label.startsWith(label) && p.image === image);
  if (vmParts.some((p) => (p.bearing ?? 'decides') === 'decides' && p.verdict !== 'not measured')) return;
  // A kvm part that decides nothing was measured nested under TCG: the claim's VM half still waits for a real KVM host.
  if (vmParts.some((p) => p.accelerator === 'kvm' && p.bearing !== 'context')) return;
  const tcgContext = vmParts.find((p) => p.bearing === 'context');
  const kvm = (pair ?? LEAN_PAIR).vm.kvm;
  const where = tcgContext?.accelerator === 'kvm' ? `only as ${NESTED_KVM}` : 'only under TCG';
  const reason = tcgContext ? `measured ${where}, which cannot decide it (${tcgWhy})` : `no \`${scenario}\` result for ${kvm}`;
  c.part({
    label: pairLabel(label, pair ?? LEAN_PAIR, 'kvm'),
    verdict: 'not measured',
    evidence: c.notMeasured(reason, scenario, targets),
    accelerator: 'kvm',
    targets: [kvm],
    ...pairOf(pair),
  });
}

// ---- C1 ---------------------------------------------------------------------

function c1(h: HostData): ClaimVerdict {
  const c = new ClaimBuilder(spec('C1'), RULE_TEXTS.C1.inWords, h);
  for (const pair of pairsIn(h, 'startup')) c1Pair(c, h, pair);
  return c.finish();
}

/** C1 on one image pair: its container under a second, its VMs much longer. */
function c1Pair(c: ClaimBuilder, h: HostData, pair: Pair): void {
  const containerPart = (target: string, bearing: 'decides' | 'context'): MetricFound | undefined => {
    const ready = h.metric('startup', target, 'toReadyMs');
    const label = pairLabel(`${target} ready in < 1 s`, pair);
    const base = { label, bearing, targets: [target], ...pairOf(pair) };
    if (!ready.ok) {
      c.part({ ...base, verdict: 'not measured', evidence: c.notMeasured(ready.reason, 'startup', ['native', target]) });
      return undefined;
    }
    c.use(ready.found);
    const iv = ready.found.interval;
    c.fig(figure('time to ready', iv, 'ms', target));
    const exit = h.metric('startup', target, 'toExitMs');
    if (exit.ok) c.fig(figure('time to exit', exit.found.interval, 'ms', target));
    c.part({
      ...base,
      verdict: atMost(iv, T.containerReadyMs),
      evidence: `ready in ${fmtIv(iv, 'ms')} against a bound of ${fmt(T.containerReadyMs, 'ms')}.`,
      margins: [margin(iv, T.containerReadyMs, ready.found)],
    });
    return ready.found;
  };
  const ct = containerPart(pair.container, 'decides');
  for (const p of PEERS) {
    const peer = targetWithImage(p, pair.image);
    if (h.has('startup', peer)) containerPart(peer, 'context');
  }

  const label = 'VM takes much longer';
  for (const accel of ACCELS) {
    const target = pair.vm[accel];
    const vm = h.metric('startup', target, 'toReadyMs');
    if (!vm.ok) {
      vmNotMeasured(c, h, label, 'startup', accel, vm.reason, pair);
      continue;
    }
    c.use(vm.found);
    c.fig(figure('time to ready', vm.found.interval, 'ms', target));
    const exit = h.metric('startup', target, 'toExitMs');
    if (exit.ok) c.fig(figure('time to exit', exit.found.interval, 'ms', target));
    if (!ct) continue;
    const r = ratioBetween(vm.found, ct);
    if (!r) continue;
    c.fig(figure(`${target} / ${pair.container} time to ready`, r, '×', target));
    const verdict = atLeast(r, T.muchLongerFactor);
    const bearing = tcgBearing(ruleAccel(h, accel), verdict, 'confirmed');
    const note = underNote(h, accel, bearing, {
      tcg: ' under TCG emulation',
      lead: ', ',
      context: ', which boots slower than KVM: this says nothing about a KVM VM',
    });
    const vmWords = pair === LEAN_PAIR ? `a ${accel} VM` : `a ${target} VM`;
    c.part({
      label: pairLabel(label, pair, accel),
      verdict,
      evidence: `${vmWords} is ready in ${fmtIv(vm.found.interval, 'ms')}, ${fmtIv(r, '×')} the container's${note}.`,
      bearing,
      accelerator: accel,
      targets: [target, pair.container],
      margins: [margin(r, T.muchLongerFactor, vm.found, ct)],
      ...pairOf(pair),
    });
  }
  requireVm(c, label, 'startup', ['native', pair.container, pair.vm.kvm], 'a TCG boot is slower than a KVM boot', pair);
}

// ---- C2 ---------------------------------------------------------------------

function c2(h: HostData): ClaimVerdict {
  const c = new ClaimBuilder(spec('C2'), RULE_TEXTS.C2.inWords, h);
  const parts: { target: string; label: string; accel?: Accel; judge: (r: Interval) => Verdict; bound: number; words: string }[] = [
    {
      target: 'container',
      label: 'container near-native',
      judge: (r) => atMost(r, T.nearNativeRatio),
      bound: T.nearNativeRatio,
      words: `within ${pct(T.nearNativeRatio)}`,
    },
    {
      target: 'kvm',
      label: 'KVM close behind',
      accel: 'kvm',
      judge: (r) => atMost(r, T.closeBehindRatio),
      bound: T.closeBehindRatio,
      words: `within ${pct(T.closeBehindRatio)}`,
    },
    {
      target: 'tcg',
      label: 'TCG far slower',
      accel: 'tcg',
      judge: (r) => atLeast(r, T.farSlowerRatio),
      bound: T.farSlowerRatio,
      words: `at least ${T.farSlowerRatio}×`,
    },
  ];
  for (const p of parts) {
    const r = h.ratioToNative('cpu', p.target, 'workMs');
    const base = { label: p.label, targets: [p.target], ...(p.accel ? { accelerator: p.accel } : {}) };
    if (!r.ok) {
      c.part({ ...base, verdict: 'not measured', evidence: c.notMeasured(r.reason, 'cpu', ['native', p.target]) });
      continue;
    }
    c.use(r.found);
    c.fig(figure('work time', r.found.interval, 'ms', p.target));
    c.fig(figure('work time / native', r.found.ratio, '×', p.target));
    // "KVM close behind" is about KVM's speed: a kvm target nested under TCG is context, and the part waits for a KVM host.
    const nestedKvm = p.accel !== undefined && ruleAccel(h, p.accel) !== p.accel;
    c.part({
      ...base,
      verdict: p.judge(r.found.ratio),
      evidence: `fixed work takes ${fmtIv(r.found.ratio, '×')} native's time (${fmt(r.found.interval.value, 'ms')}); the rule asks ${p.words}${nestedKvm ? `; measured ${NESTED_WORDS}: no KVM figure` : ''}.`,
      ...(nestedKvm ? { bearing: 'context' as const } : {}),
      margins: [margin(r.found.ratio, p.bound, r.found)],
    });
    if (nestedKvm)
      c.part({
        ...base,
        verdict: 'not measured',
        evidence: c.notMeasured(`measured only as ${NESTED_KVM}, which cannot decide it`, 'cpu', ['native', p.target]),
      });
  }
  const native = h.metric('cpu', 'native', 'workMs');
  if (native.ok) c.fig(figure('work time', native.found.interval, 'ms', 'native'));
  return c.finish();
}

// ---- C3 ---------------------------------------------------------------------

/** a − b for two intervals, widest (interval arithmetic). */
const minus = (a: Interval, b: Interval): Interval => ({ value: a.value - b.value, lo: a.lo - b.hi, hi: a.hi - b.lo });

function c3(h: HostData): ClaimVerdict {
  const c = new ClaimBuilder(spec('C3'), RULE_TEXTS.C3.inWords, h);
  for (const pair of pairsIn(h, 'memory')) c3Pair(c, h, pair);
  return c.finish();
}

/** C3 on one image pair: its container's extra host memory against its VMs'. */
function c3Pair(c: ClaimBuilder, h: HostData, pair: Pair): void {
  const nat = h.metric('memory', 'native', 'footprintPssBytes');
  const ct = h.metric('memory', pair.container, 'footprintPssBytes');
  if (!nat.ok || !ct.ok) {
    const why = !ct.ok ? ct.reason : !nat.ok ? nat.reason : '';
    c.part({
      label: pairLabel('container vs VM memory', pair),
      verdict: 'not measured',
      evidence: c.notMeasured(why, 'memory', ['native', pair.container, pair.vm.kvm]),
      targets: ['native', pair.container],
      ...pairOf(pair),
    });
    return;
  }
  c.use(nat.found, ct.found);
  const ctExtra = minus(ct.found.interval, nat.found.interval);
  const ctHi = Math.max(0, ctExtra.hi);
  const ctLo = Math.max(0, ctExtra.lo);
  if (!c.figures.some((f) => f.target === 'native' && f.label === 'idle footprint (PSS)'))
    c.fig(figure('idle footprint (PSS)', nat.found.interval, 'bytes', 'native'));
  c.fig(figure('idle footprint (PSS)', ct.found.interval, 'bytes', pair.container));
  c.fig(figure('extra over native', ctExtra, 'bytes', pair.container));
  const cg = h.metric('memory', pair.container, 'cgroupUsageBytes');
  if (cg.ok) c.fig(figure('cgroup memory usage', cg.found.interval, 'bytes', pair.container));
  const label = 'container uses much less memory than a VM';
  for (const accel of ACCELS) {
    const target = pair.vm[accel];
    const vm = h.metric('memory', target, 'footprintPssBytes');
    if (!vm.ok) {
      vmNotMeasured(c, h, label, 'memory', accel, vm.reason, pair);
      continue;
    }
    c.use(vm.found);
    const vmExtra = minus(vm.found.interval, nat.found.interval);
    c.fig(figure('idle footprint (PSS)', vm.found.interval, 'bytes', target));
    c.fig(figure('extra over native', vmExtra, 'bytes', target));
    const ctWords = `the container adds ${fmtIv(ctExtra, 'bytes')} over native`;
    const split = vmSplit(c, h, vm.found, accel, ctExtra, pair);
    const base = { label: pairLabel(label, pair, accel), accelerator: accel, targets: ['native', pair.container, target], ...pairOf(pair) };
    if (accel === 'kvm') {
      const verdict: Verdict =
        T.muchLessMemoryFactor * ctHi <= vmExtra.lo ? 'confirmed' : T.muchLessMemoryFactor * ctLo > vmExtra.hi ? 'refuted' : 'inconclusive';
      c.part({ ...base, verdict, evidence: `${ctWords}, a KVM VM ${fmtIv(vmExtra, 'bytes')}${times(vmExtra, ctExtra)}.${split.words}` });
      if (split.part) c.part(split.part);
      continue;
    }
    const used = derived(vm.found, 'guestUsedBytes', (v) =>
      v.guestTotalBytes !== undefined && v.guestAvailableBytes !== undefined ? v.guestTotalBytes - v.guestAvailableBytes : undefined,
    );
    const bound = used ? minus(used, nat.found.interval) : undefined;
    if (used) c.fig(figure('guest memory in use (lower bound of any VM)', used, 'bytes', target));
    let verdict: Verdict;
    if (bound && T.muchLessMemoryFactor * ctHi <= bound.lo) verdict = 'confirmed';
    else if (T.muchLessMemoryFactor * ctLo > vmExtra.hi) verdict = 'refuted';
    else verdict = 'inconclusive';
    const boundWords = bound
      ? `its guest alone has ${fmtIv(used as Interval, 'bytes')} in use, which any VM's host must back whatever the accelerator`
      : "no guest memory figures to bound it with, and TCG's own PSS includes its translation cache";
    c.part({
      ...base,
      verdict,
      evidence: `${ctWords}; a TCG VM adds ${fmtIv(vmExtra, 'bytes')}${times(vmExtra, ctExtra)} — judged under TCG: ${boundWords}.${split.words}`,
    });
    if (split.part) c.part(split.part);
  }
  requireVm(c, label, 'memory', ['native', pair.container, pair.vm.kvm], '', pair);
}

/** ", N× the container's" for the medians of two extras, when the container's is above 0. */
const times = (vm: Interval, ct: Interval): string => (ct.value > 0 ? `, ${fmt(vm.value / ct.value, '×')} the container's` : '');

/**
 * C3's split of a VM's PSS, where its memory result has one: the guest RAM
 * touched and the VMM overhead as figures; the sentence the deciding part's
 * evidence ends with; and the context part that judges the container's extra
 * against the overhead alone, to be added after the deciding part. Nothing for
 * results without the split.
 */
function vmSplit(c: ClaimBuilder, h: HostData, vm: MetricFound, accel: Accel, ctExtra: Interval, pair: Pair): { words: string; part?: ClaimPart } {
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
  const [lo, hi] = [Math.max(0, ctExtra.lo), Math.max(0, ctExtra.hi)];
  const verdict: Verdict = T.muchLessMemoryFactor * hi <= o.lo ? 'confirmed' : T.muchLessMemoryFactor * lo > o.hi ? 'refuted' : 'inconclusive';
  const tcgNote = accel === 'tcg' ? ", TCG's translation buffer included" : '';
  const whose = share ? ` (${fmt(share.value, '%')} of it guest RAM)` : '';
  const relation = verdict === 'confirmed' ? 'under' : verdict === 'refuted' ? 'over' : 'not clearly under';
  return {
    words: ` Of the VM's ${fmt(vm.interval.value, 'bytes')} PSS${whose}, ${fmtIv(g, 'bytes')} is guest RAM its guest has touched and ${fmtIv(o, 'bytes')} the VMM's own overhead${tcgNote}; the container's extra is ${relation} 1/${T.muchLessMemoryFactor} of the overhead alone (context).`,
    part: {
      label: pairLabel('container uses much less memory than the VMM alone', pair, accel),
      verdict,
      evidence: `the container adds ${fmtIv(ctExtra, 'bytes')} over native; the ${accel} VMM alone (qemu's PSS less its guest RAM${tcgNote}) takes ${fmtIv(o, 'bytes')}, against ${T.muchLessMemoryFactor}× the container's extra (at most ${fmt(T.muchLessMemoryFactor * hi, 'bytes')}).`,
      bearing: 'context',
      accelerator: accel,
      targets: ['native', pair.container, target],
      ...pairOf(pair),
    },
  };
}

// ---- C4 ---------------------------------------------------------------------

function c4(h: HostData): ClaimVerdict {
  const c = new ClaimBuilder(spec('C4'), RULE_TEXTS.C4.inWords, h);
  // The pairs whose image some result records; the lean pair also when none does.
  const recorded = h.imageNames();
  const pairs = PAIRS.filter((p) => recorded.has(p.image));
  for (const pair of pairs.length > 0 ? pairs : [LEAN_PAIR]) c4Pair(c, h, pair);
  return c.finish();
}

/** C4 on one image pair: what its container carries against what its VM is given, from the image's recorded sizes. */
function c4Pair(c: ClaimBuilder, h: HostData, pair: Pair): void {
  const label = pairLabel('container image small vs VM image', pair);
  const img = h.image(undefined, pair.image);
  if (!img) {
    c.part({
      label,
      verdict: 'not measured',
      evidence: c.notMeasured('no result file of this host records the workload image', 'startup', ['native', pair.container]),
      ...pairOf(pair),
    });
    return;
  }
  c.useFile(img.source, pair.image === 'lean' ? 'image' : `${pair.image} image`);
  const { rootfsBytes, rootDiskBytes, initramfsBytes, kernelBytes, modulesBytes, packing, kernelRelease } = img.image;
  // lean: since the root disk, a VM carries kernel + root disk + initramfs; before it, kernel + initramfs.
  // Another image: its disk is a whole system (userland, kernel, modules, initrd), as a cloud image is; the
  // kernel and initrd QEMU is given are copies of the disk's own, so the VM image is the disk as stored.
  const stored = img.image.rootDiskAllocatedBytes ?? rootDiskBytes;
  const vmBytes = pair.image === 'lean' || stored === undefined ? kernelBytes + initramfsBytes + (rootDiskBytes ?? 0) : stored;
  const ratio = vmBytes / rootfsBytes;
  const exact = (v: number): Interval => ({ value: v, lo: v, hi: v });
  const verdict = atLeast(exact(ratio), T.smallImageFactor);
  if (pair.image === 'lean') {
    const vmLabel = rootDiskBytes === undefined ? 'VM image (kernel + initramfs)' : 'VM image (kernel + root disk + initramfs)';
    c.fig({ label: 'root filesystem', value: rootfsBytes, unit: 'bytes', target: 'container' });
    c.fig({ label: 'kernel', value: kernelBytes, unit: 'bytes' });
    if (rootDiskBytes !== undefined) c.fig({ label: 'root disk', value: rootDiskBytes, unit: 'bytes' });
    c.fig({ label: 'initramfs', value: initramfsBytes, unit: 'bytes' });
    c.fig({ label: 'kernel modules (in the initramfs)', value: modulesBytes, unit: 'bytes' });
    c.fig({ label: vmLabel, value: vmBytes, unit: 'bytes' });
    c.fig({ label: 'VM image / container image', value: ratio, unit: '×' });
    const parts =
      rootDiskBytes === undefined
        ? `${packing}: ${fmt(initramfsBytes, 'bytes')}`
        : `root disk ${fmt(rootDiskBytes, 'bytes')} + initramfs ${fmt(initramfsBytes, 'bytes')}; ${packing}`;
    c.part({
      label,
      verdict,
      evidence: `the container carries ${fmt(rootfsBytes, 'bytes')}; a VM carries ${fmt(vmBytes, 'bytes')} (kernel ${kernelRelease} ${fmt(kernelBytes, 'bytes')} + ${parts}), ${fmt(ratio, '×')} the container's — the same userland plus a kernel and ${fmt(modulesBytes, 'bytes')} of modules.`,
      ...pairOf(pair),
    });
    return;
  }
  const named = (what: string): string => `${pair.image} image: ${what}`;
  c.fig({ label: named('root filesystem'), value: rootfsBytes, unit: 'bytes', target: pair.container });
  c.fig({ label: named('kernel (on the disk)'), value: kernelBytes, unit: 'bytes' });
  c.fig({ label: named('initrd (on the disk)'), value: initramfsBytes, unit: 'bytes' });
  c.fig({ label: named('kernel modules (on the disk)'), value: modulesBytes, unit: 'bytes' });
  if (rootDiskBytes !== undefined) c.fig({ label: named('root disk (file size)'), value: rootDiskBytes, unit: 'bytes' });
  c.fig({
    label: named(stored === rootDiskBytes ? 'VM image (the root disk)' : 'VM image (the root disk as stored: its allocated blocks)'),
    value: vmBytes,
    unit: 'bytes',
  });
  c.fig({ label: named('VM image / container image'), value: ratio, unit: '×' });
  const free =
    stored !== undefined && rootDiskBytes !== undefined && stored !== rootDiskBytes ? ` (a ${fmt(rootDiskBytes, 'bytes')} sparse file with room to write)` : '';
  c.part({
    label,
    verdict,
    evidence: `${pair.container} carries ${fmt(rootfsBytes, 'bytes')} (the image's userland, no kernel); its VM's disk stores ${fmt(vmBytes, 'bytes')}${free}: the same userland plus kernel ${kernelRelease} ${fmt(kernelBytes, 'bytes')}, ${fmt(modulesBytes, 'bytes')} of modules and its initrd ${fmt(initramfsBytes, 'bytes')} (${packing}), ${fmt(ratio, '×')} the container's.`,
    ...pairOf(pair),
  });
}

// ---- C5 ---------------------------------------------------------------------

function c5(h: HostData): ClaimVerdict {
  const c = new ClaimBuilder(spec('C5'), RULE_TEXTS.C5.inWords, h);
  for (const pair of pairsIn(h, 'density')) c5Pair(c, h, pair);
  return c.finish();
}

/** C5 on one image pair: host memory per idle instance of its container against its VMs'. */
function c5Pair(c: ClaimBuilder, h: HostData, pair: Pair): void {
  const ct = h.metric('density', pair.container, 'pssPerInstanceBytes');
  if (!ct.ok) {
    c.part({
      label: pairLabel('more containers than VMs fit', pair),
      verdict: 'not measured',
      evidence: c.notMeasured(ct.reason, 'density', ['native', pair.container, pair.vm.kvm]),
      targets: [pair.container],
      ...pairOf(pair),
    });
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
  for (const accel of ACCELS) {
    const target = pair.vm[accel];
    const vm = h.metric('density', target, 'pssPerInstanceBytes');
    if (!vm.ok) {
      vmNotMeasured(c, h, label, 'density', accel, vm.reason, pair);
      continue;
    }
    c.use(vm.found);
    const vmIv = vm.found.interval;
    c.fig(figure('PSS per instance', vmIv, 'bytes', target));
    extras(target);
    const refuted = vmIv.hi < T.moreFitFactor * ctIv.lo;
    let confirmOn: Interval | undefined = vmIv;
    let boundWords = '';
    if (accel === 'tcg') {
      confirmOn = undefined;
      const mem = h.metric('memory', target, 'guestAvailableBytes');
      if (mem.ok) {
        const used = derived(mem.found, 'guestUsedBytes', (v) =>
          v.guestTotalBytes !== undefined && v.guestAvailableBytes !== undefined ? v.guestTotalBytes - v.guestAvailableBytes : undefined,
        );
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
    const verdict: Verdict = confirmOn && confirmOn.lo >= T.moreFitFactor * ctIv.hi ? 'confirmed' : refuted ? 'refuted' : 'inconclusive';
    // The VMM's own overhead per instance, where the run split it (from the same file as the PSS).
    const overhead = h.metric('density', target, 'vmmOverheadPerInstanceBytes');
    let alone: ClaimPart | undefined;
    let overheadWords = '';
    if (overhead.ok && overhead.found.source === vm.found.source) {
      const o = overhead.found.interval;
      const tcgNote = accel === 'tcg' ? ", TCG's translation buffer included" : '';
      c.fig(figure('VMM overhead per instance (PSS − guest RAM)', o, 'bytes', target));
      const v: Verdict = o.lo >= T.moreFitFactor * ctIv.hi ? 'confirmed' : o.hi < T.moreFitFactor * ctIv.lo ? 'refuted' : 'inconclusive';
      alone = {
        label: pairLabel('counting only the VMM, more containers than VMs fit', pair, accel),
        verdict: v,
        evidence: `a container takes ${fmtIv(ctIv, 'bytes')} per instance; the ${accel} VMM alone (qemu's PSS less its guest RAM${tcgNote}) ${fmtIv(o, 'bytes')}, against ${T.moreFitFactor}× the container's.`,
        bearing: 'context',
        accelerator: accel,
        targets: [pair.container, target],
        ...pairOf(pair),
      };
      const relation = v === 'confirmed' ? 'at least' : v === 'refuted' ? 'under' : 'not clearly at least';
      overheadWords = ` Of the VM's, ${fmtIv(o, 'bytes')} is the VMM's own overhead${tcgNote}: ${relation} ${T.moreFitFactor}× a container on its own (context).`;
    }
    c.part({
      label: pairLabel(label, pair, accel),
      verdict,
      evidence: `a container takes ${fmtIv(ctIv, 'bytes')} per instance, a ${pair === LEAN_PAIR ? accel : target} VM ${fmtIv(vmIv, 'bytes')}${boundWords}.${overheadWords}`,
      accelerator: accel,
      targets: [pair.container, target],
      ...pairOf(pair),
    });
    if (alone) c.part(alone);
  }
  requireVm(c, label, 'density', ['native', pair.container, pair.vm.kvm], '', pair);
}

// ---- C6 ---------------------------------------------------------------------

const IO_THROUGHPUT = ['SeqReadMiBps', 'SeqWriteMiBps', 'RandReadIops', 'RandWriteIops'] as const;
const lowerFirst = (s: string): string => s.charAt(0).toLowerCase() + s.slice(1);

function c6(h: HostData): ClaimVerdict {
  const c = new ClaimBuilder(spec('C6'), RULE_TEXTS.C6.inWords, h);
  const containerPart = (prefix: '' | 'overlay', bearing: 'decides' | 'context'): void => {
    const label = prefix ? 'container overlay root: little I/O overhead' : 'container volume: little I/O overhead';
    const verdicts: Verdict[] = [];
    const words: string[] = [];
    const margins: Margin[] = [];
    for (const m of IO_THROUGHPUT) {
      const metric = prefix ? `overlay${m}` : lowerFirst(m);
      const r = h.ratioToNative('io', 'container', metric);
      if (!r.ok) {
        c.part({ label, verdict: 'not measured', evidence: c.notMeasured(r.reason, 'io', ['native', 'container']), bearing, targets: ['container'] });
        return;
      }
      c.use(r.found);
      c.fig(figure(`${metric} / native`, r.found.ratio, '×', 'container'));
      verdicts.push(atLeast(r.found.ratio, T.littleIoRatio));
      margins.push(margin(r.found.ratio, T.littleIoRatio, r.found));
      words.push(`${metric} ${fmtIv(r.found.ratio, '×')}`);
    }
    const verdict = verdicts.includes('refuted') ? 'refuted' : all(verdicts);
    c.part({
      label,
      verdict,
      evidence: `ratios to native: ${words.join(', ')}; the rule asks ≥ ${T.littleIoRatio}×.`,
      bearing,
      targets: ['native', 'container'],
      margins,
    });
  };
  containerPart('', 'decides');
  containerPart('overlay', 'context');
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
    const below = (iv: Interval): boolean => iv.hi < T.littleIoRatio;
    const notBelow = (iv: Interval): boolean => iv.lo >= T.littleIoRatio;
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
  return c.finish();
}

// ---- C7 ---------------------------------------------------------------------

function c7(h: HostData): ClaimVerdict {
  const c = new ClaimBuilder(spec('C7'), RULE_TEXTS.C7.inWords, h);
  const judge = (target: string, bearing: 'decides' | 'context'): void => {
    const mem = h.metric('limits', target, 'memLimitHeld');
    const memLabel = `${target}: memory limit holds`;
    if (!mem.ok)
      c.part({ label: memLabel, verdict: 'not measured', evidence: c.notMeasured(mem.reason, 'limits', ['native', target]), bearing, targets: [target] });
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
        evidence: `a hog at 2× the limit${limitWords} was OOM-killed and reported in ${held} of ${st.n} samples.`,
        bearing,
        targets: [target],
      });
    }
    const cpuLabel = `${target}: CPU quota holds`;
    const cpu = h.metric('limits', target, 'cpuQuotaDeliveredCpus');
    const quota = h.metric('limits', target, 'cpuQuotaCpus');
    if (!cpu.ok || !quota.ok) {
      const why = !cpu.ok ? cpu.reason : !quota.ok ? `${target} records no CPU quota (cpuQuotaCpus) in ${quota.reason}` : '';
      c.part({ label: cpuLabel, verdict: 'not measured', evidence: c.notMeasured(why, 'limits', ['native', target]), bearing, targets: [target] });
      return;
    }
    c.use(cpu.found);
    const share = derived(cpu.found, 'deliveredPerQuota', (v) =>
      v.cpuQuotaDeliveredCpus !== undefined && v.cpuQuotaCpus ? v.cpuQuotaDeliveredCpus / v.cpuQuotaCpus : undefined,
    );
    c.fig(figure('CPUs delivered under the quota', cpu.found.interval, 'CPUs', target));
    c.fig(figure('CPU quota', quota.found.interval, 'CPUs', target));
    if (!share) {
      c.part({
        label: cpuLabel,
        verdict: 'not measured',
        evidence: c.notMeasured('no sample has both delivered CPUs and the quota', 'limits', ['native', target]),
        bearing,
        targets: [target],
      });
      return;
    }
    c.fig(figure('delivered / quota', share, '×', target));
    c.part({
      label: cpuLabel,
      verdict: atMost(share, T.cpuQuotaSlack),
      evidence: `a busy loop wanting more got ${fmtIv(cpu.found.interval, 'CPUs')} under a quota of ${fmt(quota.found.interval.value, 'CPUs')}: ${fmtIv(share, '×')} the quota against a bound of ${T.cpuQuotaSlack}×.`,
      bearing,
      targets: [target],
    });
  };
  judge('container', 'decides');
  for (const p of PEERS) if (h.has('limits', p)) judge(p, 'context');
  return c.finish();
}

// ---- C8 ---------------------------------------------------------------------

const ISOLATION_PROBES = [
  ['seesHostPids', 'processes'],
  ['seesHostNet', 'network'],
  ['seesHostMounts', 'mounts'],
  ['seesHostIpc', 'IPC'],
  ['seesHostHostname', 'hostname'],
] as const;

function c8(h: HostData): ClaimVerdict {
  const c = new ClaimBuilder(spec('C8'), RULE_TEXTS.C8.inWords, h);
  let samples = Infinity;
  for (const [metric, what] of ISOLATION_PROBES) {
    const label = `container does not see the host's ${what}`;
    const ct = h.metric('isolation', 'container', metric);
    const nat = h.metric('isolation', 'native', metric);
    if (!ct.ok || !nat.ok) {
      const why = !ct.ok ? ct.reason : !nat.ok ? `no native control: ${nat.reason}` : '';
      c.part({ label, verdict: 'not measured', evidence: c.notMeasured(why, 'isolation', ['native', 'container']), targets: ['native', 'container'] });
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
  return c.finish();
}

// ---- C9 ---------------------------------------------------------------------

function c9(h: HostData): ClaimVerdict {
  const c = new ClaimBuilder(spec('C9'), RULE_TEXTS.C9.inWords, h);
  const up = h.metric('isolation', 'container', 'upperBytesAtStart');
  const label = 'thin writable layer, no image copy';
  if (!up.ok) c.part({ label, verdict: 'not measured', evidence: c.notMeasured(up.reason, 'isolation', ['native', 'container']), targets: ['container'] });
  else {
    c.use(up.found);
    const img = h.image(up.found.source);
    c.fig(figure('upper layer written at start', up.found.interval, 'bytes', 'container'));
    if (!img)
      c.part({
        label,
        verdict: 'not measured',
        evidence: c.notMeasured('no result of this host records the image size', 'isolation', ['native', 'container']),
        targets: ['container'],
      });
    else {
      if (img.source !== up.found.source) c.useFile(img.source, 'image');
      const root = img.image.rootfsBytes;
      const frac: Interval = { value: up.found.interval.value / root, lo: up.found.interval.lo / root, hi: up.found.interval.hi / root };
      c.fig({ label: 'image root filesystem', value: root, unit: 'bytes', target: 'container' });
      c.fig(figure('upper layer / image', { value: frac.value * 100, lo: frac.lo * 100, hi: frac.hi * 100 }, '%', 'container'));
      const verdict: Verdict = frac.hi < T.thinFraction ? 'confirmed' : frac.lo >= T.thinFraction ? 'refuted' : 'inconclusive';
      c.part({
        label,
        verdict,
        evidence: `starting a container wrote ${fmtIv(up.found.interval, 'bytes')} to its upper layer over a ${fmt(root, 'bytes')} image (${fmt(frac.value * 100, '%')}; the bound is ${T.thinFraction * 100} %).`,
        targets: ['container'],
      });
    }
  }
  startupBySize(c, h);
  return c.finish();
}

/**
 * C9's "startup independent of image size": a container's time to ready with the lean image and
 * with the Debian image (another size, the same job). Decides when both are measured; until then
 * context, not measured, with the run that would measure it.
 */
function startupBySize(c: ClaimBuilder, h: HostData): void {
  const label = 'startup independent of image size';
  const [lean, other] = [LEAN_PAIR, PAIRS[1] as Pair];
  const targets = [lean.container, other.container];
  const a = h.metric('startup', other.container, 'toReadyMs');
  const b = h.metric('startup', lean.container, 'toReadyMs');
  const r = a.ok && b.ok ? ratioBetween(a.found, b.found) : undefined;
  if (!a.ok || !b.ok || !r) {
    const why = !b.ok ? b.reason : !a.ok ? a.reason : 'no sample of either has a time to ready';
    c.part({ label, verdict: 'not measured', evidence: c.notMeasured(why, 'startup', ['native', ...targets]), bearing: 'context', targets });
    return;
  }
  c.use(a.found, b.found);
  c.fig(figure('time to ready', b.found.interval, 'ms', lean.container));
  c.fig(figure('time to ready', a.found.interval, 'ms', other.container));
  const sizes = [lean, other].map((p, i) => {
    const img = h.image((i === 0 ? b : a).found.source, p.image);
    if (!img) return undefined;
    if (img.source !== (i === 0 ? b : a).found.source) c.useFile(img.source, `${p.image} image`);
    c.fig({ label: 'image root filesystem', value: img.image.rootfsBytes, unit: 'bytes', target: p.container });
    return img.image.rootfsBytes;
  });
  c.fig(figure(`${other.container} / ${lean.container} time to ready`, r, '×', other.container));
  const band = T.sameStartupFactor;
  const verdict: Verdict = r.lo >= 1 / band && r.hi <= band ? 'confirmed' : r.lo > band || r.hi < 1 / band ? 'refuted' : 'inconclusive';
  const size = (bytes: number | undefined): string => (bytes === undefined ? 'size not recorded' : fmt(bytes, 'bytes'));
  c.part({
    label,
    verdict,
    evidence: `a container of the ${other.image} image (root filesystem ${size(sizes[1])}) is ready in ${fmtIv(a.found.interval, 'ms')}, of the lean image (${size(sizes[0])}) in ${fmtIv(b.found.interval, 'ms')}: ${fmtIv(r, '×')} — the rule asks between ${fmt(1 / band, '×')} and ${fmt(band, '×')}.`,
    targets,
  });
}

// ---- C10 --------------------------------------------------------------------

function c10(h: HostData): ClaimVerdict {
  const c = new ClaimBuilder(spec('C10'), RULE_TEXTS.C10.inWords, h);
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
        c.part({
          label: partLabel,
          verdict: 'not measured',
          evidence: c.notMeasured(why, d.scenario, [accel, nested]),
          accelerator: accel,
          targets: [accel, nested],
        });
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
        verdict = atMost(diff, T.littleExtraStartupMs);
        judged = margin(diff, T.littleExtraStartupMs, a.found, b.found);
        words = `the container adds ${fmtIv(diff, 'ms')} to a ${accel} VM's ${fmt(b.found.interval.value, 'ms')} time to ready (bound ${T.littleExtraStartupMs} ms)`;
      } else {
        const r = ratioBetween(a.found, b.found);
        if (!r) continue;
        c.fig(figure('work time / VM alone', r, '×', nested));
        verdict = atMost(r, T.littleExtraCpuRatio);
        judged = margin(r, T.littleExtraCpuRatio, a.found, b.found);
        words = `fixed work takes ${fmtIv(r, '×')} the time it takes in the ${accel} VM alone (bound ${T.littleExtraCpuRatio}×)`;
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
  return c.finish();
}

// ---- C11 --------------------------------------------------------------------

function c11(h: HostData): ClaimVerdict {
  const c = new ClaimBuilder(spec('C11'), RULE_TEXTS.C11.inWords, h);
  const r = h.ratioToNative('cpu', 'container', 'hostCpuPerEventUs');
  if (!r.ok)
    c.part({
      label: 'no host CPU spent on a container layer',
      verdict: 'not measured',
      evidence: c.notMeasured(r.reason, 'cpu', ['native', 'container']),
      targets: ['container'],
    });
  else {
    c.use(r.found);
    c.fig(figure('host CPU per event', r.found.interval, 'µs', 'container'));
    c.fig(figure('host CPU per event / native', r.found.ratio, '×', 'container'));
    const w = h.ratioToNative('cpu', 'container', 'hostCpuMsWork');
    if (w.ok) c.fig(figure('host CPU during the work / native', w.found.ratio, '×', 'container'));
    c.part({
      label: 'no host CPU spent on a container layer',
      verdict: atMost(r.found.ratio, T.nearNativeRatio),
      evidence: `the container costs the host ${fmtIv(r.found.ratio, '×')} native's CPU per event (${fmt(r.found.interval.value, 'µs')}); the bound is ${T.nearNativeRatio}×.`,
      targets: ['native', 'container'],
      margins: [margin(r.found.ratio, T.nearNativeRatio, r.found)],
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
  return c.finish();
}

// ---- C12 --------------------------------------------------------------------

const NET_FIGURES = ['RxGbps', 'TxGbps', 'Tps', 'RttP50Us'] as const;

/** Whether `net`'s figures for one network keep within "little" of native: the throughputs above, the round trip below. */
function netLittle(c: ClaimBuilder, h: HostData, target: string, net: string, label: string, bearing: 'decides' | 'context'): void {
  const verdicts: Verdict[] = [];
  const words: string[] = [];
  const margins: Margin[] = [];
  for (const f of NET_FIGURES) {
    const metric = `${net}${f}`;
    const r = h.ratioToNative('net', target, metric);
    if (!r.ok) {
      c.part({ label, verdict: 'not measured', evidence: c.notMeasured(r.reason, 'net', ['native', target]), bearing, targets: [target] });
      return;
    }
    c.use(r.found);
    c.fig(figure(`${metric} / native`, r.found.ratio, '×', target));
    verdicts.push(f === 'RttP50Us' ? atMost(r.found.ratio, 1 / T.littleNetRatio) : atLeast(r.found.ratio, T.littleNetRatio));
    margins.push(margin(r.found.ratio, f === 'RttP50Us' ? 1 / T.littleNetRatio : T.littleNetRatio, r.found));
    words.push(`${metric} ${fmtIv(r.found.ratio, '×')}`);
  }
  c.part({
    label,
    verdict: verdicts.includes('refuted') ? 'refuted' : all(verdicts),
    evidence: `ratios to native: ${words.join(', ')}; the rule asks ≥ ${T.littleNetRatio}× for throughput and transactions/s, ≤ ${fmt(1 / T.littleNetRatio, '×')} for the round trip.`,
    bearing,
    targets: ['native', target],
    margins,
  });
}

function c12(h: HostData): ClaimVerdict {
  const c = new ClaimBuilder(spec('C12'), RULE_TEXTS.C12.inWords, h);
  netLittle(c, h, 'container', 'nat', 'container through a bridge and NAT: costs little', 'decides');
  for (const net of ['host', 'veth', 'bridge'] as const) netLittle(c, h, 'container', net, `container on ${net}: costs little`, 'context');

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
  return c.finish();
}

/** Every rule, in claim order. */
export const RULES: readonly ((h: HostData) => ClaimVerdict)[] = [c1, c2, c3, c4, c5, c6, c7, c8, c9, c10, c11, c12];
