/**
 * `tsbench verify REPORT.html|RESULTS.json`: recomputes every figure and verdict
 * from the samples the file holds (reports/verify.ts). Exit 0: consistent; 1:
 * the differences, one line each (a figure, a claim, or an embedded file whose
 * bytes no longer match the SHA-256 the page states); 2: bad input, one line
 * (not a tsbench page or result, a newer schema, embedded data missing or corrupt).
 */
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { UsageError, describeError } from '../../core/errors.js';
import { verifyText } from '../../reports/verify.js';

/** The text of a report page or results file named on the command line; a one-line UsageError when it cannot be read. */
export async function readPageOrResults(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new UsageError(`${path}: no such file; pass a report.html or results.json written by tsbench`);
    if (code === 'EISDIR') throw new UsageError(`${path}: is a directory; pass its report.html or results.json`);
    throw new UsageError(`${path}: cannot read (${describeError(e)})`);
  }
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
