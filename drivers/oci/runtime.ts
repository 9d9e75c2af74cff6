/**
 * `runc` and `crun`: the same image and job as tsbench's `container`, run by a
 * peer OCI runtime from a generated bundle (drivers/oci/bundle.ts), as
 * `<runtime> --root <private state dir> run --bundle <dir> <id>` under
 * tsbench-launch, so "to ready" comes from the same agent marker and "to exit"
 * from the same launcher clock as `container`.
 *
 * What differs from `container` (see docs/performance.md):
 * - the overlay root (lower = the image rootfs, upper on a tmpfs shared by the
 *   driver's instances, or on disk) is mounted by tsbench before the runtime
 *   starts, as docker's graph driver does, so it is outside the timed window;
 *   its cost is recorded per sample as `extra.rootfsMountMs` (including the
 *   `nsenter mount` process it takes). `container` mounts its overlay inside
 *   the timed clone.
 * - the runtime and its mounts live in a private mount namespace
 *   (drivers/oci/mountns.ts), entered before the launcher's clock starts;
 * - the runtime's cgroup is `/tsbench-oci/<id>/ct`, under a parent tsbench
 *   makes and reads at exit (drivers/oci/cgroups.ts).
 *
 * The rest (options, capabilities, probe checks, directory, exit hook, launch,
 * accounting, OOM verdict, clean-up, upper-layer measure) is `container`'s:
 * drivers/linux/driver.ts and drivers/linux/lifecycle.ts.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { describeError } from '../../core/errors.js';
import { atExit } from '../../core/exit.js';
import { enforceablePart } from '../linux/cgroups.js';
import { TRIAL_LIMITS, type InstanceSpec } from '../linux/lifecycle.js';
import { LinuxContainerDriver, unavailable, type Admitted, type LinuxDriverOptions } from '../linux/driver.js';
import { overlayOptions } from '../linux/overlay.js';
import { CONTAINER_CAPABILITIES, type Capabilities, type Job, type LaunchRequest, type Limits, type Probe } from '../types.js';
import type { AwaitJob } from '../protocol.js';
import { NAMESPACES, boundingCapabilities, ociConfig } from './bundle.js';
import { describeConfinement } from '../linux/confinement.js';
import { PeerCgroups, peerParent, removePeerParentsSync } from './cgroups.js';
import { OomLog } from './kmsg.js';
import { MountNamespace } from './mountns.js';
import { makeOwnedDir } from '../ownership.js';

export type OciRuntime = 'runc' | 'crun' | 'runsc';

/** What a runtime driver's subclass changes (drivers/oci/runsc.ts): the target's name, what it declares, its global flags. */
export interface OciRuntimeKind {
  /** The target's base name. @default the runtime's */
  base?: string;
  /** @default CONTAINER_CAPABILITIES (runc: 16 host tasks) */
  capabilities?: Capabilities;
  /** Global flags after `--root <dir>` on every command (runsc's `--platform=kvm`). @default none */
  flags?: readonly string[];
  /**
   * An instance asked for no network gets a network namespace the runtime is handed (the driver's own, `lo`
   * only), as Docker's `--network none` hands one to any runtime: runsc refuses to run its netstack in the
   * host's namespace. @default false: the runtime makes a fresh one (`linux.namespaces` without a path)
   */
  handNetns?: boolean;
  /** See `LinuxInstancesOptions.sameClock` (drivers/linux/lifecycle.ts). @default true */
  sameClock?: boolean;
  /** Directories hidden (an empty tmpfs over each) in the driver's mount namespace, where the runtime runs. @default none */
  masks?: readonly string[];
  /** With `handNetns`: the runtime runs in the network namespace it hands its containers (see `MountNamespace.start`). @default false */
  runtimeInNetns?: boolean;
}

/** Driver-private directories start with this, under `tmpDir`. */
export const OCI_DIR_PREFIX = 'tsbench-oci-';

/** What crun 1.8 says on a hybrid host whose cgroup2 hierarchy offers a controller. */
const CRUN_HYBRID = /cgroups in hybrid mode not supported/;

/** The runtime driver's options: the Linux-container driver's (drivers/linux/driver.ts). */
export type OciOptions = LinuxDriverOptions;

/** The runtime's version line (`runc version 1.1.5+ds1`), or undefined when the binary is missing. */
export async function runtimeVersion(runtime: string): Promise<string | undefined> {
  const r = await execa(runtime, ['--version'], { reject: false, stdin: 'ignore' });
  if (r.failed && r.exitCode === undefined) return undefined;
  return r.stdout.split('\n')[0]?.trim();
}

/** Whether a hybrid host's cgroup2 hierarchy offers controllers (what crun 1.8 refuses). */
function hybridWithV2Controllers(): string | undefined {
  const mounts = readFileText('/proc/self/mounts');
  if (!/ \/sys\/fs\/cgroup tmpfs /.test(mounts) || !/ \/sys\/fs\/cgroup\/unified cgroup2 /.test(mounts)) return undefined;
  const controllers = readFileText('/sys/fs/cgroup/unified/cgroup.controllers').trim();
  return controllers.length > 0 ? controllers : undefined;
}

function readFileText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

export class OciRuntimeDriver extends LinuxContainerDriver {
  /** The driver's directory: the runtime's state (`--root`), bundles, and the tmpfs for upper layers. */
  private dir: string | undefined;
  private ns: MountNamespace | undefined;
  private tmpfsUpper: string | undefined;
  private readonly oom = new OomLog();
  /** The probe's trial limits: TRIAL_LIMITS less those this host's controllers cannot enforce. */
  private trialLimits: Limits = TRIAL_LIMITS;
  private unregisterExit: (() => void) | undefined;
  /** Set by probe/prepare: crun on a hybrid host runs with the cgroup2 mount hidden. */
  private hideUnified = false;
  /** Whether hideUnified was chosen by a probe (else prepare() decides from the cgroup layout). */
  private hideDecided = false;
  private held: string[] | undefined;

  constructor(
    /** The runtime binary, `runc` or `crun`. */
    readonly runtime: OciRuntime,
    options: OciOptions = {},
    private readonly kind: OciRuntimeKind = {},
  ) {
    // runc's Go runtime keeps a dozen threads per instance (bench/scenarios/density.ts).
    const capabilities = kind.capabilities ?? (runtime === 'runc' ? { ...CONTAINER_CAPABILITIES, hostTasks: 16 } : CONTAINER_CAPABILITIES);
    const base = kind.base ?? runtime;
    super({ base, capabilities, idPrefix: `tsbench-${base}-`, sameClock: kind.sameClock }, options);
  }

  /** A throw-away driver of the same kind for the probe's trial container (a subclass makes its own). */
  protected trialDriver(options: OciOptions): OciRuntimeDriver {
    return new OciRuntimeDriver(this.runtime, options, this.kind);
  }

  /** The capabilities tsbench holds (its bounding set), read once: a container can keep only those. */
  private heldCapabilities(): string[] {
    return (this.held ??= boundingCapabilities(readFileText('/proc/self/status')));
  }

  /** The driver's directory: the runtime's --root, bundles and the tmpfs for upper layers. */
  get stateDir(): string | undefined {
    return this.dir === undefined ? undefined : join(this.dir, 'state');
  }

  /** The driver's own directory (owned: swept after a SIGKILL, removed at teardown); set by `prepare`. */
  protected get driverDir(): string | undefined {
    return this.dir;
  }

  /** The driver's private mount namespace, where the runtime runs; set by `prepare`. */
  protected get mountNamespace(): MountNamespace | undefined {
    return this.ns;
  }

  /** The runtime's argv prefix: its binary, our private state root, the kind's global flags. */
  protected runtimeArgv(): string[] {
    return [this.runtime, '--root', join(this.dir as string, 'state'), ...(this.kind.flags ?? [])];
  }

  async probe(): Promise<Probe> {
    const version = await runtimeVersion(this.runtime);
    if (version === undefined) return unavailable(`binary missing: \`${this.runtime}\` is not on PATH (Debian: apt-get install ${this.runtime})`);
    const details: Record<string, string> = { version };
    if (process.getuid?.() !== 0) return unavailable('needs root (rootful runtime, cgroup limits): run tsbench as root', details);
    const cgroups = await this.probeCgroups();
    if ('reason' in cgroups) return unavailable(cgroups.reason, details);
    this.trialLimits = enforceablePart(cgroups.host, TRIAL_LIMITS);
    const noImage = await this.imageProblem();
    if (noImage !== undefined) return unavailable(noImage, details);
    details['namespaces'] = NAMESPACES.join(',');
    details['confinement'] = describeConfinement(this.confinement, this.heldCapabilities());
    Object.assign(details, cgroups.details);
    details['cgroupsPath'] = `/${peerParent('<id>')}/ct`;
    // A real probe: one tiny container with the run's kind of limits (the agent's noop).
    const hybrid = this.runtime === 'crun' ? hybridWithV2Controllers() : undefined;
    const first = await this.tryNoop(false);
    if (first.ok) {
      // The report says which: crun as it is here, or (below) with the hybrid workaround.
      const asItIs = this.runtime === 'crun' ? `; cgroups unmodified (crun takes this ${details['cgroupLayout'] ?? ''} layout as it is)` : '';
      if (asItIs !== '') details['cgroupMode'] = `unmodified: crun takes this host's cgroup layout (${details['cgroupLayout']}) as it is`;
      return { available: true, reason: `${version}${asItIs}; overlay root mounted before the timed window (see rootfsMountMs)`, details };
    }
    if (this.runtime === 'crun' && hybrid !== undefined && CRUN_HYBRID.test(first.message)) {
      details['hybridRefusal'] = `crun refuses this host as it is: "${first.message}" (/sys/fs/cgroup/unified offers: ${hybrid})`;
      const second = await this.tryNoop(true);
      if (second.ok) {
        this.hideUnified = true;
        this.hideDecided = true;
        details['cgroupMode'] =
          'runs in a mount namespace without /sys/fs/cgroup/unified: crun sees cgroup v1 only and enforces the memory, CPU and pids limits there';
        return {
          available: true,
          reason: `${version} refuses the hybrid cgroup layout ("${first.message}"); tsbench runs it with the cgroup2 mount hidden, limits enforced on cgroup v1`,
          details,
        };
      }
      return unavailable(`crun refuses this host's hybrid cgroup layout: "${first.message}"; also with the cgroup2 mount hidden: ${second.message}`, details);
    }
    return unavailable(`a test container failed: ${first.message}`, details);
  }

  /** Runs the noop job with a memory and pids limit in a throw-away driver; the runtime's own error when it fails. */
  protected async tryNoop(hideUnified: boolean): Promise<{ ok: true } | { ok: false; message: string }> {
    const trial = this.trialDriver({ tmpDir: this.tmpDir, readyTimeoutMs: 10_000, image: this.imageName });
    trial.hideUnified = hideUnified;
    trial.hideDecided = true;
    try {
      const i = await trial.launch({ job: { kind: 'noop' }, limits: this.trialLimits });
      const r = await i.result;
      if (r.status === 'ok') return { ok: true };
      const said = [...r.stderr, ...r.tail]
        .map((l) =>
          l
            .replace(/^.*level=error msg="?/, '')
            .replace(/"$/, '')
            .trim(),
        )
        .filter((l) => l.length > 0 && !l.startsWith('@tsb'));
      return { ok: false, message: said.at(-1) ?? r.reason ?? r.status };
    } catch (e) {
      return { ok: false, message: describeError(e) };
    } finally {
      await trial.teardown();
    }
  }

  /** The driver's directory, its private mount namespace with a tmpfs for upper layers, and the kernel log for OOM kills. */
  protected async prepareRest(): Promise<void> {
    if (this.runtime === 'crun' && !this.hideDecided && hybridWithV2Controllers() !== undefined) this.hideUnified = true;
    let dir: string;
    try {
      dir = await makeOwnedDir(join(this.tmpDir, `${OCI_DIR_PREFIX}${this.runtime}-${process.pid}-`));
      this.dir = dir;
      await mkdir(join(dir, 'state'));
    } catch (e) {
      throw this.fail('prepare', `cannot create a directory in ${this.tmpDir} (${describeError(e)}): make it writable`, e);
    }
    const ns = new MountNamespace();
    this.ns = ns;
    this.unregisterExit = atExit(() => this.teardownSync());
    try {
      await ns.start({ hideUnified: this.hideUnified, net: this.kind.handNetns, enterNet: this.kind.runtimeInNetns, masks: this.kind.masks });
      const upperFs = join(dir, 'tmpfs');
      await mkdir(upperFs);
      await ns.run(['mount', '-t', 'tmpfs', '-o', 'mode=0755', 'tsbench-upper', upperFs]);
      this.tmpfsUpper = upperFs;
    } catch (e) {
      await this.teardown();
      throw this.fail('prepare', `cannot set up the private mount namespace (${describeError(e)}): tsbench needs root and util-linux (unshare, nsenter)`, e);
    }
    this.oom.open();
  }

  /**
   * A bundle with the overlay root mounted in the driver's namespace, run by `<runtime> run`; the agent runs
   * `agentJob` (a container saved for CRIU runs `await`: drivers/oci/criu.ts).
   */
  protected instanceSpec(
    id: string,
    request: LaunchRequest,
    { image, host, limits, network: asked }: Admitted,
    agentJob: Job | AwaitJob = request.job,
  ): InstanceSpec {
    const ns = this.ns as MountNamespace;
    const tmpfs = this.tmpfsUpper as string;
    const volumes = request.volumes ?? [];
    const upper = request.upper ?? this.upper;
    // The runtime runs in the driver's private mount namespace, which does not see a namespace file bound
    // under /run/netns after it was made: it reaches it through tsbench's own root, in the host's mounts.
    const network =
      asked?.kind === 'netns'
        ? { kind: 'netns' as const, path: `/proc/${process.pid}/root${asked.path}` }
        : asked === undefined && this.kind.handNetns === true
          ? { kind: 'netns' as const, path: ns.netnsPath() }
          : (asked as { kind: 'host' } | undefined);
    const cgroups = new PeerCgroups(host, id);
    // The tmpfs is mounted in the namespace only: the host reaches it through the holder's root.
    const tmpfsLayer = upper === 'tmpfs' ? { inNs: join(tmpfs, id), fromHost: ns.path(join(tmpfs, id)) } : undefined;
    const layerOf = (bundle: string): { inNs: string; fromHost: string } => tmpfsLayer ?? { inNs: join(bundle, 'layer'), fromHost: join(bundle, 'layer') };
    let rootfs: string | undefined;
    let rootfsMountMs = 0;
    return {
      cgroups,
      // The bundle.
      dir: { path: join(this.dir as string, id), subdirs: ['rootfs'] },
      alsoRemove: tmpfsLayer ? [tmpfsLayer.fromHost] : [],
      create: async (bundle) => {
        const layer = layerOf(bundle);
        try {
          await Promise.all(['upper', 'work'].map((d) => mkdir(join(layer.fromHost, d), { recursive: true })));
          const config = ociConfig({
            job: agentJob,
            limits,
            volumes,
            hostname: id,
            cgroupsPath: cgroups.cgroupsPath,
            swapAccounting: cgroups.swapAccounting(),
            capabilities: this.heldCapabilities(),
            confinement: this.confinement,
            network,
          });
          await writeFile(join(bundle, 'config.json'), JSON.stringify(config, null, 2));
          const t0 = process.hrtime.bigint();
          const opts = [`lowerdir=${image.rootfs}`, `upperdir=${join(layer.inNs, 'upper')}`, `workdir=${join(layer.inNs, 'work')}`, ...overlayOptions()].join(
            ',',
          );
          await ns.run(['mount', '-t', 'overlay', '-o', opts, 'tsbench-oci', join(bundle, 'rootfs')]);
          rootfs = join(bundle, 'rootfs');
          rootfsMountMs = Number(process.hrtime.bigint() - t0) / 1e6;
        } catch (e) {
          throw this.fail('launch', `cannot prepare the bundle in ${bundle} (${describeError(e)})`, e);
        }
        return { wrapper: ns.enter(), argv: [...this.runtimeArgv(), 'run', '--bundle', bundle, id] };
      },
      release: async () => {
        await this.deleteState(id);
        if (rootfs !== undefined) await ns.run(['umount', rootfs]).catch(() => {});
        rootfs = undefined;
      },
      // The v1 OOM counter is not hierarchical: the kernel log says what the removed leaf's was.
      account: this.oom.accountUnder(`/${peerParent(id)}/`),
      extra: () => ({ rootfsMountMs, bundle: 'config.json generated by tsbench (drivers/oci/bundle.ts)' }),
      finish: (r) => {
        if (r.status === 'failed' && r.stderr.length === 0) {
          // The runtime's own complaint (it writes to our stderr) says more than its exit code.
          const said = r.tail.filter((l) => !l.includes('@tsb ')).at(-1);
          if (said) r.reason = `${r.reason ?? 'failed'}: ${this.runtime} said: ${said}`;
        }
      },
      upper: (bundle) =>
        upper === 'disk'
          ? { path: join(layerOf(bundle).fromHost, 'upper') }
          : { unreachable: "the upper layer is on tsbench's tmpfs in a private mount namespace (use upper 'disk')" },
    };
  }

  /** Whether the runtime keeps state for container `id` under its root (runc, crun: a directory named by it). */
  protected hasState(stateDir: string, id: string): boolean {
    return existsSync(join(stateDir, id));
  }

  /** The containers whose state is in the entries of the runtime's root (runc, crun: one directory each, named by the id). */
  protected stateIds(entries: readonly string[]): string[] {
    return [...entries];
  }

  /** `<runtime> delete --force` when the runtime left state for `id` (it was killed); nothing to do after a normal exit. */
  private async deleteState(id: string): Promise<void> {
    if (this.dir === undefined || !this.hasState(join(this.dir, 'state'), id)) return;
    const argv = [...(this.ns?.enter() ?? []), ...this.runtimeArgv(), 'delete', '--force', id];
    await execa(argv[0] as string, argv.slice(1), { reject: false, stdin: 'ignore' });
  }

  /** Deletes the runtime's containers, removes the driver's directory, cgroups and namespace. Idempotent. */
  protected async release(): Promise<void> {
    // Anything the runtime still lists under our root (a container of a launch that never got a result).
    if (this.dir !== undefined && existsSync(join(this.dir, 'state'))) {
      for (const id of this.stateIds(await readdir(join(this.dir, 'state')).catch(() => [] as string[]))) await this.deleteState(id);
    }
    await this.ns?.stop();
    this.ns = undefined;
    this.oom.close();
    if (this.dir !== undefined) await rm(this.dir, { recursive: true, force: true });
    this.dir = undefined;
    this.tmpfsUpper = undefined;
    removePeerParentsSync();
    this.unregisterExit?.();
    this.unregisterExit = undefined;
  }

  /** Last resort on process 'exit': the launcher groups are already killed (drivers/process.ts). */
  private teardownSync(): void {
    this.ns?.stopSync();
    this.instances.removeAllSync();
    if (this.dir !== undefined) rmSync(this.dir, { recursive: true, force: true });
    removePeerParentsSync();
  }
}
