/**
 * The contract every target implements. A driver is a factory of isolated
 * instances of one kind (a native process, a container, a VM):
 * `probe()` says whether it can run here and why not, `prepare()` does the
 * per-run work (images, kernels), `launch()` starts one instance running one
 * job, and `teardown()` removes everything the driver ever created. `teardown()`
 * is idempotent and safe to call at any point, including from a signal handler.
 */

import type { Ms } from '../core/units.js';
import type { ImageName } from './image/names.js';

export type { Ms };

export interface Probe {
  available: boolean;
  /** Why the target is unavailable, or a note about how it runs (e.g. "accelerator: tcg"). */
  reason?: string;
  /** Facts worth recording with the results, e.g. the runtime's version. */
  details?: Record<string, string>;
}

/** What the guest agent runs (see drivers/agent/agent.c). */
export type Job =
  /** Report ready and exit at once: the startup scenario. */
  | { kind: 'noop' }
  /** Report ready, then idle until `stop()`: footprint and density. */
  | { kind: 'sleep' }
  /** Report ready, then run a tool of the image with these arguments. */
  | { kind: 'exec'; argv: string[] };

/** Resource limits; every target maps them to its own mechanism (cgroup, VM size). */
export interface Limits {
  /** CPUs: a cgroup CPU quota for containers, vCPUs (rounded up) for VMs. */
  cpus?: number;
  /** Memory in bytes: cgroup memory limit, or VM RAM. */
  memoryBytes?: number;
  /** Maximum number of processes (containers). */
  pids?: number;
}

export interface Volume {
  hostPath: string;
  guestPath: string;
  readOnly?: boolean;
}

/**
 * Where an instance's network goes (bench/scenarios/net.ts builds it with drivers/linux/network.ts).
 * Without one a container gets a fresh network namespace with `lo` only and a VM no NIC at all.
 * Every address is in 198.18.0.0/15 (RFC 2544's benchmarking range) and every device lives in a
 * namespace the run made: nothing touches the host's own interfaces.
 */
export type NetworkAttachment =
  /** Containers: the host's network namespace, as `docker run --network host`. */
  | { kind: 'host' }
  /** Containers: join this prepared network namespace (a bind-mounted nsfs file, /run/netns/NAME), its interface already configured. */
  | { kind: 'netns'; path: string }
  /**
   * VMs: a virtio-net NIC (`virtio-net-device` on microvm, `virtio-net-pci` on pc/q35) backed by the
   * persistent tap device `ifname`, which lives in the network namespace `netnsPath` (QEMU is started
   * in that namespace to open it). The guest's agent gives its first non-loopback interface `address`
   * (CIDR) and a default route via `gateway`. vhost-net is used where /dev/vhost-net exists.
   */
  | { kind: 'tap'; netnsPath: string; ifname: string; mac: string; address: string; gateway: string };

export type NetworkKind = NetworkAttachment['kind'];

export interface LaunchRequest {
  job: Job;
  /** The instance's network; absent: `lo` only (containers), no NIC (VMs). A driver refuses a kind its capabilities lack. */
  network?: NetworkAttachment;
  limits?: Limits;
  /** Host directories to make visible inside the instance (containers; native sees the host anyway). */
  volumes?: Volume[];
  /**
   * VMs: attach a fresh ext4 data disk of this many bytes (virtio-blk), mounted
   * at /data in the guest; it overrides the driver's own `diskBytes`.
   */
  dataDiskBytes?: number;
  /** Containers: where the overlay's writable upper layer lives. @default the driver's ('tmpfs') */
  upper?: 'tmpfs' | 'disk';
  /**
   * Containers: once the workload is ready, measure the writable upper layer (claim C9) and report
   * it in the result's `extra` as `upperBytesAtStart` (allocated bytes, the upper directory included)
   * and `upperEntriesAtStart` (files and directories in it). Only an upper layer on disk can be read
   * from the host; with a tmpfs upper `extra.upperAtStart` says why nothing was measured. Drivers
   * without an upper layer ignore it. @default false
   */
  measureUpper?: boolean;
  /**
   * Linux containers (docker and podman too): read the instance cgroup's CPU time once it is ready, into `extra.cgroupCpuMsAtReady`, so
   * that the workload's share of the cgroup's time can leave out the runtime's own start inside the cgroup (runc's
   * init is in it; under emulation it is a visible share). Others ignore it. @default false
   */
  cpuAtReady?: boolean;
  /** Called with each line of the workload's stdout as it arrives. */
  onOutput?: (line: string) => void;
  /** Called with each line of the workload's stderr as it arrives. */
  onStderr?: (line: string) => void;
  /** Aborting kills the instance. */
  signal?: AbortSignal;
}

export interface Phase {
  name: string;
  ms: Ms;
}

/**
 * When things happened, in milliseconds from the moment the launcher forked the
 * instance (the "launch request" every target shares).
 */
export interface Timeline {
  /** Node's spawn of the launcher up to its fork: harness cost, reported but not part of the figures. */
  harnessMs: Ms;
  /** The workload said it was ready (agent's `ready`). Undefined when it never did. */
  toReadyMs?: Ms;
  /** The instance's top process was reaped. */
  toExitMs?: Ms;
  /** Target-specific phases in order, e.g. VM: qemu → kernel → init → ready → exit. */
  phases: Phase[];
}

/** Host-side resource accounting of one instance, read at exit. */
export interface Accounting {
  cpuUserMs?: Ms;
  cpuSystemMs?: Ms;
  peakMemoryBytes?: number;
  ioReadBytes?: number;
  ioWriteBytes?: number;
  oomKills?: number;
}

export type InstanceStatus = 'ok' | 'failed' | 'oom-killed' | 'timeout' | 'killed';

export interface InstanceResult {
  status: InstanceStatus;
  /** The workload's exit code as the agent reported it (128+n for signal n). */
  exitCode: number | null;
  /** Why the status is not ok, one line. */
  reason?: string;
  timeline: Timeline;
  accounting: Accounting;
  /** The workload's stdout and stderr lines. */
  stdout: string[];
  stderr: string[];
  /** The guest's memory view, where the agent reported it. */
  guestMemory?: { totalKb: number; availableKb: number };
  /** Last lines of raw output (VM console, agent), for error messages. */
  tail: string[];
  /** Target-specific facts recorded with the sample, e.g. a VM's accelerator and QEMU argv. */
  extra?: Record<string, unknown>;
}

export interface Instance {
  readonly target: string;
  /** Host pids whose memory belongs to this instance (for PSS). */
  hostPids(): number[];
  /** Resolves when the workload reported ready; rejects if it exits or fails first. */
  readonly ready: Promise<void>;
  /** Resolves when the instance is gone and cleaned up; never rejects. */
  readonly result: Promise<InstanceResult>;
  /** Asks a `sleep` job to finish. */
  stop(): Promise<void>;
  /** Kills the instance at once. Idempotent. */
  kill(): Promise<void>;
}

export interface PrepareContext {
  /** Resource limits the whole run uses, so drivers can size VMs once. */
  limits: Limits;
  signal?: AbortSignal;
}

export type Isolation = 'none' | 'container' | 'vm';

/**
 * What a target does beyond the core (launch → ready → exit, a failing job
 * reported as failed, nothing left behind): the driver contract suite
 * (test/contract.test.ts) checks every capability a driver declares and skips,
 * saying so, what it declares it lacks.
 */
export interface Capabilities {
  /** Which `Limits` it enforces: a cgroup quota/limit for containers, vCPUs and RAM for VMs. */
  limits: { cpus: boolean; memoryBytes: boolean; pids: boolean };
  /** An instance whose workload passes its memory limit ends with status `oom-killed`. */
  reportsOom: boolean;
  /** Host directories can be made visible inside (`LaunchRequest.volumes`). */
  volumes: boolean;
  /** The `LaunchRequest.network` kinds it takes. */
  network: readonly NetworkKind[];
}

/** A Linux container's capabilities: cgroup limits, the cgroup's OOM count, bind mounts. */
export const CONTAINER_CAPABILITIES: Capabilities = {
  limits: { cpus: true, memoryBytes: true, pids: true },
  reportsOom: true,
  volumes: true,
  network: ['host', 'netns'],
};

/** The guest kernel to boot instead of the one `tsbench kernel fetch` cached. */
export interface KernelChoice {
  /** A bzImage (`TSBENCH_KERNEL`). */
  kernel?: string;
  /** Its modules directory, /lib/modules/<version> (`TSBENCH_KERNEL_MODULES`). */
  modules?: string;
}

/**
 * What the CLI tells a driver when it creates it (drivers/registry.ts
 * `createDriver`), from its flags and the documented environment variables it
 * reads once (cli/env.ts). A driver ignores what does not concern it.
 */
export interface DriverOptions {
  /** VMs: QEMU machine type, `microvm`, `pc` or `q35` (`--machine`). @default 'microvm' */
  machine?: 'microvm' | 'pc' | 'q35';
  /** VMs: print each VM's exact qemu command line on stderr (`--print-command`). @default false */
  printCommand?: boolean;
  /** VMs under TCG: the host's TSC rate in kHz given to the guest (`TSBENCH_TSC_KHZ`). @default read from the host */
  tscKhz?: number;
  /** kvm: boot the probe guest again instead of reusing this host boot's verdict (`TSBENCH_KVM_REPROBE=1`). @default false */
  reprobeKvm?: boolean;
  /** Containers: where the overlay's writable upper layer lives (`TSBENCH_CONTAINER_UPPER`). @default 'tmpfs' */
  upper?: 'tmpfs' | 'disk';
  /**
   * Containers (`container`, runc, crun): `docker-default` confines the workload as `docker run` does
   * (Docker's 14 capabilities, no_new_privs, masked and read-only /proc and /sys paths, Docker's
   * seccomp profile); `unconfined` runs it as root with every capability tsbench holds and no filter,
   * to measure what the confinement costs (`TSBENCH_CONFINEMENT`). drivers/linux/confinement.ts. @default 'docker-default'
   */
  confinement?: 'docker-default' | 'unconfined';
  /** The guest kernel the workload image is built for. @default the one `tsbench kernel fetch` cached */
  guestKernel?: KernelChoice;
  /** The linux source tarball the lean guest kernel is built from (`TSBENCH_LINUX_SOURCE`). @default /usr/src/linux-source-6.1.tar.xz */
  linuxSource?: string;
  /**
   * A lean kernel built elsewhere: a `$cache/kernel/lean-<key>` directory that `tsbench kernel build`
   * made (vmlinux, config, kernel.json), booted as it is (`TSBENCH_LEAN_KERNEL`). The nested KVM test host
   * uses it: it carries the host's lean kernel, not the 138 MB source tarball its cache key is a hash of.
   */
  leanKernelDir?: string;
  /**
   * docker: the daemon to use, as `DOCKER_HOST` gives it (`unix:///path/docker.sock`, `tcp://…`), passed
   * to every `docker` command the driver runs. tsbench never starts or stops a daemon of its own
   * accord. @default the docker CLI's own default (its context, else unix:///var/run/docker.sock)
   */
  dockerHost?: string;
  /**
   * The workload image the target runs (drivers/image/names.ts): the registry sets it from a
   * `TARGET@IMAGE` name, and the driver names itself so. @default 'lean'
   */
  image?: ImageName;
}

/** `Driver.minMemory`: the least memory limit and, in a few words, what needs it. */
export interface MinMemory {
  bytes: number;
  why: string;
}

export interface Driver {
  /** The target's name: `TARGET` for the lean image, `TARGET@IMAGE` for another (drivers/image/names.ts). */
  readonly name: string;
  /** The workload image its instances run; undefined for a target that runs none (native). */
  readonly imageName?: ImageName;
  readonly description: string;
  readonly isolation: Isolation;
  readonly capabilities: Capabilities;
  /** Whether the target can run here, and why not. Aborting `signal` ends a probe that launches something (a kvm probe boot). */
  probe(signal?: AbortSignal): Promise<Probe>;
  /**
   * The least memory limit an instance can run with, and why, where the driver knows one (a VM: its
   * initramfs unpacked in guest RAM); read before anything is created, to refuse a `--memory` below it.
   * Creates nothing; undefined when it cannot tell (e.g. no image yet: the probe says so).
   */
  minMemory?(): Promise<MinMemory | undefined>;
  prepare(ctx: PrepareContext): Promise<void>;
  launch(request: LaunchRequest): Promise<Instance>;
  teardown(): Promise<void>;
}
