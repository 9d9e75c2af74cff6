/**
 * `tsbench run`'s wiring, shared by `run` and `reproduce`: a RunPlan (what to
 * measure: scenarios, targets, rounds, limits, scenario options, where to
 * write) is checked before anything is created (drivers made, preflight, the
 * output directory), then probed and run through bench/runner.ts with the
 * writers of cli/results.ts. `run` makes its plan from its flags; `reproduce`
 * from a results file, and looks at the probed host before the first sample.
 */
import { basename, resolve } from 'node:path';
import {
  bootId,
  latestVerdictThisBoot,
  createDriver,
  parseTargets,
  type Driver,
  type DriverOptions,
  type Limits,
  type Probe,
  IMAGE_NAMES,
  loadImage,
  type ImageName,
} from '../drivers/index.js';
import { toTable } from '../reports/table.js';
import { UsageError, describeError } from '../core/errors.js';
import { EXIT_INTERRUPTED, withInterrupts } from '../core/exit.js';
import type { Host } from '../core/schema.js';
import { driverOptionsFromEnv } from './env.js';
import { hostDimensions } from '../bench/host.js';
import type { GivenSize } from './options.js';
import { progressPrinter } from './progress.js';
import { ResultWriter, defaultOutDir, ensureDir, resultPaths, type ResultPaths } from './results.js';
import { probeAll, run, type RunOutcome } from '../bench/runner.js';
import { DEFAULT_MAX_RUNS, claimsDecided, untilDecidedLines } from './until-decided.js';
import type { NamedImage } from '../core/load.js';
import { resolveScenarios } from '../bench/scenarios/index.js';
import type { Given, Scenario, ScenarioOptions } from '../bench/scenarios/types.js';
import { MAX_NET_TIME_S, preflight, type RoundsPlan } from '../bench/preflight.js';

export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: EXIT_INTERRUPTED } as const;

export interface RunFlags {
  targets: string;
  image?: ImageName;
  runs?: number;
  warmup?: number;
  out?: string;
  json?: boolean;
  seed: number;
  allowMissing?: boolean;
  cpus?: number;
  memory?: GivenSize;
  machine?: DriverOptions['machine'];
  printCommand?: boolean;
  ioSize?: GivenSize;
  instances?: number;
  netTime?: number;
  syscallRoundMs?: number;
  untilDecided?: boolean;
  maxRuns?: number;
}

/** Driver options from the documented environment variables, overridden by the run's flags. */
export function driverOptions(flags: { machine?: DriverOptions['machine']; printCommand?: boolean }): DriverOptions {
  return {
    ...driverOptionsFromEnv(),
    ...(flags.machine !== undefined ? { machine: flags.machine } : {}),
    ...(flags.printCommand === true ? { printCommand: true } : {}),
  };
}

/** What a run measures and where it writes. */
export interface RunPlan {
  scenarios: Scenario[];
  /** targets in order, as the drivers are named (`TARGET@IMAGE`) */
  targets: string[];
  /** measured rounds of every scenario (else each scenario's own, or `perScenario`'s) */
  runs?: number;
  warmup?: number;
  /** rounds of each scenario by name, over `runs` and `warmup` (a reproduction takes each scenario's from the original) */
  perScenario?: ReadonlyMap<string, { runs: number; warmup: number }>;
  seed: number;
  limits: Limits;
  scenarioOptions: ScenarioOptions;
  options: DriverOptions;
  /** the flags as given, for preflight's messages */
  given: Given;
  /** the output directory as given (resolved here); results/<timestamp> when absent */
  out?: string;
  allowMissing: boolean;
  /** print the result JSON instead of the table, no progress */
  json: boolean;
  /** --until-decided with its cap */
  untilDecided?: { maxRuns: number };
  /** argv recorded in the result */
  command: string[];
}

/** What the run saw before its first sample: the probes and the host, for a reproduction to compare with its original. */
export interface BeforeSamples {
  host: Host;
  images: NamedImage[];
  probes: ReadonlyMap<string, Probe>;
  drivers: ReadonlyMap<string, Driver>;
}

export interface RunHooks {
  /** called after the probes, before any driver is prepared or sample taken */
  beforeSamples?: (seen: BeforeSamples) => void | Promise<void>;
}

export interface RunDone {
  code: number;
  paths: ResultPaths;
  outcome: RunOutcome;
}

/** The plan of `tsbench run`'s flags; throws a UsageError naming a bad one. */
export function planFromFlags(scenarioNames: string[], flags: RunFlags): RunPlan {
  const scenarios = resolveScenarios(scenarioNames);
  if (flags.maxRuns !== undefined && flags.untilDecided !== true) {
    throw new UsageError(`--max-runs caps --until-decided; pass --until-decided too (e.g. --until-decided --max-runs ${flags.maxRuns})`);
  }
  if (flags.netTime !== undefined && flags.netTime > MAX_NET_TIME_S) {
    throw new UsageError(
      `--net-time ${flags.netTime} is more than iperf3 measures for (at most ${MAX_NET_TIME_S} s); the largest that fits is --net-time ${MAX_NET_TIME_S}`,
    );
  }
  if (flags.untilDecided === true && flags.maxRuns !== undefined) {
    for (const sc of scenarios) {
      const runs = flags.runs ?? sc.defaults.runs;
      if (flags.maxRuns < runs) {
        throw new UsageError(
          `--max-runs ${flags.maxRuns} is below the ${runs} rounds ${sc.name} starts with${flags.runs === undefined ? ' (its default --runs)' : ' (--runs)'}; pass --max-runs ${runs} or more, or a smaller --runs`,
        );
      }
    }
  }
  return {
    scenarios,
    targets: parseTargets(flags.targets, flags.image),
    runs: flags.runs,
    warmup: flags.warmup,
    seed: flags.seed,
    limits: {
      ...(flags.cpus !== undefined ? { cpus: flags.cpus } : {}),
      ...(flags.memory !== undefined ? { memoryBytes: flags.memory.bytes } : {}),
    },
    scenarioOptions: {
      ...(flags.ioSize !== undefined ? { ioSizeBytes: flags.ioSize.bytes } : {}),
      ...(flags.instances !== undefined ? { instances: flags.instances } : {}),
      ...(flags.netTime !== undefined ? { netTimeS: flags.netTime } : {}),
      ...(flags.syscallRoundMs !== undefined ? { syscallRoundMs: flags.syscallRoundMs } : {}),
    },
    options: driverOptions(flags),
    given: {
      cpus: flags.cpus !== undefined ? String(flags.cpus) : undefined,
      memory: flags.memory?.given,
      ioSize: flags.ioSize?.given,
      instances: flags.instances !== undefined ? String(flags.instances) : undefined,
    },
    out: flags.out,
    allowMissing: flags.allowMissing === true,
    json: flags.json === true,
    untilDecided: flags.untilDecided === true ? { maxRuns: flags.maxRuns ?? DEFAULT_MAX_RUNS } : undefined,
    command: process.argv.slice(2),
  };
}

/**
 * Runs a plan: drivers are made and preflight refuses what this host cannot give before anything is created, then
 * the output directory, the probes, `hooks.beforeSamples`, and the rounds. Prints the table (or the JSON) and the
 * paths; the exit code is `tsbench run`'s.
 */
export async function executePlan(plan: RunPlan, hooks: RunHooks = {}): Promise<RunDone> {
  // Creating a driver creates nothing on the host; preflight refuses what this host cannot give before anything is.
  const drivers = new Map<string, Driver>();
  for (const name of plan.targets) drivers.set(name, await createDriver(name, plan.options));
  const outDir = resolve(plan.out ?? defaultOutDir());
  await preflight({
    scenarios: plan.scenarios,
    drivers,
    limits: plan.limits,
    options: plan.scenarioOptions,
    given: plan.given,
    rounds: { ...roundsOf(plan), out: outDir },
  });
  try {
    await ensureDir(outDir);
  } catch (e) {
    throw new UsageError(`--out: cannot create ${outDir} (${describeError(e)}); pass a writable directory`);
  }
  return withInterrupts((signal) => runWith(plan, drivers, outDir, hooks, signal));
}

/** The rounds a plan takes, scenario by scenario as the runner resolves them (bench/runner.ts), for preflight's `checkRounds`. */
export function roundsOf(plan: RunPlan): RoundsPlan {
  return {
    scenarios: plan.scenarios.map((sc) => {
      const own = plan.perScenario?.get(sc.name);
      return { name: sc.name, runs: own?.runs ?? plan.runs ?? sc.defaults.runs, warmup: own?.warmup ?? plan.warmup ?? sc.defaults.warmup };
    }),
    maxRuns: plan.untilDecided?.maxRuns,
    targets: plan.targets.length,
    given: { runs: plan.runs, warmup: plan.warmup, maxRuns: plan.untilDecided?.maxRuns },
  };
}

async function runWith(plan: RunPlan, drivers: Map<string, Driver>, outDir: string, hooks: RunHooks, signal: AbortSignal): Promise<RunDone> {
  const [probes, host] = await Promise.all([probeAll(drivers, signal), hostDimensions()]);
  const kvm = probes.get('kvm');
  if (kvm) host.kvm = { available: kvm.available, reason: kvm.reason || undefined };
  else {
    // Not asked for: record the verdict of this host boot's last probe, if there was one (no probe boot here).
    const cached = await latestVerdictThisBoot(await bootId()).catch(() => undefined);
    if (cached) host.kvm = { available: cached.available, reason: `${cached.reason ?? 'accelerator: kvm'} (probe of ${cached.probedAt}, cached)` };
  }
  for (const [name, p] of probes) {
    if (!p.available)
      process.stderr.write(`tsbench: target ${name} is unavailable: ${p.reason ?? 'no reason given'}${plan.allowMissing ? ' (skipped)' : ''}\n`);
  }

  const images = await imageInfo(drivers, plan.options);
  await hooks.beforeSamples?.({ host, images, probes, drivers });
  const paths = resultPaths(outDir);
  const writer = new ResultWriter(paths);
  const progress = progressPrinter(process.stderr);
  const quiet = plan.json;
  const outcome = await run({
    scenarios: plan.scenarios,
    drivers,
    runs: plan.runs,
    warmup: plan.warmup,
    perScenario: plan.perScenario,
    seed: plan.seed,
    limits: plan.limits,
    scenarioOptions: plan.scenarioOptions,
    machine: plan.options.machine,
    command: plan.command,
    host,
    images,
    probes,
    write: (r) => writer.write(r),
    append: (r) => writer.append(r),
    signal,
    onProgress: quiet ? undefined : progress.update,
    untilDecided: plan.untilDecided ? { maxRuns: plan.untilDecided.maxRuns, decide: claimsDecided } : undefined,
  });
  progress.clear();

  if (quiet) process.stdout.write(`${JSON.stringify(outcome.result, null, 2)}\n`);
  else {
    process.stdout.write(`${toTable(outcome.result)}\n`);
    const until = untilDecidedLines(outcome.result);
    if (until.length > 0) process.stdout.write(`\n${until.join('\n')}\n`);
    process.stdout.write(
      `\nresults: ${paths.json}\n         ${paths.csv}\n         ${writer.reportError ? `(no report: ${writer.reportError})` : paths.html}\n`,
    );
  }
  return { code: exitCode(outcome, plan, paths), paths, outcome };
}

function exitCode(outcome: RunOutcome, plan: RunPlan, paths: ResultPaths): number {
  if (outcome.cancelled) {
    process.stderr.write(`tsbench: ${outcome.result.interrupted ?? 'interrupted'}; the samples taken so far are in ${paths.json}\n`);
    return EXIT.interrupted;
  }
  if (outcome.failed.length > 0) return EXIT.failed;
  if (outcome.missing.length > 0 && !plan.allowMissing) {
    process.stderr.write(`tsbench: unavailable target(s) ${outcome.missing.join(', ')}; pass --allow-missing to accept that\n`);
    return EXIT.failed;
  }
  return EXIT.ok;
}

/** `tsbench run`. */
export async function runCommand(scenarioNames: string[], flags: RunFlags): Promise<number> {
  return (await executePlan(planFromFlags(scenarioNames, flags))).code;
}

/** How VMs receive each image, for the result. */
const PACKING: Record<ImageName, (files: { rootDisk: string; initramfs: string }) => string> = {
  lean: (f) => `read-only ext4 root disk (${basename(f.rootDisk)}); ${basename(f.initramfs)} for the stock kernel's modules`,
  debian: () => "ext4 root disk booted writable through a QEMU snapshot overlay; Debian's initrd (initramfs-tools); systemd",
};

/**
 * Every image the run's targets use, for the result (lean first); none that is not built (native needs
 * none). A run of native alone records the lean image when it is built, as runs did before images had names.
 */
async function imageInfo(drivers: ReadonlyMap<string, Driver>, options: DriverOptions): Promise<NamedImage[]> {
  // Targets that run no image (native) name none.
  const used = new Set([...drivers.values()].flatMap((d) => (d.imageName !== undefined ? [d.imageName] : [])));
  if (used.size === 0) used.add('lean');
  const out: NamedImage[] = [];
  for (const name of IMAGE_NAMES.filter((n) => used.has(n))) {
    const image = await loadImage({ ...options.guestKernel, image: name }).catch(() => undefined);
    if (!image) continue;
    out.push({
      name,
      boot: image.boot,
      hash: image.hash,
      packing: PACKING[name](image),
      rootfsBytes: image.sizes.rootfsBytes,
      rootDiskBytes: image.sizes.rootDiskBytes,
      rootDiskAllocatedBytes: image.sizes.rootDiskAllocatedBytes,
      initramfsBytes: image.sizes.initramfsBytes,
      kernelBytes: image.sizes.kernelBytes,
      modulesBytes: image.sizes.modulesBytes,
      kernelRelease: image.kernel.version,
    });
  }
  return out;
}
