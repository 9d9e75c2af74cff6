/**
 * `podman` and `docker`: the same rootfs imported as an image (`<engine> import`
 * of a tar of the image's rootfs), run with `<engine> run --rm -i` and flags that
 * match `container`: no network but `lo` (--network none), the memory limit with
 * no swap beyond it, the CPU quota, the pids limit, volumes (-v), under
 * tsbench-launch like every other target. The cgroup parent is
 * `/tsbench-oci/<id>` (cgroupfs driver), read at exit for the accounting, as for
 * runc and crun; a docker daemon on systemd's cgroup driver (its default on a
 * pure v2 host run by systemd) takes only a slice, so there each instance gets
 * a transient slice of its own in `tsbench.slice` (SliceCgroups), read the same
 * way and then stopped. The rest of an instance's life (exit hook, ownership
 * records, launch, accounting, clean-up, OOM verdict) is every Linux container's:
 * drivers/linux/driver.ts and drivers/linux/lifecycle.ts.
 *
 * Tested on the project machine (cgroup v1 hybrid) with Debian's docker.io 20.10 against a
 * private daemon and podman 4.3 (test/engines.test.ts). docker uses the daemon DOCKER_HOST
 * names (DriverOptions.dockerHost) and never starts or stops one; probe() says why an engine
 * cannot run.
 */
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { describeError } from '../../core/errors.js';
import type { Image } from '../image/index.js';
import { CPU_PERIOD_US, cpuQuotaUs, enforceablePart } from '../linux/cgroups.js';
import { TRIAL_LIMITS, type InstanceSpec } from '../linux/lifecycle.js';
import { LinuxContainerDriver, unavailable, type Admitted } from '../linux/driver.js';
import { AGENT, ENV, jobArgv } from '../protocol.js';
import { CONTAINER_CAPABILITIES, type DriverOptions, type InstanceResult, type LaunchRequest, type Probe } from '../types.js';
import { PeerCgroups, SliceCgroups, peerParent, removePeerParentsSync } from './cgroups.js';
import { makeOwnedDir, record } from '../ownership.js';
import { OomLog } from './kmsg.js';
import { enginePhases, engineEventTimes } from './events.js';

export type Engine = 'podman' | 'docker';

export class EngineDriver extends LinuxContainerDriver {
  private tag: string | undefined;
  private imported = false;
  /** docker: the daemon (`-H`) when one was given (DriverOptions.dockerHost, from DOCKER_HOST); else the CLI's default. */
  private readonly dockerHost: string | undefined;
  /**
   * podman: the working directory of `podman run`, a scratch directory of tsbench's. Its monitor, conmon 2.1, writes a
   * file `oom` into its working directory when the container's memory cgroup reports an OOM (seen with strace on cgroup
   * v1), which would otherwise land in whatever directory tsbench was started from.
   */
  private workDir: string | undefined;
  /** docker: whether the daemon runs systemd's cgroup driver (probe() reads it from `docker info`). */
  private systemdDriver: boolean | undefined;
  /** v1: OOM kills from the kernel log (the memory cgroup whose limit was hit is the engine's, inside tsbench's parent). */
  private readonly oom = new OomLog();

  constructor(
    /** The engine's command, `docker` or `podman`. */
    readonly binary: Engine,
    options: Pick<DriverOptions, 'guestKernel' | 'image' | 'dockerHost'> = {},
  ) {
    // Networks: both join the host's; podman also a prepared namespace (`--network ns:PATH`), which docker cannot.
    const capabilities = {
      ...CONTAINER_CAPABILITIES,
      network: binary === 'podman' ? (['host', 'netns'] as const) : (['host'] as const),
      // The overlay's upper layer is the storage driver's; a Go client and shim per instance (bench/scenarios/density.ts).
      upperDiskDir: binary === 'podman' ? '/var/lib/containers/storage' : '/var/lib/docker',
      hostTasks: 16,
    };
    super({ base: binary, capabilities, readyTimeoutMs: 60_000, idPrefix: `tsbench-${binary}-` }, options);
    this.dockerHost = binary === 'docker' ? options.dockerHost : undefined;
  }

  /**
   * Global flags. podman: the cgroupfs manager, so that --cgroup-parent is a path, as with docker's
   * default; and runc as its OCI runtime, the one docker runs and the `runc` target is, so that the
   * engines differ from each other and from runc by the engine alone (podman's default on Debian,
   * crun 1.8, also refuses a hybrid cgroup layout: "cgroups in hybrid mode not supported").
   */
  private global(): string[] {
    if (this.binary === 'podman') return ['--cgroup-manager', 'cgroupfs', '--runtime', 'runc'];
    return this.dockerHost === undefined ? [] : ['-H', this.dockerHost];
  }

  /** The engine's command with its global flags, as the image record names it for the sweep. */
  private command(): string[] {
    return [this.binary, ...this.global()];
  }

  private async engine(args: string[], input?: string): Promise<{ ok: boolean; out: string; err: string; missing: boolean }> {
    const r = await execa(this.binary, [...this.global(), ...args], {
      reject: false,
      ...(input === undefined ? { stdin: 'ignore' as const } : { input }),
    });
    const missing = (r as { code?: string }).code === 'ENOENT' || /ENOENT/.test(r.shortMessage ?? '');
    return { ok: r.exitCode === 0, out: String(r.stdout ?? '').trim(), err: String(r.stderr ?? '').trim() || (r.shortMessage ?? ''), missing };
  }

  async probe(): Promise<Probe> {
    const v = await this.engine(['--version']);
    if (v.missing)
      return unavailable(
        `binary missing: \`${this.binary}\` is not on PATH (optional; Debian: apt-get install ${this.binary === 'docker' ? 'docker.io' : 'podman'})`,
      );
    const details: Record<string, string> = { version: v.out.split('\n')[0] ?? '' };
    if (this.binary === 'docker') details['daemon'] = this.dockerHost ?? 'the docker CLI default (DOCKER_HOST unset)';
    const info = await this.engine([
      'info',
      '--format',
      this.binary === 'docker'
        ? '{{.ServerVersion}} {{.Driver}} {{.CgroupDriver}} cgroup-v{{.CgroupVersion}}'
        : '{{.Version.Version}} {{.Store.GraphDriverName}} {{.Host.CgroupManager}} cgroup-{{.Host.CgroupsVersion}}',
    ]);
    if (!info.ok) {
      const said = info.err.split('\n').find((l) => l.trim().length > 0) ?? info.err;
      return unavailable(
        this.binary === 'docker' && /Cannot connect|daemon/i.test(said) ? `daemon not running: ${said}` : `\`${this.binary} info\` failed: ${said}`,
        details,
      );
    }
    // `tsbench targets` shows the daemon (docker), its version, storage driver and cgroup driver.
    const [server, storage, cgroupDriver, cgroupVersion] = info.out.split(' ');
    Object.assign(details, { server: server ?? '', storageDriver: storage ?? '', cgroupDriver: cgroupDriver ?? '', cgroupVersion: cgroupVersion ?? '' });
    if (this.binary === 'podman') details['ociRuntime'] = 'runc';
    if (this.binary === 'docker' && cgroupDriver === 'systemd') {
      // Docker's default on a pure v2 host run by systemd: each instance in a transient slice of its own (SliceCgroups).
      if (cgroupVersion !== 'cgroup-v2')
        return unavailable(
          'the daemon uses the systemd cgroup driver on cgroup v1, which tsbench does not read: run a daemon with "exec-opts": ["native.cgroupdriver=cgroupfs"] and point DOCKER_HOST at it',
          details,
        );
      details['cgroupParent'] =
        `tsbench.slice/tsbench-docker_<pid>_<n>.slice: a transient slice per container (the daemon's systemd cgroup driver takes slices only), read at exit, then stopped`;
    } else details['cgroupParent'] = `/${peerParent('<name>')} (cgroupfs)`;
    this.systemdDriver = this.binary === 'docker' && cgroupDriver === 'systemd';
    const noImage = await this.imageProblem();
    if (noImage !== undefined) return unavailable(noImage, details);
    const cgroups = await this.probeCgroups();
    if ('reason' in cgroups) return unavailable(cgroups.reason, details);
    Object.assign(details, cgroups.details);
    try {
      const i = await this.launch({ job: { kind: 'noop' }, limits: enforceablePart(cgroups.host, TRIAL_LIMITS) });
      const r = await i.result;
      if (r.status !== 'ok') return unavailable(`a test container failed: ${[...r.stderr, ...r.tail].at(-1) ?? r.reason ?? r.status}`, details);
    } catch (e) {
      return unavailable(`a test container failed: ${describeError(e)}`, details);
    } finally {
      // The imported image stays for the run that follows the probe, and goes with teardown(): one import, not two
      // (2.1 s of podman here for the lean image, a minute under emulation).
      await this.instances.teardown();
    }
    return { available: true, details };
  }

  /** The image imported into the engine (a tar of the rootfs), podman's working directory, the kernel log, docker's cgroup driver. */
  protected async prepareRest(image: Image): Promise<void> {
    // The image's hash and this process: another tsbench's teardown removes its own tag, never this one's (the
    // engine keeps one copy of the layer for both).
    this.tag = `tsbench-workload:${image.hash.slice(0, 12)}-${process.pid}`;
    if (this.binary === 'podman') this.workDir ??= await makeOwnedDir(join(this.tmpDir, 'tsbench-podman-'));
    this.oom.open();
    // Recorded first: a tsbench killed during the run leaves the image to the next command's sweep.
    record({ kind: 'image', engine: this.command(), tag: this.tag });
    // The same bytes as the container's rootfs: a tar of it, streamed into `import`.
    const tar = execa('tar', ['-C', image.rootfs, '--numeric-owner', '-c', '.'], { reject: false, buffer: false });
    const imp = execa(this.binary, [...this.global(), 'import', '-', this.tag], { reject: false, stdin: 'pipe' });
    tar.stdout?.pipe(imp.stdin as NodeJS.WritableStream);
    const [t, i] = await Promise.all([tar, imp]);
    if (t.exitCode !== 0 || i.exitCode !== 0) {
      throw this.fail('prepare', `cannot import ${image.rootfs} as ${this.tag}: ${String(i.stderr || t.stderr).trim()}`);
    }
    this.imported = true;
    if (this.systemdDriver === undefined && this.binary === 'docker') {
      const driver = await this.engine(['info', '--format', '{{.CgroupDriver}}']);
      this.systemdDriver = driver.ok && driver.out === 'systemd';
    }
  }

  /** `<engine> run --rm -i` of the imported image with matching flags, its cgroups under a parent (or slice) tsbench reads. */
  protected instanceSpec(name: string, request: LaunchRequest, { host, limits, network }: Admitted): InstanceSpec {
    // The instance's cgroups: a parent directory tsbench makes (cgroupfs), or a transient slice systemd makes (docker on systemd's driver).
    const cgroups = this.systemdDriver === true && host.v2 ? new SliceCgroups(host.v2, name) : new PeerCgroups(host, name);
    // The wall clock at the launch request: docker's events carry the daemon's wall clock (timeNano).
    let requestedWallMs = 0;
    return {
      cgroups,
      create: async () => {
        requestedWallMs = performance.timeOrigin + performance.now();
        // request.upper: the engines' writable layer is their storage driver's (overlay2, on disk); there is nothing to choose.
        const argv = [
          this.binary,
          ...this.global(),
          'run',
          '--rm',
          '-i',
          '--name',
          name,
          '--hostname',
          name,
          '--network',
          network === undefined ? 'none' : network.kind === 'host' ? 'host' : `ns:${(network as { path: string }).path}`,
          '--cgroup-parent',
          cgroups instanceof SliceCgroups ? cgroups.slice : `/${peerParent(name)}`,
          ...ENV.flatMap((e) => ['--env', e]),
          ...(limits.memoryBytes !== undefined ? ['--memory', String(limits.memoryBytes), '--memory-swap', String(limits.memoryBytes)] : []),
          ...(limits.cpus !== undefined ? ['--cpu-period', String(CPU_PERIOD_US), '--cpu-quota', String(cpuQuotaUs(limits.cpus))] : []),
          ...(limits.pids !== undefined ? ['--pids-limit', String(limits.pids)] : []),
          ...(this.binary === 'podman' ? podmanUlimits() : []),
          ...(request.volumes ?? []).flatMap((v) => ['-v', `${v.hostPath}:${v.guestPath}${v.readOnly ? ':ro' : ''}`]),
          '--entrypoint',
          AGENT,
          this.tag as string,
          ...jobArgv(request.job),
        ];
        return { argv, cwd: this.workDir };
      },
      // v1: the OOM counter of the engine's own memory cgroup is not its parent's; the kernel log has it.
      account: this.oom.accountUnder(`/${peerParent(name)}/`),
      inspect: async (r) => {
        if (this.binary === 'docker') await this.recordEngineEvents(r, name, requestedWallMs);
      },
      release: async () => {
        await this.engine(['rm', '-f', name]);
      },
    };
  }

  /**
   * docker: where `docker run`'s time went, from the daemon's own events for the container (`docker
   * events --since … --until … --filter container=NAME`, each with its wall-clock `timeNano`), put on
   * the instance's clock (ms from the launcher's fork): `create` (fork → the daemon created the
   * container: the CLI, the API call, the container's layer and config), `start` (→ the daemon
   * reports it started: containerd's shim, runc create and start), `ready` (→ the agent's ready, on
   * the host's monotonic clock), `die` (→ the daemon saw the task exit), `exit` (→ the CLI exited
   * and the launcher reaped it). Phases follow the order the moments happened in; one not observed
   * is left out. `extra.engineEvents` keeps each event's ms from the fork. The two clocks are tied
   * at the launch request (performance.timeOrigin + now), within a fraction of a millisecond.
   */
  private async recordEngineEvents(r: InstanceResult, name: string, requestedWallMs: number): Promise<void> {
    const forkWallMs = requestedWallMs + r.timeline.harnessMs;
    const seconds = (ms: number): string => (ms / 1000).toFixed(6);
    const ev = await this.engine([
      'events',
      '--since',
      seconds(requestedWallMs - 1000),
      '--until',
      seconds(performance.timeOrigin + performance.now() + 1000),
      '--filter',
      `container=${name}`,
      '--format',
      '{{json .}}',
    ]);
    if (!ev.ok) {
      r.tail.push(`[tsbench] [${this.name}] docker events: ${ev.err}`);
      return;
    }
    const events = engineEventTimes(ev.out, forkWallMs);
    r.extra = { ...r.extra, engineEvents: events };
    r.timeline.phases = enginePhases(events, r.timeline);
  }

  /** Removes the imported image, podman's working directory and the empty cgroup parents. Idempotent. */
  protected async release(): Promise<void> {
    if (this.imported && this.tag && (await this.engine(['image', 'rm', '-f', this.tag])).ok)
      record({ kind: 'image', engine: this.command(), tag: this.tag, removed: true });
    this.imported = false;
    if (this.workDir !== undefined) await rm(this.workDir, { recursive: true, force: true });
    this.workDir = undefined;
    this.oom.close();
    removePeerParentsSync();
  }
}

/**
 * podman's `--ulimit` flags: tsbench's own limits, which `container`, runc and docker's containers
 * inherit. Left to itself podman asks for RLIMIT_NOFILE 1048576 and a large RLIMIT_NPROC for root,
 * which the runtime cannot set without CAP_SYS_RESOURCE ("error setting rlimit type 7: operation not
 * permitted"), and `--ulimit host` asks for the same. podman lowers its own RLIMIT_NPROC to the
 * kernel's pid limit (observed: 32768, kernel.pid_max, with tsbench's at 96363), and a child cannot
 * raise it again: nproc is capped there.
 */
export function podmanUlimits(limits = readText('/proc/self/limits'), pidMax = Number(readText('/proc/sys/kernel/pid_max')?.trim())): string[] {
  const row = (label: string): [string, string] | undefined => {
    const m = new RegExp(`^${label}\\s+(\\S+)\\s+(\\S+)`, 'm').exec(limits ?? '');
    return m ? [m[1] as string, m[2] as string] : undefined;
  };
  const cap = (v: string): string => (v === 'unlimited' || (Number.isFinite(pidMax) && pidMax > 0 && Number(v) > pidMax) ? String(pidMax) : v);
  const flags: string[] = [];
  const nofile = row('Max open files');
  if (nofile) flags.push('--ulimit', `nofile=${nofile[0]}:${nofile[1]}`);
  const nproc = row('Max processes');
  if (nproc && Number.isFinite(pidMax) && pidMax > 0) flags.push('--ulimit', `nproc=${cap(nproc[0])}:${cap(nproc[1])}`);
  return flags;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}
