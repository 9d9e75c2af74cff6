#!/usr/bin/env node
/**
 * The tsbench command line. Exit codes: 0 success; 1 a target or scenario failed
 * while running (the others still ran and were saved), or a requested target was
 * unavailable without --allow-missing; 2 usage errors; 130 interrupted.
 */
import { basename, resolve } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { bootId } from '../drivers/qemu/host.js';
import { latestVerdictThisBoot } from '../drivers/qemu/verdict.js';
import { createDriver, listTargets, parseTargets } from '../drivers/registry.js';
import type { Driver, DriverOptions, Limits } from '../drivers/types.js';
import { toTable } from '../reports/table.js';
import { UsageError, describeError } from '../core/errors.js';
import { DEFAULT_MEMORY_BYTES } from '../core/defaults.js';
import { EXIT_INTERRUPTED, withInterrupts } from '../core/exit.js';
import { MiB } from '../core/units.js';
import { registerCompareCommand } from './commands/compare.js';
import { registerHistoryCommand } from './commands/history.js';
import { registerCalibrateCommand } from './commands/calibrate.js';
import { registerCleanCommand } from './commands/clean.js';
import { registerReportCommand } from './commands/report.js';
import { execCommand, type ExecFlags } from './commands/exec.js';
import { ENVIRONMENT, debugFromEnv, driverOptionsFromEnv } from './env.js';
import { hostDimensions } from '../bench/host.js';
import { registerImageCommands } from './commands/image.js';
import { DEFAULT_IMAGE, IMAGE_NAMES, imageWords, loadImage, type ImageName } from '../drivers/image/index.js';
import { givenSize, imageName, nonNegativeInt, positiveInt, positiveNumber, size, type GivenSize } from './options.js';
import { progressPrinter } from './progress.js';
import { ResultWriter, defaultOutDir, ensureDir, resultPaths } from './results.js';
import { probeAll, run } from '../bench/runner.js';
import { DEFAULT_MAX_RUNS, claimsDecided, untilDecidedLines } from './until-decided.js';
import type { NamedImage } from '../core/load.js';
import { listScenarios, resolveScenarios } from '../bench/scenarios/index.js';
import type { Scenario, ScenarioOptions } from '../bench/scenarios/types.js';
import { preflight } from '../bench/preflight.js';
import { toolVersion } from '../core/version.js';

export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: EXIT_INTERRUPTED } as const;

interface RunFlags {
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
  untilDecided?: boolean;
  maxRuns?: number;
}

/** Driver options from the documented environment variables, overridden by the run's flags. */
function driverOptions(flags: { machine?: DriverOptions['machine']; printCommand?: boolean }): DriverOptions {
  return {
    ...driverOptionsFromEnv(),
    ...(flags.machine !== undefined ? { machine: flags.machine } : {}),
    ...(flags.printCommand === true ? { printCommand: true } : {}),
  };
}

async function runCommand(scenarioNames: string[], flags: RunFlags): Promise<number> {
  const scenarios = resolveScenarios(scenarioNames);
  if (flags.maxRuns !== undefined && flags.untilDecided !== true) {
    throw new UsageError(`--max-runs caps --until-decided; pass --until-decided too (e.g. --until-decided --max-runs ${flags.maxRuns})`);
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
  const targetNames = parseTargets(flags.targets, flags.image);
  const options = driverOptions(flags);
  const limits: Limits = {
    ...(flags.cpus !== undefined ? { cpus: flags.cpus } : {}),
    ...(flags.memory !== undefined ? { memoryBytes: flags.memory.bytes } : {}),
  };
  const scenarioOptions: ScenarioOptions = {
    ...(flags.ioSize !== undefined ? { ioSizeBytes: flags.ioSize.bytes } : {}),
    ...(flags.instances !== undefined ? { instances: flags.instances } : {}),
    ...(flags.netTime !== undefined ? { netTimeS: flags.netTime } : {}),
  };
  // Creating a driver creates nothing on the host; preflight refuses what this host cannot give before anything is.
  const drivers = new Map<string, Driver>();
  for (const name of targetNames) drivers.set(name, await createDriver(name, options));
  await preflight({
    scenarios,
    drivers,
    limits,
    options: scenarioOptions,
    given: {
      ...(flags.cpus !== undefined ? { cpus: String(flags.cpus) } : {}),
      ...(flags.memory !== undefined ? { memory: flags.memory.given } : {}),
      ...(flags.ioSize !== undefined ? { ioSize: flags.ioSize.given } : {}),
      ...(flags.instances !== undefined ? { instances: String(flags.instances) } : {}),
    },
  });
  const outDir = resolve(flags.out ?? defaultOutDir());
  try {
    await ensureDir(outDir);
  } catch (e) {
    throw new UsageError(`--out: cannot create ${outDir} (${describeError(e)}); pass a writable directory`);
  }
  return withInterrupts((signal) => runWith(scenarios, drivers, options, limits, scenarioOptions, outDir, flags, signal));
}

async function runWith(
  scenarios: Scenario[],
  drivers: Map<string, Driver>,
  options: DriverOptions,
  limits: Limits,
  scenarioOptions: ScenarioOptions,
  outDir: string,
  flags: RunFlags,
  signal: AbortSignal,
): Promise<number> {
  const [probes, host] = await Promise.all([probeAll(drivers, signal), hostDimensions()]);
  const kvm = probes.get('kvm');
  if (kvm) host.kvm = { available: kvm.available, ...(kvm.reason ? { reason: kvm.reason } : {}) };
  else {
    // Not asked for: record the verdict of this host boot's last probe, if there was one (no probe boot here).
    const cached = await latestVerdictThisBoot(await bootId()).catch(() => undefined);
    if (cached) host.kvm = { available: cached.available, reason: `${cached.reason ?? 'accelerator: kvm'} (probe of ${cached.probedAt}, cached)` };
  }
  for (const [name, p] of probes) {
    if (!p.available)
      process.stderr.write(`tsbench: target ${name} is unavailable: ${p.reason ?? 'no reason given'}${flags.allowMissing ? ' (skipped)' : ''}\n`);
  }

  const images = await imageInfo(drivers, options);
  const paths = resultPaths(outDir);
  const writer = new ResultWriter(paths);
  const progress = progressPrinter(process.stderr);
  const quiet = flags.json === true;
  const outcome = await run({
    scenarios,
    drivers,
    ...(flags.runs !== undefined ? { runs: flags.runs } : {}),
    ...(flags.warmup !== undefined ? { warmup: flags.warmup } : {}),
    seed: flags.seed,
    limits,
    scenarioOptions,
    command: process.argv.slice(2),
    host,
    images,
    probes,
    write: (r) => writer.write(r),
    signal,
    ...(quiet ? {} : { onProgress: progress.update }),
    ...(flags.untilDecided === true ? { untilDecided: { maxRuns: flags.maxRuns ?? DEFAULT_MAX_RUNS, decide: claimsDecided } } : {}),
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
  if (outcome.cancelled) {
    process.stderr.write(`tsbench: ${outcome.result.interrupted ?? 'interrupted'}; the samples taken so far are in ${paths.json}\n`);
    return EXIT.interrupted;
  }
  if (outcome.failed.length > 0) return EXIT.failed;
  if (outcome.missing.length > 0 && !flags.allowMissing) {
    process.stderr.write(`tsbench: unavailable target(s) ${outcome.missing.join(', ')}; pass --allow-missing to accept that\n`);
    return EXIT.failed;
  }
  return EXIT.ok;
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
      ...(image.sizes.rootDiskAllocatedBytes !== undefined ? { rootDiskAllocatedBytes: image.sizes.rootDiskAllocatedBytes } : {}),
      initramfsBytes: image.sizes.initramfsBytes,
      kernelBytes: image.sizes.kernelBytes,
      modulesBytes: image.sizes.modulesBytes,
      kernelRelease: image.kernel.version,
    });
  }
  return out;
}

interface TargetsFlags {
  image?: ImageName;
  json?: boolean;
  targets?: string;
}

/**
 * `tsbench targets`: every target running the lean image (or `--image`'s: `TARGET@IMAGE`), probed.
 * Targets of other images are only named by default: probing a Debian VM target boots it.
 */
async function targetsCommand(flags: TargetsFlags): Promise<number> {
  const image = flags.image ?? DEFAULT_IMAGE;
  // parseTargets names each target for the image (native keeps its name: it runs none).
  const all = listTargets().map((t) => ({ ...t, name: parseTargets(t.name, image)[0] ?? t.name }));
  // --targets: just these (named as `run` takes them), so that no VM is booted to list the containers
  const only = flags.targets === undefined ? undefined : new Set(parseTargets(flags.targets, image));
  const infos = only === undefined ? all : all.filter((t) => only.has(t.name));
  const options = driverOptions({});
  const drivers = new Map<string, Driver>();
  for (const t of infos) drivers.set(t.name, await createDriver(t.name, options));
  // A probe may boot a VM: an interrupt exits at once, and the exit hooks kill what was launched.
  const probes = await withInterrupts((signal) => probeAll(drivers, signal), { first: 'exit' });
  await Promise.all([...drivers.values()].map((d) => d.teardown().catch(() => {})));
  const rows = infos.map((t) => {
    const p = probes.get(t.name);
    const driver = drivers.get(t.name);
    const runs = driver?.imageName;
    return {
      name: t.name,
      ...(runs ? { image: runs } : {}),
      description: t.description,
      available: p?.available ?? false,
      reason: p?.reason ?? '',
      ...(p?.details ? { details: p.details } : {}),
    };
  });
  if (flags.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
  else {
    const w = Math.max(...rows.map((r) => r.name.length));
    for (const r of rows) process.stdout.write(`${r.name.padEnd(w)}  ${r.available ? 'yes' : 'no '}  ${r.description}${r.reason ? ` — ${r.reason}` : ''}\n`);
    process.stdout.write(`\n${imagesNote(image)}\n`);
  }
  return EXIT.ok;
}

/** What `tsbench targets` says under its list about the images: which one these targets run, and how to name the others. */
function imagesNote(listed: ImageName): string {
  const others = IMAGE_NAMES.filter((n) => n !== listed);
  return [
    `The targets above but native (the host's own binaries) run the ${listed} image: ${imageWords(listed)}.`,
    ...others.map(
      (n) =>
        `TARGET@${n} runs the ${n} image instead: ${imageWords(n)} (e.g. --targets container@${n}, or --image ${n} for every target named without @); \`tsbench targets --image ${n}\` probes them.`,
    ),
  ].join('\n');
}

function scenariosCommand(flags: { json?: boolean }): number {
  const all = listScenarios().map((s) => ({
    name: s.name,
    description: s.description,
    metrics: s.metrics.map((m) => ({ name: m.name, unit: m.unit, better: m.better, description: m.description })),
    defaults: s.defaults,
  }));
  if (flags.json) process.stdout.write(`${JSON.stringify(all, null, 2)}\n`);
  else {
    for (const s of all) {
      process.stdout.write(`${s.name} — ${s.description} (default ${s.defaults.runs} runs, ${s.defaults.warmup} warmup)\n`);
      for (const m of s.metrics) process.stdout.write(`    ${m.name} [${m.unit}, ${m.better} is better]: ${m.description}\n`);
    }
  }
  return EXIT.ok;
}

export function buildProgram(setExit: (code: number) => void): Command {
  const program = new Command('tsbench')
    .description('measure what an isolation layer costs: the same workload natively, in a container and in a VM')
    .version(toolVersion())
    .showHelpAfterError(false)
    .enablePositionalOptions()
    .exitOverride()
    .configureOutput({ outputError: (str, write) => write(`${str.replace(/^error: /, 'tsbench: ').replace(/\n+$/, '')}\n`) });
  const width = Math.max(...Object.keys(ENVIRONMENT).map((k) => k.length));
  program.addHelpText(
    'after',
    `\nEnvironment:\n${Object.entries(ENVIRONMENT)
      .map(([k, v]) => `  ${k.padEnd(width)}  ${v}`)
      .join('\n')}`,
  );

  program
    .command('run')
    .description('run scenarios on targets and write results (JSON, CSV) under --out')
    .argument(
      '<scenario...>',
      `scenarios to run: ${listScenarios()
        .map((s) => s.name)
        .join(', ')}`,
    )
    .requiredOption(
      '-t, --targets <list>',
      `comma-separated targets: ${listTargets()
        .map((t) => t.name)
        .join(', ')}; any but native also as TARGET@IMAGE (${IMAGE_NAMES.join(', ')})`,
    )
    .option('--image <name>', `the image of every target named without @IMAGE: ${IMAGE_NAMES.join(' or ')} (default lean)`, imageName('--image'))
    .option('-r, --runs <n>', 'measured samples per target (default: per scenario)', positiveInt('--runs', '30'))
    .option('-w, --warmup <n>', 'warmup samples per target, not recorded (default: per scenario)', nonNegativeInt('--warmup', '3'))
    .option('-o, --out <dir>', 'output directory (default: results/<timestamp>)')
    .option('--json', 'print the result JSON on stdout instead of the table; no progress')
    .addOption(new Option('--seed <n>', 'seed of the bootstrap resampling').default(1).argParser(nonNegativeInt('--seed', '1')))
    .option('--allow-missing', 'exit 0 even when a requested target is unavailable (it is skipped either way)')
    .option('--cpus <n>', 'CPU limit of every instance: cgroup quota, VM vCPUs', positiveNumber('--cpus', '1'))
    .option(
      '--memory <size>',
      `memory limit of every instance: cgroup limit, VM RAM (VM default ${DEFAULT_MEMORY_BYTES / MiB}M)`,
      givenSize('--memory', '512M'),
    )
    .addOption(new Option('--machine <type>', 'QEMU machine type of the VM targets').choices(['microvm', 'pc', 'q35']))
    .option('--print-command', 'print each VM’s exact qemu command line on stderr (to time it with hyperfine)')
    .option('--io-size <size>', 'io: size of the file fio works on (default 256M)', givenSize('--io-size', '256M'))
    .option('--instances <n>', 'density: instances started at once (default: sized for the host per target)', positiveInt('--instances', '50'))
    .option('--net-time <s>', 'net: seconds of each measurement: iperf3 each way, sockperf (default 2)', positiveInt('--net-time', '2'))
    .option(
      '--until-decided',
      'after --runs rounds, keep adding rounds until every claim part the targets can decide is confirmed or refuted (judged each time the samples grew by a tenth), at most --max-runs',
    )
    .option(
      '--max-runs <n>',
      `with --until-decided: the most measured rounds per scenario (default ${DEFAULT_MAX_RUNS}, never below its --runs)`,
      positiveInt('--max-runs', '200'),
    )
    .action(async (names: string[], flags: RunFlags) => setExit(await runCommand(names, flags)));

  program
    .command('exec')
    .description('run one command of the image in a fresh instance of a target, streaming its output')
    .argument('<command...>', 'the command and its arguments (put them after --)')
    .requiredOption(
      '-t, --target <name>',
      `the target: ${listTargets()
        .map((t) => t.name)
        .join(', ')}; any but native also as TARGET@IMAGE (${IMAGE_NAMES.join(', ')})`,
    )
    .option('--image <name>', `the image of a target named without @IMAGE: ${IMAGE_NAMES.join(' or ')} (default lean)`, imageName('--image'))
    .option('--cpus <n>', 'CPU limit: cgroup quota, VM vCPUs', positiveNumber('--cpus', '1'))
    .option('--memory <size>', 'memory limit: cgroup limit, VM RAM', size('--memory', '256M'))
    .option('-v, --volume <host:guest>', 'bind a host directory into the instance (repeatable)', (v: string, prev: string[] = []) => [...prev, v])
    .passThroughOptions()
    .action(async (argv: string[], flags: ExecFlags) => setExit(await execCommand(argv, flags, driverOptions({}))));

  program
    .command('targets')
    .description('list every target, whether it is available here, and why not')
    .option(
      '--image <name>',
      `list the targets running this image instead (${IMAGE_NAMES.join(', ')}; default lean); probing a VM target boots it`,
      imageName('--image'),
    )
    .option('-t, --targets <list>', 'probe only these (comma-separated, as run takes them)')
    .option('--json', 'machine-readable output')
    .action(async (flags: TargetsFlags) => setExit(await targetsCommand(flags)));

  program
    .command('scenarios')
    .description('list every scenario with its metrics')
    .option('--json', 'machine-readable output')
    .action((flags: { json?: boolean }) => setExit(scenariosCommand(flags)));

  registerImageCommands(program, setExit);
  registerReportCommand(program, setExit);
  registerCompareCommand(program, setExit);
  registerHistoryCommand(program, setExit);
  registerCalibrateCommand(program, setExit);
  registerCleanCommand(program, setExit);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram((c) => (code = c));
  try {
    await program.parseAsync(argv);
    return code;
  } catch (e) {
    if (e instanceof CommanderError) {
      // Help and version exit 0; every other commander error is a usage error already printed.
      return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (e instanceof UsageError) {
      process.stderr.write(`tsbench: ${e.message}\n`);
      return EXIT.usage;
    }
    process.stderr.write(`tsbench: ${describeError(e).replace(/^\[tsbench\] /, '')}\n`);
    if (debugFromEnv()) console.error(e);
    return EXIT.failed;
  }
}

const code = await main(process.argv);
process.exitCode = code;
