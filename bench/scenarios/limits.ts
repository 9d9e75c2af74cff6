/**
 * `limits`: do the resource limits hold (claim C7)? Each sample runs two fresh
 * instances of the same workload on every target.
 *
 * Memory: `stress-ng --vm 4 --vm-bytes 2×L --vm-keep --vm-ops 4 --oomable --timeout 10s`,
 * four workers that together try to keep twice the limit L resident, with L =
 * `--memory`, else the target's own default (a VM's RAM, 256 MiB: `appliedLimits`),
 * else core/defaults.ts's 128 MiB (containers; natively the hog's size). Four workers,
 * not one, because a single mapping larger than a guest's RAM is refused by the
 * kernel's overcommit heuristic before any page is touched. `--oomable` keeps
 * stress-ng from restarting a killed worker. The hog is bounded by work: each worker
 * makes one pass over its share (`--vm-ops` is divided among the workers) and ends,
 * about 0.4 s here; they start together, so their pages are resident at once. A bound
 * of 3 s ended the hog before its pages were in on a slow machine (a nested KVM guest
 * under TCG, no OOM kill to see); 10 s is the most it runs, for a guest that thrashes
 * instead (the Debian VM, docs/performance.md). Holding the pages after the pass (`--vm-hang`) kept
 * that guest thrashing for over 10 minutes, past the timeout, so the workers do not.
 * What a target does with the limit is its `capabilities.memoryLimit`:
 * - `cgroup` (containers): the cgroup memory limit; the driver reads the cgroup's OOM-kill
 *   count and reports the instance `oom-killed`. memLimitHeld = 1 then.
 * - `ram` (VMs): the guest kernel's OOM killer kills workers inside the guest; the host
 *   sees only qemu, so the probe reads the guest's /proc/vmstat `oom_kill`
 *   before and after, and memLimitHeld = 1 when it rose (the guest runs nothing
 *   else). Under TCG the workers die while still faulting their pages in, before
 *   stress-ng can say they "finished prematurely", so that message is not used.
 * - `none` (native, the control): no limit; the workers run to the end, memLimitHeld = 0.
 *   To keep the unconfined host safe, it refuses 2×L above half of MemAvailable.
 * An OOM-killed hog is the measurement succeeding, not the target failing: the
 * sample's status stays `ok` and the hog's instance status is in `extra.hog`.
 *
 * CPU: `stress-ng --cpu W --timeout 3s` under a quota of Q CPUs (`--cpus`, else
 * 0.5), W = 2Q rounded up (at most the host's CPUs): more demand than the quota.
 * The quota in force is the driver's (`appliedLimits`): Q for a cgroup, ceil(Q)
 * vCPUs for a VM, none natively. Every target reports the host CPU its workload
 * consumed from the agent's ready to the agent's end of the job, when it reaped
 * the workload (`InstanceResult.workloadCpu`): no runtime's start or exit, no
 * CLI's or daemon's latency is in that window.
 * - `cpuAccounting: 'host'` (containers, native): delivered = that host CPU time
 *   (a cgroup's user + system; natively the workload's rusage) / the window.
 * - `cpuAccounting: 'guest'` (VMs): delivered = the guest's own accounting, stress-ng's
 *   user + system time over its real time (the guest clock runs at host rate); the
 *   qemu process's host CPU over the window is kept in `extra.cpu.qemuHostCpus`.
 * Natively no quota applies: delivered ≈ W.
 */
import { availableParallelism } from 'node:os';
import { appliedLimits, type Driver, type InstanceResult } from '../../drivers/index.js';
import { TargetError } from '../../core/errors.js';
import { readMeminfo } from '../preflight.js';
import { ParseError, PROBE_TAG, parseProbe, probeInt } from './parsers/probe.js';
import { countPrematureWorkers, parseStressNgMetrics } from './parsers/stress-ng.js';
import { type SampleOutcome, type Scenario } from './types.js';
import { DEFAULT_LIMITS_CONTAINER_MEMORY_BYTES, DEFAULT_LIMITS_CPUS, DEFAULT_MEMORY_BYTES } from '../../core/defaults.js';
import { MiB, describeBytes } from '../../core/units.js';

/** How long the CPU phase runs, in seconds. */
export const PHASE_S = 3;
/** Memory hog workers; see the module comment for why four. */
export const HOG_WORKERS = 4;
/** The memory hog's stress-ng options after its size: one pass over each worker's share, at most 10 s. */
const HOG_OPTIONS = `--vm-keep --vm-ops ${HOG_WORKERS} --oomable --timeout 10s`;

const BUSYBOX = '/bin/busybox';
const STRESS_NG = '/usr/bin/stress-ng';

/**
 * The memory limit a target is asked for in this scenario: `--memory`, else what the target applies of
 * its own accord (a VM's default RAM), else DEFAULT_LIMITS_CONTAINER_MEMORY_BYTES.
 */
export function memoryLimitFor(driver: Pick<Driver, 'capabilities' | 'limitsFor'>, memoryBytes: number | undefined): number {
  return memoryBytes ?? appliedLimits(driver, {}).memoryBytes ?? DEFAULT_LIMITS_CONTAINER_MEMORY_BYTES;
}

/** Busy-loop workers for a quota of `cpus`: twice the quota, rounded up, at most the host's CPUs. */
export function cpuWorkersFor(cpus: number): number {
  return Math.max(1, Math.min(Math.ceil(cpus * 2), availableParallelism()));
}

/** The memory hog, wrapped in busybox sh to read the kernel's OOM-kill counter around it. */
function hogArgv(hogBytes: number): string[] {
  const script = `
k() { awk '/^oom_kill / { print $2 }' /proc/vmstat; }
a=$(k)
${STRESS_NG} --vm ${HOG_WORKERS} --vm-bytes ${hogBytes} ${HOG_OPTIONS} --metrics-brief
e=$?
b=$(k)
echo "${PROBE_TAG} hogExit=$e"; echo "${PROBE_TAG} oomKillsBefore=$a"; echo "${PROBE_TAG} oomKillsAfter=$b"; echo "${PROBE_TAG} end"
`;
  return [BUSYBOX, 'sh', '-c', script];
}

async function memAvailableBytes(): Promise<number | undefined> {
  return readMeminfo().then(
    (m) => m.availableBytes,
    () => undefined,
  );
}

const lines = (r: InstanceResult): string[] => [...r.stdout, ...r.stderr];

export const limits: Scenario = {
  name: 'limits',
  description: `do limits hold (C7): stress-ng keeping 2× the memory limit resident (containers: --memory or ${describeBytes(DEFAULT_LIMITS_CONTAINER_MEMORY_BYTES)}, must be OOM-killed; VMs: guest RAM, the guest kernel OOM-kills) and a CPU busy loop under a quota (--cpus or ${DEFAULT_LIMITS_CPUS}; VMs: vCPUs)`,
  metrics: [
    {
      name: 'memLimitHeld',
      headline: true,
      unit: 'bool',
      better: 'higher',
      description:
        'memory: 1 when the hog (2× the limit) was stopped by the OOM killer — containers: the driver saw the cgroup OOM-kill and reported the instance oom-killed; VMs: the guest kernel OOM-killed workers (guest /proc/vmstat oom_kill); 0 when it ran to the end (native, the control, has no limit: 0)',
    },
    {
      name: 'memLimitBytes',
      unit: 'bytes',
      better: 'lower',
      description: 'memory: the limit in force — cgroup memory limit for containers, guest RAM for VMs; absent natively',
    },
    {
      name: 'memHogBytes',
      unit: 'bytes',
      better: 'higher',
      description: "memory: what the hog tried to keep resident, 2× the limit (natively 2× the containers' default)",
    },
    {
      name: 'memPeakBytes',
      unit: 'bytes',
      better: 'lower',
      description: "memory, containers: the cgroup's peak usage during the hog (max_usage_in_bytes / memory.peak): at most the limit when it holds",
    },
    {
      name: 'memOomKills',
      unit: 'count',
      better: 'higher',
      description:
        "memory: processes of the instance the OOM killer killed — the cgroup's count (containers), the guest's /proc/vmstat oom_kill rise (VMs); natively the host's rise, counted only when hog workers ended early (the host's counter is shared)",
    },
    {
      name: 'cpuQuotaDeliveredCpus',
      unit: 'CPUs',
      better: 'lower',
      description:
        "CPU: CPUs delivered to the busy loop — containers and native: the workload's host CPU time from the agent's ready to its end of the job, when it reaped the workload (the cgroup's; natively the workload's rusage; no runtime start or exit inside the window) ÷ that window; VMs: the guest's own stress-ng user+system time ÷ its real time",
    },
    {
      name: 'cpuQuotaCpus',
      unit: 'CPUs',
      better: 'lower',
      description: 'CPU: the quota in force — the cgroup CPU quota (cfs_quota/period) for containers, vCPUs for VMs; absent natively (no quota)',
    },
    {
      name: 'cpuDemandCpus',
      unit: 'CPUs',
      better: 'higher',
      description: "CPU: busy-loop workers started, each wanting a whole CPU (2× the quota, rounded up, at most the host's CPUs)",
    },
    {
      name: 'cpuInsideCpus',
      unit: 'CPUs',
      better: 'lower',
      description: "CPU: stress-ng's own user+system time ÷ its real time, as the instance's kernel accounts it",
    },
  ],
  defaults: { runs: 3, warmup: 0 },
  parameters: (options) => ({
    memory: {
      tool: `stress-ng --vm ${HOG_WORKERS} --vm-bytes 2×limit ${HOG_OPTIONS}`,
      limit: `containers: --memory, else ${describeBytes(DEFAULT_LIMITS_CONTAINER_MEMORY_BYTES)}; VMs: guest RAM, --memory, else ${describeBytes(DEFAULT_MEMORY_BYTES)}; native: none`,
    },
    cpu: {
      tool: `stress-ng --cpu W --timeout ${PHASE_S}s`,
      quota: `--cpus, else ${DEFAULT_LIMITS_CPUS} (VMs: vCPUs = quota rounded up)`,
      workers: '2× quota rounded up, at most the host CPUs',
    },
    vms: 'applicable: the memory limit is the guest RAM (guest OOM killer), the CPU quota is the vCPU count (guest accounting)',
    ...(Object.keys(options).length > 0 ? { options } : {}),
  }),
  async sample(driver, ctx) {
    const { memoryLimit, cpuAccounting } = driver.capabilities;
    const limitBytes = memoryLimitFor(driver, ctx.limits.memoryBytes);
    const hogBytes = 2 * limitBytes;
    const values: Record<string, number> = { memHogBytes: hogBytes };

    // Memory.
    if (memoryLimit === 'none') {
      const avail = await memAvailableBytes();
      if (avail !== undefined && hogBytes > avail / 2) {
        throw new TargetError(
          driver.name,
          'limits',
          `the hog would keep ${(hogBytes / MiB).toFixed(0)} MiB resident on the unconfined host, more than half its available memory: pass a smaller --memory`,
        );
      }
    }
    const hog = await driver.launch({ job: { kind: 'exec', argv: hogArgv(hogBytes) }, limits: { ...ctx.limits, memoryBytes: limitBytes }, signal: ctx.signal });
    const h = await hog.result;
    // Workers stress-ng saw end early; in a TCG guest they die before they print, so VMs rely on the guest's count.
    const killedWorkers = countPrematureWorkers(lines(h));
    const appliedBytes = appliedLimits(driver, { ...ctx.limits, memoryBytes: limitBytes }).memoryBytes;
    if (appliedBytes !== undefined) values['memLimitBytes'] = appliedBytes;
    let probe: Map<string, string> | undefined;
    try {
      probe = parseProbe(h.stdout, ['oomKillsBefore', 'oomKillsAfter']);
    } catch (e) {
      if (!(e instanceof ParseError)) throw e;
    }
    // The cgroup's peak; elsewhere the accounting's peak is a process's RSS, not what the limit bounds.
    if (memoryLimit === 'cgroup' && h.accounting.peakMemoryBytes !== undefined) values['memPeakBytes'] = h.accounting.peakMemoryBytes;
    if (h.status === 'oom-killed') {
      // The driver saw the OOM kill in the instance's cgroup (containers).
      values['memLimitHeld'] = 1;
      values['memOomKills'] = h.accounting.oomKills ?? 1;
    } else if (h.status === 'ok' && probe) {
      const oomDelta = Math.max(0, probeInt(probe, 'oomKillsAfter') - probeInt(probe, 'oomKillsBefore'));
      // A guest's counter is the instance's own (its own kernel: `ram`); the host's counts every cgroup's kills
      // too, so there only kills that ended hog workers early count.
      const kills = memoryLimit === 'ram' ? oomDelta : killedWorkers > 0 ? oomDelta : 0;
      values['memOomKills'] = kills;
      values['memLimitHeld'] = kills > 0 ? 1 : 0;
    } else {
      throw new TargetError(driver.name, 'limits', `the memory hog: ${h.reason ?? `ended ${h.status} without its report`}`, {
        tail: [...lines(h), ...h.tail].slice(-20),
      });
    }

    // CPU.
    const cpus = ctx.limits.cpus ?? DEFAULT_LIMITS_CPUS;
    const workers = cpuWorkersFor(cpus);
    values['cpuDemandCpus'] = workers;
    const quota = appliedLimits(driver, { ...ctx.limits, cpus }).cpus;
    if (quota !== undefined) values['cpuQuotaCpus'] = quota;
    const argv = [STRESS_NG, '--cpu', String(workers), '--timeout', `${PHASE_S}s`, '--metrics-brief'];
    const busy = await driver.launch({ job: { kind: 'exec', argv }, limits: { ...ctx.limits, cpus }, signal: ctx.signal, workloadCpu: true });
    const c = await busy.result;
    if (c.status !== 'ok')
      throw new TargetError(driver.name, 'limits', `the CPU busy loop: ${c.reason ?? c.status}`, { tail: [...lines(c), ...c.tail].slice(-20) });
    let inside;
    try {
      inside = parseStressNgMetrics(lines(c), 'cpu');
    } catch (e) {
      if (!(e instanceof ParseError)) throw e;
      throw new TargetError(driver.name, 'limits', e.message, { cause: e, tail: lines(c).slice(-20) });
    }
    values['cpuInsideCpus'] = (inside.userMs + inside.systemMs) / inside.realMs;
    // The workload's host CPU from the agent's ready to its end of the job, as the driver read it.
    const w = c.workloadCpu;
    const hostCpus = w !== undefined && w.windowMs > 0 ? w.hostCpuMs / w.windowMs : undefined;
    if (cpuAccounting === 'guest') values['cpuQuotaDeliveredCpus'] = values['cpuInsideCpus'];
    else if (hostCpus !== undefined) values['cpuQuotaDeliveredCpus'] = hostCpus;
    else throw new TargetError(driver.name, 'limits', "the driver reported no workload CPU (ready to the job's end) for the busy loop");

    const outcome: SampleOutcome = {
      status: 'ok',
      values,
      timeline: c.timeline,
      accounting: c.accounting,
      extra: {
        ...c.extra,
        hog: {
          status: h.status,
          workersEndedEarly: killedWorkers,
          reason: h.reason,
          exitCode: h.exitCode,
          accounting: h.accounting,
          timeline: h.timeline,
          probe: probe && Object.fromEntries(probe),
        },
        cpu: {
          workers,
          wallMs: w?.windowMs,
          hostCpuMs: w?.hostCpuMs,
          qemuHostCpus: cpuAccounting === 'guest' ? hostCpus : undefined,
          stressNg: inside,
          rusage: c.rusage,
        },
      },
    };
    return outcome;
  },
};
