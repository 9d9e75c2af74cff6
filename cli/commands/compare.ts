/**
 * `tsbench compare BASE.json HEAD.json`: the statistical regression gate.
 * Everything is loaded, checked and computed before anything is printed, so a
 * usage error (exit 2) never follows half a report. Exit 1 on a regression.
 */
import { Option, type Command } from 'commander';
import { compareResults, DEFAULT_ALPHA } from '../../reports/compare/index.js';
import { parseAlpha, parseThresholds, type Thresholds } from '../../reports/compare/thresholds.js';
import { parseCalibration, type Calibration } from '../../reports/compare/calibration.js';
import { readInputFile } from '../../core/input.js';
import { loadResult } from '../../core/load.js';
import { nonNegativeInt } from '../options.js';
import { COMPARE_FORMATS, formatComparison } from '../../reports/compare/render.js';
import { outputFormat, writeOutput } from '../results.js';

/** The gate's flags, shared by compare and reproduce. */
export interface GateFlags {
  threshold?: string[];
  alpha?: string;
  calibration?: string;
}

interface CompareFlags extends GateFlags {
  format: string;
  seed: number;
  out?: string;
}

/** Reads a calibration file for --calibration; a missing, odd or malformed one is a UsageError naming it. */
export async function readCalibration(path: string): Promise<Calibration> {
  const bytes = await readInputFile(path, { flag: '--calibration', fix: 'pass the calibration.json that tsbench calibrate wrote' });
  return parseCalibration(bytes.toString('utf8'), path);
}

/** The gate's settings from its flags: each bad one is a UsageError naming it. */
export async function gateOptions(flags: GateFlags): Promise<{
  thresholds: Thresholds;
  alpha: number;
  calibration?: { path: string; calibration: Calibration };
}> {
  const alpha = flags.alpha === undefined ? DEFAULT_ALPHA : parseAlpha(flags.alpha);
  const thresholds = parseThresholds(flags.threshold ?? []);
  if (flags.calibration === undefined) return { thresholds, alpha };
  return { thresholds, alpha, calibration: { path: flags.calibration, calibration: await readCalibration(flags.calibration) } };
}

/** Adds --threshold, --alpha and --calibration, the gate's flags. */
export function addGateOptions(cmd: Command): Command {
  return cmd
    .option(
      '--threshold <pct>',
      'smallest relative change that counts: 5% for every metric, or metric=10%, scenario.metric=10%, scenario.target.metric=10% (repeatable; default 5%)',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option('--alpha <p>', 'significance level of the Benjamini–Hochberg-adjusted p-values (default: 0.01)')
    .option(
      '--calibration <file>',
      'per-series thresholds from tsbench calibrate (its calibration.json) instead of the default; explicit --threshold rules still win',
    );
}

async function compareCommand(basePath: string, headPath: string, flags: CompareFlags): Promise<number> {
  const format = outputFormat(flags.format, COMPARE_FORMATS);
  const gate = await gateOptions(flags);
  const [base, head] = [await loadResult(basePath), await loadResult(headPath)];
  const comparison = compareResults(base, head, { ...gate, seed: flags.seed });
  const text = formatComparison(comparison, format);
  if (flags.out !== undefined) await writeOutput(flags.out, text, '--out');
  else process.stdout.write(text);
  return comparison.exitCode;
}

export function registerCompareCommand(program: Command, setExit: (code: number) => void): void {
  addGateOptions(
    program
      .command('compare')
      .description(
        'compare two results: change of each median with its CI, a Mann–Whitney p-value adjusted across series, and a verdict; exit 1 on a regression',
      )
      .argument('<base>', 'the baseline results.json (e.g. last night)')
      .argument('<head>', 'the results.json to judge'),
  )
    .addOption(new Option('--format <format>', `output format: ${COMPARE_FORMATS.join(', ')}`).default('text'))
    .addOption(
      new Option('--seed <n>', 'seed of the bootstrap resampling behind each change’s CI (the rank test needs none)')
        .default(1)
        .argParser(nonNegativeInt('--seed', '1')),
    )
    .option('-o, --out <file>', 'write the output to a file instead of stdout')
    .action(async (basePath: string, headPath: string, flags: CompareFlags) => setExit(await compareCommand(basePath, headPath, flags)));
}
