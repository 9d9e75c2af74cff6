/**
 * `container`: tsbench's own namespace + cgroup runtime (not docker, not runc),
 * so that every mechanism's cost is ours to measure.
 *
 * Each instance gets fresh pid, mount, uts, ipc, net (only `lo`, up; or, when
 * the launch names a network, the host's or a prepared one) and, where
 * the kernel has it, cgroup namespaces; an overlay root whose read-only lower
 * layer is the image rootfs and whose upper layer lives in a per-instance temp
 * directory; pivot_root into it with a fresh /proc, a read-only /sys and a
 * minimal /dev, its own cgroups read-only at /sys/fs/cgroup (as Docker shows
 * them); optional bind-mounted volumes; and one cgroup per hierarchy
 * with the memory, CPU and pids limits. The agent runs as PID 1, confined as
 * Docker confines a container (drivers/linux/confinement.ts: capabilities,
 * no_new_privs, masked and read-only paths, seccomp) unless the driver is
 * created `unconfined`.
 *
 * Policy lives in TypeScript: here what only this runtime does (namespaces,
 * overlay and volume options for the launcher), in drivers/linux the base driver
 * and lifecycle it shares with runc, crun, docker and podman (options, probe
 * checks, instance directory, cgroups, exit hooks, accounting, clean-up). drivers/container/nsexec.c, linked into
 * tsbench-launch, only executes it, so the launcher's clock brackets the
 * container exactly as it brackets a native process.
 */
import { existsSync, readFileSync } from 'node:fs';
import { access, constants, readFile, rm } from 'node:fs/promises';
import { execa } from 'execa';
import { basename, join } from 'node:path';
import { describeError } from '../../core/errors.js';
import type { Image } from '../image/index.js';
import { binPath } from '../process.js';
import { makeOwnedDir } from '../ownership.js';
import { AGENT, ENV, jobArgv } from '../protocol.js';
import { overlayOptions } from '../linux/overlay.js';
import type { InstanceSpec } from '../linux/lifecycle.js';
import { LinuxContainerDriver, unavailable, type Admitted, type LinuxDriverOptions } from '../linux/driver.js';
import {
  MASKED_PATHS,
  READONLY_PATHS,
  capabilityMask,
  containerCapabilities,
  describeConfinement,
  resolveSeccomp,
  seccompLauncherArgs,
  type Confinement,
} from '../linux/confinement.js';
import type { Driver, LaunchRequest, Probe } from '../types.js';
import { InstanceCgroups, ensureParents, removeParentsSync, type CgroupHost } from '../linux/cgroups.js';

export type Namespace = 'pid' | 'mnt' | 'uts' | 'ipc' | 'net' | 'cgroup';

/** Namespaces every instance gets; `cgroup` is added where the kernel has it. */
const NAMESPACES: readonly Namespace[] = ['pid', 'mnt', 'uts', 'ipc', 'net'];

/** Per-instance directories start with this, under `tmpDir`. */
export const DIR_PREFIX = 'tsbench-ct-';

/**
 * Where the overlay's writable upper layer lives:
 * - `tmpfs`: a tmpfs mounted over the instance directory inside the instance's
 *   own mount namespace. Its pages are charged to the instance's memory
 *   cgroup and it vanishes with the namespace. Like `docker run --tmpfs`.
 * - `disk`: plain directories in the instance directory on the host's disk,
 *   like docker's overlay2. Mounting an overlay whose upper is on a busy ext4
 *   can wait for the journal (0.3 to 2 ms measured here, see docs/performance.md).
 */
export type UpperLayer = 'tmpfs' | 'disk';

/**
 * tsbench-launch's confinement options (nsexec.c) for a confinement: none for
 * `unconfined`; for `docker-default` Docker's masked and read-only paths, its
 * capabilities, no_new_privs and its seccomp profile resolved for those
 * capabilities on this host.
 */
export function confinementArgs(confinement: Confinement, compiled?: { seccompBpf: string }): string[] {
  if (confinement === 'unconfined') return [];
  const caps = containerCapabilities(confinement);
  return [
    ...MASKED_PATHS.flatMap((p) => ['--mask', p]),
    ...READONLY_PATHS.flatMap((p) => ['--readonly', p]),
    '--caps',
    capabilityMask(caps).toString(16),
    '--no-new-privs',
    ...(compiled ? ['--seccomp-bpf', compiled.seccompBpf] : seccompLauncherArgs(resolveSeccomp(caps))),
  ];
}

/**
 * Compiles the confinement's seccomp filter to BPF once (`tsbench-launch --seccomp-export`) into an owned
 * directory, so that each container loads it instead of compiling it: libseccomp's compile of Docker's
 * profile took 11-15 ms of every start here (docs/performance.md), loading the result microseconds. crun
 * caches its compiled filters the same way; runc compiles at every start.
 */
export async function compileSeccomp(confinement: Confinement, tmpDir: string): Promise<{ dir: string; seccompBpf: string }> {
  const dir = await makeOwnedDir(join(tmpDir, 'tsbench-seccomp-'));
  const seccompBpf = join(dir, 'filter.bpf');
  const rules = seccompLauncherArgs(resolveSeccomp(containerCapabilities(confinement)));
  const r = await execa(binPath('tsbench-launch'), ['--report-fd', '2', '--', ...rules, '--seccomp-export', seccompBpf, '--', '/bin/true'], { reject: false });
  if (r.exitCode !== 0 || !existsSync(seccompBpf)) {
    await rm(dir, { recursive: true, force: true });
    throw new Error(`cannot compile the seccomp filter: ${(r.stderr || r.stdout).trim() || `exit code ${r.exitCode}`}`);
  }
  return { dir, seccompBpf };
}

/**
 * `--cgroupfs` options that show the workload its own cgroups read-only at
 * /sys/fs/cgroup, as Docker does: each hierarchy tsbench uses, mounted with the
 * host mount's controller options (a v1 mount's options must match its hierarchy).
 */
export function cgroupfsArgs(host: CgroupHost, mounts: string = readMounts()): string[] {
  const GENERIC = new Set(['rw', 'ro', 'relatime', 'noatime', 'nosuid', 'nodev', 'noexec', 'seclabel', 'nsdelegate', 'memory_recursiveprot']);
  return host.hierarchies.flatMap((h) => {
    const line = mounts.split('\n').find((l) => l.split(' ')[1] === h.mount);
    const options = (line?.split(' ')[3] ?? h.controllers.join(','))
      .split(',')
      .filter((o) => !GENERIC.has(o))
      .join(',');
    const dir = h.mount === '/sys/fs/cgroup' ? '' : basename(h.mount);
    return ['--cgroupfs', `${h.version === 2 ? 'cgroup2' : 'cgroup'}:${h.version === 2 ? '' : options}:${dir}`];
  });
}

function readMounts(): string {
  try {
    return readFileSync('/proc/self/mounts', 'utf8');
  } catch {
    return '';
  }
}

/** `createContainerDriver`'s options: the Linux-container driver's (drivers/linux/driver.ts). */
export type ContainerOptions = LinuxDriverOptions;

export class ContainerDriver extends LinuxContainerDriver {
  /** The launcher's confinement options, computed once, then with the seccomp filter compiled (prepare). */
  private confinementArgv: string[];
  /** The compiled seccomp filter's directory, removed at teardown. */
  private seccompDir: string | undefined;

  /** Whether the target fixes its confinement (UNCONFINED_TARGET) instead of taking the run's. */
  private readonly ownConfinement: boolean;

  /** `base`: the target's name for the lean image, `container` or UNCONFINED_TARGET. */
  constructor(options: ContainerOptions = {}, base = 'container') {
    super({ base }, options);
    this.ownConfinement = base !== 'container';
    this.confinementArgv = confinementArgs(this.confinement);
  }

  async probe(): Promise<Probe> {
    if (process.getuid?.() !== 0) return unavailable('needs root for namespaces, mounts and cgroups: run tsbench as root (e.g. with sudo)');
    const filesystems = await readFile('/proc/filesystems', 'utf8').catch(() => '');
    if (!/\toverlay$/m.test(filesystems)) return unavailable('overlayfs is missing from /proc/filesystems: load it with `modprobe overlay`');
    for (const ns of NAMESPACES) {
      if (!existsSync(`/proc/self/ns/${ns}`))
        return unavailable(`the kernel has no ${ns} namespaces (/proc/self/ns/${ns} is missing): use a kernel built with them`);
    }
    const cgroups = await this.probeCgroups();
    if ('reason' in cgroups) return unavailable(cgroups.reason);
    try {
      await access(binPath('tsbench-launch'), constants.X_OK);
    } catch {
      return unavailable(`${binPath('tsbench-launch')} is missing: run \`npm run build\``);
    }
    const noImage = await this.imageProblem();
    if (noImage !== undefined) return unavailable(noImage);
    return {
      available: true,
      details: {
        namespaces: this.namespaces().join(','),
        ...cgroups.details,
        overlay: ['overlay', ...overlayOptions()].join(','),
        upper: this.upper,
        confinement: describeConfinement(this.confinement),
        // The variant's confinement is its own, not the run's TSBENCH_CONFINEMENT (which a reproduction reads back from `confinement`).
        ...(this.ownConfinement ? { confinementSetBy: `the target ${UNCONFINED_TARGET}, whatever TSBENCH_CONFINEMENT says` } : {}),
        ...(this.confinement !== 'unconfined'
          ? {
              seccompFilter:
                'compiled to BPF once per run (tsbench-launch --seccomp-export), loaded at each start (--seccomp-bpf), as podman hands crun a cached filter',
            }
          : {}),
      },
    };
  }

  private namespaces(): Namespace[] {
    return existsSync('/proc/self/ns/cgroup') ? [...NAMESPACES, 'cgroup'] : [...NAMESPACES];
  }

  /** tsbench's cgroup parents, and the seccomp filter compiled once. */
  protected async prepareRest(_image: Image, host: CgroupHost): Promise<void> {
    try {
      await ensureParents(host);
    } catch (e) {
      throw this.fail('prepare', `cannot set up tsbench's cgroups (${describeError(e)}): tsbench needs root and writable cgroup mounts`, e);
    }
    if (this.confinement !== 'unconfined' && this.seccompDir === undefined) {
      try {
        const compiled = await compileSeccomp(this.confinement, this.tmpDir);
        this.seccompDir = compiled.dir;
        this.confinementArgv = confinementArgs(this.confinement, compiled);
      } catch (e) {
        throw this.fail('prepare', describeError(e), e);
      }
    }
  }

  /** The launcher's namespaces, overlay root, volumes, cgroups and confinement for one instance. */
  protected instanceSpec(id: string, request: LaunchRequest, { image, host, network }: Admitted): InstanceSpec {
    const volumes = request.volumes ?? [];
    const upper = request.upper ?? this.upper;
    // A network given: the host's namespace, or one made beforehand (drivers/linux/network.ts), instead of a fresh one.
    const namespaces = this.namespaces().filter((ns) => network === undefined || ns !== 'net');
    const cgroups = new InstanceCgroups(host, id);
    return {
      cgroups,
      // With a tmpfs upper the launcher makes these in the tmpfs.
      dir: { path: join(this.tmpDir, `${DIR_PREFIX}${id}-`), temp: true, subdirs: upper === 'disk' ? ['upper', 'work', 'merged'] : [] },
      create: async (dir) => ({
        argv: [
          '--ns',
          namespaces.join(','),
          ...(network?.kind === 'netns' ? ['--netns', network.path] : []),
          '--hostname',
          `tsbench-${id}`,
          '--rootfs-lower',
          image.rootfs,
          '--upper',
          join(dir, 'upper'),
          '--work',
          join(dir, 'work'),
          '--merged',
          join(dir, 'merged'),
          ...(overlayOptions().length > 0 ? ['--overlay-opts', overlayOptions().join(',')] : []),
          ...(upper === 'tmpfs' ? ['--upper-tmpfs', 'mode=0755'] : []),
          ...volumes.flatMap((v) => ['--volume', `${v.hostPath}:${v.guestPath}${v.readOnly ? ':ro' : ''}`]),
          ...cgroups.launcherArgs(),
          ...cgroupfsArgs(host),
          ...ENV.flatMap((e) => ['--env', e]),
          ...this.confinementArgv,
          '--',
          AGENT,
          ...jobArgv(request.job),
        ],
      }),
      upper: (dir) =>
        upper === 'disk'
          ? { path: join(dir, 'upper') }
          : { unreachable: "a tmpfs upper layer lives in the instance's mount namespace, out of the host's reach (use upper 'disk')" },
    };
  }

  /** tsbench's cgroup parents (once empty) and the compiled filter. */
  protected async release(): Promise<void> {
    if (this.host) removeParentsSync(this.host);
    if (this.seccompDir !== undefined) await rm(this.seccompDir, { recursive: true, force: true });
    this.seccompDir = undefined;
    this.confinementArgv = confinementArgs(this.confinement);
  }
}

export default function createContainerDriver(options?: ContainerOptions): Driver {
  return new ContainerDriver(options);
}

/**
 * `container-unconfined`: the same runtime with confinement `unconfined` whatever TSBENCH_CONFINEMENT says, so
 * that a confined and an unconfined container run side by side in one run (what seccomp and the rest cost).
 */
export const UNCONFINED_TARGET = 'container-unconfined';

export function createUnconfinedContainerDriver(options?: ContainerOptions): Driver {
  return new ContainerDriver({ ...options, confinement: 'unconfined' }, UNCONFINED_TARGET);
}
