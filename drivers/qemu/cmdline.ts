/**
 * The QEMU command line of one VM, built by a pure function so that what tsbench
 * runs can be unit-tested, printed (`TSBENCH_PRINT_COMMAND=1`) and replayed by
 * hand or by hyperfine with exactly the same argv.
 */

/** How the guest's CPU is executed: hardware virtualization or QEMU's binary translator. */
export type Accelerator = 'kvm' | 'tcg';

/**
 * The machine type. `microvm` has virtio-mmio devices and no PCI bus or firmware
 * tables to walk, so it boots the fastest; `pc` (i440fx) and `q35` are the
 * standard PC machines, with SeaBIOS and virtio over PCI.
 */
export type Machine = 'microvm' | 'pc' | 'q35';

export const MACHINES: readonly Machine[] = ['microvm', 'pc', 'q35'];

/**
 * What a VM is, besides its accelerator: `lean`, a microVM as Firecracker and
 * Kata build one (tsbench's minimal kernel, `tsbench kernel build`, everything
 * built in, booted through PVH as an uncompressed vmlinux straight onto the root
 * disk), or `cloud`, a stock distribution VM's kernel (Debian's cloud kernel, a
 * self-decompressing bzImage whose virtio and ext4 drivers are modules, loaded
 * from a tiny initramfs that then mounts the root disk). Both boot the same
 * read-only root disk on `-M microvm` with the same agent as init.
 */
export type VmProfile = 'lean' | 'cloud';

export const VM_PROFILES: readonly VmProfile[] = ['lean', 'cloud'];

/** The QEMU binary tsbench runs. */
export const QEMU_BINARY = 'qemu-system-x86_64';

/** VM RAM when no `--memory` is given (core/defaults.ts). */
import { DEFAULT_MEMORY_BYTES } from '../../core/defaults.js';
import { MiB } from '../../core/units.js';

export { DEFAULT_MEMORY_BYTES };

/**
 * The guest devices of the disks, in the order of QEMU's command line (checked on
 * -M microvm: the first virtio-blk device is vda): the image's read-only root disk,
 * then the data disk.
 */
export const ROOT_DISK_DEVICE = '/dev/vda';
export const DATA_DISK_DEVICE = '/dev/vdb';

/**
 * A virtio-net NIC backed by a tap device (`LaunchRequest.network` of kind `tap`): QEMU opens the
 * persistent tap `ifname` (made by the caller, in the network namespace QEMU runs in) with no
 * ifup/ifdown scripts, and the guest sees it with MAC `mac`. `vhost`: the virtqueues are served by the
 * host kernel's vhost-net instead of QEMU's own thread (only where /dev/vhost-net exists).
 */
export interface Nic {
  ifname: string;
  mac: string;
  vhost: boolean;
}

export interface QemuArgsOptions {
  accelerator: Accelerator;
  /** @default 'microvm' */
  machine?: Machine;
  /** vCPUs; a fractional CPU limit is rounded up. @default 1 */
  cpus?: number;
  /** VM RAM in bytes, rounded up to whole MiB. @default DEFAULT_MEMORY_BYTES (256 MiB) */
  memoryBytes?: number;
  /** Kernel to boot directly, no bootloader: a bzImage, or a vmlinux with a PVH entry. */
  kernel: string;
  /** initramfs whose /init is the agent (a kernel with modules), or none (the kernel mounts the root disk itself). */
  initrd?: string;
  /** The image's root disk (ext4), attached as ROOT_DISK_DEVICE. */
  rootDisk: string;
  /**
   * `readonly` (the agent as init: only the pages a workload touches enter guest RAM), or `snapshot`:
   * writable, as a distribution's root is, through a temporary copy-on-write overlay QEMU makes in
   * $TMPDIR and deletes on exit, so the image itself never changes. @default 'readonly'
   */
  rootDiskMode?: 'readonly' | 'snapshot';
  /** Kernel command line, `console=ttyS0 quiet loglevel=1 … tsbench.job=…` (see bench/image `kernelCmdline`). */
  append: string;
  /** Raw disk image to attach as the guest's DATA_DISK_DEVICE. */
  disk?: string;
  /** A virtio-net NIC on a tap device, after the disks (they stay vda, vdb). @default none */
  nic?: Nic;
  /** @default QEMU_BINARY */
  binary?: string;
  /** Whether the machine offers ACPI (microvm only: the lean kernel has none). @default true */
  acpi?: boolean;
  /** `-cpu`: the workload VMs always take the default (the nested KVM test host names its own). @default `host` under kvm, `max` under tcg */
  cpu?: string;
}

/** x86's COMMAND_LINE_SIZE: the kernel keeps this many bytes of its command line, the NUL included. */
export const KERNEL_CMDLINE_MAX = 2048;

/**
 * What QEMU appends to the command line of a microvm without ACPI: one
 * `virtio_mmio.device=512@0xfeb00e00:12` (at most this long, and a space) per virtio device.
 */
export const MMIO_CMDLINE_BYTES_PER_DEVICE = 40;

/** The bytes of kernel command line the guest gets: `append`, and what QEMU adds for its devices (root disk, data disk, NIC). */
export function guestCmdlineBytes(opts: Pick<QemuArgsOptions, 'append' | 'machine' | 'acpi' | 'disk' | 'nic'>): number {
  const devices = 1 + (opts.disk !== undefined ? 1 : 0) + (opts.nic !== undefined ? 1 : 0);
  const added = (opts.machine ?? 'microvm') === 'microvm' && opts.acpi === false ? devices * MMIO_CMDLINE_BYTES_PER_DEVICE : 0;
  return Buffer.byteLength(opts.append) + added;
}

/** The NIC's QEMU device: virtio over MMIO on microvm, over PCI on pc and q35. */
export function nicDevice(machine: Machine = 'microvm'): 'virtio-net-device' | 'virtio-net-pci' {
  return machine === 'microvm' ? 'virtio-net-device' : 'virtio-net-pci';
}

/** vCPUs for a CPU limit: whole CPUs, rounded up, at least one. */
export function vcpusFor(cpus: number | undefined): number {
  return cpus === undefined ? 1 : Math.max(1, Math.ceil(cpus));
}

/** Whole MiB of VM RAM for a memory limit, rounded up. */
export function memoryMiBFor(memoryBytes: number | undefined): number {
  return Math.ceil((memoryBytes ?? DEFAULT_MEMORY_BYTES) / MiB);
}

/**
 * The machine's `-M` value: each machine with its defaults, except the lean microVM's
 * microvm, which runs with `acpi=off` as Firecracker's VMs do (its kernel has no ACPI:
 * QEMU then names the virtio-mmio devices on the kernel command line, and the agent
 * ends the VM by a reboot). On microvm, tried and dropped (docs/performance.md, "VM
 * startup"): `rtc=off` made boots about 1 s slower under TCG, `x-option-roms=off` and
 * `pit=off` changed nothing measurable.
 */
export function machineArg(machine: Machine, opts: { acpi?: boolean } = {}): string {
  return machine === 'microvm' && opts.acpi === false ? 'microvm,acpi=off' : machine;
}

/**
 * The complete argv, binary first. Console on the first serial port, wired to
 * QEMU's stdin/stdout, which the launcher connects to tsbench; `-no-reboot` makes
 * a guest reboot or `panic=-1` end QEMU instead of booting again.
 */
export function buildQemuArgs(opts: QemuArgsOptions): string[] {
  const machine = opts.machine ?? 'microvm';
  const argv = [
    opts.binary ?? QEMU_BINARY,
    '-nodefaults',
    '-no-user-config',
    '-display',
    'none',
    '-serial',
    'stdio',
    '-no-reboot',
    '-accel',
    opts.accelerator,
    '-M',
    machineArg(machine, opts.acpi === false ? { acpi: false } : {}),
    '-cpu',
    opts.cpu ?? (opts.accelerator === 'kvm' ? 'host' : 'max'),
    '-smp',
    String(vcpusFor(opts.cpus)),
    '-m',
    `${memoryMiBFor(opts.memoryBytes)}M`,
    '-kernel',
    opts.kernel,
    ...(opts.initrd !== undefined ? ['-initrd', opts.initrd] : []),
    '-append',
    opts.append,
  ];
  const blk = machine === 'microvm' ? 'virtio-blk-device' : 'virtio-blk-pci';
  // Read-only, through the host's page cache as Firecracker's default sync engine does: the VMs of
  // one run share the image's pages on the host, and each guest reads only what it touches.
  argv.push('-drive', `file=${opts.rootDisk},format=raw,if=none,id=root,${opts.rootDiskMode === 'snapshot' ? 'snapshot=on' : 'readonly=on'}`);
  argv.push('-device', `${blk},drive=root`);
  if (opts.disk !== undefined) {
    // O_DIRECT on the host, so guest I/O is measured rather than the host's page cache.
    argv.push('-drive', `file=${opts.disk},format=raw,if=none,id=d0,cache=none,aio=io_uring`);
    argv.push('-device', `${blk},drive=d0`);
  }
  if (opts.nic !== undefined) {
    // Last, so the disks keep their names. No option ROM on PCI (romfile=): -kernel boots the guest, and
    // iPXE's ROM would only add to SeaBIOS's time.
    const { ifname, mac, vhost } = opts.nic;
    argv.push('-netdev', `tap,id=net0,ifname=${ifname},script=no,downscript=no,vhost=${vhost ? 'on' : 'off'}`);
    argv.push('-device', `${nicDevice(machine)},netdev=net0,mac=${mac}${machine === 'microvm' ? '' : ',romfile='}`);
  }
  return argv;
}

/** One argv as a line a POSIX shell reads back as the same argv. */
export function formatCommand(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`)).join(' ');
}
