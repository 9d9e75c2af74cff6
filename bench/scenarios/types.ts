/**
 * A scenario says what to run on each target, which metrics one sample yields,
 * and how many samples to take by default.
 */
import { DEFAULT_CPUS, DEFAULT_MEMORY_BYTES } from '../../core/defaults.js';
import { describeBytes } from '../../core/units.js';
import type { Driver, InstanceResult, Limits } from '../../drivers/index.js';
import type { HostFacts } from '../facts.js';
import type { MetricSpec, Sample } from '../../core/schema.js';

export interface SampleContext {
  /** Round index (warmup rounds have negative indices). */
  round: number;
  limits: Limits;
  signal: AbortSignal;
  /** Scenario options given on the command line. */
  options: ScenarioOptions;
}

/** Options some scenarios take (`--io-size`, `--instances`, …). */
export interface ScenarioOptions {
  [key: string]: unknown;
}

/** The run's flags as the user typed them (`--memory 1k`), so that messages echo them in their own unit. */
export interface Given {
  cpus?: string;
  memory?: string;
  ioSize?: string;
  instances?: string;
}

/** What a scenario's preflight sees: the run's targets, limits and options, and the host's facts. */
export interface PreflightContext {
  drivers: ReadonlyMap<string, Driver>;
  limits: Limits;
  options: ScenarioOptions;
  given: Given;
  host: HostFacts;
}

/** One sample: metric values plus what explains them. */
export type SampleOutcome = Omit<Sample, 'round'>;

export interface Scenario {
  readonly name: string;
  /** One line for `tsbench scenarios`. */
  readonly description: string;
  readonly metrics: readonly MetricSpec[];
  /** Default measured rounds and warmup rounds; `--runs` / `--warmup` override. */
  readonly defaults: { runs: number; warmup: number };
  /** The parameters recorded with the results. */
  parameters(options: ScenarioOptions): Record<string, unknown>;
  /**
   * Checks, before anything is created, that the host can give what the scenario will take on every
   * target (disk space, instances); throws a UsageError naming the flag and what fits. Creates nothing.
   */
  preflight?(ctx: PreflightContext): Promise<void>;
  /** Takes one sample on one target. Throwing marks the target errored for this scenario. */
  sample(driver: Driver, ctx: SampleContext): Promise<SampleOutcome>;
}

/** How `matchedLimits` chooses, as recorded in a scenario's parameters. */
export const MATCHED_LIMITS = `matched: --cpus/--memory, default ${DEFAULT_CPUS} CPU and ${describeBytes(DEFAULT_MEMORY_BYTES)}, on every target`;

/**
 * The limits every target of a resource scenario is asked for, so that they compare
 * fairly: the run's `--cpus`/`--memory`, else core/defaults.ts's (1 CPU, 256 MiB: a VM's
 * default RAM, so that every target gets what a VM gets). Each driver applies them its
 * own way (`appliedLimits`): containers as cgroup limits, VMs as vCPUs and RAM; native
 * runs unconfined, but its workload uses the same thread count.
 */
export function matchedLimits(limits: Limits): Required<Pick<Limits, 'cpus' | 'memoryBytes'>> & Limits {
  return { ...limits, cpus: limits.cpus ?? DEFAULT_CPUS, memoryBytes: limits.memoryBytes ?? DEFAULT_MEMORY_BYTES };
}

/** Sample fields every scenario records from an instance result. */
export function sampleFrom(r: InstanceResult, values: Record<string, number>): SampleOutcome {
  return { status: r.status, reason: r.reason, values, timeline: r.timeline, accounting: r.accounting, extra: r.extra };
}
