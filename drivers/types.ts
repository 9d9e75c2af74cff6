/**
 * The contract every target implements. A driver is a factory of isolated
 * instances of one kind (a native process, a container, a VM):
 * `probe()` says whether it can run here and why not, `prepare()` does the
 * per-run work (images, kernels), `launch()` starts one instance running one
 * job, and `teardown()` removes everything the driver ever created. `teardown()`
 * is idempotent and safe to call at any point, including from a signal handler.
 */

import { tmpdir } from 'node:os';
import { MIN_CONTAINER_MEMORY_BYTES } from '../core/defaults.js';
import { describeBytes, type Ms } from '../core/units.js';
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
   * Measure the host CPU the workload consumes from its `ready` to the end of its job (`InstanceResult.workloadCpu`):
   * the driver reads its own host-side CPU figure when the agent's `ready` line arrives and again when its `end`
   * line does (the agent writes it when it has reaped the workload, before it exits), so that neither the
   * runtime's own start inside the instance (runc's init in the cgroup) nor its exit (a CLI's, a daemon's event)
   * is in the window. Reading costs a few file reads after ready, outside the launcher's clock. @default false
   */
  workloadCpu?: boolean;
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

/**
 * The host CPU an instance's workload consumed from its `ready` to the end of its job (`LaunchRequest.workloadCpu`),
 * each driver by its own accounting: a container's cgroup (user + system), a VM's qemu process (all its threads:
 * the vCPUs and the VMM's own work), natively the agent's report of the job (the kernel's rusage of the reaped workload).
 */
export interface WorkloadCpu {
  /** Host CPU time (user + system) in the window. */
  hostCpuMs: Ms;
  /** The window: the agent's `ready` to its `end`, on the instance's own clock (a guest's runs at host rate). */
  windowMs: Ms;
}

/** The agent's rusage of the job's workload (getrusage of the reaped tool, as its kernel accounts it: a guest's inside a VM). */
export interface JobRusage {
  userMs: Ms;
  systemMs: Ms;
  maxRssBytes: number;
}

/**
 * What an idle instance costs the host in memory, read while it runs (`Instance.footprint`), each driver its own
 * way: the PSS of its host processes (/proc/<pid>/smaps_rollup: natively the agent; a container's processes in its
 * cgroup), with a container's cgroup usage beside it; a VM's qemu from one reading of /proc/<pid>/smaps, split
 * into the guest RAM it has touched and the VMM's own overhead (drivers/qemu/memory.ts).
 */
export interface Footprint {
  /** PSS of the instance's host processes, in bytes; 0 for processes already gone. */
  pssBytes: number;
  /** Containers: the cgroup's memory usage (memory.usage_in_bytes v1 / memory.current v2), page cache included. */
  cgroupUsageBytes?: number;
  /** VMs: PSS of the guest RAM mapping: the guest memory that has entered host RAM. */
  guestRamTouchedBytes?: number;
  /** VMs: pssBytes − guestRamTouchedBytes, the VMM's own memory. */
  vmmOverheadBytes?: number;
  /** What explains the figures, for a sample's `extra` (a VM's split: `{ vmMemory: … }`). */
  extra?: Record<string, unknown>;
}

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
  /** Where `LaunchRequest.workloadCpu` asked for it and both readings were taken: the workload's host CPU from ready to its end. */
  workloadCpu?: WorkloadCpu;
  /** The agent's rusage of an `exec` job's workload, where it reported one. */
  rusage?: JobRusage;
  /** Target-specific facts recorded with the sample, e.g. a VM's accelerator and QEMU argv. */
  extra?: Record<string, unknown>;
}

export interface Instance {
  readonly target: string;
  /** Host pids whose memory belongs to this instance (for PSS). */
  hostPids(): number[];
  /** Its host memory now (see `Footprint`); undefined when it cannot be read (the instance is gone). */
  footprint(): Promise<Footprint | undefined>;
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

/** `Capabilities.minMemory`: the least memory limit and, in a few words, what needs it. */
export interface MinMemory {
  bytes: number;
  why: string;
}

/**
 * What a target does beyond the core (launch → ready → exit, a failing job
 * reported as failed, nothing left behind), and how what it measures is to be
 * read: the driver contract suite (test/contract.test.ts) checks every
 * capability a driver declares and skips, saying so, what it declares it lacks.
 * Scenarios ask these, never which kind of target it is.
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
  /**
   * The workload is a plain host process: the host's filesystem, network and processes, no limits (native,
   * the baseline every other target is compared with). Its figures stand for the host's own.
   */
  sharesHost: boolean;
  /**
   * How a memory limit is enforced, and so what its figures mean: `cgroup`, the host's memory cgroup (its peak
   * in `Accounting.peakMemoryBytes`, its OOM kills reported); `ram`, the instance's own RAM (a VM: the guest
   * kernel OOM-kills inside it, the host sees none; the instance takes all of it from the host); `none`, unconfined.
   */
  memoryLimit: 'cgroup' | 'ram' | 'none';
  /**
   * Where the workload's own CPU time is accounted: `host`, the host's accounting of the instance
   * (`InstanceResult.workloadCpu`: its cgroup, its processes); `guest`, only inside (a VM: the host sees the
   * VMM's CPU, the vCPUs' and its own, which `workloadCpu` reports beside).
   */
  cpuAccounting: 'host' | 'guest';
  /** A fresh ext4 data disk at /data can be attached (`LaunchRequest.dataDiskBytes`): a VM's storage. */
  dataDisk: boolean;
  /**
   * The instance has an overlay root whose writable upper layer can be put on the host's disk
   * (`LaunchRequest.upper: 'disk'`): the host directory that layer is written under. Undefined without one.
   */
  upperDiskDir?: string;
  /** Host tasks (processes and threads) one idle instance runs besides its vCPUs (measured, see bench/scenarios/density.ts). */
  hostTasks: number;
  /** How long an instance may take to be gone after `stop()`, in ms (a VM shuts its guest down). */
  stopTimeoutMs: number;
  /** The least memory limit an instance runs with, and why; undefined where none is known. */
  minMemory?: MinMemory;
}

/** A Linux container's capabilities: cgroup limits, the cgroup's OOM count, bind mounts, an overlay root. */
export const CONTAINER_CAPABILITIES: Capabilities = {
  limits: { cpus: true, memoryBytes: true, pids: true },
  reportsOom: true,
  volumes: true,
  network: ['host', 'netns'],
  sharesHost: false,
  memoryLimit: 'cgroup',
  cpuAccounting: 'host',
  dataDisk: false,
  upperDiskDir: tmpdir(),
  hostTasks: 3,
  stopTimeoutMs: 30_000,
  minMemory: {
    bytes: MIN_CONTAINER_MEMORY_BYTES,
    why: `a container instance needs at least ${describeBytes(MIN_CONTAINER_MEMORY_BYTES)} (measured: runc's does not start with less)`,
  },
};

/**
 * The limits an instance of this driver runs with when `requested` are asked for: `Driver.limitsFor` where
 * the driver maps them itself (a VM: vCPUs rounded up, its RAM with its default), else each requested limit
 * the capabilities say it enforces, as it was asked (a cgroup's quota and limit); nothing for an unconfined target.
 */
export function appliedLimits(driver: Pick<Driver, 'capabilities' | 'limitsFor'>, requested: Limits): Limits {
  if (driver.limitsFor) return driver.limitsFor(requested);
  const enforced = driver.capabilities.limits;
  return {
    cpus: enforced.cpus ? requested.cpus : undefined,
    memoryBytes: enforced.memoryBytes ? requested.memoryBytes : undefined,
    pids: enforced.pids ? requested.pids : undefined,
  };
}

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

export interface Driver {
  /** The target's name: `TARGET` for the lean image, `TARGET@IMAGE` for another (drivers/image/names.ts). */
  readonly name: string;
  /** The workload image its instances run; undefined for a target that runs none (native). */
  readonly imageName?: ImageName;
  readonly capabilities: Capabilities;
  /** Whether the target can run here, and why not. Aborting `signal` ends a probe that launches something (a kvm probe boot). */
  probe(signal?: AbortSignal): Promise<Probe>;
  /**
   * The limits an instance runs with when `requested` are asked for, as applied (a VM: vCPUs rounded up, its
   * RAM, the default RAM where none is asked); read them through `appliedLimits`, which gives a driver without
   * this method its enforced limits as asked. Pure: creates nothing.
   */
  limitsFor?(requested: Limits): Limits;
  prepare(ctx: PrepareContext): Promise<void>;
  launch(request: LaunchRequest): Promise<Instance>;
  teardown(): Promise<void>;
}
