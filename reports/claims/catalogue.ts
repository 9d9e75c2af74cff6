/**
 * The claims tsbench tests, written once: each claim's text as commonly
 * written, what decides it, and the published reference point shown beside the
 * verdict for context (not a target to tune to); the verdict vocabulary; and
 * the reference points from published work. The rules, their thresholds and
 * their words are in rules/ (one file per claim). docs/claims.md is generated from both
 * (`npm run docs:claims`); test/claims-doc.test.ts fails when it drifts.
 */
import type { Verdict } from './types.js';

export interface ClaimSpec {
  id: string;
  /** the claim as commonly written */
  claim: string;
  /** the scenario and metrics that decide it */
  decidedBy: string;
  /** the published reference point, for context */
  reference?: string;
}

/** What each verdict means, in the words reports and docs use. */
export const VERDICTS: Readonly<Record<Verdict, string>> = {
  confirmed: "the whole 95 % interval of the deciding figure lies on the claim's side of the rule's boundary. A median on the right side is never enough.",
  refuted: "the whole 95 % interval of the deciding figure lies on the other side of the rule's boundary.",
  inconclusive: 'the interval straddles the boundary (or a control failed): the data cannot tell. More runs narrow the interval.',
  'not measured':
    'a target, scenario or metric the claim needs is missing, or its target errored or was skipped (its error is the reason). The evidence names the run that would measure it, e.g. ``run `tsbench run startup --targets native,container,kvm` ``. Missing data never throws.',
};

/** A published source and what it found, each finding citable on its own. */
export interface ReferencePoint {
  source: string;
  findings: readonly string[];
}

/** The reference points from published work, for context (not targets to tune to). */
export const REFERENCE_POINTS = {
  felter: {
    source: 'IBM Research (Felter et al., 2015), native / Docker / KVM',
    findings: [
      'Linpack 290.6 / 289.0 / 132.2 GFLOPS (untuned VM)',
      'STREAM triad 45.71 / 45.54 / 44.83',
      'fio 4K random read QD16 58,729 / 58,407 / 24,793 IOPS',
      'netperf TCP_RR: KVM adds ≈ 30 µs per round trip (≈ 80 % over native); Docker with NAT adds latency of its own, with the host network none; TCP bulk throughput near line rate (10 GbE) on all three',
    ],
  },
  firecracker: {
    source: "Firecracker's specification",
    findings: ['≤ 125 ms from start request to guest init', '≤ 5 MiB VMM memory overhead'],
  },
  firecrackerSnapshot: {
    source: "Firecracker's snapshot documentation (docs/snapshotting/snapshot-support.md, Performance)",
    findings: [
      'snapshot resume latency under 8 ms (5 ms p90) for a 2 vCPU / 512 MB microVM with one block and one net device, on m5d.metal; the VMM process is started before the load',
    ],
  },
  crun: {
    source: "crun's README",
    findings: ['100 sequential `/bin/true` containers in 1.69 s (crun) vs 3.34 s (runc)'],
  },
  docker: {
    source: '`docker run --rm busybox true`',
    // tsbench's own docker, podman and runc timings are measurements, not a reference: docs/performance.md.
    findings: ['about 0.2–0.5 s on typical Linux hosts (moby issue 38077 and others)'],
  },
  gvisor: {
    source:
      "gVisor's performance guide (https://gvisor.dev/docs/architecture_guide/performance/, its data in google/gvisor website/performance/*.csv; ptrace platform, an older release, on a cloud VM), runsc vs runc",
    findings: [
      'startup through Docker about equal to runc',
      'a raw system call 38.2 µs vs 1.94 µs in their loop (runsc-kvm 0.76 µs)',
      'memory per empty container 23.7 MB vs 4.1 MB',
      'iperf throughput 0.86× (download) and 0.68× (upload) of runc',
    ],
  },
} as const satisfies Record<string, ReferencePoint>;

type Source = keyof typeof REFERENCE_POINTS;

/** "source: finding; finding", from the findings given by index, with words added to the last one. */
function cite(source: Source, indexes: readonly number[], suffix = ''): string {
  const r: ReferencePoint = REFERENCE_POINTS[source];
  const found = indexes.map((i) => {
    const f = r.findings[i];
    if (f === undefined) throw new Error(`${source} has no finding ${i}`);
    return f;
  });
  return `${r.source}: ${found.join('; ')}${suffix}`;
}

/** One reference point per line: "source: every finding". */
export function referenceLines(): string[] {
  return Object.values(REFERENCE_POINTS).map((r: ReferencePoint) => `${r.source}: ${r.findings.join('; ')}`);
}

export const CLAIMS: readonly ClaimSpec[] = [
  {
    id: 'C1',
    claim: 'A container starts in well under a second; a VM has to boot a whole kernel first and takes much longer.',
    decidedBy:
      '`startup`: toReadyMs (and toExitMs) of the container vs each VM target, on each image pair (lean: container vs tcg/kvm; Debian: container@debian vs tcg-cloud@debian/kvm-cloud@debian)',
    reference: [cite('docker', [0]), cite('firecracker', [0]), cite('crun', [0])].join('; '),
  },
  {
    id: 'C2',
    claim:
      'Processes in a container run at near-native speed; a hardware-assisted VM (KVM) is close behind; full emulation (TCG, a "type 2" emulator) is far slower.',
    decidedBy: '`cpu`: workMs (sysbench fixed work, boot excluded), ratio to native per target',
    reference: cite('felter', [0, 1]),
  },
  {
    id: 'C3',
    claim: 'A container uses much less host memory than a VM, which carries its own kernel and OS.',
    decidedBy:
      "`memory`: footprintPssBytes of one idle instance minus native (cgroupUsageBytes, guest memory in use, and a VM's split into guestRamTouchedBytes and vmmOverheadBytes beside it), on each image pair as C1",
    reference: cite('firecracker', [1], ' (the VMM alone, guest memory not counted)'),
  },
  {
    id: 'C4',
    claim: 'Container images are small compared with VM images.',
    decidedBy:
      "each image's recorded sizes — the lean image and, where a run recorded it, the Debian image: rootfsBytes (container) vs kernelBytes + rootDiskBytes + initramfsBytes (VM)",
  },
  {
    id: 'C5',
    claim: 'More containers than VMs fit on the same host.',
    decidedBy:
      "`density`: pssPerInstanceBytes (and memAvailableDeltaPerInstanceBytes, a VM's vmmOverheadPerInstanceBytes) with N instances at once, on each image pair as C1; startupP50Ms/startupP99Ms beside it",
    reference: cite('firecracker', [1], ' per microVM'),
  },
  {
    id: 'C6',
    claim: 'Containers add little I/O overhead; VMs pay for device virtualisation.',
    decidedBy: '`io`: fio bandwidth, IOPS and p50 latency ratios to native — container volume (overlay beside it), VM virtio disk',
    reference: cite('felter', [2]),
  },
  {
    id: 'C7',
    claim: "cgroups cap a container's resources — e.g. a 256 MB memory limit holds.",
    decidedBy: '`limits`: memLimitHeld (a hog at 2× the limit is OOM-killed and reported), cpuQuotaDeliveredCpus vs cpuQuotaCpus',
  },
  {
    id: 'C8',
    claim: "Namespaces keep a container from seeing the host's processes, network, mounts, IPC and hostname.",
    decidedBy: '`isolation`: seesHostPids/Net/Mounts/Ipc/Hostname inside the container, native as the control',
  },
  {
    id: 'C9',
    claim: 'A union filesystem layers a thin writable layer over a shared read-only image, so a new container needs no image copy.',
    decidedBy:
      "`isolation`: upperBytesAtStart of the container vs the image's rootfsBytes; `startup`: toReadyMs of container vs container@debian (the same job from images of two sizes)",
  },
  {
    id: 'C10',
    claim: 'Running containers inside a VM combines both worlds at little extra cost.',
    decidedBy: '`startup` toReadyMs and `cpu` workMs: container-in-kvm / container-in-tcg vs kvm / tcg alone',
  },
  {
    id: 'C11',
    claim: "Containers share the host's scheduler, so no CPU is spent on an extra layer.",
    decidedBy: '`cpu`: hostCpuPerEventUs (and hostCpuMsWork), ratio to native; VMs beside it',
  },
  {
    id: 'C12',
    claim: "Container networking through a bridge and NAT costs little; a VM's virtual NIC costs more.",
    decidedBy:
      "`net`: the container on the nat network (a veth on a bridge, a published port through nftables DNAT) — natRxGbps, natTxGbps, natTps and natRttP50Us as ratios to native's loopback; a VM's tap + virtio-net round trip (tapRttP50Us) against the container's; host, veth and bridge beside",
    reference: cite('felter', [3]),
  },
  {
    id: 'C13',
    claim: 'gVisor gives VM-like isolation with container-like startup and footprint, at a price on system-call-heavy work.',
    decidedBy:
      "runsc (gVisor's default platform; runsc-kvm beside it): `startup` toReadyMs against C1's container bound; `memory` footprintPssBytes over native's against the container's and a VM's; `syscall` getppidNs as a ratio to native (openReadCloseNs, mmapTouchNs, pipeRoundTripNs beside); `isolation` seesHostPids/Net/Mounts/Ipc/Hostname with native as the control",
    reference: cite('gvisor', [0, 1, 2, 3]),
  },
  {
    id: 'C14',
    claim: 'With a snapshot, a microVM starts about as fast as a container.',
    decidedBy:
      '`startup` toReadyMs and `firstwork` toFirstWorkMs: kvm-restore (a VM restored from a snapshot saved once per run) vs container; `density` pssPerInstanceBytes: kvm-restore-template vs kvm-restore. KVM only; tcg-restore is context',
    reference: cite('firecrackerSnapshot', [0]),
  },
];
