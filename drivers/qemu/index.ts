/**
 * The VM targets: the workload image booted as a QEMU VM, the agent as its PID 1,
 * one VM per instance. One driver, two accelerators — `kvm` (hardware
 * virtualization) and `tcg` (QEMU's binary translator, the fallback that works
 * everywhere and is an order of magnitude slower) — and two profiles (cmdline.ts
 * `VmProfile`): the lean microVM (`tcg`, `kvm`: tsbench's minimal kernel booted
 * through PVH, no initramfs) and the stock VM (`tcg-cloud`, `kvm-cloud`: Debian's
 * cloud kernel, whose drivers are modules, and a tiny initramfs that loads them).
 * The accelerator and the profile are part of every result; `kvm` never falls
 * back to `tcg`.
 *
 * The Debian image (`tcg-cloud@debian`, `kvm-cloud@debian`; drivers/image/names.ts)
 * boots as a stock distribution VM does: its own kernel and the initrd Debian's
 * initramfs-tools made inside it, its root disk writable through a throw-away QEMU
 * snapshot, systemd up to tsbench-agent.service, which runs the agent as a service.
 * Its timeline splits the boot as systemd-analyze does: `kernel` until the initrd's
 * scripts start, `initrd` until the root is mounted (marks of the image's own
 * initramfs-tools scripts), `userspace` until systemd started the agent's unit, and
 * for every job but the startup scenario's noop `settle`, until the rest of the boot
 * finished (`systemctl is-system-running --wait`), so that a workload does not share
 * the vCPU with the end of the boot.
 *
 * A NIC (`LaunchRequest.network`, kind `tap`): QEMU is started inside the network
 * namespace that holds the caller's tap device (`nsenter --net=NS --`, which execs
 * QEMU: the launcher's child is QEMU's pid all along) and attaches it as the VM's
 * virtio-net NIC (`virtio-net-device` on microvm, `virtio-net-pci` on pc/q35), with
 * vhost-net where /dev/vhost-net exists; `tsbench.net=ADDRESS/PREFIX,GATEWAY` on the
 * kernel command line makes the agent configure it before the job. What was used is
 * in the instance's details (VmDetails `nic`, `netBackend`, `vhost`, …).
 *
 * Both boot the kernel directly (`-kernel`, no bootloader) on `-M microvm` by
 * default, with the image's root disk attached read-only (only the pages a
 * workload touches enter guest RAM; /tmp is a tmpfs). The agent talks over the
 * serial console, which QEMU wires to its stdin/stdout, so LaunchedProcess parses
 * it like any other target's output (kernel noise is ignored: the parser looks
 * for `@tsb `).
 *
 * Timeline of one instance (Timeline.phases, consecutive durations in ms that add
 * up to toExitMs): `qemu` from the launcher's fork until the guest kernel started
 * (QEMU start-up, loading the kernel, firmware, a bzImage decompressing itself),
 * `kernel` until the agent ran as init, `initrd` (stock VM only) until the agent
 * in the initramfs had loaded the modules and switched to the root disk, `agent`
 * until the workload was ready (/tmp, /data), `exit` until QEMU was reaped (the
 * job, the agent's reboot, QEMU's exit).
 * A container inside the VM (container-in-tcg/-kvm, nested.ts) splits `agent`:
 * `agent` until the guest's launcher cloned the container (cgroup), then
 * `container` until the container's agent was ready.
 * With a NIC (`LaunchRequest.network` of kind `tap`) the agent's part starts with
 * `net`: until the agent had configured the NIC (address, route; the stock VM's
 * virtio_net was loaded in `initrd`).
 * The guest's middle phases come from its own CLOCK_MONOTONIC, which starts
 * with its kernel; the host places the kernel's start at the arrival of `ready`
 * minus the guest's `ready` time.
 */
import { access, constants, readFile, rm } from 'node:fs/promises';
import { isIPv4 } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import { qemuVersion } from './version.js';
import {
  DEFAULT_IMAGE,
  IMAGE_BOOT,
  encodeJob,
  ImageError,
  imageWords,
  kernelCmdline,
  loadImage,
  targetWithImage,
  type ImageBoot,
  type ImageName,
} from '../image/index.js';
import { sha256File } from '../image/cache.js';
import { missingModules } from '../image/kernel.js';
import { TargetError } from '../../core/errors.js';
import { jobArgv } from '../protocol.js';
import { LaunchedProcess, toInstanceResult, type ProcessOutcome } from '../process.js';
import type {
  Capabilities,
  Driver,
  DriverOptions,
  Instance,
  InstanceResult,
  Job,
  LaunchRequest,
  Limits,
  NetworkAttachment,
  MinMemory,
  Phase,
  PrepareContext,
  Probe,
} from '../types.js';
import {
  DATA_DISK_DEVICE,
  DEFAULT_MEMORY_BYTES,
  KERNEL_CMDLINE_MAX,
  ROOT_DISK_DEVICE,
  guestCmdlineBytes,
  type QemuArgsOptions,
  QEMU_BINARY,
  buildQemuArgs,
  formatCommand,
  memoryMiBFor,
  nicDevice,
  vcpusFor,
  type Accelerator,
  type Machine,
  type VmProfile,
} from './cmdline.js';
import { createDataDisk, makeScratchDir } from './disk.js';
import { bootId, childPids, hostEmulatedBy, hostTscKhz, kvmDeviceProblem, kvmProviderNote } from './host.js';
import { processCpuMs } from '../linux/measure.js';
import { qemuFootprint } from './memory.js';
import { readVerdict, writeVerdict } from './verdict.js';
import { profileWords, restoreTargetName, restoreWords, vmTargetName } from './names.js';
import { MiB, nsToMs } from '../../core/units.js';
import { Qmp } from './qmp.js';
import { GUEST_RAM_FILE, capabilities, makeSnapshotDir, restoreArgs, saveVm, snapshotSizes, type RestoreMode, type SnapshotFacts } from './snapshot.js';

export {
  buildQemuArgs,
  formatCommand,
  machineArg,
  vcpusFor,
  memoryMiBFor,
  DEFAULT_MEMORY_BYTES,
  MACHINES,
  VM_PROFILES,
  nicDevice,
  type Accelerator,
  type Machine,
  type QemuArgsOptions,
  type VmProfile,
} from './cmdline.js';
export { kvmProviderNote, hostTscKhz, hostEmulatedBy } from './host.js';
export { vmTargetName, vmDescription } from './names.js';
export type { RestoreMode, SnapshotFacts } from './snapshot.js';

export interface QemuDriverOptions extends DriverOptions {
  accelerator: Accelerator;
  /** The lean microVM or the stock (cloud-kernel) VM; see VmProfile. @default 'lean' */
  profile?: VmProfile;
  /** Size of a fresh ext4 data disk per instance, mounted at /data in the guest. @default undefined (no disk) */
  diskBytes?: number;
  /** Kill a VM whose agent has not said `ready` by then, in ms. @default defaultReadyTimeoutMs: 60 s under tcg, 10 s under kvm; a systemd boot 180 s and 30 s */
  readyTimeoutMs?: number;
  /** How long the kvm probe boot may take to reach `ready`, in ms. @default 10_000, 30_000 for a systemd boot */
  probeTimeoutMs?: number;
  /** @default 'qemu-system-x86_64' */
  binary?: string;
  /** Boot this kernel instead of the profile's (tests). */
  kernel?: string;
  /** Boot this initramfs before the root disk (tests). */
  initramfs?: string;
  /** Extra kernel parameters, appended last. @default [] */
  kernelArgs?: string[];
  /** Target name in results and messages. @default the accelerator ('kvm' | 'tcg') */
  name?: string;
  /**
   * Kernel parameters for one VM, given its size, the run's pids limit, its data disk and whether it has a
   * NIC, appended after `kernelArgs`: how drivers/qemu/nested.ts asks the agent for a container.
   */
  guestArgs?: (vm: GuestVm) => string[];
  /** Start every VM restored from a snapshot saved once per run and VM size (drivers/qemu/snapshot.ts), not by a boot. @default undefined (cold boots) */
  restore?: RestoreMode;
}

/** What `QemuDriverOptions.guestArgs` is told of one VM. */
export interface GuestVm {
  cpus?: number;
  memoryBytes?: number;
  pids?: number;
  disk?: string;
  /** the VM has a NIC (`LaunchRequest.network` of kind `tap`), which its agent configures before the job */
  net?: boolean;
}

/** A NIC request: `LaunchRequest.network` of kind `tap`. */
export type TapAttachment = Extract<NetworkAttachment, { kind: 'tap' }>;

/** util-linux's nsenter: QEMU is started in the tap's network namespace through it (it execs QEMU, same pid). */
export const NSENTER = '/usr/bin/nsenter';

/** The host device vhost-net is used through; without it QEMU's own thread serves the NIC's queues. */
export const VHOST_NET = '/dev/vhost-net';

/** The argv prefix that runs a command in the network namespace of the bind-mounted nsfs file `netnsPath`. */
export function inNetns(netnsPath: string): string[] {
  return [NSENTER, `--net=${netnsPath}`, '--'];
}

const ipv4Number = (a: string): number => a.split('.').reduce((n, o) => n * 256 + Number(o), 0);

/**
 * Why a tap request cannot be taken as it is, one line naming the field and the fix; undefined when it can.
 * Pure, for tests. The interface name goes into QEMU's `-netdev` option (commas would be options of
 * their own) and the addresses onto the kernel command line (`tsbench.net=`), so both are checked strictly.
 */
export function tapProblem(net: TapAttachment): string | undefined {
  if (!/^[A-Za-z0-9_.-]{1,15}$/.test(net.ifname)) return `network.ifname '${net.ifname}' is no Linux interface name: 1 to 15 of A-Z a-z 0-9 _ . -`;
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(net.mac) || (parseInt(net.mac.slice(0, 2), 16) & 1) === 1)
    return `network.mac '${net.mac}' is no unicast MAC address: six hex bytes with colons, the first even (e.g. 52:54:00:12:34:56)`;
  if (!net.netnsPath.startsWith('/')) return `network.netnsPath '${net.netnsPath}' is not absolute: name the namespace's file, e.g. /run/netns/NAME`;
  const [address, prefixText, ...rest] = net.address.split('/');
  const prefix = Number(prefixText);
  if (address === undefined || !isIPv4(address) || rest.length > 0 || !/^\d{1,2}$/.test(prefixText ?? '') || prefix > 32)
    return `network.address '${net.address}' is no IPv4 address with a prefix length: write ADDRESS/PREFIX, e.g. 198.18.3.2/30`;
  if (!isIPv4(net.gateway)) return `network.gateway '${net.gateway}' is no IPv4 address: e.g. 198.18.3.1`;
  const network = (a: string): number => Math.floor(ipv4Number(a) / 2 ** (32 - prefix));
  if (net.gateway === address || network(net.gateway) !== network(address))
    return `network.gateway ${net.gateway} is not another address of ${net.address}: the guest reaches its gateway on the NIC's own subnet`;
  return undefined;
}

/** What one VM was, recorded with its result (`extra` of a sample). */
export type VmDetails = {
  accelerator: Accelerator;
  /** lean microVM or stock VM */
  profile: VmProfile;
  /** the workload image booted, and how: the agent as init, or systemd to the agent's unit */
  image: ImageName;
  init: ImageBoot;
  /** `uname -r` of the guest kernel */
  kernel: string;
  machine: Machine;
  vcpus: number;
  memoryMiB: number;
  /** The exact argv the launcher ran, QEMU's, behind `nsenter --net=NS --` with a NIC; replay it with `formatCommand`. */
  qemuArgv: string[];
  diskBytes?: number;
  /** `tsc_early_khz=` given to the guest, where known (TCG). */
  tscKhz?: number;
  /** With a NIC (`LaunchRequest.network` of kind `tap`): its QEMU device. */
  nic?: 'virtio-net-device' | 'virtio-net-pci';
  /** what backs the NIC on the host: a tap device */
  netBackend?: 'tap';
  /** the tap device, in the network namespace `netns` that QEMU ran in (`qemuArgv` starts with nsenter) */
  tap?: string;
  netns?: string;
  mac?: string;
  /** the guest's address (CIDR) and default gateway, which the agent configured (`tsbench.net=`) */
  netAddress?: string;
  netGateway?: string;
  /** whether vhost-net served the NIC's queues in the host kernel, and why not (e.g. `no /dev/vhost-net`) */
  vhost?: boolean;
  vhostWhy?: string;
  /** container-in-VM with a NIC (nested.ts): the network the container inside uses, the VM's */
  containerNetwork?: string;
  /** A VM restored from a snapshot (`QemuDriverOptions.restore`): how the snapshot was made and where it lay. */
  snapshot?: SnapshotFacts;
  /** A pre-spawned restored VM: its QEMU's fork until QMP answered, before its timed window (ms). */
  prespawnMs?: number;
};

/** An instance result of a VM, with what the VM was. */
export interface VmInstanceResult extends InstanceResult {
  extra: VmDetails;
}

/** A VM instance; `details` is known as soon as it is launched. */
export interface VmInstance extends Instance {
  readonly details: VmDetails;
  readonly result: Promise<VmInstanceResult>;
}

/** A saved VM: its directory (the state, a template's RAM), the argv it ran (restored VMs run it too), how it was made. */
interface Snapshot {
  dir: string;
  argv: string[];
  facts: SnapshotFacts;
}

/** Host instants (CLOCK_MONOTONIC ns) of one restore, for its timeline. */
interface RestoreMarks {
  /** QMP's greeting: QEMU is up */
  qmpNs?: bigint;
  /** `migrate-incoming` sent: a pre-spawned VM's timed window starts here */
  incomingNs?: bigint;
  /** the incoming migration completed (MIGRATION event): state loaded */
  loadedNs?: bigint;
  /** RESUME: the guest runs */
  resumeNs?: bigint;
  /** why the restore failed, when it did */
  error?: string;
}

interface Boot {
  /** the workload image it boots */
  image: ImageName;
  /**
   * `agent`: the agent is init (the lean kernel mounts the root disk itself; the stock kernel's tiny
   * initramfs loads its modules and switches to it); `systemd`: the image's own initrd mounts the root
   * and systemd boots to tsbench-agent.service (the Debian image).
   */
  init: ImageBoot;
  /** bzImage or PVH vmlinux */
  kernel: string;
  /** `uname -r` of the guest kernel */
  kernelVersion: string;
  /** the tiny initramfs that mounts the root disk (a kernel with modules); none for the lean kernel */
  initramfs?: string;
  /** the stock kernel's modules the image's initramfs was made from (its NIC's virtio_net is checked there) */
  modulesDir?: string;
  /** the image's root disk: read-only (the agent as init), or writable through a throw-away QEMU snapshot (systemd) */
  rootDisk: string;
  /** Hash of everything booted: image (root disk, initramfs, cloud kernel) and, for lean, the lean kernel's key. */
  hash: string;
  /** Description for probe details. */
  label: string;
}

/** The lean kernel `tsbench kernel build` cached for the current configuration; an ImageError naming that command if none. */
async function leanKernel(opts: QemuDriverOptions): Promise<{ vmlinux: string; version: string; key: string }> {
  const { resolveLeanKernel, leanKernelAt } = await import('../image/lean-kernel.js');
  if (opts.leanKernelDir !== undefined) return leanKernelAt(opts.leanKernelDir);
  return resolveLeanKernel(opts.linuxSource !== undefined ? { source: opts.linuxSource } : {});
}

/**
 * What a VM of this profile boots, from the image cache (and the lean kernel's) or the
 * options. Throws an ImageError naming the command that fixes it.
 */
async function resolveBoot(opts: QemuDriverOptions, profile: VmProfile): Promise<Boot> {
  const name = opts.image ?? DEFAULT_IMAGE;
  if (IMAGE_BOOT[name] === 'systemd' && profile === 'lean')
    throw new ImageError(
      `the lean microVM boots the lean image only (its kernel has no modules and no initrd for a distribution's boot): run the ${name} image on the stock VM, ${targetWithImage(vmTargetName(opts.accelerator, 'cloud'), name)}`,
      { exitCode: 2 },
    );
  const image = await loadImage({ ...opts.guestKernel, image: name });
  if (image.boot === 'systemd')
    return {
      image: image.name,
      init: 'systemd',
      kernel: image.kernel.vmlinuz,
      kernelVersion: image.kernel.version,
      initramfs: image.initramfs,
      rootDisk: image.rootDisk,
      hash: image.hash,
      label: `${imageWords(image.name)}: its kernel ${image.kernel.version} (bzImage), its initrd from initramfs-tools (${Math.round(image.sizes.initramfsBytes / 1e6)} MB), systemd to tsbench-agent.service, image ${image.hash}`,
    };
  if (opts.kernel !== undefined || opts.initramfs !== undefined) {
    const kernel = opts.kernel ?? image.kernel.vmlinuz;
    for (const f of [kernel, opts.initramfs ?? image.rootDisk]) await access(f, constants.R_OK);
    const [a, b] = await Promise.all([sha256File(kernel), opts.initramfs !== undefined ? sha256File(opts.initramfs) : image.hash]);
    return {
      image: image.name,
      init: 'agent',
      kernel,
      kernelVersion: 'given',
      initramfs: opts.initramfs ?? (profile === 'cloud' ? image.initramfs : undefined),
      rootDisk: image.rootDisk,
      hash: `${a.slice(0, 16)}-${b.slice(0, 16)}`,
      label: `${kernel}${opts.initramfs !== undefined ? ` + ${opts.initramfs}` : ''} + root disk of image ${image.hash}`,
    };
  }
  if (profile === 'cloud')
    return {
      image: image.name,
      init: 'agent',
      kernel: image.kernel.vmlinuz,
      kernelVersion: image.kernel.version,
      initramfs: image.initramfs,
      modulesDir: image.kernel.modulesDir,
      rootDisk: image.rootDisk,
      hash: image.hash,
      label: `stock kernel ${image.kernel.version} (bzImage) + ${Math.round(image.sizes.initramfsBytes / 1024)} KiB initramfs, image ${image.hash}`,
    };
  const lean = await leanKernel(opts);
  return {
    image: image.name,
    init: 'agent',
    kernel: lean.vmlinux,
    kernelVersion: lean.version,
    rootDisk: image.rootDisk,
    hash: `${image.hash}-${lean.key}`,
    label: `lean kernel ${lean.version} (PVH vmlinux, key ${lean.key}), no initramfs, image ${image.hash}`,
  };
}

/**
 * Phases of a VM's timeline (see the module comment), from what was observed;
 * only the phases whose ends are known. Pure, for tests.
 */
export function vmPhases(o: Pick<ProcessOutcome, 'startNs' | 'endNs' | 'agentInitNs' | 'agentReadyNs' | 'readyReceivedNs' | 'marks'>): Phase[] {
  if (o.startNs === undefined) return [];
  const phases: Phase[] = [];
  if (o.readyReceivedNs !== undefined && o.agentReadyNs !== undefined) {
    const kernelStart = o.readyReceivedNs - o.agentReadyNs;
    phases.push({ name: 'qemu', ms: nsToMs(kernelStart - o.startNs) });
    const initrd = o.marks?.find((m) => m.name === 'initrd')?.monoNs;
    const rootMark = o.marks?.find((m) => m.name === 'root')?.monoNs;
    // A VM with a NIC: the agent configured it (agent.c setup_net) before anything else of its own.
    const net = o.marks?.find((m) => m.name === 'net')?.monoNs;
    if (o.agentInitNs !== undefined && initrd !== undefined && rootMark !== undefined) {
      // A distribution's boot (the Debian image), in systemd-analyze's terms: the kernel until its
      // initrd's scripts start, the initrd until the root is mounted, userspace (systemd) until it
      // started the agent's unit.
      // A job other than noop waits first for the rest of the boot to finish (agent.c settle): `settle`.
      const settled = o.marks?.find((m) => m.name === 'settled')?.monoNs;
      phases.push({ name: 'kernel', ms: nsToMs(initrd) });
      phases.push({ name: 'initrd', ms: nsToMs(rootMark - initrd) });
      phases.push({ name: 'userspace', ms: nsToMs(o.agentInitNs - rootMark) });
      if (net !== undefined) phases.push({ name: 'net', ms: nsToMs(net - o.agentInitNs) });
      const settleStart = net ?? o.agentInitNs;
      if (settled !== undefined) phases.push({ name: 'settle', ms: nsToMs(settled - settleStart) });
      phases.push({ name: 'agent', ms: nsToMs(o.agentReadyNs - (settled ?? settleStart)) });
    } else if (o.agentInitNs !== undefined) {
      phases.push({ name: 'kernel', ms: nsToMs(o.agentInitNs) });
      // The stock VM's initramfs: until the agent switched to the root disk.
      const root = o.marks?.find((m) => m.name === 'root')?.monoNs;
      if (root !== undefined) phases.push({ name: 'initrd', ms: nsToMs(root - o.agentInitNs) });
      if (net !== undefined) phases.push({ name: 'net', ms: nsToMs(net - (root ?? o.agentInitNs)) });
      const agentStart = net ?? root ?? o.agentInitNs;
      // A container inside the VM (nested.ts): the agent's part ends when it cloned the container.
      const container = o.marks?.find((m) => m.name === 'container')?.monoNs;
      if (container !== undefined) {
        phases.push({ name: 'agent', ms: nsToMs(container - agentStart) });
        phases.push({ name: 'container', ms: nsToMs(o.agentReadyNs - container) });
      } else phases.push({ name: 'agent', ms: nsToMs(o.agentReadyNs - agentStart) });
    } else phases.push({ name: 'kernel+agent', ms: nsToMs(o.agentReadyNs) });
    if (o.endNs !== undefined) phases.push({ name: 'exit', ms: nsToMs(o.endNs - o.readyReceivedNs) });
  } else if (o.endNs !== undefined) {
    phases.push({ name: 'qemu', ms: nsToMs(o.endNs - o.startNs) });
  }
  return phases;
}

/**
 * `noapictimer` for the lean kernel under TCG. Without ACPI there is no HPET, the
 * kernel calibrates the local APIC timer against the PIT, and under TCG the timer
 * then fails its verification ("APIC timer disabled due to verification failure"):
 * 250 ms of every boot, measured, to end where `noapictimer` starts (the PIT drives
 * the clock events). Under KVM the TSC-deadline timer needs no calibration, and the
 * stock kernel (ACPI, HPET) calibrates it in a few ms: neither gets it.
 */
export function tcgLeanArgs(accelerator: Accelerator, profile: VmProfile): string[] {
  return accelerator === 'tcg' && profile === 'lean' ? ['noapictimer'] : [];
}

let probing: Promise<unknown> = Promise.resolve();

/**
 * Runs the KVM probe boots of one process one after another (`tsbench targets` and a run's probes ask
 * for all VM targets at once). A KVM probe boot takes a fraction of a second, so waiting costs little;
 * at once, they compete for the CPUs against their ready timeout (and in the nested KVM test host with two
 * vCPUs, stock-kernel boots at once hung: 2 of 4, measured).
 */
function oneProbeAtATime<T>(probe: () => Promise<T>): Promise<T> {
  const mine = probing.then(probe, probe);
  probing = mine.catch(() => undefined);
  return mine;
}

/** A line QEMU itself printed on stderr (`qemu-system-x86_64: …` or `qemu: …`). */
function isQemuMessage(line: string): boolean {
  return /^qemu(-system-\w+)?: /.test(line);
}

/**
 * The least guest RAM a VM of each profile boots and runs the agent with, measured under
 * TCG on the project machine (docs/performance.md, "Guest RAM"): below it the guest
 * kernel panics or the OOM killer ends init. A workload needs more on top.
 */
export const MIN_GUEST_MEMORY: Record<VmProfile, MinMemory> = {
  lean: { bytes: 32 * MiB, why: 'the lean kernel and the agent boot in 32 MiB and not in 24 (measured)' },
  cloud: { bytes: 96 * MiB, why: "Debian's cloud kernel boots in 80 MiB and not in 64 (measured); 96 MiB leaves a margin" },
};

/**
 * The least guest RAM the Debian image's VM boots with, systemd to the agent's unit: Debian's
 * initrd (15 MB gzip, MODULES=most) is unpacked into RAM before the root disk is mounted.
 */
export const MIN_SYSTEMD_MEMORY: MinMemory = {
  bytes: 192 * MiB,
  why: "the Debian image's VM (its 15 MB initrd unpacked in guest RAM, then systemd) boots in 160 MiB and not in 128 (measured); 192 MiB leaves a margin",
};

/**
 * How long a VM may take to reach the agent's ready before it is killed. Measured under TCG on the
 * project machine (docs/performance.md): the lean microVM 0.9 s, the stock VM 3 s, the Debian image
 * through systemd 23–30 s (60 s with two VMs booting on two cores).
 */
export function defaultReadyTimeoutMs(accelerator: Accelerator, init: ImageBoot): number {
  if (init === 'systemd') return accelerator === 'kvm' ? 30_000 : 180_000;
  return accelerator === 'kvm' ? 10_000 : 60_000;
}

/** Known console patterns and what they mean, for failure messages. */
function consoleHint(tail: string[], memoryMiB: number): string | undefined {
  const text = tail.join('\n');
  if (/Initramfs unpacking failed|Out of memory|not syncing: System is deadlocked on memory/.test(text))
    return `the guest ran out of memory with ${memoryMiB} MiB: pass a larger --memory, e.g. --memory ${Math.max(DEFAULT_MEMORY_BYTES / MiB, memoryMiB * 2)}M`;
  if (/Marking TSC unstable due to could not calculate TSC khz/.test(text))
    return 'the guest could not calibrate its TSC (no tsc_early_khz): set TSBENCH_TSC_KHZ to the host TSC frequency in kHz';
  if (/VFS: Unable to mount root fs|No working init found|Failed to execute \/init/.test(text))
    return 'the guest found no usable /init: rebuild the image (tsbench image build --rebuild)';
  if (/failed to set MSR|kvm_buf_set_msrs/.test(text)) return 'QEMU could not set up the vCPU under this KVM';
  if (/ALERT! .* does not exist|Gave up waiting for root/.test(text))
    return 'the Debian initrd did not find the root disk: rebuild the image (tsbench image build --image debian --rebuild)';
  if (/emergency mode|Cannot open access to console|Give root password/.test(text))
    return 'systemd fell back to emergency mode before the agent started: the last console lines say why';
  return undefined;
}

export class QemuDriver implements Driver {
  readonly name: string;
  readonly accelerator: Accelerator;
  /**
   * vCPUs and RAM; the guest kernel's OOM killer acts inside the guest, which the
   * host does not see as an `oom-killed` instance (the limits scenario reads the
   * guest's /proc/vmstat); no host directories, a data disk instead. The host sees
   * qemu's CPU, not the workload's: that is the guest kernel's to account.
   */
  readonly capabilities: Capabilities;
  readonly machine: Machine;
  readonly profile: VmProfile;
  readonly imageName: ImageName;
  private readonly binary: string;
  /** Every VM still running, with the promise of its result (which resolves once its qemu is gone). */
  private readonly running = new Map<LaunchedProcess, Promise<unknown>>();
  private boot?: Boot;
  private tscKhz?: number;
  private scratch?: string;
  private disks = 0;
  /** Restore targets: one snapshot per VM size (`vcpus x MiB`), made on the first launch of that size (or in prepare). */
  private readonly snapshots = new Map<string, Promise<Snapshot>>();
  private readonly snapshotDirs: string[] = [];
  private restores = 0;
  private limits: Limits = {};

  constructor(private readonly opts: QemuDriverOptions) {
    this.profile = opts.profile ?? 'lean';
    this.imageName = opts.image ?? DEFAULT_IMAGE;
    this.name = opts.name ?? targetWithImage(restoreTargetName(vmTargetName(opts.accelerator, this.profile), opts.restore), this.imageName);
    this.accelerator = opts.accelerator;
    this.capabilities = {
      limits: { cpus: true, memoryBytes: true, pids: false },
      reportsOom: false,
      volumes: false,
      // A restored VM has the devices of its saved state: no NIC, no data disk.
      network: opts.restore !== undefined ? [] : ['tap'],
      sharesHost: false,
      memoryLimit: 'ram',
      cpuAccounting: 'guest',
      dataDisk: opts.restore === undefined,
      // The launcher, qemu's main and RCU threads; one more per vCPU (bench/scenarios/density.ts).
      hostTasks: 3,
      // Shutting a guest down takes longer than ending a process.
      stopTimeoutMs: 60_000,
      minMemory: IMAGE_BOOT[this.imageName] === 'systemd' ? MIN_SYSTEMD_MEMORY : MIN_GUEST_MEMORY[this.profile],
    };
    this.machine = opts.machine ?? 'microvm';
    this.binary = opts.binary ?? QEMU_BINARY;
  }

  private fail(step: string, message: string, extra?: { cause?: unknown; tail?: string[] }): TargetError {
    return new TargetError(this.name, step, message, extra);
  }

  private details(boot: Boot | undefined, qemu: string): Record<string, string> {
    return {
      accelerator: this.accelerator,
      profile: this.profile,
      image: this.imageName,
      machine: this.machine,
      qemu,
      defaultMemoryMiB: String(DEFAULT_MEMORY_BYTES / MiB),
      ...(boot ? { boot: boot.label } : {}),
    };
  }

  async probe(signal?: AbortSignal): Promise<Probe> {
    const version = await qemuVersion(this.binary);
    if (!version.ok) return { available: false, reason: version.reason, details: { accelerator: this.accelerator } };
    const qemu = version.version;
    let boot: Boot;
    try {
      boot = await resolveBoot(this.opts, this.profile);
    } catch (e) {
      const why = e instanceof ImageError ? e.message : `cannot read the kernel/initramfs: ${(e as Error).message}`;
      return { available: false, reason: why, details: this.details(undefined, qemu) };
    }
    const details = this.details(boot, qemu);
    if (this.profile === 'lean' && this.machine !== 'microvm')
      return {
        available: false,
        reason: `the lean kernel has no PCI, which -M ${this.machine} needs: use -M microvm, or the stock VM (${vmTargetName(this.accelerator, 'cloud')})`,
        details,
      };
    if (this.opts.restore !== undefined && boot.init === 'systemd')
      return {
        available: false,
        reason: `a VM of the ${this.imageName} image is not restored from a snapshot: its writable root lives in a throw-away overlay that the saved state does not hold (restore the lean image, ${restoreTargetName(vmTargetName(this.accelerator, this.profile), this.opts.restore)})`,
        details,
      };
    // Which VM produced a figure is part of every report: the reason names the profile and what it boots.
    const what = `${profileWords(this.profile)}${this.opts.restore !== undefined ? `, ${restoreWords(this.opts.restore)}` : ''}: ${boot.label}`;
    if (this.accelerator === 'tcg') return { available: true, reason: `accelerator: tcg (binary translation, no hardware virtualization); ${what}`, details };

    const note = await kvmProviderNote();
    const device = await kvmDeviceProblem();
    if (device !== undefined) return { available: false, reason: `kvm: ${device}${note ? ` (${note})` : ''}`, details };
    const key = [await bootId(), boot.hash, this.binary, qemu, this.machine].join(' ');
    const verdict = await oneProbeAtATime(async () => {
      const cached = this.opts.reprobeKvm === true ? undefined : await readVerdict(key);
      if (cached !== undefined) return cached;
      const probed = await this.probeBoot(boot, note, signal);
      await writeVerdict(key, probed).catch(() => {});
      return probed;
    });
    details['kvmProbe'] = `${verdict.available ? 'ready' : 'failed'} in ${Math.round(verdict.probeMs)} ms at ${verdict.probedAt}`;
    // KVM on a host that is itself under TCG: the KVM code path for real, its timings emulation's (bench/host.ts nestedUnder).
    const nested = await hostEmulatedBy();
    if (nested !== undefined) details['nestedUnder'] = nested;
    const accel =
      nested !== undefined ? `kvm, nested under ${nested.toUpperCase()} (this host is a VM whose CPU TCG emulates: timings here are not KVM figures)` : 'kvm';
    return {
      available: verdict.available,
      reason: verdict.available ? `accelerator: ${accel}; ${what}` : (verdict.reason ?? 'kvm: probe boot failed'),
      details,
    };
  }

  /** Boots a `noop` guest under KVM and says whether its agent reached `ready` in time. */
  private async probeBoot(
    boot: Boot,
    note: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<{ available: boolean; reason?: string; probedAt: string; probeMs: number }> {
    // A KVM guest is ready in well under a second (the lean microVM) or a few seconds (systemd); a stuck one is not.
    // On a host under TCG (the nested test host) it runs at TCG's speed: it gets TCG's ready timeout.
    const nested = (await hostEmulatedBy()) !== undefined;
    const timeoutMs = this.opts.probeTimeoutMs ?? (nested ? defaultReadyTimeoutMs('tcg', boot.init) : boot.init === 'systemd' ? 30_000 : 10_000);
    const probedAt = new Date().toISOString();
    const started = performance.now();
    // An interrupt kills the probe VM (the launch's signal); the exit hooks of core/exit.ts cover a second one.
    const vm = await this.start({ job: { kind: 'noop' }, signal }, boot, {
      readyTimeoutMs: timeoutMs,
      memoryBytes: Math.max(DEFAULT_MEMORY_BYTES, (this.capabilities.minMemory as MinMemory).bytes),
    });
    const r: VmInstanceResult = await vm.result;
    // An interrupted probe decided nothing: keep no verdict.
    if (signal?.aborted) throw signal.reason instanceof Error ? signal.reason : new Error('interrupted');
    const probeMs = performance.now() - started;
    if (r.timeline.toReadyMs !== undefined) return { available: true, probedAt, probeMs };
    const s = Math.round(timeoutMs / 1000);
    const qemuSaid = r.tail.find(isQemuMessage);
    const what =
      r.status === 'timeout' ? `did not reach the agent's ready in ${s} s` : `ended before the agent's ready (${qemuSaid ?? r.reason ?? 'no output'})`;
    return { available: false, reason: `kvm: probe boot ${what}${note ? ` (${note})` : ''}`, probedAt, probeMs };
  }

  async prepare(ctx: PrepareContext): Promise<void> {
    // Refused before anything is read or booted; launches then size VMs by these limits (`sized` once).
    this.sized(ctx.limits);
    this.limits = ctx.limits;
    try {
      this.boot = await resolveBoot(this.opts, this.profile);
    } catch (e) {
      throw this.fail('prepare', e instanceof ImageError ? e.message : `cannot read the kernel/initramfs: ${(e as Error).message}`, { cause: e });
    }
    if (this.accelerator === 'tcg' && this.tscKhz === undefined) this.tscKhz = await hostTscKhz(this.opts.tscKhz);
    // A restore target saves its VM of the run's size now, before any launch (another size is saved on its first launch).
    if (this.opts.restore !== undefined) {
      const readyTimeoutMs = this.opts.readyTimeoutMs ?? defaultReadyTimeoutMs((await hostEmulatedBy()) ?? this.accelerator, this.boot.init);
      await this.snapshotFor(this.boot, { cpus: ctx.limits.cpus, memoryBytes: ctx.limits.memoryBytes, readyTimeoutMs });
    }
  }

  /**
   * A VM's limits as applied: whole vCPUs (a fractional CPU limit rounded up, at least one) and whole MiB of
   * RAM (DEFAULT_MEMORY_BYTES where none is asked); pids only by a container inside (nested.ts).
   */
  limitsFor(requested: Limits): Limits {
    return { cpus: vcpusFor(requested.cpus), memoryBytes: memoryMiBFor(requested.memoryBytes) * MiB, pids: undefined };
  }

  /** `limitsFor`, refused below the least guest RAM the profile and image boot with (`capabilities.minMemory`). */
  private sized(limits: Limits): Limits {
    const applied = this.limitsFor(limits);
    const bytes = applied.memoryBytes as number;
    const min = this.capabilities.minMemory as MinMemory;
    if (bytes < min.bytes)
      throw this.fail('prepare', `${bytes / MiB} MiB of guest RAM is too little for ${this.name}: ${min.why}; pass --memory ${min.bytes / MiB}M or more`);
    return applied;
  }

  async launch(request: LaunchRequest): Promise<VmInstance> {
    if (request.volumes !== undefined && request.volumes.length > 0)
      throw this.fail('launch', 'host directories (--volume) cannot be shared with a VM; the VM targets offer a data disk at /data instead');
    const network = request.network;
    if (network !== undefined && network.kind !== 'tap')
      throw this.fail(
        'launch',
        `a VM takes no network of kind '${network.kind}' (${network.kind === 'host' ? "the host's own network namespace" : 'a prepared network namespace'} is a container's): give it kind 'tap', a tap device for its virtio-net NIC`,
      );
    if (this.boot === undefined) await this.prepare({ limits: request.limits ?? {} });
    const boot = this.boot as Boot;
    if (network !== undefined) await this.checkTap(network, boot);
    const limits = { ...this.limits, ...request.limits };
    // prepare() sized the run's limits; only another RAM asked for here is checked again.
    if (memoryMiBFor(limits.memoryBytes) !== memoryMiBFor(this.limits.memoryBytes)) this.sized(limits);
    if (this.opts.restore !== undefined)
      return this.restored(request, boot, {
        cpus: limits.cpus,
        memoryBytes: limits.memoryBytes,
        readyTimeoutMs: this.opts.readyTimeoutMs ?? defaultReadyTimeoutMs((await hostEmulatedBy()) ?? this.accelerator, boot.init),
      });
    return this.start(request, boot, {
      cpus: limits.cpus,
      memoryBytes: limits.memoryBytes,
      // Not a VM's: only a container inside it (guestArgs, nested.ts) enforces it.
      pids: limits.pids,
      readyTimeoutMs: this.opts.readyTimeoutMs ?? defaultReadyTimeoutMs((await hostEmulatedBy()) ?? this.accelerator, boot.init),
    });
  }

  /**
   * Whether a NIC request can be attached: its fields (tapProblem), the namespace's file, a tap device of that
   * name in it (QEMU would make a fresh unconfigured one of a missing name: never), and for the stock VM's
   * own initramfs, virtio_net among the kernel's modules. A TargetError naming the fix otherwise.
   */
  private async checkTap(net: TapAttachment, boot: Boot): Promise<void> {
    const problem = tapProblem(net);
    if (problem !== undefined) throw this.fail('launch', problem);
    try {
      await access(net.netnsPath, constants.R_OK);
    } catch {
      throw this.fail('launch', `network namespace ${net.netnsPath} does not exist: make it first (ip netns add NAME makes /run/netns/NAME)`);
    }
    const link = await execa(NSENTER, [`--net=${net.netnsPath}`, '--', 'ip', '-d', '-o', 'link', 'show', 'dev', net.ifname], {
      reject: false,
      stdin: 'ignore',
    });
    if ((link.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT' || link.exitCode === 127)
      throw this.fail('launch', `${NSENTER} or ip not found, and a VM's NIC needs them (QEMU starts in ${net.netnsPath}): apt-get install util-linux iproute2`);
    if (link.exitCode !== 0 || !/\btun type tap\b/.test(link.stdout))
      throw this.fail(
        'launch',
        `no tap device ${net.ifname} in ${net.netnsPath}${link.exitCode === 0 ? ` (it is no tap: ${link.stdout.trim().slice(0, 120)})` : ''}: make it first (ip -n NAME tuntap add dev ${net.ifname} mode tap)`,
      );
    if (boot.modulesDir !== undefined && boot.init === 'agent') {
      const missing = await missingModules(boot.modulesDir, 'net');
      if (missing.length > 0)
        throw this.fail(
          'launch',
          `the guest kernel ${boot.kernelVersion} has no ${missing.join(', ')} module for the NIC: run \`tsbench kernel fetch\`, then \`tsbench image build\``,
        );
    }
  }

  /** The QEMU argv of one VM for a job (behind nsenter with a NIC); what `launch` runs. */
  async command(job: Job, vm: { cpus?: number; memoryBytes?: number; pids?: number; disk?: string } = {}, network?: TapAttachment): Promise<string[]> {
    const boot = this.boot ?? (await resolveBoot(this.opts, this.profile));
    if (this.accelerator === 'tcg' && this.tscKhz === undefined) this.tscKhz = await hostTscKhz(this.opts.tscKhz);
    return this.argv(job, boot, vm, network !== undefined ? { ...network, vhost: (await vhostNet()).vhost } : undefined);
  }

  private argv(
    job: Job | { kind: 'await' },
    boot: Boot,
    vm: { cpus?: number; memoryBytes?: number; pids?: number; disk?: string },
    nic?: TapAttachment & { vhost: boolean },
  ): string[] {
    // Under TCG the guest TSC is the host's: name its rate (kernelCmdline adds
    // tsc_early_khz); under KVM the hypervisor tells the guest, so pass none.
    const tscKhz = this.accelerator === 'kvm' ? 0 : this.tscKhz;
    const args: QemuArgsOptions = {
      accelerator: this.accelerator,
      machine: this.machine,
      cpus: vm.cpus,
      memoryBytes: vm.memoryBytes,
      kernel: boot.kernel,
      initrd: boot.initramfs,
      rootDisk: boot.rootDisk,
      rootDiskMode: boot.init === 'systemd' ? 'snapshot' : undefined,
      // The lean kernel has no ACPI (drivers/image/kernel/lean.config).
      acpi: this.profile === 'lean' ? false : undefined,
      append: kernelCmdline({
        job: job.kind === 'await' ? ['await'] : jobArgv(job),
        // The agent's tiny initramfs mounts the root itself (tsbench.root=); a distribution's initrd, like the kernel, takes root=.
        root: { device: ROOT_DISK_DEVICE, by: boot.initramfs !== undefined && boot.init === 'agent' ? 'initramfs' : 'kernel' },
        disk: vm.disk !== undefined ? DATA_DISK_DEVICE : undefined,
        net: nic && { address: nic.address, gateway: nic.gateway },
        tscKhz,
        extra: [
          ...tcgLeanArgs(this.accelerator, this.profile),
          ...(this.opts.kernelArgs ?? []),
          ...(this.opts.guestArgs?.({ ...vm, net: nic !== undefined ? true : undefined }) ?? []),
        ],
      }),
      disk: vm.disk,
      nic: nic && { ifname: nic.ifname, mac: nic.mac, vhost: nic.vhost },
      binary: this.binary,
    };
    // A longer command line is cut by the guest kernel, which then boots without the end of it.
    const bytes = guestCmdlineBytes(args);
    if (bytes >= KERNEL_CMDLINE_MAX)
      throw this.fail(
        'launch',
        `the job and its options need ${bytes} bytes of kernel command line, more than the ${KERNEL_CMDLINE_MAX - 1} an x86 guest keeps: shorten the job (its argv is base64 on the command line)`,
      );
    // nsenter enters the tap's namespace and execs QEMU: the launcher's child stays one pid, QEMU's.
    return [...(nic !== undefined ? inNetns(nic.netnsPath) : []), ...buildQemuArgs(args)];
  }

  private async start(
    request: LaunchRequest,
    boot: Boot,
    vm: { cpus?: number; memoryBytes?: number; pids?: number; readyTimeoutMs: number },
  ): Promise<VmInstance> {
    let disk: string | undefined;
    const diskBytes = request.dataDiskBytes ?? this.opts.diskBytes;
    if (diskBytes !== undefined) {
      this.scratch ??= await makeScratchDir();
      disk = join(this.scratch, `disk-${++this.disks}.raw`);
      try {
        await createDataDisk(disk, diskBytes);
      } catch (e) {
        throw this.fail('launch', (e as Error).message, { cause: e });
      }
    }
    const tap = request.network?.kind === 'tap' ? request.network : undefined;
    const vhost = tap !== undefined ? await vhostNet() : undefined;
    const argv = this.argv(request.job, boot, { ...vm, disk }, tap !== undefined && vhost !== undefined ? { ...tap, vhost: vhost.vhost } : undefined);
    const details: VmDetails = {
      accelerator: this.accelerator,
      profile: this.profile,
      image: boot.image,
      init: boot.init,
      kernel: boot.kernelVersion,
      machine: this.machine,
      vcpus: vcpusFor(vm.cpus),
      memoryMiB: memoryMiBFor(vm.memoryBytes),
      qemuArgv: argv,
      diskBytes,
      tscKhz: this.accelerator === 'tcg' ? this.tscKhz : undefined,
      ...(tap !== undefined && vhost !== undefined
        ? {
            nic: nicDevice(this.machine),
            netBackend: 'tap' as const,
            tap: tap.ifname,
            netns: tap.netnsPath,
            mac: tap.mac,
            netAddress: tap.address,
            netGateway: tap.gateway,
            vhost: vhost.vhost,
            vhostWhy: vhost.why,
          }
        : {}),
    };
    if (this.opts.printCommand === true) process.stderr.write(`${formatCommand(argv)}\n`);

    // A writable root's snapshot overlay is a temporary file QEMU makes in $TMPDIR and deletes on exit:
    // in the driver's own directory, so that a killed QEMU's is swept with it.
    if (boot.init === 'systemd') this.scratch ??= await makeScratchDir();
    const proc = new LaunchedProcess({
      target: this.name,
      argv,
      ...(boot.init === 'systemd' ? { env: { ...(process.env as Record<string, string>), TMPDIR: this.scratch as string } } : {}),
      readyTimeoutMs: vm.readyTimeoutMs,
      // A no-op job (startup, the kvm probe) ends the VM right after ready; one still there at twice the ready
      // timeout hangs, and is killed rather than holding the run (a startup run in the nested KVM test host
      // stood still for ten minutes after 48 nested boots, its host idle and no ready timeout firing).
      exitTimeoutMs: request.job.kind === 'noop' ? 2 * vm.readyTimeoutMs : undefined,
      tailLines: 20,
      signal: request.signal,
      onOutput: request.onOutput,
      onStderr: request.onStderr,
      // The host's view of a VM's CPU: its qemu process, every thread (the vCPUs, the VMM's own work).
      workloadCpu: request.workloadCpu ? async () => (qemuPid === undefined ? undefined : processCpuMs(qemuPid)) : undefined,
    });
    let qemuPid: number | undefined;
    const result = proc.done.then(async (o): Promise<VmInstanceResult> => {
      // A killed group's qemu may still be tearing down its guest RAM: the VM is gone when qemu is.
      if (qemuPid !== undefined) await gone(qemuPid);
      this.running.delete(proc);
      if (disk !== undefined) await rm(disk, { force: true });
      return this.toResult(o, details, vm.readyTimeoutMs, proc.workloadCpu);
    });
    this.running.set(proc, result);
    // The launcher's one child is qemu (the same pid before and after its exec).
    qemuPid = proc.pid === undefined ? undefined : await firstChild(proc.pid, proc.done);
    return {
      target: this.name,
      details,
      hostPids: () => (qemuPid !== undefined ? [qemuPid] : []),
      // One reading of qemu's smaps, split into guest RAM touched and the VMM's own overhead.
      footprint: () => qemuFootprint(qemuPid, details.memoryMiB * MiB),
      ready: proc.ready,
      result,
      stop: async () => proc.write('stop\n'),
      kill: async () => proc.kill(),
    };
  }

  private toResult(o: ProcessOutcome, details: VmDetails, readyTimeoutMs: number, workloadCpu: LaunchedProcess['workloadCpu']): VmInstanceResult {
    const phases = vmPhases(o);
    let status: InstanceResult['status'] | undefined;
    let reason: string | undefined;
    const hint = consoleHint(o.tail, details.memoryMiB);
    const qemuSaid = o.tail.find(isQemuMessage);
    if (o.timedOut === 'ready') {
      reason = `the VM did not reach the agent's ready in ${readyTimeoutMs / 1000} s (${details.accelerator}) and was killed${hint ? `: ${hint}` : ''}; last console lines in the tail`;
    } else if (o.timedOut === 'exit') {
      reason = `the VM of a no-op job had not ended ${(2 * readyTimeoutMs) / 1000} s after its launch (${details.accelerator}) and was killed; last console lines in the tail`;
    } else if (!o.killed && o.agentExitCode === undefined && o.launcherError === undefined) {
      // QEMU ended without the agent's last line: a guest panic (panic=-1 with -no-reboot) or QEMU failing.
      status = 'failed';
      reason = `${o.agentReadyNs === undefined ? "the VM ended before the agent's ready" : "the VM ended without the agent's exit"}: ${hint ?? qemuSaid ?? `qemu exit code ${o.exitCode ?? 'unknown'}`}`;
    }
    // qemu may be gone before its CPU is read at the agent's end (the guest powers off at once): then its CPU at exit,
    // the launcher's rusage of it, which adds only the guest's reboot(2).
    const cpuAtExitMs = o.rusage && (o.rusage.userUs + o.rusage.systemUs) / 1000;
    const r = toInstanceResult(o, { sameClock: false, phases, status, reason, workloadCpu, cpuAtExitMs });
    return { ...r, extra: details };
  }

  async teardown(): Promise<void> {
    const all = [...this.running];
    for (const [p] of all) p.kill();
    await Promise.all(all.map(([, r]) => r));
    if (this.scratch !== undefined) {
      await rm(this.scratch, { recursive: true, force: true });
      this.scratch = undefined;
    }
    await Promise.all([...this.snapshots.values()].map((s) => s.catch(() => undefined)));
    this.snapshots.clear();
    for (const dir of this.snapshotDirs.splice(0)) await rm(dir, { recursive: true, force: true });
  }

  /** The snapshot of VMs of this size, saved on first use (drivers/qemu/snapshot.ts). */
  private snapshotFor(boot: Boot, vm: { cpus?: number; memoryBytes?: number; readyTimeoutMs: number }): Promise<Snapshot> {
    const key = `${vcpusFor(vm.cpus)}x${memoryMiBFor(vm.memoryBytes)}`;
    let s = this.snapshots.get(key);
    if (s === undefined) {
      s = this.save(boot, vm);
      this.snapshots.set(key, s);
      s.catch(() => this.snapshots.delete(key));
    }
    return s;
  }

  /** Boots a VM with the agent's `await` job to its ready and saves it (`stop`, `migrate exec:`), then ends it. */
  private async save(boot: Boot, vm: { cpus?: number; memoryBytes?: number; readyTimeoutMs: number }): Promise<Snapshot> {
    const template = this.opts.restore?.template === true;
    const dir = await makeSnapshotDir();
    this.snapshotDirs.push(dir);
    const argv = this.argv({ kind: 'await' }, boot, { cpus: vm.cpus, memoryBytes: vm.memoryBytes });
    const memoryMiB = memoryMiBFor(vm.memoryBytes);
    const socket = join(dir, 'save.sock');
    const saving = restoreArgs(argv, { qmpSocket: socket, template: template ? { ramFile: join(dir, GUEST_RAM_FILE), memoryMiB } : undefined, restore: false });
    if (this.opts.printCommand === true) process.stderr.write(`${formatCommand(saving)}\n`);
    const proc = new LaunchedProcess({ target: this.name, argv: saving, readyTimeoutMs: vm.readyTimeoutMs, tailLines: 20 });
    this.running.set(proc, proc.done);
    let saveMs: number;
    try {
      await proc.ready;
      const qmp = await Qmp.connect(socket, { timeoutMs: 10_000, alive: () => true });
      try {
        saveMs = await saveVm(qmp, dir, template, 120_000);
        await qmp.execute('quit').catch(() => undefined);
      } finally {
        qmp.close();
      }
    } catch (e) {
      proc.kill();
      const o = await proc.done;
      this.running.delete(proc);
      throw this.fail('prepare', `saving a VM to restore from failed: ${(e as Error).message}`, { cause: e, tail: o.tail });
    }
    const o = await proc.done;
    this.running.delete(proc);
    await rm(socket, { force: true });
    const facts: SnapshotFacts = {
      mechanism: template ? 'migrate-exec+x-ignore-shared' : 'migrate-exec',
      ...(await snapshotSizes(dir, template)),
      saveMs,
      bootToReadyMs: o.readyReceivedNs !== undefined && o.startNs !== undefined ? nsToMs(o.readyReceivedNs - o.startNs) : undefined,
      lay: 'page cache (written by this run, caches not dropped)',
      window: this.opts.restore?.prespawned === true ? 'migrate-incoming (qemu pre-spawned)' : 'launcher fork of qemu',
    };
    return { dir, argv, facts };
  }

  /**
   * A VM restored from the snapshot of its size: a new QEMU with the saved VM's argv and `-incoming defer`, QMP up,
   * `migrate-incoming` of the state, the job line written to its console when it runs (drivers/qemu/snapshot.ts).
   * A pre-spawned one is up before this returns; the rest of the restore goes on after it returns, as a boot does.
   */
  private async restored(request: LaunchRequest, boot: Boot, vm: { cpus?: number; memoryBytes?: number; readyTimeoutMs: number }): Promise<VmInstance> {
    if (request.network !== undefined)
      throw this.fail('launch', 'a VM restored from a snapshot takes no NIC: its saved state has none (use the cold-boot target)');
    if ((request.dataDiskBytes ?? this.opts.diskBytes) !== undefined)
      throw this.fail('launch', 'a VM restored from a snapshot takes no data disk: its saved state has none (use the cold-boot target)');
    const snap = await this.snapshotFor(boot, vm);
    const mode = this.opts.restore as RestoreMode;
    const template = mode.template === true;
    const memoryMiB = memoryMiBFor(vm.memoryBytes);
    const socket = join(snap.dir, `qmp-${++this.restores}.sock`);
    const argv = restoreArgs(snap.argv, {
      qmpSocket: socket,
      template: template ? { ramFile: join(snap.dir, GUEST_RAM_FILE), memoryMiB } : undefined,
      restore: true,
    });
    const line = `job ${encodeJob(jobArgv(request.job))}\n`;
    const details: VmDetails = {
      accelerator: this.accelerator,
      profile: this.profile,
      image: boot.image,
      init: boot.init,
      kernel: boot.kernelVersion,
      machine: this.machine,
      vcpus: vcpusFor(vm.cpus),
      memoryMiB,
      qemuArgv: argv,
      tscKhz: this.accelerator === 'tcg' ? this.tscKhz : undefined,
      snapshot: snap.facts,
    };
    if (this.opts.printCommand === true) process.stderr.write(`${formatCommand(argv)}\n`);
    const marks: RestoreMarks = {};
    let qemuPid: number | undefined;
    const proc = new LaunchedProcess({
      target: this.name,
      argv,
      readyTimeoutMs: vm.readyTimeoutMs,
      exitTimeoutMs: request.job.kind === 'noop' ? 2 * vm.readyTimeoutMs : undefined,
      tailLines: 20,
      signal: request.signal,
      onOutput: request.onOutput,
      onStderr: request.onStderr,
      workloadCpu: request.workloadCpu ? async () => (qemuPid === undefined ? undefined : processCpuMs(qemuPid)) : undefined,
    });
    let ended = false;
    const result = proc.done.then(async (o): Promise<VmInstanceResult> => {
      ended = true;
      if (qemuPid !== undefined) await gone(qemuPid);
      this.running.delete(proc);
      await rm(socket, { force: true });
      if (request.signal?.aborted === true) marks.error = undefined;
      return this.restoredResult(o, details, marks, vm.readyTimeoutMs, proc.workloadCpu, mode.prespawned === true);
    });
    this.running.set(proc, result);
    qemuPid = proc.pid === undefined ? undefined : await firstChild(proc.pid, proc.done);
    const fail = (e: unknown): void => {
      marks.error = (e as Error).message;
      proc.kill();
    };
    const up = (async () => {
      const qmp = await Qmp.connect(socket, { timeoutMs: vm.readyTimeoutMs, alive: () => !ended });
      marks.qmpNs = qmp.greetedNs;
      await qmp.execute('migrate-set-capabilities', { capabilities: capabilities(template) });
      return qmp;
    })();
    const run = async (qmp: Qmp): Promise<void> => {
      try {
        marks.incomingNs = process.hrtime.bigint();
        await qmp.execute('migrate-incoming', { uri: `exec:cat ${join(snap.dir, 'state')}` });
        const loaded = await qmp.waitEvent(
          (e) => e.event === 'MIGRATION' && (e.data?.['status'] === 'completed' || e.data?.['status'] === 'failed'),
          vm.readyTimeoutMs,
        );
        if (loaded.data?.['status'] === 'failed') throw new Error(`loading ${join(snap.dir, 'state')} failed (incoming migration failed)`);
        marks.loadedNs = loaded.atNs;
        // The VM was saved stopped, so it is loaded paused (QEMU keeps the source's run state): `cont` runs it.
        await qmp.execute('cont');
        const resumed = await qmp.waitEvent((e) => e.event === 'RESUME', vm.readyTimeoutMs);
        // The guest runs: its console takes the job line now (written earlier, it would be lost with the UART's state).
        proc.write(line);
        marks.resumeNs = resumed.atNs;
      } finally {
        qmp.close();
      }
    };
    if (mode.prespawned === true) {
      // The pre-spawned VMM: QEMU's start is over before the timed window, which begins at migrate-incoming.
      const qmp = await up.catch((e: unknown) => void fail(e));
      if (qmp !== undefined) void run(qmp).catch(fail);
    } else void up.then(run).catch(fail);
    return {
      target: this.name,
      details,
      hostPids: () => (qemuPid !== undefined ? [qemuPid] : []),
      footprint: () => qemuFootprint(qemuPid, details.memoryMiB * MiB),
      ready: proc.ready,
      result,
      stop: async () => proc.write('stop\n'),
      kill: async () => proc.kill(),
    };
  }

  /** A restored VM's result: its timeline from the restore's instants (the guest's clock says nothing of them). */
  private restoredResult(
    o: ProcessOutcome,
    details: VmDetails,
    marks: RestoreMarks,
    readyTimeoutMs: number,
    workloadCpu: LaunchedProcess['workloadCpu'],
    prespawned: boolean,
  ): VmInstanceResult {
    const r = this.toResult(o, details, readyTimeoutMs, workloadCpu);
    if (o.startNs !== undefined && marks.qmpNs !== undefined) details.prespawnMs = prespawned ? nsToMs(marks.qmpNs - o.startNs) : undefined;
    const start = prespawned ? marks.incomingNs : o.startNs;
    const phases = start === undefined ? [] : restorePhases({ ...marks, startNs: o.startNs, readyReceivedNs: o.readyReceivedNs, endNs: o.endNs }, prespawned);
    const failed = marks.error !== undefined && r.status !== 'ok';
    return {
      ...r,
      status: failed ? 'failed' : r.status,
      reason: failed ? `restoring the VM failed: ${marks.error}` : r.reason,
      timeline: {
        ...r.timeline,
        toReadyMs: start !== undefined && o.readyReceivedNs !== undefined ? nsToMs(o.readyReceivedNs - start) : undefined,
        toExitMs: start !== undefined && o.endNs !== undefined ? nsToMs(o.endNs - start) : undefined,
        phases,
      },
    };
  }
}

/**
 * Phases of a restored VM's timeline, consecutive, adding up to its toExitMs: `qemu` from the launcher's fork until
 * QMP answered (not in a pre-spawned VM's window), `load` until the incoming migration completed (from QMP's answer,
 * or for a pre-spawned VM from `migrate-incoming`), `resume` until the guest ran, `agent` until the agent's ready
 * arrived (the job line written to the console and read by the agent), `exit` until QEMU was reaped (the job, the
 * guest's reboot, QEMU's exit). Pure, for tests.
 */
export function restorePhases(m: RestoreMarks & { startNs?: bigint; readyReceivedNs?: bigint; endNs?: bigint }, prespawned: boolean): Phase[] {
  const points: [string, bigint | undefined][] = [
    ['qemu', prespawned ? undefined : m.qmpNs],
    ['load', m.loadedNs],
    ['resume', m.resumeNs],
    ['agent', m.readyReceivedNs],
    ['exit', m.endNs],
  ];
  let from = prespawned ? m.incomingNs : m.startNs;
  if (from === undefined) return [];
  const phases: Phase[] = [];
  for (const [name, at] of points) {
    if (at === undefined) continue;
    phases.push({ name, ms: nsToMs(at - from) });
    from = at;
  }
  return phases;
}

/** Whether QEMU can use vhost-net here (/dev/vhost-net, read-write), and why not. Never assumed: looked at every launch. */
export async function vhostNet(): Promise<{ vhost: boolean; why?: string }> {
  try {
    await access(VHOST_NET, constants.R_OK | constants.W_OK);
    return { vhost: true };
  } catch (e) {
    return { vhost: false, why: (e as NodeJS.ErrnoException).code === 'ENOENT' ? `no ${VHOST_NET}` : `${VHOST_NET} is not read-write for this user` };
  }
}

/** Waits (up to 5 s) until a process has exited (gone, or a zombie nobody reaped yet). */
async function gone(pid: number): Promise<void> {
  for (let i = 0; i < 1000; i++) {
    let state: string | undefined;
    try {
      state = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]?.[0];
    } catch {
      return;
    }
    if (state === 'Z' || state === 'X') return;
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Waits (up to 1 s) for the launcher's child to appear; undefined if the launcher ends first. */
async function firstChild(pid: number, done: Promise<unknown>): Promise<number | undefined> {
  let over = false;
  void done.then(() => (over = true));
  for (let i = 0; i < 200 && !over; i++) {
    const [child] = await childPids(pid);
    if (child !== undefined) return child;
    await new Promise((r) => setTimeout(r, 5));
  }
  return undefined;
}

/** The driver of a VM target: an accelerator and a profile. */
export function createQemuDriver(accelerator: Accelerator, profile: VmProfile, opts: Omit<QemuDriverOptions, 'accelerator' | 'profile'> = {}): QemuDriver {
  return new QemuDriver({ ...opts, accelerator, profile });
}

export function createKvmDriver(opts: Omit<QemuDriverOptions, 'accelerator'> = {}): QemuDriver {
  return new QemuDriver({ ...opts, accelerator: 'kvm' });
}

export function createTcgDriver(opts: Omit<QemuDriverOptions, 'accelerator'> = {}): QemuDriver {
  return new QemuDriver({ ...opts, accelerator: 'tcg' });
}
