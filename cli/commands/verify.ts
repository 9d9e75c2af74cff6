/**
 * `tsbench verify REPORT.html|RESULTS.json`: recomputes every figure and verdict
 * from the samples the file holds (reports/verify.ts). Exit 0: consistent; 1:
 * the differences, one line each (a figure, a claim, or an embedded file whose
 * bytes no longer match the SHA-256 the page states); 2: bad input, one line
 * (not a tsbench page or result, a newer schema, embedded data missing or corrupt).
 */
import type { Command } from 'commander';
import { readInputFile } from '../../core/input.js';
import { verifyText } from '../../reports/verify.js';

/** The text of a report page or results file named on the command line; a one-line UsageError when it cannot be read (core/input.ts). */
export async function readPageOrResults(path: string): Promise<string> {
  const bytes = await readInputFile(path, {
    fix: 'pass a report.html or results.json written by tsbench',
    directoryFix: 'pass its report.html or results.json',
  });
  return bytes.toString('utf8');
}

export async function verifyCommand(path: string): Promise<number> {
  const text = await readPageOrResults(path);
  const outcome = verifyText(text, path);
  for (const n of outcome.notes) process.stderr.write(`tsbench: note: ${n}\n`);
  if (outcome.differences.length === 0) {
    process.stdout.write(`${path}: consistent: ${outcome.checked}\n`);
    return 0;
  }
  for (const d of outcome.differences) process.stdout.write(`${d}\n`);
  process.stdout.write(`${path}: ${outcome.differences.length} difference${outcome.differences.length === 1 ? '' : 's'} (${outcome.checked})\n`);
  return 1;
}

export function registerVerifyCommand(program: Command, setExit: (code: number) => void): void {
  program
    .command('verify')
    .description('recompute every figure and verdict of a report page or results file from its samples: exit 0 consistent, 1 differences (listed), 2 bad input')
    .argument('<file>', 'a report.html (tsbench run or report) or a results.json')
    .action(async (path: string) => setExit(await verifyCommand(path)));
}
