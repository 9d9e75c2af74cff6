/**
 * `cpu`: a fixed amount of CPU work, and what it costs on each target (claims
 * C2 and C11). The job is `sysbench cpu --cpu-max-prime=N --events=E --time=0
 * --threads=T run`: E events, each testing the numbers up to N for primality,
 * on T threads, T being the matched vCPU count (`--cpus`, default 1, rounded up).
 * Every target gets the same CPUs and memory (`matchedLimits`): a cgroup quota
 * for containers, vCPUs and RAM for VMs; native runs unconfined with T threads.
 *
 * Time (C2): `workMs` is sysbench's own "total time", measured inside the
 * instance around the work only, so a VM's boot is not counted as CPU slowness.
 * Under TCG the guest's clocksource is the host's TSC at the rate drivers/qemu
 * passes (see drivers/qemu/host.ts), so guest-measured seconds are host seconds;
 * the tests check that workMs fits inside the host's ready-to-exit time.
 *
 * Host CPU (C11): `hostCpuMs` is user+system CPU time the host spent on the whole
 * instance, from the driver's accounting at exit: the agent and sysbench
 * natively (getrusage of the launcher's children), the instance's cgroup for a
 * container, the qemu process (all its threads) for a VM — the latter includes
 * booting and shutting down the guest. `hostCpuMsWork` is the host CPU of the
 * workload alone, as the driver contract reports it (`InstanceResult.workloadCpu`):
 * the driver's own accounting from the agent's `ready` to its `end` of the job —
 * a container's cgroup, a VM's qemu process (so the boot and the shutdown are left
 * out), natively the kernel's rusage of sysbench. The `ready` reading is taken a
 * few milliseconds after the work has begun, so it errs towards less CPU, by at
 * most those milliseconds.
 */
import { DEFAULT_CPUS } from '../../core/defaults.js';
import { TargetError } from '../../core/errors.js';
import { ParseError, parseSysbenchCpu } from './parsers/sysbench.js';
import { MATCHED_LIMITS, matchedLimits, sampleFrom, type Scenario, type ScenarioOptions } from './types.js';

/** Events of the fixed work: about 0.6 s natively on one core of a 2020s x86 CPU. @default 2000 */
export const DEFAULT_CPU_EVENTS = 2000;
/** sysbench's --cpu-max-prime: the work of one event. @default 10000 */
export const DEFAULT_CPU_MAX_PRIME = 10000;

const SYSBENCH = '/usr/bin/sysbench';

/** A positive integer scenario option, or the default; throws on anything else. */
export function intOption(options: ScenarioOptions, key: string, fallback: number): number {
  const v = options[key];
  if (v === undefined) return fallback;
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n <= 0) throw new Error(`scenario option ${key} must be a positive integer, not ${String(v)}`);
  return n;
}

function sysbenchArgv(events: number, maxPrime: number, threads: number): string[] {
  return [SYSBENCH, 'cpu', `--cpu-max-prime=${maxPrime}`, `--events=${events}`, '--time=0', `--threads=${threads}`, 'run'];
}

export const cpu: Scenario = {
  name: 'cpu',
  description: `fixed CPU work: sysbench cpu, E events of primes up to N on T threads (T = matched vCPUs, --cpus, default ${DEFAULT_CPUS}); time to finish and host CPU spent`,
  metrics: [
    {
      name: 'workMs',
      unit: 'ms',
      better: 'lower',
      description: "wall time of the fixed work, sysbench's own total time inside the instance (no boot)",
      headline: true,
    },
    { name: 'eventsPerS', unit: 'events/s', better: 'higher', description: "sysbench's events per second over the fixed work" },
    {
      name: 'hostCpuMs',
      unit: 'ms',
      better: 'lower',
      description:
        'host CPU time (user+system) of the whole instance: process times natively, cgroup CPU for containers, the qemu process for VMs (boot included)',
    },
    { name: 'hostCpuPerEventUs', unit: 'µs', better: 'lower', description: 'hostCpuMs × 1000 / events' },
    {
      name: 'hostCpuMsWork',
      unit: 'ms',
      better: 'lower',
      description:
        "host CPU time of the workload alone: the driver's accounting from the agent's ready to its end of the job (cgroup for containers, the qemu process for VMs: no boot or shutdown; natively sysbench's rusage)",
    },
  ],
  defaults: { runs: 5, warmup: 1 },
  parameters: (options) => ({
    tool: 'sysbench cpu',
    events: intOption(options, 'cpuEvents', DEFAULT_CPU_EVENTS),
    cpuMaxPrime: intOption(options, 'cpuMaxPrime', DEFAULT_CPU_MAX_PRIME),
    threads: `matched vCPUs: --cpus rounded up, default ${DEFAULT_CPUS}`,
    limits: MATCHED_LIMITS,
  }),
  async sample(driver, ctx) {
    const events = intOption(ctx.options, 'cpuEvents', DEFAULT_CPU_EVENTS);
    const maxPrime = intOption(ctx.options, 'cpuMaxPrime', DEFAULT_CPU_MAX_PRIME);
    const limits = matchedLimits(ctx.limits);
    const threads = Math.ceil(limits.cpus);
    const instance = await driver.launch({
      job: { kind: 'exec', argv: sysbenchArgv(events, maxPrime, threads) },
      limits,
      signal: ctx.signal,
      workloadCpu: true,
    });
    const r = await instance.result;
    if (r.status !== 'ok') throw new TargetError(driver.name, 'cpu', r.reason ?? `sysbench ended ${r.status}`, { tail: [...r.stderr, ...r.tail].slice(-20) });
    let parsed;
    try {
      parsed = parseSysbenchCpu(r.stdout);
    } catch (e) {
      if (!(e instanceof ParseError)) throw e;
      throw new TargetError(driver.name, 'cpu', e.message, { cause: e, tail: [...r.stdout, ...r.stderr].slice(-20) });
    }
    if (parsed.events !== events)
      throw new TargetError(driver.name, 'cpu', `sysbench ran ${parsed.events} events, not the ${events} asked for`, { tail: r.stdout.slice(-20) });
    const values: Record<string, number> = { workMs: parsed.totalTimeMs, eventsPerS: parsed.eventsPerS };
    const { cpuUserMs, cpuSystemMs } = r.accounting;
    if (cpuUserMs !== undefined && cpuSystemMs !== undefined) {
      const hostCpuMs = cpuUserMs + cpuSystemMs;
      values['hostCpuMs'] = hostCpuMs;
      values['hostCpuPerEventUs'] = (hostCpuMs * 1000) / events;
    }
    if (r.workloadCpu !== undefined) values['hostCpuMsWork'] = r.workloadCpu.hostCpuMs;
    const s = sampleFrom(r, values);
    return { ...s, extra: { ...s.extra, threads, workloadCpu: r.workloadCpu } };
  },
};
