/**
 * The claims of shared/CLAIMS.md: the text as commonly written, what decides it,
 * and the published reference point shown beside the verdict for context (not a
 * target to tune to). The rules themselves are in rules.ts.
 */

export interface ClaimSpec {
  id: string;
  claim: string;
  decidedBy: string;
  reference?: string;
}

const FELTER = 'IBM Research (Felter et al., 2015), native / Docker / KVM';

export const CLAIMS: readonly ClaimSpec[] = [
  {
    id: 'C1',
    claim: 'A container starts in well under a second; a VM has to boot a whole kernel first and takes much longer.',
    decidedBy: '`startup`: toReadyMs (and toExitMs) of the container vs each VM target',
    reference:
      "`docker run --rm busybox true`: about 0.2–0.5 s on typical Linux hosts (moby issue 38077 and others); Firecracker's specification: ≤ 125 ms from start request to guest init; crun's README: 100 sequential `/bin/true` containers in 1.69 s (crun) vs 3.34 s (runc)",
  },
  {
    id: 'C2',
    claim:
      'Processes in a container run at near-native speed; a hardware-assisted VM (KVM) is close behind; full emulation (TCG, a "type 2" emulator) is far slower.',
    decidedBy: '`cpu`: workMs (sysbench fixed work, boot excluded), ratio to native per target',
    reference: `${FELTER}: Linpack 290.6 / 289.0 / 132.2 GFLOPS (untuned VM); STREAM triad 45.71 / 45.54 / 44.83`,
  },
  {
    id: 'C3',
    claim: 'A container uses much less host memory than a VM, which carries its own kernel and OS.',
    decidedBy: '`memory`: footprintPssBytes of one idle instance minus native (cgroupUsageBytes, guest memory in use beside it)',
    reference: "Firecracker's specification: ≤ 5 MiB VMM memory overhead (the VMM alone, guest memory not counted)",
  },
  {
    id: 'C4',
    claim: 'Container images are small compared with VM images.',
    decidedBy: "the run's image: rootfsBytes (container) vs kernelBytes + initramfsBytes (VM)",
  },
  {
    id: 'C5',
    claim: 'More containers than VMs fit on the same host.',
    decidedBy: '`density`: pssPerInstanceBytes (and memAvailableDeltaPerInstanceBytes) with N instances at once; startupP50Ms/startupP99Ms beside it',
    reference: "Firecracker's specification: ≤ 5 MiB VMM memory overhead per microVM",
  },
  {
    id: 'C6',
    claim: 'Containers add little I/O overhead; VMs pay for device virtualisation.',
    decidedBy: '`io`: fio bandwidth, IOPS and p50 latency ratios to native — container volume (overlay beside it), VM virtio disk',
    reference: `${FELTER}: fio 4K random read QD16 58,729 / 58,407 / 24,793 IOPS`,
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
    decidedBy: "`isolation`: upperBytesAtStart of the container vs the image's rootfsBytes",
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
];
