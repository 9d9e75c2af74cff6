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

/** The QEMU binary tsbench runs. */
export const QEMU_BINARY = 'qemu-system-x86_64';

/**
 * VM RAM when no `--memory` is given (core/defaults.ts). The image's initramfs is
 * about 115 MB (Debian's fio links 88 MB of libraries) and the kernel unpacks it
 * next to itself, so 256 MiB cannot boot it.
 */
import { DEFAULT_MEMORY_BYTES } from '../../core/defaults.js';
import { MiB } from '../../core/units.js';

export { DEFAULT_MEMORY_BYTES };

/** The guest device of the data disk (the first virtio block device). */
export const DATA_DISK_DEVICE = '/dev/vda';

export interface QemuArgsOptions {
  accelerator: Accelerator;
  /** @default 'microvm' */
  machine?: Machine;
  /** vCPUs; a fractional CPU limit is rounded up. @default 1 */
  cpus?: number;
  /** VM RAM in bytes, rounded up to whole MiB. @default DEFAULT_MEMORY_BYTES (512 MiB) */
  memoryBytes?: number;
  /** bzImage to boot directly (no bootloader). */
  kernel: string;
  /** initramfs whose /init is the agent. */
  initrd: string;
  /** Kernel command line, `console=ttyS0 quiet loglevel=1 … tsbench.job=…` (see bench/image `kernelCmdline`). */
  append: string;
  /** Raw disk image to attach as the guest's /dev/vda. */
  disk?: string;
  /** @default QEMU_BINARY */
  binary?: string;
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
 * The machine's `-M` value: each machine with its defaults. On microvm, tried and
 * dropped (docs/performance.md, "VM startup"): `rtc=off` made boots about 1 s
 * slower under TCG, `x-option-roms=off` and `pit=off` changed nothing measurable,
 * `acpi=off` loses the power-off that ends QEMU.
 */
export function machineArg(machine: Machine): string {
  return machine;
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
    machineArg(machine),
    '-cpu',
    opts.accelerator === 'kvm' ? 'host' : 'max',
    '-smp',
    String(vcpusFor(opts.cpus)),
    '-m',
    `${memoryMiBFor(opts.memoryBytes)}M`,
    '-kernel',
    opts.kernel,
    '-initrd',
    opts.initrd,
    '-append',
    opts.append,
  ];
  if (opts.disk !== undefined) {
    // O_DIRECT on the host, so guest I/O is measured rather than the host's page cache.
    argv.push('-drive', `file=${opts.disk},format=raw,if=none,id=d0,cache=none,aio=io_uring`);
    argv.push('-device', `${machine === 'microvm' ? 'virtio-blk-device' : 'virtio-blk-pci'},drive=d0`);
  }
  return argv;
}

/** One argv as a line a POSIX shell reads back as the same argv. */
export function formatCommand(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`)).join(' ');
}
