/**
 * `tsbench history DIR… -o trend.html`: every metric's median over a series of
 * results (e.g. a folder of nightly runs), as a self-contained HTML page,
 * Markdown or JSON. Everything is loaded and rendered before anything is written.
 */
import { InvalidArgumentError, Option, type Command } from 'commander';
import { CHANGE_SERIES, buildHistory, type ChangeSeries } from '../../reports/compare/history.js';
import { DEFAULT_ALPHA } from '../../reports/compare/index.js';
import { parseAlpha, parseThresholds } from '../../reports/compare/thresholds.js';
import { UsageError } from '../../core/errors.js';
import { expandResultPaths, loadResult } from '../../core/load.js';
import { nonNegativeInt } from '../options.js';
import { DEFAULT_MIN_SEGMENT } from '../../core/changepoints.js';

function minSegment(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 2) throw new InvalidArgumentError('--min-segment must be a whole number ≥ 2, e.g. --min-segment 3');
  return Number(value);
}
import { HISTORY_FORMATS, formatHistory } from '../../reports/compare/history-render.js';
import { outputFormat, writeOutput } from '../results.js';

interface HistoryFlags {
  out?: string;
  format: string;
  threshold?: string[];
  alpha?: string;
  seed: number;
  minSegment: number;
  changeSeries: string;
}

async function historyCommand(args: string[], flags: HistoryFlags): Promise<number> {
  const format = outputFormat(flags.format, HISTORY_FORMATS);
  if (!(CHANGE_SERIES as readonly string[]).includes(flags.changeSeries)) {
    throw new UsageError(`--change-series: unknown series '${flags.changeSeries}'; valid: ${CHANGE_SERIES.join(', ')}`);
  }
  const alpha = flags.alpha === undefined ? DEFAULT_ALPHA : parseAlpha(flags.alpha);
  const thresholds = parseThresholds(flags.threshold ?? []);
  const paths = await expandResultPaths(args);
  const loaded = [];
  for (const p of paths) loaded.push(await loadResult(p));
  const history = buildHistory(loaded, { thresholds, alpha, seed: flags.seed, minSegment: flags.minSegment, changeSeries: flags.changeSeries as ChangeSeries });
  const text = formatHistory(history, format);
  if (flags.out === undefined) {
    process.stdout.write(text);
    return 0;
  }
  await writeOutput(flags.out, text, '--out');
  const cps = history.series.reduce((n, s) => n + s.changePoints.length, 0);
  process.stderr.write(`history of ${history.runs.length} run(s), ${history.series.length} series, ${cps} change point(s): ${flags.out}\n`);
  return 0;
}

export function registerHistoryCommand(program: Command, setExit: (code: number) => void): void {
  program
    .command('history')
    .description(
      'medians of every metric over a series of results (oldest first by start time), with the steps compare would flag and the change points of each series, as an HTML trend page, Markdown or JSON',
    )
    .argument('<results...>', 'results.json files, or directories holding one or holding one per subdirectory (nightly/<date>/results.json)')
    .option('-o, --out <file>', 'write to this file (e.g. trend.html) instead of stdout')
    .addOption(new Option('--format <format>', `output format: ${HISTORY_FORMATS.join(', ')}`).default('html'))
    .option(
      '--threshold <pct>',
      'as for compare: the change between consecutive runs that is flagged (repeatable; default 5%)',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option('--alpha <p>', 'as for compare: significance level of each step, and of each change point (default: 0.01)')
    .addOption(new Option('--min-segment <n>', 'change points: fewest runs either side of one (at least 2)').default(DEFAULT_MIN_SEGMENT).argParser(minSegment))
    .addOption(
      new Option(
        '--change-series <what>',
        `change points: what of each run the detector reads: ${CHANGE_SERIES.join(' (each run its median) or ')} (all its samples)`,
      ).default('medians'),
    )
    .addOption(
      new Option('--seed <n>', 'seed of the bootstrap resampling behind each change’s CI (the rank test needs none)')
        .default(1)
        .argParser(nonNegativeInt('--seed', '1')),
    )
    .action(async (args: string[], flags: HistoryFlags) => setExit(await historyCommand(args, flags)));
}
