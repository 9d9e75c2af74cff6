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
 * way and then stopped.
 *
 * Tested on the project machine (cgroup v1 hybrid) with Debian's docker.io 20.10 against a
 * private daemon and podman 4.3 (test/engines.test.ts). docker uses the daemon DOCKER_HOST
 * names (DriverOptions.dockerHost) and never starts or stops one; probe() says why an engine
 * cannot run.
 */
import { readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { TargetError, describeError } from '../../core/errors.js';
import { DEFAULT_IMAGE, imageBuildCommand, loadImage, targetWithImage, type Image, type ImageChoice, type ImageName } from '../image/index.js';
import { CPU_PERIOD_US, cgroupBase, cpuQuotaUs, enforceableLimits, enforceablePart, unenforceable, type CgroupHost } from '../linux/cgroups.js';
import { TRIAL_LIMITS, cgroupDetails, linuxCgroups, prepareImageAndCgroups, recordAccounting } from '../linux/lifecycle.js';
import { cgroupCpuMeter, containerFootprint } from '../linux/measure.js';
import { LaunchedProcess, processInstance } from '../process.js';
import { AGENT, ENV, jobArgv } from '../protocol.js';
import {
  CONTAINER_CAPABILITIES,
  type Capabilities,
  type Accounting,
  type Driver,
  type DriverOptions,
  type Instance,
  type InstanceResult,
  type LaunchRequest,
  type Phase,
  type Probe,
} from '../types.js';
import { OCI_PARENT, PeerCgroups, SliceCgroups, removePeerParentsSync } from './cgroups.js';
import { checkNetwork } from '../linux/network.js';
import { makeOwnedDir, record } from '../ownership.js';
import { OomLog } from './kmsg.js';

export type Engine = 'podman' | 'docker';

interface Live {
  name: string;
  proc: LaunchedProcess;
  result: Promise<InstanceResult>;
}

export class EngineDriver implements Driver {
  readonly isolation = 'container' as const;
  /** Networks: both join the host's; podman also a prepared namespace (`--network ns:PATH`), which docker cannot. */
  private readonly baseCapabilities: Capabilities;

  /** Less the limits whose cgroup controller this host does not offer (known once prepared). */
  get capabilities(): Capabilities {
    return this.host ? { ...this.baseCapabilities, limits: enforceableLimits(this.host) } : this.baseCapabilities;
  }
  readonly description: string;
  private image: Image | undefined;
  private host: CgroupHost | undefined;
  private tag: string | undefined;
  private imported = false;
  private seq = 0;
  private readonly live = new Set<Live>();
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

  /** The image (and for the lean one, the guest kernel it is built for). */
  private readonly imageChoice: ImageChoice;
  readonly name: string;
  readonly imageName: ImageName;

  constructor(
    /** The engine's command, `docker` or `podman`. */
    readonly binary: Engine,
    options: Pick<DriverOptions, 'guestKernel' | 'image' | 'dockerHost'> = {},
  ) {
    this.dockerHost = binary === 'docker' ? options.dockerHost : undefined;
    const name = binary;
    this.baseCapabilities = {
      ...CONTAINER_CAPABILITIES,
      network: binary === 'podman' ? ['host', 'netns'] : ['host'],
      // The overlay's upper layer is the storage driver's; a Go client and shim per instance (bench/scenarios/density.ts).
      upperDiskDir: binary === 'podman' ? '/var/lib/containers/storage' : '/var/lib/docker',
      hostTasks: 16,
    };
    this.imageName = options.image ?? DEFAULT_IMAGE;
    this.name = targetWithImage(binary, this.imageName);
    this.imageChoice = { ...options.guestKernel, image: this.imageName };
    this.description = `${name}: the image's rootfs imported with \`${name} import\`, run with \`${name} run --rm\` and matching limits`;
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
      return {
        available: false,
        reason: `binary missing: \`${this.binary}\` is not on PATH (optional; Debian: apt-get install ${this.binary === 'docker' ? 'docker.io' : 'podman'})`,
      };
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
      return {
        available: false,
        reason: this.binary === 'docker' && /Cannot connect|daemon/i.test(said) ? `daemon not running: ${said}` : `\`${this.binary} info\` failed: ${said}`,
        details,
      };
    }
    // `tsbench targets` shows the daemon (docker), its version, storage driver and cgroup driver.
    const [server, storage, cgroupDriver, cgroupVersion] = info.out.split(' ');
    Object.assign(details, { server: server ?? '', storageDriver: storage ?? '', cgroupDriver: cgroupDriver ?? '', cgroupVersion: cgroupVersion ?? '' });
    if (this.binary === 'podman') details['ociRuntime'] = 'runc';
    if (this.binary === 'docker' && cgroupDriver === 'systemd') {
      // Docker's default on a pure v2 host run by systemd: each instance in a transient slice of its own (SliceCgroups).
      if (cgroupVersion !== 'cgroup-v2')
        return {
          available: false,
          reason:
            'the daemon uses the systemd cgroup driver on cgroup v1, which tsbench does not read: run a daemon with "exec-opts": ["native.cgroupdriver=cgroupfs"] and point DOCKER_HOST at it',
          details,
        };
      details['cgroupParent'] =
        `tsbench.slice/tsbench-docker_<pid>_<n>.slice: a transient slice per container (the daemon's systemd cgroup driver takes slices only), read at exit, then stopped`;
    } else details['cgroupParent'] = `/${join(cgroupBase(), OCI_PARENT)}/<name> (cgroupfs)`;
    this.systemdDriver = this.binary === 'docker' && cgroupDriver === 'systemd';
    try {
      await loadImage(this.imageChoice);
    } catch (e) {
      return { available: false, reason: `the workload image is not built (${describeError(e)}): run \`${imageBuildCommand(this.imageName)}\``, details };
    }
    const cgroups = await linuxCgroups();
    Object.assign(details, cgroupDetails(cgroups.host, cgroups.delegation));
    try {
      const i = await this.launch({ job: { kind: 'noop' }, limits: enforceablePart(cgroups.host, TRIAL_LIMITS) });
      const r = await i.result;
      if (r.status !== 'ok')
        return { available: false, reason: `a test container failed: ${[...r.stderr, ...r.tail].at(-1) ?? r.reason ?? r.status}`, details };
    } catch (e) {
      return { available: false, reason: `a test container failed: ${describeError(e)}`, details };
    } finally {
      // The imported image stays for the run that follows the probe, and goes with teardown(): one import, not two
      // (2.1 s of podman here for the lean image, a minute under emulation).
      await this.stopAll();
    }
    return { available: true, details };
  }

  async prepare(): Promise<void> {
    if (this.imported) return;
    const { image, host } = await prepareImageAndCgroups(this.name, this.imageChoice);
    this.image = image;
    this.host = host;
    // The image's hash and this process: another tsbench's teardown removes its own tag, never this one's (the
    // engine keeps one copy of the layer for both).
    this.tag = `tsbench-workload:${image.hash.slice(0, 12)}-${process.pid}`;
    if (this.binary === 'podman') this.workDir = await makeOwnedDir(join(tmpdir(), 'tsbench-podman-'));
    this.oom.open();
    // Recorded first: a tsbench killed during the run leaves the image to the next command's sweep.
    record({ kind: 'image', engine: this.command(), tag: this.tag });
    // The same bytes as the container's rootfs: a tar of it, streamed into `import`.
    const tar = execa('tar', ['-C', this.image.rootfs, '--numeric-owner', '-c', '.'], { reject: false, buffer: false });
    const imp = execa(this.binary, [...this.global(), 'import', '-', this.tag], { reject: false, stdin: 'pipe' });
    tar.stdout?.pipe(imp.stdin as NodeJS.WritableStream);
    const [t, i] = await Promise.all([tar, imp]);
    if (t.exitCode !== 0 || i.exitCode !== 0) {
      throw new TargetError(this.name, 'prepare', `cannot import ${this.image.rootfs} as ${this.tag}: ${String(i.stderr || t.stderr).trim()}`);
    }
    this.imported = true;
  }

  async launch(request: LaunchRequest): Promise<Instance> {
    if (!this.imported) await this.prepare();
    const host = this.host as CgroupHost;
    const limits = request.limits ?? {};
    const refused = unenforceable(host, limits);
    if (refused !== undefined) throw new TargetError(this.name, 'launch', refused);
    const network = checkNetwork(this.name, this.capabilities, request);
    const name = `tsbench-${this.binary}-${process.pid}-${++this.seq}`;
    const cgroups = await this.instanceCgroups(host, name);
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
      cgroups instanceof SliceCgroups ? cgroups.slice : `/${join(cgroupBase(), OCI_PARENT, name)}`,
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
    // The wall clock at the launch request: docker's events carry the daemon's wall clock (timeNano).
    const requestedWallMs = performance.timeOrigin + performance.now();
    const proc = new LaunchedProcess({
      target: this.name,
      argv,
      ...(this.workDir !== undefined ? { cwd: this.workDir } : {}),
      readyTimeoutMs: 60_000,
      ...(request.signal ? { signal: request.signal } : {}),
      ...(request.onOutput ? { onOutput: request.onOutput } : {}),
      ...(request.onStderr ? { onStderr: request.onStderr } : {}),
      workloadCpu: request.workloadCpu ? cgroupCpuMeter(cgroups) : undefined,
    });
    const instance = processInstance(this.name, proc, async (r) => {
      let accounting: Accounting = {};
      try {
        accounting = await cgroups.read();
      } catch (e) {
        r.tail.push(`[tsbench] [${this.name}] accounting: ${describeError(e)}`);
      }
      if (this.binary === 'docker') await this.recordEngineEvents(r, name, requestedWallMs);
      await this.engine(['rm', '-f', name]);
      await cgroups.remove().catch((e: unknown) => r.tail.push(`[tsbench] [${this.name}] clean-up: ${describeError(e)}`));
      // v1: the OOM counter of the engine's own memory cgroup is not its parent's; the kernel log has it.
      const kills = this.oom.killsUnder(`/${join(cgroupBase(), OCI_PARENT, name)}/`);
      if (kills !== undefined && accounting.oomKills === undefined) accounting.oomKills = kills;
      recordAccounting(r, accounting, limits);
      return r;
    });
    const live: Live = { name, proc, result: instance.result };
    this.live.add(live);
    void instance.result.then(() => this.live.delete(live));
    return { ...instance, hostPids: () => cgroups.pidsSync(), footprint: () => containerFootprint(cgroups.pidsSync()) };
  }

  /** The instance's cgroups: a parent directory tsbench makes (cgroupfs), or a transient slice systemd makes (docker on systemd's driver). */
  private async instanceCgroups(host: CgroupHost, name: string): Promise<PeerCgroups | SliceCgroups> {
    if (this.systemdDriver === undefined && this.binary === 'docker') {
      const info = await this.engine(['info', '--format', '{{.CgroupDriver}}']);
      this.systemdDriver = info.ok && info.out === 'systemd';
    }
    if (this.systemdDriver === true && host.v2) {
      const slice = new SliceCgroups(host.v2, name);
      record({ kind: 'unit', name: slice.slice });
      return slice;
    }
    const cgroups = new PeerCgroups(host, name);
    for (const path of cgroups.relative()) record({ kind: 'cgroup', path });
    await cgroups.create();
    return cgroups;
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

  /** Kills every container it started and waits for their results. */
  private async stopAll(): Promise<void> {
    const all = [...this.live];
    for (const l of all) l.proc.kill();
    await Promise.all(all.map((l) => l.result));
  }

  /** Removes every container it started and the imported image. Idempotent. */
  async teardown(): Promise<void> {
    await this.stopAll();
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

/** The first time of each container event (`create`, `start`, `die`, …) in `docker events --format '{{json .}}'` lines, in ms from `forkWallMs`. */
export function engineEventTimes(lines: string, forkWallMs: number): Record<string, number> {
  const times: Record<string, number> = {};
  for (const line of lines.split('\n')) {
    let e: { Type?: string; Action?: string; status?: string; timeNano?: number };
    try {
      e = JSON.parse(line) as typeof e;
    } catch {
      continue;
    }
    const action = e.Action ?? e.status;
    if ((e.Type !== undefined && e.Type !== 'container') || action === undefined || typeof e.timeNano !== 'number') continue;
    // `exec_start: …` and the like: the action's first word.
    const key = action.split(/[: ]/)[0] as string;
    if (!(key in times)) times[key] = e.timeNano / 1e6 - forkWallMs;
  }
  return times;
}

/** The phases of a `docker run` (see `recordEngineEvents`), from the events' times and the instance's own ready and exit. */
export function enginePhases(events: Record<string, number>, timeline: Pick<InstanceResult['timeline'], 'toReadyMs' | 'toExitMs'>): Phase[] {
  const points: [string, number][] = [];
  for (const name of ['create', 'start', 'die']) {
    const t = events[name];
    if (t !== undefined) points.push([name, t]);
  }
  if (timeline.toReadyMs !== undefined) points.push(['ready', timeline.toReadyMs]);
  if (timeline.toExitMs !== undefined) points.push(['exit', timeline.toExitMs]);
  points.sort((a, b) => a[1] - b[1]);
  let at = 0;
  return points.map(([name, t]) => {
    const phase = { name, ms: Math.max(0, t - at) };
    at = Math.max(at, t);
    return phase;
  });
}
