/**
 * `tsbench compare BASE.json HEAD.json`: the statistical regression gate.
 * Everything is loaded, checked and computed before anything is printed, so a
 * usage error (exit 2) never follows half a report. Exit 1 on a regression.
 */
import { writeFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { compareResults, DEFAULT_ALPHA } from '../compare/index.js';
import { parseThresholds } from '../compare/thresholds.js';
import { UsageError, describeError } from '../errors.js';
import { loadResult } from '../load.js';
import { nonNegativeInt } from '../options.js';
import { COMPARE_FORMATS, formatComparison, type CompareFormat } from '../../reports/compare.js';

interface CompareFlags {
  threshold: string[];
  alpha: string;
  format: string;
  seed: number;
  out?: string;
}

function parseAlpha(text: string): number {
  const a = Number(text);
  if (!/^\d*\.?\d+(e-?\d+)?$/i.test(text) || !(a > 0 && a < 1)) throw new UsageError(`--alpha must be a number between 0 and 1, e.g. --alpha 0.01 (got '${text}')`);
  return a;
}

async function compareCommand(basePath: string, headPath: string, flags: CompareFlags): Promise<number> {
  if (!(COMPARE_FORMATS as readonly string[]).includes(flags.format)) {
    throw new UsageError(`--format: unknown format '${flags.format}'; valid formats: ${COMPARE_FORMATS.join(', ')}`);
  }
  const alpha = parseAlpha(flags.alpha);
  const thresholds = parseThresholds(flags.threshold);
  const [base, head] = [await loadResult(basePath), await loadResult(headPath)];
  const comparison = compareResults(base, head, { thresholds, alpha, seed: flags.seed });
  const text = formatComparison(comparison, flags.format as CompareFormat);
  if (flags.out !== undefined) {
    try {
      await writeFile(flags.out, text);
    } catch (e) {
      throw new UsageError(`--out: cannot write ${flags.out} (${describeError(e)}); pass a writable path`);
    }
  } else process.stdout.write(text);
  return comparison.exitCode;
}

export function registerCompareCommand(program: Command, setExit: (code: number) => void): void {
  program
    .command('compare')
    .description('compare two results: change of each median, a permutation-test p-value and a verdict; exit 1 on a regression')
    .argument('<base>', 'the baseline results.json (e.g. last night)')
    .argument('<head>', 'the results.json to judge')
    .option(
      '--threshold <pct>',
      'smallest relative change that counts: 5% for every metric, or metric=10%, scenario.metric=10%, scenario.target.metric=10% (repeatable; default 5%)',
      (v: string, prev: string[]) => [...prev, v],
      [] as string[],
    )
    .option('--alpha <p>', 'significance level of the permutation test', String(DEFAULT_ALPHA))
    .addOption(new Option('--format <format>', `output format: ${COMPARE_FORMATS.join(', ')}`).default('text'))
    .addOption(new Option('--seed <n>', 'seed of the bootstrap and permutation resampling').default(1).argParser(nonNegativeInt('--seed', '1')))
    .option('-o, --out <file>', 'write the output to a file instead of stdout')
    .action(async (basePath: string, headPath: string, flags: CompareFlags) => setExit(await compareCommand(basePath, headPath, flags)));
}
