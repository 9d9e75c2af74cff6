/**
 * `container`: tsbench's own namespace + cgroup runtime (not docker, not runc),
 * so that every mechanism's cost is ours to measure.
 *
 * Each instance gets fresh pid, mount, uts, ipc, net (only `lo`, up) and, where
 * the kernel has it, cgroup namespaces; an overlay root whose read-only lower
 * layer is the image rootfs and whose upper layer lives in a per-instance temp
 * directory; pivot_root into it with a fresh /proc, a read-only /sys and a
 * minimal /dev; optional bind-mounted volumes; and one cgroup per hierarchy
 * with the memory, CPU and pids limits. The agent runs as PID 1.
 *
 * Policy lives here (paths, limits, names, cgroup creation and removal,
 * accounting); drivers/container/nsexec.c, linked into tsbench-launch, only
 * executes it, so the launcher's clock brackets the container exactly as it
 * brackets a native process.
 */
import { existsSync, rmSync } from 'node:fs';
import { access, constants, mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TargetError, describeError } from '../../core/errors.js';
import { ensureImage, loadImage, type Image } from '../image/index.js';
import { LaunchedProcess, binPath, processInstance } from '../process.js';
import { jobArgv } from '../protocol.js';
import { overlayOptions, treeUsage } from '../linux/overlay.js';
import { volumeProblem } from '../linux/volumes.js';
import { CONTAINER_CAPABILITIES, type Accounting, type Driver, type DriverOptions, type Instance, type InstanceResult, type KernelChoice, type LaunchRequest, type PrepareContext, type Probe, type Volume } from '../types.js';
import { InstanceCgroups, describeMissing, detectCgroups, ensureParents, removeParentsSync, type CgroupHost } from '../linux/cgroups.js';
import { atExit } from '../../core/exit.js';

export type Namespace = 'pid' | 'mnt' | 'uts' | 'ipc' | 'net' | 'cgroup';

/** Namespaces every instance gets; `cgroup` is added where the kernel has it. */
const NAMESPACES: readonly Namespace[] = ['pid', 'mnt', 'uts', 'ipc', 'net'];

/** The agent inside the image. */
const AGENT = '/sbin/tsbench-agent';

/** The workload's whole environment. */
const ENV = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/'];

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

export interface ContainerOptions extends Pick<DriverOptions, 'upper' | 'guestKernel'> {
  /** Where per-instance directories (overlay upper, work, mount point) are made. @default os.tmpdir() */
  tmpDir?: string;
  /** Kill an instance whose agent has not said `ready` by then, in ms. @default 30000 */
  readyTimeoutMs?: number;
}

interface Live {
  proc?: LaunchedProcess;
  result?: Promise<InstanceResult>;
  /** Removes everything of the instance (idempotent). */
  clean: () => Promise<void>;
}

export class ContainerDriver implements Driver {
  readonly name = 'container';
  readonly description = "namespaces + cgroups + overlay root, by tsbench's own runtime";
  readonly isolation = 'container' as const;
  readonly capabilities = CONTAINER_CAPABILITIES;
  private image: Image | undefined;
  private host: CgroupHost | undefined;
  private seq = 0;
  private readonly live = new Set<Live>();
  private readonly tmpDir: string;
  private readonly readyTimeoutMs: number;
  private readonly upper: UpperLayer;
  private readonly guestKernel: KernelChoice;

  constructor(options: ContainerOptions = {}) {
    this.tmpDir = options.tmpDir ?? tmpdir();
    this.readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
    this.upper = options.upper ?? 'tmpfs';
    this.guestKernel = options.guestKernel ?? {};
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
    let host: CgroupHost;
    try {
      host = detectCgroups();
    } catch (e) {
      return no(`cannot read the cgroup mounts: ${describeError(e)}`);
    }
    if (host.missing.length > 0) return no(describeMissing(host));
    try {
      await access(binPath('tsbench-launch'), constants.X_OK);
    } catch {
      return no(`${binPath('tsbench-launch')} is missing: run \`npm run build\``);
    }
    try {
      await loadImage(this.guestKernel);
    } catch (e) {
      return no(`the workload image is not built (${describeError(e)}): run \`tsbench image build\``);
    }
    return {
      available: true,
      details: {
        namespaces: this.namespaces().join(','),
        cgroups: host.hierarchies.map((h) => `v${h.version}:${h.controllers.join('+')}`).join(' '),
        overlay: ['overlay', ...overlayOptions()].join(','),
        upper: this.upper,
      },
    };
  }

  private namespaces(): Namespace[] {
    return existsSync('/proc/self/ns/cgroup') ? [...NAMESPACES, 'cgroup'] : [...NAMESPACES];
  }

  async prepare(_ctx?: PrepareContext): Promise<void> {
    try {
      this.image = await ensureImage({ kernel: this.guestKernel });
    } catch (e) {
      throw this.fail('prepare', `the workload image is unavailable (${describeError(e)}): run \`tsbench image build\``, e);
    }
    const host = detectCgroups();
    if (host.missing.length > 0) throw this.fail('prepare', describeMissing(host));
    try {
      await ensureParents(host);
    } catch (e) {
      throw this.fail('prepare', `cannot set up tsbench's cgroups (${describeError(e)}): tsbench needs root and writable cgroup mounts`, e);
    }
    this.host = host;
  }

  async launch(request: LaunchRequest): Promise<Instance> {
    if (!this.image || !this.host) await this.prepare();
    const image = this.image as Image;
    const host = this.host as CgroupHost;
    const id = `${process.pid}-${++this.seq}`;
    const limits = request.limits ?? {};
    const volumes = request.volumes ?? [];
    const upper = request.upper ?? this.upper;
    await this.checkVolumes(volumes);

    const cgroups = new InstanceCgroups(host, id);
    let dir: string | undefined;
    let proc: LaunchedProcess | undefined;
    let cleaned: Promise<void> | undefined;
    const unregister = atExit(() => {
      if (proc?.pid !== undefined) {
        try {
          process.kill(-proc.pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
      cgroups.removeSync();
      if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
    });
    const clean = (): Promise<void> =>
      (cleaned ??= (async () => {
        try {
          await cgroups.remove();
          if (dir !== undefined) await rm(dir, { recursive: true, force: true });
        } finally {
          unregister();
        }
      })());
    const live: Live = { clean };
    this.live.add(live);

    try {
      dir = await mkdtemp(join(this.tmpDir, `${DIR_PREFIX}${id}-`));
      // With a tmpfs upper the launcher makes these in the tmpfs.
      if (upper === 'disk') await Promise.all(['upper', 'work', 'merged'].map((d) => mkdir(join(dir as string, d))));
    } catch (e) {
      await this.discard(live);
      throw this.fail('launch', `cannot create the instance directory in ${this.tmpDir} (${describeError(e)}): make it writable or free some space`, e);
    }
    try {
      await cgroups.create(limits);
    } catch (e) {
      await this.discard(live);
      throw this.fail('launch', `cannot create the instance's cgroups under ${host.hierarchies.map((h) => h.mount).join(', ')} (${describeError(e)}): tsbench needs root and writable cgroup mounts`, e);
    }

    const argv = [
      '--ns',
      this.namespaces().join(','),
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
      ...ENV.flatMap((e) => ['--env', e]),
      '--',
      AGENT,
      ...jobArgv(request.job),
    ];
    proc = new LaunchedProcess({
      target: this.name,
      argv,
      readyTimeoutMs: this.readyTimeoutMs,
      ...(request.signal ? { signal: request.signal } : {}),
      ...(request.onOutput ? { onOutput: request.onOutput } : {}),
      ...(request.onStderr ? { onStderr: request.onStderr } : {}),
    });
    live.proc = proc;
    const launched = proc;
    // Claim C9: what starting the instance wrote to its upper layer, read once after ready, and only when asked.
    let upperAtStart: Promise<Record<string, unknown>> | undefined;
    const instance = processInstance(this.name, launched, async (r) => {
      if (upperAtStart) r.extra = { ...r.extra, ...(await upperAtStart) };
      let accounting: Accounting = {};
      try {
        accounting = await cgroups.read();
      } catch (e) {
        r.tail.push(`[tsbench] [container] accounting: ${describeError(e)}`);
      }
      try {
        await clean();
      } catch (e) {
        r.tail.push(`[tsbench] [container] clean-up: ${describeError(e)}`);
      }
      this.live.delete(live);
      for (const [k, v] of Object.entries(accounting) as [keyof Accounting, number | undefined][]) {
        if (v !== undefined && Number.isFinite(v)) r.accounting[k] = v;
      }
      if ((accounting.oomKills ?? 0) > 0 && r.status !== 'killed' && r.status !== 'timeout') {
        r.status = 'oom-killed';
        const limit = limits.memoryBytes === undefined ? 'no limit' : `the limit is ${(limits.memoryBytes / 2 ** 20).toFixed(0)} MiB`;
        r.reason = `the OOM killer killed ${accounting.oomKills} process(es) of the instance (${limit})`;
      }
      return r;
    });
    live.result = instance.result;
    if (request.measureUpper) {
      const upperDir = join(dir, 'upper');
      upperAtStart = instance.ready.then(
        async () => {
          if (upper !== 'disk') return { upperAtStart: "not measured: a tmpfs upper layer lives in the instance's mount namespace, out of the host's reach (use upper 'disk')" };
          const u = await treeUsage(upperDir);
          return { upperBytesAtStart: u.bytes, upperEntriesAtStart: u.entries };
        },
      ).catch((e: unknown) => ({ upperAtStart: `not measured: ${describeError(e)}` }));
    }
    return {
      ...instance,
      // The instance's processes are those in its cgroup; the launcher outside it is harness, as for native.
      hostPids: () => cgroups.pidsSync(),
    };
  }

  private async discard(live: Live): Promise<void> {
    await live.clean().catch(() => {});
    this.live.delete(live);
  }

  private async checkVolumes(volumes: Volume[]): Promise<void> {
    const problem = await volumeProblem(volumes);
    if (problem) throw this.fail('launch', problem.message, problem.cause);
  }

  /** Kills every instance, then removes their cgroups and directories. Idempotent. */
  async teardown(): Promise<void> {
    const all = [...this.live];
    for (const l of all) l.proc?.kill();
    await Promise.all(all.map(async (l) => (l.result ? l.result.then(() => {}) : l.clean().catch(() => {}))));
    for (const l of all) this.live.delete(l);
    if (this.host) removeParentsSync(this.host);
  }
}

export default function createContainerDriver(options?: ContainerOptions): Driver {
  return new ContainerDriver(options);
}
