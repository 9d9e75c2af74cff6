/** Runs the built CLI as a real process. */
import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';

export const CLI = fileURLToPath(new URL('../../cli/main.js', import.meta.url));

/** `env` adds to (or, with '', empties) this process's environment. */
export function tsbench(args: string[], opts: { timeout?: number; env?: Record<string, string> } = {}) {
  return execa(process.execPath, [CLI, ...args], { reject: false, timeout: opts.timeout ?? 120_000, stdin: 'ignore', ...(opts.env ? { env: opts.env } : {}) });
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
