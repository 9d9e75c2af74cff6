/**
 * The environment variables tsbench reads, all of them here and read once, so
 * that nothing below the CLI looks at `process.env`: each becomes a typed
 * driver option (drivers/types.ts `DriverOptions`). README.md lists them.
 */
import { UsageError } from '../core/errors.js';
import { MACHINES, type DriverOptions } from '../drivers/index.js';

/** Every variable, with what it sets, for the README and `--help`. */
export const ENVIRONMENT = {
  TSBENCH_KERNEL: 'a bzImage to build the image for and boot, instead of the cached kernel',
  TSBENCH_KERNEL_MODULES: "TSBENCH_KERNEL's modules directory (/lib/modules/<version>)",
  TSBENCH_LINUX_SOURCE: 'the linux source tarball `tsbench kernel build` builds the lean guest kernel from (default /usr/src/linux-source-6.1.tar.xz)',
  TSBENCH_LEAN_KERNEL:
    'a lean guest kernel built elsewhere, as the directory `tsbench kernel build` made ($cache/kernel/lean-<key>), booted instead of the one built from TSBENCH_LINUX_SOURCE',
  TSBENCH_QEMU_MACHINE: `QEMU machine type of the VM targets when --machine is not given (${MACHINES.join(', ')})`,
  TSBENCH_PRINT_COMMAND: '1: print each VM’s qemu command line on stderr, like --print-command',
  TSBENCH_TSC_KHZ: "the host's TSC rate in kHz for TCG guests, when tsbench cannot read it",
  TSBENCH_KVM_REPROBE: "1: boot the kvm probe guest again instead of reusing this host boot's verdict",
  TSBENCH_CONTAINER_UPPER: "where the container's writable layer lives: tmpfs (default) or disk",
  TSBENCH_CONFINEMENT:
    'how container, runc and crun confine the workload: docker-default (default: Docker’s capabilities, no_new_privs, masked paths, seccomp) or unconfined',
  TSBENCH_DEBUG: 'set: print the stack trace of an unexpected error',
  DOCKER_HOST: 'the Docker daemon the docker target uses (as the docker CLI reads it); tsbench never starts or stops one',
} as const;

type Env = Readonly<Record<string, string | undefined>>;

/** The most TSBENCH_TSC_KHZ takes: 10 GHz, above any x86 TSC (they run at the CPU's base clock, under 6 GHz). */
export const MAX_TSC_KHZ = 10_000_000;

function value(env: Env, name: keyof typeof ENVIRONMENT): string | undefined {
  const v = env[name];
  return v === undefined || v === '' ? undefined : v;
}

/** Whether an unexpected error's stack trace is printed (`TSBENCH_DEBUG`). */
export function debugFromEnv(env: Env = process.env): boolean {
  return value(env, 'TSBENCH_DEBUG') !== undefined;
}

/** The driver options the environment sets. Throws a UsageError naming the variable when one is malformed. */
export function driverOptionsFromEnv(env: Env = process.env): DriverOptions {
  const opts: DriverOptions = {};
  const kernel = value(env, 'TSBENCH_KERNEL');
  const modules = value(env, 'TSBENCH_KERNEL_MODULES');
  if (modules !== undefined && kernel === undefined)
    throw new UsageError('TSBENCH_KERNEL_MODULES is set without TSBENCH_KERNEL: set both, or neither to use the cached kernel');
  if (kernel !== undefined) opts.guestKernel = { kernel, ...(modules !== undefined ? { modules } : {}) };
  const linuxSource = value(env, 'TSBENCH_LINUX_SOURCE');
  if (linuxSource !== undefined) opts.linuxSource = linuxSource;
  const leanKernelDir = value(env, 'TSBENCH_LEAN_KERNEL');
  if (leanKernelDir !== undefined) opts.leanKernelDir = leanKernelDir;
  const machine = value(env, 'TSBENCH_QEMU_MACHINE');
  if (machine !== undefined) {
    if (!(MACHINES as readonly string[]).includes(machine))
      throw new UsageError(`TSBENCH_QEMU_MACHINE=${machine} is not a machine type: use one of ${MACHINES.join(', ')}`);
    opts.machine = machine as DriverOptions['machine'];
  }
  if (value(env, 'TSBENCH_PRINT_COMMAND') === '1') opts.printCommand = true;
  const tsc = value(env, 'TSBENCH_TSC_KHZ');
  if (tsc !== undefined) {
    if (!/^[1-9]\d*$/.test(tsc)) throw new UsageError(`TSBENCH_TSC_KHZ=${tsc} is not a frequency in kHz: give a whole number, e.g. TSBENCH_TSC_KHZ=2445406`);
    if (Number(tsc) > MAX_TSC_KHZ)
      throw new UsageError(
        `TSBENCH_TSC_KHZ=${tsc} is more than any TSC runs at (at most ${MAX_TSC_KHZ} kHz, 10 GHz): give the host's rate in kHz, e.g. TSBENCH_TSC_KHZ=2445406`,
      );
    opts.tscKhz = Number(tsc);
  }
  if (value(env, 'TSBENCH_KVM_REPROBE') === '1') opts.reprobeKvm = true;
  const upper = value(env, 'TSBENCH_CONTAINER_UPPER');
  if (upper !== undefined) {
    if (upper !== 'tmpfs' && upper !== 'disk') throw new UsageError(`TSBENCH_CONTAINER_UPPER=${upper} is not valid: use tmpfs or disk`);
    opts.upper = upper;
  }
  const confinement = value(env, 'TSBENCH_CONFINEMENT');
  if (confinement !== undefined) {
    if (confinement !== 'docker-default' && confinement !== 'unconfined')
      throw new UsageError(`TSBENCH_CONFINEMENT=${confinement} is not valid: use docker-default (as docker run) or unconfined`);
    opts.confinement = confinement;
  }
  const dockerHost = value(env, 'DOCKER_HOST');
  if (dockerHost !== undefined) opts.dockerHost = dockerHost;
  return opts;
}
