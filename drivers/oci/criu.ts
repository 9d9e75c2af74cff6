/**
 * A container restored by CRIU (issue 34: the container side of "starting from a snapshot"): the target
 * `runc-restore`, beside the VMs restored from a snapshot (drivers/qemu/snapshot.ts).
 *
 * Once per run, on its first launch, the driver starts one container of the same bundle as `runc`'s with
 * the agent's `await` job (drivers/agent/agent.c: ready, then one `job …` line on stdin), and once it is
 * ready checkpoints it: `runc checkpoint --image-path <dir>/images <id>`, which has CRIU dump the process
 * tree and kill it (runc's default, not `--leave-running`). Every instance is then
 * `runc restore --image-path <dir>/images --bundle <its own bundle> <its own id>` under tsbench-launch: a
 * fresh bundle (its own overlay root on the same image, its own cgroup and limits), into which CRIU restores
 * the saved agent; the host writes the job line to `runc restore`'s stdin, which runc hands the restored
 * agent as the stdin it was dumped with (runc maps the checkpointed stdio pipes to its own). The timed
 * window is the launcher's, from the fork of `runc restore` to the restored agent's ready for its job, taken
 * when that line reaches the host: CRIU restores the agent in a time namespace whose CLOCK_MONOTONIC goes on
 * from the dumped one, so the agent's own stamps are not the host's clock (as gVisor's Sentry's are not).
 *
 * As people run it: runc and CRIU from Debian (runc 1.1, criu 3.17), runc's defaults for checkpoint and
 * restore (cgroups managed `soft`, images on a local disk, read from the page cache as the run wrote them),
 * the bundle `runc` runs (Docker's confinement: seccomp profile, capabilities, masked paths). What differs:
 * - the network: every container is handed the driver's own network namespace (`lo` only), as Docker's
 *   `--network none` hands one to a runtime, and runc and CRIU run in it too. CRIU then finds the
 *   container's network namespace its own, so it neither dumps it nor locks it (its default lock runs
 *   `iptables-restore` in a namespace it dumps, a tool a minimal host lacks); a container restored by CRIU
 *   takes no other network, as a restored VM takes no NIC;
 * - no volumes (the checkpoint has no bind mount to restore them into) and no upper layer on disk.
 *
 * The checkpoint lies in the driver's owned directory (drivers/ownership.ts: recorded before it exists,
 * swept after a SIGKILL, removed at teardown); every result records how it was made (`extra.checkpoint`).
 * CRIU needs a kernel it can read: criu 3.17 fails its own `criu check` on the project machine's 6.18
 * ("vdso: Unexpected rt vDSO area bounds"), and the probe says so; Debian's 6.1 (the test hosts') runs it.
 */
import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { encodeJob } from '../image/index.js';
import type { InstanceSpec } from '../linux/lifecycle.js';
import { unavailable, type Admitted } from '../linux/driver.js';
import { jobArgv, type AwaitJob } from '../protocol.js';
import { CONTAINER_CAPABILITIES, type Capabilities, type Instance, type InstanceResult, type LaunchRequest, type Probe } from '../types.js';
import { OciRuntimeDriver, type OciOptions } from './runtime.js';

export const CRIU_TARGET = 'runc-restore';

const AWAIT: AwaitJob = { kind: 'await' };

/**
 * runc's (its Go runtime's threads: `runc restore` stays in the foreground as `runc run` does), without
 * volumes, networks or an upper layer on disk: the checkpoint has none of them.
 */
export const CRIU_CAPABILITIES: Capabilities = {
  ...CONTAINER_CAPABILITIES,
  volumes: false,
  network: [],
  upperDiskDir: undefined,
  hostTasks: 16,
};

/** How the checkpoint was made and where it lay, recorded with every restored container's result. */
export interface CheckpointFacts {
  mechanism: string;
  /** bytes of CRIU's images (the process tree's memory pages, its files, namespaces, mounts and cgroups) */
  imageBytes: number;
  /** `runc checkpoint`'s own time: CRIU freezing, dumping and killing the container */
  saveMs: number;
  /** the checkpointed container's start to its agent's ready (awaiting its job), launcher clock */
  sourceReadyMs: number | undefined;
  lay: 'page cache (written by this run, caches not dropped)';
  window: 'launcher fork of runc restore';
  network: string;
}

interface Checkpoint {
  images: string;
  facts: CheckpointFacts;
}

/** What the probe records of how the target runs, beside the versions. */
export const CRIU_DETAILS: Record<string, string> = {
  checkpoint: 'runc checkpoint --image-path <owned dir> (runc defaults: the container is dumped, then killed); once per run, on the first launch',
  restore: 'runc restore --image-path <that dir> --bundle <a fresh bundle> <a fresh id> (runc defaults: cgroups managed soft)',
  network:
    "the driver's network namespace (lo only), handed to every container, with runc and CRIU run in it: CRIU neither dumps nor locks it (no iptables needed)",
  window: 'from the launcher’s fork of `runc restore` to the restored agent’s ready for the job written to its stdin',
};

export class RuncRestoreDriver extends OciRuntimeDriver {
  private checkpoint: Promise<Checkpoint> | undefined;
  private saved: Checkpoint | undefined;
  /** The launch request of the container being checkpointed (its spec runs `await`), and that container's id. */
  private readonly sources = new WeakSet<LaunchRequest>();
  private sourceId: string | undefined;
  private criuVersion = 'criu';

  constructor(options: OciOptions = {}) {
    // sameClock false: CRIU restores the agent in a time namespace whose CLOCK_MONOTONIC goes on from the dumped
    // one (measured: its ready stamps fell seconds before the restore began), so ready is when its line reaches the host.
    super('runc', options, { base: CRIU_TARGET, capabilities: CRIU_CAPABILITIES, handNetns: true, runtimeInNetns: true, sameClock: false });
  }

  /** criu on PATH and passing its own `criu check` on this kernel, then runc's probe (a trial container, run the same way). */
  override async probe(): Promise<Probe> {
    const v = await execa('criu', ['--version'], { reject: false, stdin: 'ignore' });
    if (v.failed && v.exitCode === undefined) return unavailable('binary missing: `criu` is not on PATH (Debian: apt-get install criu)', CRIU_DETAILS);
    this.criuVersion = `criu ${/Version:\s*(\S+)/.exec(String(v.stdout))?.[1] ?? String(v.stdout).trim()}`;
    const details = { ...CRIU_DETAILS, criu: this.criuVersion };
    if (process.getuid?.() === 0) {
      const check = await execa('criu', ['check'], { reject: false, stdin: 'ignore', all: true });
      if (check.exitCode !== 0) {
        const lines = String(check.all ?? '')
          .split('\n')
          .map((l) => l.trim())
          .filter((l) => l.length > 0);
        const said = criuCheckSays(lines) ?? lines.at(-1) ?? `exit ${check.exitCode}`;
        const kernel = (await readFile('/proc/sys/kernel/osrelease', 'utf8').catch(() => '')).trim();
        return unavailable(`${this.criuVersion} fails its own \`criu check\` on this kernel (${kernel}): ${said}`, details);
      }
    }
    const p = await super.probe();
    const all: Record<string, string> = { ...p.details, ...details };
    if (!p.available) return { ...p, details: all };
    return {
      ...p,
      reason: `${all['version'] ?? 'runc'} restoring a checkpoint with ${this.criuVersion}; overlay root mounted before the timed window`,
      details: all,
    };
  }

  override async launch(request: LaunchRequest): Promise<Instance> {
    if (request.network !== undefined)
      throw this.fail('launch', 'a container restored by CRIU takes no network: its checkpoint has none (use the runc target)');
    if ((request.volumes ?? []).length > 0)
      throw this.fail('launch', 'a container restored by CRIU takes no volumes: its checkpoint has none (use the runc target)');
    if (request.upper === 'disk') throw this.fail('launch', 'a container restored by CRIU keeps its upper layer on tmpfs (use the runc target)');
    if (!this.prepared) await this.prepare();
    this.saved = await this.checkpointOnce();
    return super.launch(request);
  }

  private checkpointOnce(): Promise<Checkpoint> {
    if (this.checkpoint === undefined) {
      this.checkpoint = this.save();
      this.checkpoint.catch(() => (this.checkpoint = undefined));
    }
    return this.checkpoint;
  }

  /** Starts a container awaiting its job and checkpoints it once its agent is ready (runc kills it after the dump). */
  private async save(): Promise<Checkpoint> {
    const dir = join(this.driverDir as string, 'checkpoint');
    const images = join(dir, 'images');
    const work = join(dir, 'work');
    await mkdir(images, { recursive: true });
    await mkdir(work, { recursive: true });
    const source: LaunchRequest = { job: { kind: 'sleep' } };
    this.sources.add(source);
    const instance = await super.launch(source);
    let ready = false;
    try {
      await instance.ready;
      ready = true;
    } catch {
      // The result says why.
    }
    if (!ready) {
      const r = await instance.result;
      throw this.fail('prepare', `the container to checkpoint did not start: ${r.reason ?? r.status}`);
    }
    const ns = this.mountNamespace;
    const argv = [...(ns?.enter() ?? []), ...this.runtimeArgv(), 'checkpoint', '--image-path', images, '--work-path', work, this.sourceId as string];
    const t0 = process.hrtime.bigint();
    const dumped = await execa(argv[0] as string, argv.slice(1), { reject: false, stdin: 'ignore', all: true });
    const saveMs = Number(process.hrtime.bigint() - t0) / 1e6;
    if (dumped.exitCode !== 0) await instance.kill();
    const r = await instance.result;
    if (dumped.exitCode !== 0) {
      const said = await criuError(join(work, 'dump.log'), String(dumped.all ?? ''));
      throw this.fail('prepare', `runc checkpoint failed: ${said}`);
    }
    return {
      images,
      facts: {
        mechanism: `runc checkpoint / runc restore (${this.criuVersion})`,
        imageBytes: await treeBytes(images),
        saveMs,
        sourceReadyMs: r.timeline.toReadyMs,
        lay: 'page cache (written by this run, caches not dropped)',
        window: 'launcher fork of runc restore',
        network: CRIU_DETAILS['network'] as string,
      },
    };
  }

  /** The checkpointed container: runc's bundle running `await`. Every other: a fresh bundle, restored into by `runc restore`. */
  protected override instanceSpec(id: string, request: LaunchRequest, admitted: Admitted): InstanceSpec {
    if (this.sources.has(request)) {
      this.sourceId = id;
      return super.instanceSpec(id, request, admitted, AWAIT);
    }
    const cp = this.saved as Checkpoint;
    const spec = super.instanceSpec(id, request, admitted, AWAIT);
    if (spec.dir === undefined) throw this.fail('launch', 'a runc bundle has a directory');
    const { create, extra, inspect } = spec;
    let log: string | undefined;
    return {
      ...spec,
      create: async (bundle: string) => {
        const plan = await create(bundle);
        log = join(bundle, 'criu');
        await mkdir(log);
        return {
          ...plan,
          argv: [...this.runtimeArgv(), 'restore', '--image-path', cp.images, '--work-path', log, '--bundle', bundle, id],
          stdin: `job ${encodeJob(jobArgv(request.job))}\n`,
        };
      },
      extra: () => ({ ...extra?.(), checkpoint: cp.facts }),
      // CRIU's own words on a failed restore, read before the clean-up removes the bundle.
      inspect: async (r: InstanceResult) => {
        await inspect?.(r);
        if (r.status === 'failed' && log !== undefined && r.timeline.toReadyMs === undefined) {
          const said = await criuError(join(log, 'restore.log'), '');
          if (said !== '') r.reason = `${r.reason ?? 'failed'}: CRIU said: ${said}`;
        }
      },
    } as InstanceSpec;
  }

  protected override async release(): Promise<void> {
    this.checkpoint = undefined;
    this.saved = undefined;
    await super.release();
  }
}

export function createRuncRestoreDriver(options: OciOptions = {}): RuncRestoreDriver {
  return new RuncRestoreDriver(options);
}

/** CRIU's errors from its log (its `Error (file:line): …` lines, the last three, each once), else the command's last line. */
async function criuError(logPath: string, output: string): Promise<string> {
  const log = await readFile(logPath, 'utf8').catch(() => '');
  const lines = [...log.split('\n'), ...output.split('\n')].map((l) => l.trim()).filter((l) => l.length > 0);
  const errors = [...new Set(lines.filter((l) => /Error \(/.test(l)).map((l) => l.replace(/^.*?Error \([^)]*\):\s*/, '')))];
  if (errors.length > 0) return errors.slice(-3).join(' … ');
  return (lines.at(-1) ?? '').replace(/^.*level=error msg="?/, '');
}

/**
 * What a failed `criu check` says, in one line: its first error and, where another names it, the feature probe that
 * ended the check ("… failed when initializing kerndat"); undefined without an error line.
 */
export function criuCheckSays(lines: readonly string[]): string | undefined {
  const errors = lines.filter((l) => /^Error \(/.test(l)).map((l) => l.replace(/^Error \([^)]*\):\s*/, ''));
  const first = errors[0];
  if (first === undefined) return undefined;
  const fatal = errors.find((e) => /failed when initializing kerndat/.test(e));
  return fatal === undefined || fatal === first ? first : `${first} … ${fatal}`;
}

/** Bytes of the files under a directory. */
async function treeBytes(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    total += e.isDirectory() ? await treeBytes(p) : (await stat(p).catch(() => ({ size: 0 }))).size;
  }
  return total;
}
