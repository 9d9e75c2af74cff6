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
 * overlay and volume options for the launcher), in drivers/linux the lifecycle
 * it shares with runc and crun (instance directory, cgroups, exit hooks,
 * accounting, clean-up). drivers/container/nsexec.c, linked into
 * tsbench-launch, only executes it, so the launcher's clock brackets the
 * container exactly as it brackets a native process.
 */
import { existsSync, readFileSync } from 'node:fs';
import { access, constants, readFile, rm } from 'node:fs/promises';
import { execa } from 'execa';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { TargetError, describeError } from '../../core/errors.js';
import { DEFAULT_IMAGE, imageBuildCommand, loadImage, targetWithImage, type Image, type ImageChoice, type ImageName } from '../image/index.js';
import { binPath } from '../process.js';
import { makeOwnedDir } from '../ownership.js';
import { AGENT, ENV, jobArgv } from '../protocol.js';
import { overlayOptions } from '../linux/overlay.js';
import { LinuxInstances, cgroupDetails, linuxCgroups, prepareImageAndCgroups } from '../linux/lifecycle.js';
import { checkNetwork } from '../linux/network.js';
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
import {
  CONTAINER_CAPABILITIES,
  type Capabilities,
  type Driver,
  type DriverOptions,
  type Instance,
  type LaunchRequest,
  type PrepareContext,
  type Probe,
} from '../types.js';
import { InstanceCgroups, enforceableLimits, ensureParents, removeParentsSync, unenforceable, type CgroupHost } from '../linux/cgroups.js';

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

export interface ContainerOptions extends Pick<DriverOptions, 'upper' | 'guestKernel' | 'confinement' | 'image'> {
  /** Where per-instance directories (overlay upper, work, mount point) are made. @default os.tmpdir() */
  tmpDir?: string;
  /** Kill an instance whose agent has not said `ready` by then, in ms. @default 30000 */
  readyTimeoutMs?: number;
}

export class ContainerDriver implements Driver {
  readonly name: string;
  readonly imageName: ImageName;
  readonly description = "namespaces + cgroups + overlay root, by tsbench's own runtime";
  readonly isolation = 'container' as const;
  private image: Image | undefined;
  private host: CgroupHost | undefined;
  private readonly instances: LinuxInstances;

  /** A container's, less the limits whose cgroup controller this host does not offer (known once probed or prepared). */
  get capabilities(): Capabilities {
    return this.host ? { ...CONTAINER_CAPABILITIES, limits: enforceableLimits(this.host) } : CONTAINER_CAPABILITIES;
  }
  private readonly tmpDir: string;
  private readonly readyTimeoutMs: number;
  private readonly upper: UpperLayer;
  /** The image (and for the lean one, the guest kernel it is built for). */
  private readonly imageChoice: ImageChoice;
  private readonly confinement: Confinement;
  /** The launcher's confinement options, computed once, then with the seccomp filter compiled (prepare). */
  private confinementArgv: string[];
  /** The compiled seccomp filter's directory, removed at teardown. */
  private seccompDir: string | undefined;

  constructor(options: ContainerOptions = {}) {
    this.confinement = options.confinement ?? 'docker-default';
    this.confinementArgv = confinementArgs(this.confinement);
    this.tmpDir = options.tmpDir ?? tmpdir();
    this.readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
    this.upper = options.upper ?? 'tmpfs';
    this.imageName = options.image ?? DEFAULT_IMAGE;
    this.name = targetWithImage('container', this.imageName);
    this.imageChoice = { ...options.guestKernel, image: this.imageName };
    this.instances = new LinuxInstances({ target: this.name, readyTimeoutMs: this.readyTimeoutMs });
  }

  private fail(step: string, message: string, cause?: unknown): TargetError {
    return new TargetError(this.name, step, message, cause === undefined ? undefined : { cause });
  }

  async probe(): Promise<Probe> {
    const no = (reason: string): Probe => ({ available: false, reason });
    if (process.getuid?.() !== 0) return no('needs root for namespaces, mounts and cgroups: run tsbench as root (e.g. with sudo)');
    const filesystems = await readFile('/proc/filesystems', 'utf8').catch(() => '');
    if (!/\toverlay$/m.test(filesystems)) return no('overlayfs is missing from /proc/filesystems: load it with `modprobe overlay`');
    for (const ns of NAMESPACES) {
      if (!existsSync(`/proc/self/ns/${ns}`)) return no(`the kernel has no ${ns} namespaces (/proc/self/ns/${ns} is missing): use a kernel built with them`);
    }
    let cgroups: Awaited<ReturnType<typeof linuxCgroups>>;
    try {
      cgroups = await linuxCgroups();
    } catch (e) {
      return no(`cannot read the cgroup mounts: ${describeError(e)}`);
    }
    const host = cgroups.host;
    this.host ??= host;
    try {
      await access(binPath('tsbench-launch'), constants.X_OK);
    } catch {
      return no(`${binPath('tsbench-launch')} is missing: run \`npm run build\``);
    }
    try {
      await loadImage(this.imageChoice);
    } catch (e) {
      return no(`the workload image is not built (${describeError(e)}): run \`${imageBuildCommand(this.imageName)}\``);
    }
    return {
      available: true,
      details: {
        namespaces: this.namespaces().join(','),
        ...cgroupDetails(host, cgroups.delegation),
        overlay: ['overlay', ...overlayOptions()].join(','),
        upper: this.upper,
        confinement: describeConfinement(this.confinement),
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

  async prepare(_ctx?: PrepareContext): Promise<void> {
    const { image, host } = await prepareImageAndCgroups(this.name, this.imageChoice);
    this.image = image;
    try {
      await ensureParents(host);
    } catch (e) {
      throw this.fail('prepare', `cannot set up tsbench's cgroups (${describeError(e)}): tsbench needs root and writable cgroup mounts`, e);
    }
    this.host = host;
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

  async launch(request: LaunchRequest): Promise<Instance> {
    if (!this.image || !this.host) await this.prepare();
    const image = this.image as Image;
    const host = this.host as CgroupHost;
    const refused = unenforceable(host, request.limits ?? {});
    if (refused !== undefined) throw this.fail('launch', refused);
    const volumes = request.volumes ?? [];
    const upper = request.upper ?? this.upper;
    // A network given: the host's namespace, or one made beforehand (drivers/linux/network.ts), instead of a fresh one.
    const network = checkNetwork(this.name, this.capabilities, request);
    const namespaces = this.namespaces().filter((ns) => network === undefined || ns !== 'net');
    return this.instances.launch(request, (id) => {
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
    });
  }

  /** Kills every instance, then removes their cgroups and directories. Idempotent. */
  async teardown(): Promise<void> {
    await this.instances.teardown();
    if (this.host) removeParentsSync(this.host);
    if (this.seccompDir !== undefined) await rm(this.seccompDir, { recursive: true, force: true });
    this.seccompDir = undefined;
    this.confinementArgv = confinementArgs(this.confinement);
  }
}

export default function createContainerDriver(options?: ContainerOptions): Driver {
  return new ContainerDriver(options);
}
