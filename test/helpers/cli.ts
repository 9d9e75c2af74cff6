/** Runs the built CLI as a real process. */
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';

export const CLI = fileURLToPath(new URL('../../bench/cli.js', import.meta.url));

export function tsbench(args: string[], opts: { timeout?: number } = {}) {
  return execa(process.execPath, [CLI, ...args], { reject: false, timeout: opts.timeout ?? 120_000, stdin: 'ignore' });
}

export function tsbenchBackground(args: string[]): ResultPromise<{ reject: false; stdin: 'ignore' }> {
  return execa(process.execPath, [CLI, ...args], { reject: false, stdin: 'ignore' });
}
