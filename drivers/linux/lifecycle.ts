/**
 * The life of one Linux-container instance, shared by the drivers that run the
 * image's agent in namespaces and cgroups on this host: `container`
 * (drivers/container), `runc`/`crun` (drivers/oci/runtime.ts) and the engines
 * `docker`/`podman` (drivers/oci/engine.ts), all on the base driver of
 * drivers/linux/driver.ts. A new target of that kind (gVisor, Kata…) writes an
 * `InstanceSpec`, not a lifecycle.
 *
 * `LinuxInstances.launch` does, in order:
 * 1. checks the volumes, gives the instance an id unique in this process;
 * 2. registers an exit hook (core/exit.ts) that SIGKILLs the instance's process
 *    group and removes its cgroups and paths synchronously;
 * 3. records (drivers/ownership.ts), then makes, its directory (a fixed path or a
 *    fresh name; an engine's instance has none) and its cgroups (with the limits);
 * 4. calls the driver's `create` (how the instance is made: the launcher's
 *    namespaces and overlay, a bundle for `<runtime> run`, or `<engine> run`'s flags);
 * 5. launches it through tsbench-launch (drivers/process.ts): the timed window is
 *    the launcher's, nothing of this module runs inside it;
 * 6. after the exit: reads the cgroups' accounting, lets the driver inspect the
 *    run (docker's events), cleans up, reports a kill by the memory cgroup as
 *    `oom-killed` (`recordAccounting`, the one place that does);
 * 7. with `measureUpper`: measures the upper layer once the agent is ready;
 * 8. with `workloadCpu`: reads the cgroups' CPU at the agent's ready and end (drivers/linux/measure.ts).
 * Its instances' footprint is their cgroup's processes' PSS and the cgroup's memory usage.
 *
 * `prepareImageAndCgroups` is the part of `prepare` these drivers share.
 *
 * It records every instance it launched; `teardown` kills and removes them all
 * and may be called any number of times (Firecracker's tests: a factory that
 * tears down all it built).
 */
import { readFileSync, rmSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { TargetError, describeError } from '../../core/errors.js';
import { atExit } from '../../core/exit.js';
import { MiB, describeBytes } from '../../core/units.js';
import { LaunchedProcess, processInstance } from '../process.js';
import { makeOwnedDir, makeRecordedDir, record } from '../ownership.js';
import { ensureImage, type Image, type ImageChoice } from '../image/index.js';
import type { Accounting, Instance, InstanceResult, LaunchRequest, Limits } from '../types.js';
import { cgroupLayoutOf, detectCgroups, unavailableLimits, type CgroupHost } from './cgroups.js';
import { delegation, describeDelegation, type Delegation } from './delegation.js';
import { treeUsage } from './overlay.js';
import { volumeProblem } from './volumes.js';
import { cgroupCpuMeter, containerFootprint } from './measure.js';

/** An instance's cgroups, wherever its driver puts them (linux/cgroups.ts `InstanceCgroups`, oci/cgroups.ts `PeerCgroups`). */
export interface CgroupSet {
  /** Their paths relative to every cgroup mount, recorded (drivers/ownership.ts) before `create`. */
  relative(): string[];
  /** Makes them before the launch (writing the limits where tsbench is the one to); throws when it cannot. */
  create(limits: Limits): Promise<void>;
  /** The cgroup mounts they are under, for messages. */
  where(): string;
  /** What they counted, read after the exit. */
  read(): Promise<Accounting>;
  /** Removes them (retrying while their tasks exit). */
  remove(): Promise<void>;
  /** The same, synchronously, for process 'exit'. */
  removeSync(): void;
  /** Pids in them now (host pid namespace): the instance's processes. */
  pidsSync(): number[];
  /**
   * A transient systemd unit that holds them, which systemd makes and removes (docker's slice on
   * systemd's cgroup driver): recorded as a unit before `create`, and left to the ownership sweep
   * by `removeSync`.
   */
  readonly unit?: string;
}

/** What tsbench-launch runs for an instance. */
export interface LaunchPlan {
  argv: string[];
  /** See `ProcessSpec.wrapper`: runs the launcher outside its clock (e.g. nsenter into a mount namespace). */
  wrapper?: string[];
  /** The launcher's working directory. @default tsbench's */
  cwd?: string;
  /** Written to the launcher's stdin once it is started (a restored agent's job line, drivers/oci/criu.ts). */
  stdin?: string;
}

/**
 * An instance's directory, with `subdirs` made in it: `path` itself (a unique name in a private
 * directory), or with `temp` what mkdtemp makes of `path` as a prefix (in a shared one such as /tmp).
 */
export interface InstanceDir {
  path: string;
  temp?: boolean;
  subdirs?: string[];
}

/** Where the host reads an instance's upper layer for `measureUpper`, or why it cannot (after "not measured: "). */
export type UpperWhere = { path: string } | { unreachable: string };

/** What differs between drivers, for one instance (made by `launch`'s `specOf` once the id is known). */
export type InstanceSpec = InstanceSpecCommon &
  (
    | {
        /** The instance's directory. */
        dir: InstanceDir;
        /** Makes the rest of the instance, once its directory and cgroups exist; says what the launcher runs. Throws a TargetError. */
        create(dir: string): Promise<LaunchPlan>;
        /** Where the host reads the upper layer for `measureUpper`. */
        upper(dir: string): UpperWhere;
      }
    | {
        /** None: the instance lives in its engine's store (docker, podman), which has no upper layer of tsbench's to measure. */
        dir?: undefined;
        create(): Promise<LaunchPlan>;
        upper?: undefined;
      }
  );

interface InstanceSpecCommon {
  /** Where the instance's cgroups are. */
  cgroups: CgroupSet;
  /** Host paths of the instance outside its directory, removed with it. */
  alsoRemove?: string[];
  /** First step of the clean-up: undoes what `create` made besides paths (runtime state, mounts, an engine's container). */
  release?(): Promise<void>;
  /** Adds what the cgroups do not count (e.g. OOM kills from the kernel log) to what they did. */
  account?(accounting: Accounting): void;
  /** Fields the driver records in `extra` (after `upperAtStart`'s). */
  extra?(): Record<string, unknown>;
  /** Reads what the runtime says of the run before the clean-up removes the instance (docker's events); may add to the result. */
  inspect?(r: InstanceResult): Promise<void>;
  /** The driver's last word on the result, after the accounting and the OOM verdict. */
  finish?(r: InstanceResult): void;
}

export interface LinuxInstancesOptions {
  /** The driver's name, for messages and results. */
  target: string;
  /** Kill an instance whose agent has not said `ready` by then, in ms. */
  readyTimeoutMs: number;
  /** Put before `<pid>-<n>` in ids (which name cgroups, hostnames, directories and an engine's containers). @default '' */
  idPrefix?: string;
  /** See `ProcessSpec.sameClock` (drivers/process.ts): false for gVisor, whose Sentry keeps a clock of its own. @default true */
  sameClock?: boolean;
}

/**
 * What every Linux-container driver prepares before its first instance: the
 * workload image (built if missing) and the host's cgroup layout, which must
 * offer the controllers of the limits. Throws a TargetError naming the fix.
 */
export async function prepareImageAndCgroups(target: string, choice: ImageChoice): Promise<{ image: Image; host: CgroupHost }> {
  let image: Image;
  const { image: name, ...kernel } = choice;
  try {
    image = await ensureImage({ kernel, image: name });
  } catch (e) {
    const build = `tsbench image build${name !== undefined && name !== 'lean' ? ` --image ${name}` : ''}`;
    throw new TargetError(target, 'prepare', `the workload image is unavailable (${describeError(e)}): run \`${build}\``, { cause: e });
  }
  const { host } = await linuxCgroups();
  return { image, host };
}

/**
 * The host's cgroups as a Linux-container driver uses them: where tsbench's cgroups go (a scope
 * systemd delegates on a pure v2 host it runs, made on the first call: drivers/linux/delegation.ts),
 * then the hierarchies with the controllers offered there.
 */
export async function linuxCgroups(): Promise<{ host: CgroupHost; delegation: Delegation }> {
  const d = await delegation();
  return { host: detectCgroups(), delegation: d };
}

/**
 * What `tsbench targets` says of a Linux container's cgroups: the layout (v1, v2, hybrid), the
 * controllers each hierarchy offers tsbench (on v2, those of the directory it makes its cgroups in),
 * where that directory is and why, and each limit a missing controller makes unavailable.
 */
export function cgroupDetails(host: CgroupHost, d: Delegation): Record<string, string> {
  const unavailable = unavailableLimits(host);
  return {
    cgroupLayout: cgroupLayoutOf(readFileSync('/proc/self/mounts', 'utf8')),
    cgroupControllers: host.hierarchies.map((h) => `v${h.version}:${h.controllers.join('+')}`).join(' ') || 'none',
    cgroupRoot: describeDelegation(d),
    ...(unavailable.length > 0 ? { limitsUnavailable: unavailable.join('; ') } : {}),
  };
}

/** Instances launched in this process, for unique ids across drivers (cgroup paths are host-wide). */
let sequence = 0;

interface Live {
  proc?: LaunchedProcess;
  /**
   * SIGKILLs the launcher's group and then every process in the instance's cgroups: a runtime that
   * leaves the container running when it dies (crun, whose container moreover sits in a child cgroup
   * `ct` of its own) would otherwise keep the workload — and the pipes the result waits on — alive.
   */
  kill?: () => void;
  result?: Promise<InstanceResult>;
  /** Removes everything of the instance; runs once, later calls get the same promise. */
  clean: () => Promise<void>;
  /** Removes what is left synchronously, without waiting for `clean`, and forgets the exit hook. */
  removeSync: () => void;
  /** Whether `clean` finished. */
  cleaned: boolean;
}

/** The limits of a probe's trial container: small, but each controller exercised. */
export const TRIAL_LIMITS: Limits = { memoryBytes: 64 * MiB, pids: 64, cpus: 1 };

/** Puts the cgroups' counters in the result and reports a kill by the memory cgroup (the launcher's rusage is the runtime's). */
export function recordAccounting(r: InstanceResult, accounting: Accounting, limits: Limits): void {
  for (const [k, v] of Object.entries(accounting) as [keyof Accounting, number | undefined][]) {
    if (v !== undefined && Number.isFinite(v)) r.accounting[k] = v;
  }
  reportOomKills(r, accounting.oomKills ?? 0, limits);
}

/**
 * The one verdict for a container whose memory cgroup's OOM killer killed a
 * process: status `oom-killed`, unless tsbench itself killed it or it timed out.
 */
export function reportOomKills(r: InstanceResult, kills: number, limits: Limits): void {
  if (kills <= 0 || r.status === 'killed' || r.status === 'timeout') return;
  r.status = 'oom-killed';
  const limit = limits.memoryBytes === undefined ? 'no limit' : `the limit is ${describeBytes(limits.memoryBytes)}`;
  r.reason = `the OOM killer killed ${kills} process(es) of the instance (${limit})`;
}

/** A driver's Linux-container instances: launches them the one shared way, and tears them all down. */
export class LinuxInstances {
  private readonly live = new Set<Live>();

  constructor(private readonly options: LinuxInstancesOptions) {}

  private fail(step: string, message: string, cause?: unknown): TargetError {
    return new TargetError(this.options.target, step, message, cause === undefined ? undefined : { cause });
  }

  async launch(request: LaunchRequest, specOf: (id: string) => InstanceSpec): Promise<Instance> {
    const target = this.options.target;
    const limits = request.limits ?? {};
    const problem = await volumeProblem(request.volumes ?? []);
    if (problem) throw this.fail('launch', problem.message, problem.cause);
    const id = `${this.options.idPrefix ?? ''}${process.pid}-${++sequence}`;
    const spec = specOf(id);
    const cgroups = spec.cgroups;

    let dir: string | undefined;
    const paths = (): string[] => [...(dir === undefined ? [] : [dir]), ...(spec.alsoRemove ?? [])];
    const removePathsSync = (): void => {
      cgroups.removeSync();
      for (const p of paths()) {
        try {
          rmSync(p, { recursive: true, force: true });
        } catch {
          // Out of reach (a path in a mount namespace already gone): the next one still goes.
        }
      }
    };
    // The exit hooks' kill stage (drivers/process.ts) has SIGKILLed the launcher's group by then: only removal is left.
    const unregister = atExit(removePathsSync);
    let cleaning: Promise<void> | undefined;
    const live: Live = {
      cleaned: false,
      clean: () =>
        (cleaning ??= (async () => {
          await spec.release?.();
          await cgroups.remove();
          for (const p of paths()) await rm(p, { recursive: true, force: true });
          live.cleaned = true;
          unregister();
        })()),
      removeSync: () => {
        removePathsSync();
        unregister();
      },
    };
    this.live.add(live);

    if (spec.dir !== undefined) {
      const where = spec.dir;
      try {
        // Recorded before it is made (drivers/ownership.ts): a SIGKILLed tsbench leaves a record, not an orphan.
        const made = where.temp ? await makeOwnedDir(where.path) : await makeRecordedDir(where.path);
        dir = made;
        await Promise.all((where.subdirs ?? []).map((d) => mkdir(join(made, d), { recursive: true })));
      } catch (e) {
        await this.discard(live);
        throw this.fail(
          'launch',
          `cannot create the instance directory in ${dirname(where.path)} (${describeError(e)}): make it writable or free some space`,
          e,
        );
      }
    }
    try {
      for (const path of cgroups.relative()) record({ kind: 'cgroup', path });
      if (cgroups.unit !== undefined) record({ kind: 'unit', name: cgroups.unit });
      await cgroups.create(limits);
    } catch (e) {
      await this.discard(live);
      throw this.fail(
        'launch',
        `cannot create the instance's cgroups under ${cgroups.where()} (${describeError(e)}): tsbench needs root and writable cgroup mounts`,
        e,
      );
    }
    let plan: LaunchPlan;
    try {
      plan = spec.dir === undefined ? await spec.create() : await spec.create(dir as string);
    } catch (e) {
      await this.discard(live);
      throw e instanceof TargetError ? e : this.fail('launch', describeError(e), e);
    }

    const proc = new LaunchedProcess({
      target,
      wrapper: plan.wrapper,
      argv: plan.argv,
      cwd: plan.cwd,
      readyTimeoutMs: this.options.readyTimeoutMs,
      signal: request.signal,
      onOutput: request.onOutput,
      onStderr: request.onStderr,
      workloadCpu: request.workloadCpu ? cgroupCpuMeter(cgroups) : undefined,
      sameClock: this.options.sameClock,
    });
    live.proc = proc;
    if (plan.stdin !== undefined) proc.write(plan.stdin);
    live.kill = () => {
      proc.kill();
      for (const pid of cgroups.pidsSync()) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // Gone meanwhile.
        }
      }
    };
    // Claim C9: what starting the instance wrote to its upper layer, read once after ready, and only when asked.
    let upperAtStart: Promise<Record<string, unknown>> | undefined;
    const instance = processInstance(target, proc, async (r) => {
      if (upperAtStart) r.extra = { ...r.extra, ...(await upperAtStart) };
      const extra = spec.extra?.();
      if (extra) r.extra = { ...r.extra, ...extra };
      let accounting: Accounting = {};
      try {
        accounting = await cgroups.read();
        spec.account?.(accounting);
      } catch (e) {
        r.tail.push(`[tsbench] [${target}] accounting: ${describeError(e)}`);
      }
      await spec.inspect?.(r);
      try {
        await live.clean();
      } catch (e) {
        r.tail.push(`[tsbench] [${target}] clean-up: ${describeError(e)}`);
      }
      // What a failed clean-up left, teardown (or the exit hook) removes.
      if (live.cleaned) this.live.delete(live);
      recordAccounting(r, accounting, limits);
      spec.finish?.(r);
      return r;
    });
    live.result = instance.result;
    if (request.measureUpper && spec.dir !== undefined) {
      const where = spec.upper(dir as string);
      upperAtStart = instance.ready
        .then(async () => {
          if ('unreachable' in where) return { upperAtStart: `not measured: ${where.unreachable}` };
          const u = await treeUsage(where.path);
          return { upperBytesAtStart: u.bytes, upperEntriesAtStart: u.entries };
        })
        .catch((e: unknown) => ({ upperAtStart: `not measured: ${describeError(e)}` }));
    }
    return {
      ...instance,
      kill: async () => live.kill?.(),
      // The instance's processes are those in its cgroups; the launcher outside them is harness, as for native.
      hostPids: () => cgroups.pidsSync(),
      footprint: () => containerFootprint(cgroups.pidsSync()),
    };
  }

  private async discard(live: Live): Promise<void> {
    await live.clean().catch(() => {});
    if (live.cleaned) this.live.delete(live);
  }

  /** Kills every instance, waits for their results, then removes whatever a clean-up left. Idempotent. */
  async teardown(): Promise<void> {
    const all = [...this.live];
    for (const l of all) l.kill?.();
    await Promise.all(all.map(async (l) => (l.result ? l.result.then(() => {}) : l.clean().catch(() => {}))));
    for (const l of all) {
      if (!l.cleaned) l.removeSync();
      this.live.delete(l);
    }
  }

  /** For a driver's own exit hook: removes every instance's cgroups and paths now (the launcher groups are already killed). */
  removeAllSync(): void {
    for (const l of this.live) l.removeSync();
    this.live.clear();
  }
}
