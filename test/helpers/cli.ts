/** Runs the built CLI as a real process. */
import { AssertionError } from 'node:assert';
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { verifyText } from '../../reports/verify.js';

export const CLI = fileURLToPath(new URL('../../cli/main.js', import.meta.url));

/** The commands whose pages and results files every test checks with verify's own code as it gets them. */
const WRITERS = new Set(['run', 'report', 'reproduce', 'calibrate']);

/**
 * The report pages and results files a command's output names (absolute paths, as tsbench prints them), checked
 * with `tsbench verify`'s code: every figure and verdict a page or file of the suite shows must follow from its
 * samples, or the test that made it fails naming the differences.
 */
function verifyWritten(args: readonly string[], stdout: string): void {
  if (!WRITERS.has(args[0] ?? '')) return;
  const paths = new Set([...stdout.matchAll(/(\/[^\s'"]+(?:\/results\.json|\.html))(?=\s|$)/gm)].map((m) => m[1]!));
  for (const path of paths) {
    if (!existsSync(path)) continue;
    const outcome = verifyText(readFileSync(path, 'utf8'), path);
    if (outcome.differences.length > 0)
      throw new AssertionError({ message: `tsbench ${args.join(' ')} wrote ${path}, which verify finds inconsistent:\n${outcome.differences.join('\n')}` });
  }
}

/** Runs the CLI to its end; `env` adds to (or, with '', empties) this process's environment. */
export async function tsbench(args: string[], opts: { timeout?: number; env?: Record<string, string> } = {}) {
  const r = await execa(process.execPath, [CLI, ...args], {
    reject: false,
    timeout: opts.timeout ?? 120_000,
    stdin: 'ignore',
    ...(opts.env ? { env: opts.env } : {}),
  });
  if (typeof r.stdout === 'string' && (r.exitCode === 0 || r.exitCode === 1)) verifyWritten(args, r.stdout);
  return r;
}

export function tsbenchBackground(args: string[]): ResultPromise<{ reject: false; stdin: 'ignore' }> {
  return execa(process.execPath, [CLI, ...args], { reject: false, stdin: 'ignore' });
}

/** Samples saved so far in a result file that a run is writing: the most of any target; 0 before the first write. */
export function savedSamples(json: string): number {
  try {
    const doc = JSON.parse(readFileSync(json, 'utf8')) as { scenarios: { targets: { samples: unknown[] }[] }[] };
    return Math.max(0, ...doc.scenarios.flatMap((s) => s.targets.map((t) => t.samples.length)));
  } catch {
    return 0;
  }
}

/** Polls until the result file holds at least `n` samples of some target, or `timeoutMs` has passed. */
export async function waitForSamples(json: string, n: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (savedSamples(json) < n && Date.now() < deadline) await delay(25);
}
