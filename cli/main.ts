#!/usr/bin/env node
/**
 * The tsbench command line. Exit codes: 0 success; 1 a target or scenario failed
 * while running (the others still ran and were saved), or a requested target was
 * unavailable without --allow-missing; 2 usage errors; 130 interrupted.
 */
import { Command, CommanderError, Option } from 'commander';
import { createDriver, listTargets, parseTargets, type Driver, DEFAULT_IMAGE, IMAGE_NAMES, imageWords, type ImageName } from '../drivers/index.js';
import { UsageError, describeError } from '../core/errors.js';
import { DEFAULT_MEMORY_BYTES } from '../core/defaults.js';
import { withInterrupts } from '../core/exit.js';
import { MiB } from '../core/units.js';
import { registerCompareCommand } from './commands/compare.js';
import { registerHistoryCommand } from './commands/history.js';
import { registerCalibrateCommand } from './commands/calibrate.js';
import { registerCleanCommand } from './commands/clean.js';
import { registerReportCommand } from './commands/report.js';
import { registerVerifyCommand } from './commands/verify.js';
import { execCommand, type ExecFlags } from './commands/exec.js';
import { ENVIRONMENT, debugFromEnv } from './env.js';
import { registerImageCommands } from './commands/image.js';
import { givenSize, imageName, nonNegativeInt, positiveInt, positiveNumber, size } from './options.js';
import { probeAll } from '../bench/runner.js';
import { DEFAULT_MAX_RUNS } from './until-decided.js';
import { listScenarios } from '../bench/scenarios/index.js';
import { EXIT, driverOptions, runCommand, type RunFlags } from './run.js';
import { registerReproduceCommand } from './commands/reproduce.js';
import { toolVersion } from '../core/version.js';

export { EXIT };

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
    return {
      name: t.name,
      image: driver?.imageName,
      description: t.description,
      available: p?.available ?? false,
      reason: p?.reason ?? '',
      details: p?.details,
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
      '--syscall-round-ms <ms>',
      'syscall: milliseconds of each of the 5 measured rounds (after a warm-up round) of each call type (default 50)',
      positiveInt('--syscall-round-ms', '50'),
    )
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
  registerVerifyCommand(program, setExit);
  registerReproduceCommand(program, setExit);
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
