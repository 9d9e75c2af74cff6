/**
 * `tsbench report RESULTS.json|DIR… [-o FILE] [--format html|md]`: the
 * published report of one or more runs. Everything is loaded and rendered
 * before anything is written, so a usage error (exit 2) never leaves half a
 * report. HTML goes to report.html unless -o says otherwise; Markdown goes to
 * stdout unless -o is given.
 */
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { reportFormats, reportWriter } from '../../reports/writers.js';
import type { ReportFormat } from '../../reports/writer.js';
import { expandResultPaths, loadResult, type LoadedResult } from '../../core/load.js';
import { outputFormat, writeOutput } from '../results.js';

/** The formats that hold several result files: html and md. */
export const REPORT_FORMATS = reportFormats('many');

interface ReportFlags {
  out?: string;
  format?: string;
}

/** The format asked for, else the one -o's extension names, else html. */
function pickFormat(flags: ReportFlags): ReportFormat {
  if (flags.format !== undefined) return outputFormat(flags.format, REPORT_FORMATS);
  return flags.out !== undefined && /\.(md|markdown)$/i.test(flags.out) ? 'md' : 'html';
}

async function reportCommand(args: string[], flags: ReportFlags): Promise<number> {
  const format = pickFormat(flags);
  const paths = await expandResultPaths(args);
  const results: LoadedResult[] = [];
  for (const p of paths) results.push(await loadResult(p));
  const text = reportWriter(format).render(results);
  const out = flags.out ?? (format === 'html' ? 'report.html' : undefined);
  if (out === undefined) {
    process.stdout.write(text);
    return 0;
  }
  await writeOutput(out, text, '-o', { atomic: true });
  process.stdout.write(`report: ${resolve(out)}\n`);
  return 0;
}

export function registerReportCommand(program: Command, setExit: (code: number) => void): void {
  program
    .command('report')
    .description('write the report of one or more runs: a self-contained HTML page (charts, claims) or a Markdown summary')
    .argument('<results...>', 'results.json files, or directories holding one (or holding run directories)')
    .option('-o, --out <file>', 'output file (default: report.html for html; stdout for md)')
    .addOption(new Option('--format <format>', `output format: ${REPORT_FORMATS.join(', ')} (default: html, or md when -o ends in .md)`))
    .action(async (args: string[], flags: ReportFlags) => setExit(await reportCommand(args, flags)));
}
