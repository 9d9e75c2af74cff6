/**
 * `tsbench calibrate SCENARIO… --targets LIST`: A/A calibration of the gate on
 * this host. Runs the same `tsbench run` --repeats times (each a fresh
 * process, so every run prepares its targets anew, as separate nights do),
 * or reads such runs with --from, and writes calibration.json for
 * `compare --calibration`: per scenario × target × metric the gate's false
 * alarms, the minimum detectable effect at --runs samples, and a threshold
 * (reports/compare/calibration.ts).
 */
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { execa } from 'execa';
import { UsageError, describeError } from '../../core/errors.js';
import { expandResultPaths, loadResult } from '../../core/load.js';
import { DEFAULT_ALPHA } from '../../reports/compare/index.js';
import { parseAlpha, parseThresholds } from '../../reports/compare/thresholds.js';
import { calibrate, calibrationText } from '../../reports/compare/calibrate.js';
import { nonNegativeInt, positiveInt } from '../options.js';
import { defaultOutDir, writeOutput } from '../results.js';

interface CalibrateFlags {
  targets?: string;
  image?: string;
  runs?: number;
  warmup?: number;
  repeats: number;
  out?: string;
  output?: string;
  from?: string[];
  threshold?: string[];
  alpha?: string;
  seed: number;
  cpus?: string;
  memory?: string;
}

/** The default number of A/A runs: three pairs between runs. */
export const DEFAULT_REPEATS = 3;

const CLI = fileURLToPath(new URL('../main.js', import.meta.url));

function repeats(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 2)
    throw new InvalidArgumentError('--repeats must be a whole number ≥ 2 (A/A needs two runs at least), e.g. --repeats 3');
  return Number(value);
}

/** One `tsbench run` of the A/A set, as a child process; its progress goes to stderr. Returns its exit code. */
async function runOnce(scenarios: string[], flags: CalibrateFlags, out: string): Promise<number> {
  const args = ['run', ...scenarios, '--targets', flags.targets as string, '--out', out, '--seed', String(flags.seed)];
  if (flags.image !== undefined) args.push('--image', flags.image);
  if (flags.runs !== undefined) args.push('--runs', String(flags.runs));
  if (flags.warmup !== undefined) args.push('--warmup', String(flags.warmup));
  if (flags.cpus !== undefined) args.push('--cpus', flags.cpus);
  if (flags.memory !== undefined) args.push('--memory', flags.memory);
  // Ctrl-C reaches the child too (same process group): it saves what it has and exits 130; we wait for it.
  const ignore = (): void => {};
  process.on('SIGINT', ignore);
  process.on('SIGTERM', ignore);
  try {
    const r = await execa(process.execPath, [CLI, ...args], { reject: false, stdin: 'ignore', stdout: 'ignore', stderr: 'inherit' });
    return r.exitCode ?? 1;
  } finally {
    process.off('SIGINT', ignore);
    process.off('SIGTERM', ignore);
  }
}

async function calibrateCommand(scenarios: string[], flags: CalibrateFlags): Promise<number> {
  const alpha = flags.alpha === undefined ? DEFAULT_ALPHA : parseAlpha(flags.alpha);
  const thresholds = parseThresholds(flags.threshold ?? []);
  let paths: string[];
  let outFile = flags.output;
  if (flags.from !== undefined) {
    if (scenarios.length > 0 || flags.targets !== undefined) {
      throw new UsageError('calibrate: --from reads runs already made; give either --from RESULTS… or SCENARIO… --targets LIST, not both');
    }
    paths = await expandResultPaths(flags.from);
  } else {
    if (scenarios.length === 0 || flags.targets === undefined) {
      throw new UsageError(
        'calibrate: name the scenarios and --targets to run (e.g. tsbench calibrate startup --targets native,container --runs 10), or pass --from RESULTS…',
      );
    }
    const dir = resolve(flags.out ?? `${defaultOutDir()}-calibrate`);
    try {
      await mkdir(dir, { recursive: true });
    } catch (e) {
      throw new UsageError(`--out: cannot create ${dir} (${describeError(e)}); pass a writable directory`);
    }
    paths = [];
    for (let k = 1; k <= flags.repeats; k++) {
      const out = join(dir, `aa-${k}`);
      process.stderr.write(`tsbench calibrate: A/A run ${k} of ${flags.repeats} → ${out}\n`);
      const code = await runOnce(scenarios, flags, out);
      if (code !== 0) {
        process.stderr.write(`tsbench calibrate: run ${k} exited ${code}; no calibration written\n`);
        return code;
      }
      paths.push(join(out, 'results.json'));
    }
    outFile ??= join(dir, 'calibration.json');
  }
  const loaded = [];
  for (const p of paths) loaded.push(await loadResult(p));
  const calibration = calibrate(loaded, { thresholds, alpha, seed: flags.seed });
  const json = `${JSON.stringify(calibration, null, 2)}\n`;
  if (outFile === undefined) {
    process.stderr.write(calibrationText(calibration));
    process.stdout.write(json);
    return 0;
  }
  await writeOutput(outFile, json, '-o');
  process.stdout.write(`${calibrationText(calibration)}\ncalibration: ${outFile} (use it with tsbench compare --calibration ${outFile})\n`);
  return 0;
}

export function registerCalibrateCommand(program: Command, setExit: (code: number) => void): void {
  program
    .command('calibrate')
    .description(
      "A/A calibration of compare on this host: run the same targets --repeats times (or read such runs with --from) and report per metric the gate's false alarms, the minimum detectable effect at --runs samples and a threshold; writes calibration.json for compare --calibration",
    )
    .argument('[scenario...]', 'the scenarios to run, as for run (not with --from)')
    .option('-t, --targets <list>', 'the targets to run, as for run')
    .option('--image <name>', 'as for run: the image of every target named without @IMAGE')
    .option('-r, --runs <n>', "measured samples per target in each run: the gate's sample size (default: per scenario)", positiveInt('--runs', '10'))
    .option('-w, --warmup <n>', 'warmup samples per target, not recorded (default: per scenario)', nonNegativeInt('--warmup', '3'))
    .option('--cpus <n>', 'as for run')
    .option('--memory <size>', 'as for run')
    .addOption(new Option('--repeats <k>', 'A/A runs to make (at least 2)').default(DEFAULT_REPEATS).argParser(repeats))
    .option('--out <dir>', 'where the runs go, each in aa-<k>/ (default: results/<timestamp>-calibrate)')
    .option('-o, --output <file>', 'the calibration file (default: calibration.json in --out; with --from: stdout, the table on stderr)')
    .option('--from <results...>', 'calibrate from runs already made (results.json files or directories) instead of running')
    .option('--threshold <pct>', 'as for compare: the thresholds whose false alarms are counted (repeatable; default 5%)', (v: string, prev: string[] = []) => [
      ...prev,
      v,
    ])
    .option('--alpha <p>', 'as for compare: the significance level (default: 0.01)')
    .addOption(new Option('--seed <n>', 'seed of the runs and of the bootstrap CIs').default(1).argParser(nonNegativeInt('--seed', '1')))
    .action(async (scenarios: string[], flags: CalibrateFlags) => setExit(await calibrateCommand(scenarios, flags)));
}
