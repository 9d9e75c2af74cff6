/**
 * `density`: what N idle instances cost the host when they run at the same
 * time, and how fast they come up when started together (claim C5: more
 * containers than VMs fit on one host).
 *
 * One sample, on one target:
 * 1. reads MemTotal and MemAvailable from /proc/meminfo;
 * 2. launches N instances of the agent's `sleep` job back to back, without
 *    waiting for any of them (each with `matchedLimits`, so a VM gets the same
 *    RAM and CPUs as a container's cgroup limit), then waits until every one
 *    has reported ready;
 * 3. reads MemAvailable again and every instance's footprint (`Instance.footprint()`:
 *    the PSS of its host processes — the agent natively, the container's
 *    processes, a VM's qemu, whose is split into guest RAM and the VMM's own
 *    overhead — as in the memory scenario);
 * 4. stops them all and waits until every one is gone; each instance's
 *    launch-to-ready time comes from its result's timeline (launcher fork to
 *    the agent's `ready`), so it includes the contention of N starting at once.
 *
 * N is `--instances` (ScenarioOptions `instances`), else sized for the host and
 * the target: 50, and for a target whose instances each take their RAM from the
 * host (`capabilities.memoryLimit` `ram`: VMs) min(4, ⌊0.5 × MemAvailable / its
 * RAM⌋), at least 1. The N used is recorded in every sample's `extra`.
 *
 * Memory guard: before each launch after the first, if MemAvailable is below
 * `densityMinFreeFraction` (default 0.2) of MemTotal, no further instance is
 * launched; the sample records why in `extra.stoppedEarly` and its figures are
 * those of the instances that did start. The first instance always starts, so
 * that a sample always has figures. The guard sees memory as it is at each
 * launch: a VM still booting has not yet touched all of its RAM.
 *
 * Whatever fails (a launch, an instance that never gets ready, a stop that
 * does not end it), every instance launched is killed and awaited before the
 * sample throws: nothing outlives a sample.
 */
import { appliedLimits, type Capabilities, type Driver, type Instance, type InstanceResult, type Limits } from '../../drivers/index.js';
import { TargetError, UsageError, describeError } from '../../core/errors.js';
import { median, quantile, sorted } from '../../core/stats.js';
import { matchedLimits, type PreflightContext, type Scenario, type ScenarioOptions } from './types.js';
import {
  fdsNeeded,
  instancesThatFit,
  raiseFdLimit,
  readHostFacts,
  readMeminfo,
  type HostFacts,
  type InstanceCost,
  type InstanceFit,
  type Meminfo,
} from '../preflight.js';
import { describeBytes } from '../../core/units.js';

/** Instances per sample when `--instances` is not given (VMs: fewer, see MAX_DEFAULT_VMS). */
export const DEFAULT_INSTANCES = 50;
/** The most VMs per sample when `--instances` is not given (TCG boots share 2 cores here). */
export const MAX_DEFAULT_VMS = 4;
/** Share of MemAvailable the default number of VMs may take with their RAM. */
export const VM_MEMORY_SHARE = 0.5;
/** Launching stops when MemAvailable falls below this share of MemTotal. */
export const DEFAULT_MIN_FREE_FRACTION = 0.2;

/**
 * N when `--instances` is not given: 50; for a target whose instances take their RAM from the host
 * (VMs) min(4, ⌊0.5 × MemAvailable / that RAM⌋); never more than `fits` (what `instancesThatFit`
 * says the host holds), at least 1.
 */
export function defaultInstances(capabilities: Pick<Capabilities, 'memoryLimit'>, memAvailableBytes: number, ramBytes: number, fits = Infinity): number {
  const wanted =
    capabilities.memoryLimit !== 'ram' ? DEFAULT_INSTANCES : Math.min(MAX_DEFAULT_VMS, Math.floor((VM_MEMORY_SHARE * memAvailableBytes) / ramBytes));
  return Math.max(1, Math.min(wanted, fits));
}

/**
 * The host memory a non-VM instance takes, for sizing: measured with this scenario on 50 instances,
 * MemAvailable fell by 0.45 MiB per instance of tsbench's container and by up to 2.6 MiB per runc
 * instance (PSS 0.07 MiB); 4 MiB leaves room for the kernel's share (cgroups, mount namespaces).
 */
export const INSTANCE_FOOTPRINT_BYTES = 4 * 2 ** 20;

/**
 * What one instance of a target takes from the host (measured, 10 sleep instances each): tsbench holds
 * 4 descriptors per instance on every target (its launcher's pipes); host tasks are the driver's
 * `capabilities.hostTasks` — 2 natively (launcher, agent), 3 in tsbench's container and under crun,
 * 12 under runc (its Go runtime's threads; the engines' clients are Go too: 16 for them), 3 for a VM
 * (launcher, qemu's main and RCU threads) — plus, for a VM, one per vCPU. An instance that takes its
 * RAM from the host (`memoryLimit` `ram`) takes its RAM as applied; others the footprint.
 */
export function instanceCost(driver: Pick<Driver, 'capabilities' | 'limitsFor'>, limits: ReturnType<typeof matchedLimits>): InstanceCost {
  const caps = driver.capabilities;
  if (caps.memoryLimit === 'ram') {
    const applied = appliedLimits(driver, limits);
    const ram = applied.memoryBytes ?? limits.memoryBytes;
    return { fds: 4, tasks: caps.hostTasks + (applied.cpus ?? 1), memoryBytes: ram, memoryWhat: `its ${describeBytes(ram)} of RAM` };
  }
  return {
    fds: 4,
    tasks: caps.hostTasks,
    memoryBytes: INSTANCE_FOOTPRINT_BYTES,
    memoryWhat: `about ${describeBytes(INSTANCE_FOOTPRINT_BYTES)} of host memory (measured, with margin)`,
  };
}

/** How many instances of this target fit the host now, density's memory guard included. */
export function densityFit(driver: Pick<Driver, 'capabilities' | 'limitsFor'>, limits: Limits, host: HostFacts, minFreeFraction: number): InstanceFit {
  return instancesThatFit(instanceCost(driver, matchedLimits(limits)), host, minFreeFraction * host.memory.totalBytes);
}

/**
 * Refuses an `--instances` more than some target's host can hold (descriptors, tasks, memory), saying
 * the largest that fits; raises the open-file soft limit to the hard one first where that suffices.
 */
async function densityPreflight(ctx: PreflightContext): Promise<void> {
  const o = densityOptions(ctx.options);
  let host = ctx.host;
  for (const [name, d] of ctx.drivers) {
    let fit = densityFit(d, ctx.limits, host, o.minFreeFraction);
    const n = o.instances ?? 1;
    if (n > fit.largest && fit.limitedBy === 'fds' && host.fds.soft < host.fds.hard) {
      const raised = await raiseFdLimit(fdsNeeded(n, instanceCost(d, matchedLimits(ctx.limits)), host));
      host = { ...host, fds: { ...host.fds, ...raised } };
      fit = densityFit(d, ctx.limits, host, o.minFreeFraction);
    }
    if (n <= fit.largest) continue;
    const text = ctx.given.instances ?? String(n);
    const raise =
      fit.limitedBy === 'fds' ? ` (or raise the open-file limit first: ulimit -n ${fdsNeeded(n, instanceCost(d, matchedLimits(ctx.limits)), host)})` : '';
    if (o.instances === undefined) throw new UsageError(`density: not even one ${name} instance fits this host: ${fit.why}`);
    throw new UsageError(`--instances ${text} does not fit ${name}: ${fit.why}; the largest count that fits is ${fit.largest}${raise}`);
  }
}

/** The scenario's options, checked: `instances` (N) and `densityMinFreeFraction` (the memory guard). */
export function densityOptions(options: ScenarioOptions): { instances?: number; minFreeFraction: number } {
  const n = options['instances'];
  if (n !== undefined && !(typeof n === 'number' && Number.isInteger(n) && n > 0)) {
    throw new UsageError(`density: instances must be a positive integer, not ${String(n)}: e.g. --instances 10`);
  }
  const f = options['densityMinFreeFraction'] ?? DEFAULT_MIN_FREE_FRACTION;
  if (!(typeof f === 'number' && f >= 0 && f < 1)) {
    throw new UsageError(`density: densityMinFreeFraction must be a number in [0, 1), not ${String(f)}`);
  }
  return { instances: n, minFreeFraction: f };
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

/** Kills every instance not yet gone and waits until all are; never throws. */
async function killAll(instances: readonly Instance[]): Promise<void> {
  await Promise.all(instances.map((i) => i.kill().catch(() => {})));
  await Promise.all(instances.map((i) => i.result));
}

export const density: Scenario = {
  name: 'density',
  description:
    'N idle instances (sleep job) started at once: launch-to-ready p50/p99 under that concurrency, host memory per instance (MemAvailable drop and PSS); N = --instances, else 50, or for VMs min(4, half of MemAvailable / VM RAM)',
  metrics: [
    {
      name: 'startupP50Ms',
      unit: 'ms',
      better: 'lower',
      description: 'median over the N instances of launch (launcher fork) to the workload reporting ready, all N launched at once',
    },
    {
      name: 'startupP99Ms',
      unit: 'ms',
      better: 'lower',
      description: '99th percentile (R type 7) over the N instances of launch to ready, all N launched at once',
    },
    {
      name: 'memAvailableDeltaPerInstanceBytes',
      unit: 'bytes',
      better: 'lower',
      description: 'host MemAvailable (/proc/meminfo) before launching minus after all N are ready, divided by N',
    },
    {
      name: 'pssPerInstanceBytes',
      headline: true,
      unit: 'bytes',
      better: 'lower',
      description:
        "PSS (/proc/<pid>/smaps_rollup; a VM's qemu from /proc/<pid>/smaps, summed over its mappings) of every host process of every instance, summed while all N are ready, divided by N",
    },
    {
      name: 'vmmOverheadPerInstanceBytes',
      unit: 'bytes',
      better: 'lower',
      description:
        "VMs only: qemu's PSS minus its guest RAM mapping's (the memory scenario's vmmOverheadBytes), summed while all N are ready, divided by N; pages the VMs share (the -initrd file, QEMU's binary) are divided among them",
    },
    {
      name: 'instances',
      unit: 'count',
      better: 'higher',
      description: 'instances that started and reached ready (N, or fewer when the memory guard stopped launching)',
    },
  ],
  defaults: { runs: 5, warmup: 1 },
  preflight: densityPreflight,
  parameters(options) {
    const o = densityOptions(options);
    return {
      job: 'sleep',
      instances:
        o.instances ??
        `default: ${DEFAULT_INSTANCES} without a VM; VMs min(${MAX_DEFAULT_VMS}, floor(${VM_MEMORY_SHARE} × MemAvailable / VM RAM)); per target in each sample's extra.instancesRequested`,
      minFreeFraction: o.minFreeFraction,
    };
  },
  async sample(driver, ctx) {
    const o = densityOptions(ctx.options);
    const limits = matchedLimits(ctx.limits);
    const before = await readMeminfo();
    const fits = o.instances === undefined ? densityFit(driver, ctx.limits, await readHostFacts(), o.minFreeFraction).largest : Infinity;
    const ram = appliedLimits(driver, limits).memoryBytes ?? limits.memoryBytes;
    const requested = o.instances ?? defaultInstances(driver.capabilities, before.availableBytes, ram, fits);
    const minFreeBytes = o.minFreeFraction * before.totalBytes;
    return measure(driver, {
      requested,
      limits,
      before,
      minFreeBytes,
      minFreeFraction: o.minFreeFraction,
      signal: ctx.signal,
      defaulted: o.instances === undefined,
    });
  },
};

interface Plan {
  requested: number;
  limits: ReturnType<typeof matchedLimits>;
  before: Meminfo;
  minFreeBytes: number;
  minFreeFraction: number;
  signal: AbortSignal;
  defaulted: boolean;
}

async function measure(driver: Driver, plan: Plan): Promise<Awaited<ReturnType<Scenario['sample']>>> {
  const fail = (message: string, extra?: { cause?: unknown; tail?: string[] }): TargetError => new TargetError(driver.name, 'density', message, extra);
  const instances: Instance[] = [];
  let finished = false;
  let stoppedEarly: string | undefined;
  try {
    const t0 = performance.now();
    for (let i = 0; i < plan.requested; i++) {
      if (plan.signal.aborted) throw fail('cancelled while launching', { cause: plan.signal.reason });
      if (i > 0) {
        const now = await readMeminfo();
        if (now.availableBytes < plan.minFreeBytes) {
          stoppedEarly =
            `MemAvailable fell to ${((100 * now.availableBytes) / now.totalBytes).toFixed(1)} % of MemTotal, below the ` +
            `${(100 * plan.minFreeFraction).toFixed(1)} % guard (densityMinFreeFraction), after ${i} of ${plan.requested} instances`;
          break;
        }
      }
      try {
        instances.push(await driver.launch({ job: { kind: 'sleep' }, limits: plan.limits, signal: plan.signal }));
      } catch (e) {
        throw fail(`launching instance ${i + 1} of ${plan.requested} failed: ${describeError(e)}`, {
          cause: e,
          tail: e instanceof TargetError ? e.tail : undefined,
        });
      }
    }
    const launchSpanMs = performance.now() - t0;

    const readyOutcomes = await Promise.allSettled(instances.map((i) => i.ready));
    const allReadyMs = performance.now() - t0;
    const notReady = readyOutcomes.findIndex((r) => r.status === 'rejected');
    if (notReady >= 0) {
      await killAll(instances);
      const r = await (instances[notReady] as Instance).result;
      throw fail(
        `instance ${notReady + 1} of ${instances.length} never got ready: ${r.reason ?? describeError((readyOutcomes[notReady] as PromiseRejectedResult).reason)}`,
        { tail: r.tail },
      );
    }

    const after = await readMeminfo();
    const memoryEach = await Promise.all(instances.map((i) => i.footprint()));
    // An instance already gone counts 0.
    const pssEach = memoryEach.map((m) => m?.pssBytes ?? 0);
    const overheadEach = memoryEach.map((m) => m?.vmmOverheadBytes);
    // A VMM's overhead, where the target has one: every instance reported its split.
    const splitReported = memoryEach.some((m) => m?.guestRamTouchedBytes !== undefined);

    await Promise.all(instances.map((i) => i.stop().catch(() => {})));
    const stopTimeoutMs = driver.capabilities.stopTimeoutMs;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      Promise.all(instances.map((i) => i.result)).then(() => false),
      new Promise<boolean>((res) => (timer = setTimeout(() => res(true), stopTimeoutMs))),
    ]);
    clearTimeout(timer);
    if (timedOut) {
      await killAll(instances);
      throw fail(`not every instance was gone ${stopTimeoutMs / 1000} s after stop; all were killed`);
    }
    const results: InstanceResult[] = await Promise.all(instances.map((i) => i.result));
    finished = true;
    const bad = results.findIndex((r) => r.status !== 'ok' || r.timeline.toReadyMs === undefined);
    if (bad >= 0) {
      const r = results[bad] as InstanceResult;
      throw fail(`instance ${bad + 1} of ${results.length} ended ${r.status}: ${r.reason ?? 'no ready time recorded'}`, { tail: r.tail });
    }

    const n = results.length;
    const ready = sorted(results.map((r) => r.timeline.toReadyMs as number));
    const pssTotal = pssEach.reduce((a, b) => a + b, 0);
    return {
      status: 'ok',
      values: {
        startupP50Ms: median(ready),
        startupP99Ms: quantile(ready, 0.99),
        memAvailableDeltaPerInstanceBytes: (plan.before.availableBytes - after.availableBytes) / n,
        pssPerInstanceBytes: pssTotal / n,
        // Only when every VM's split was read: a partial sum over N would understate it.
        ...(splitReported && overheadEach.every((x) => x !== undefined)
          ? { vmmOverheadPerInstanceBytes: overheadEach.reduce((a: number, b) => a + (b ?? 0), 0) / n }
          : {}),
        instances: n,
      },
      extra: {
        instancesRequested: plan.requested,
        instancesDefaulted: plan.defaulted,
        stoppedEarly,
        minFreeFraction: plan.minFreeFraction,
        memTotalBytes: plan.before.totalBytes,
        memAvailableBeforeBytes: plan.before.availableBytes,
        memAvailableAfterBytes: after.availableBytes,
        pssBytes: pssEach,
        vmmOverheadBytes: splitReported ? overheadEach.map((x) => x ?? null) : undefined,
        toReadyMs: ready.map(round2),
        launchSpanMs: round2(launchSpanMs),
        allReadyMs: round2(allReadyMs),
        limits: plan.limits,
        instance: results[0]?.extra,
      },
    };
  } finally {
    if (!finished) await killAll(instances);
  }
}
