/**
 * One interrupted run, as test/interrupts.test.ts and scripts/interrupt-soak.mjs
 * both do it: start `tsbench run` as a real process, wait for its first saved
 * sample (or, with `when: 'io-scratch'`, for its io scratch directory to be
 * recorded), wait a random moment more, send the signal, then `tsbench clean`
 * and look for anything left (test/helpers/leftovers.ts: the run's traces, and the
 * parent cgroups no run owns left empty) and at results.json (core/schema.ts ResultSchema).
 */
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { ResultSchema } from '../../core/schema.js';
import { cgroupMounts } from '../../drivers/linux/cgroups.js';
import { stateRoot } from '../../drivers/ownership.js';
import { savedSamples, tsbench, tsbenchBackground, waitForSamples } from './cli.js';
import { safeReaddir, settled, settledLeftovers, strayParents, tempEntries } from './leftovers.js';

/** The seeded generator of core/stats.ts (mulberry32), so a failing sequence can be replayed from its seed. */
export { seededRandom as seeded } from '../../core/stats.js';

export interface InterruptCase {
  scenario: 'startup' | 'density' | 'io' | 'net';
  target: string;
  signal: 'SIGINT' | 'SIGTERM' | 'SIGKILL';
  /**
   * When the random delay starts: after the first saved sample, once the io scratch directory is recorded,
   * or once the run has made a network namespace (the net scenario). @default 'sample'
   */
  when?: 'sample' | 'io-scratch' | 'netns';
}

export interface InterruptOutcome {
  case: InterruptCase;
  delayMs: number;
  /** Whether the moment it waited for came before its timeout. */
  reached: boolean;
  exitCode: number | undefined;
  exitSignal: string | undefined;
  /** What `tsbench clean` removed. */
  swept: string[];
  /** What was left after the clean (must be empty). */
  leftovers: string[];
  /** What a SIGINT/SIGTERM run left before any sweep (must be empty: it cleans up itself). */
  leftBeforeSweep: string[];
  /** results.json: 'valid', 'absent' (killed before the first write) or the schema's complaint. */
  results: 'valid' | 'absent' | string;
  samples: number;
  stderr: string;
}

/** The smallest arguments that still run each scenario. */
export function runArgs(c: InterruptCase): string[] {
  // More rounds than can finish before the signal: 30 native startups end in well under a second,
  // and a run that completes first would test nothing (each round also rewrites results.json).
  const sizes =
    c.scenario === 'io'
      ? ['--io-size', '8M', '--runs', '2']
      : c.scenario === 'net'
        ? ['--net-time', '1', '--runs', '2']
        : c.scenario === 'density'
          ? ['--instances', '2', '--runs', '1000']
          : ['--runs', '1000'];
  return ['run', c.scenario, '--targets', c.target, '--warmup', '0', ...sizes];
}

/** Whether the run (pid) has a network namespace of its own in /run/netns (drivers/linux/network.ts names them `tsbench-<pid>-…`). */
function netnsMade(pid: number): boolean {
  try {
    return readdirSync('/run/netns').some((n) => n.startsWith(`tsbench-${pid}-`));
  } catch {
    return false;
  }
}

/**
 * Where the run's (pid) latest recorded cgroup (drivers/ownership.ts records, relative to every cgroup mount) exists
 * now, as full paths: an instance's, while it is there; [] before the first and between two
 * (test/sweep-parents.test.ts kills a run at both moments).
 */
export function liveInstanceCgroups(pid: number, mounts: readonly string[] = cgroupMounts()): string[] {
  for (const id of safeReaddir(stateRoot())) {
    if (!id.startsWith(`${pid}-`)) continue;
    let text: string;
    try {
      text = readFileSync(join(stateRoot(), id, 'resources'), 'utf8');
    } catch {
      continue;
    }
    const last = text
      .split('\n')
      .filter((l) => l.includes('"kind":"cgroup"'))
      .at(-1);
    try {
      const r = JSON.parse(last ?? '') as { path: string };
      return mounts.map((m) => join(m, r.path)).filter((p) => existsSync(p));
    } catch {
      return [];
    }
  }
  return [];
}

/** Whether the run (pid) has recorded an io scratch directory. */
function ioScratchRecorded(pid: number): boolean {
  try {
    for (const id of readdirSync(stateRoot())) {
      if (id.startsWith(`${pid}-`) && readFileSync(join(stateRoot(), id, 'resources'), 'utf8').includes('tsbench-io-')) return true;
    }
  } catch {
    // Not yet.
  }
  return false;
}

export async function interruptRun(c: InterruptCase, random: () => number, opts: { maxDelayMs?: number; waitMs?: number } = {}): Promise<InterruptOutcome> {
  const out = mkdtempSync(join(tmpdir(), 'tsbench-interrupt-out-'));
  const json = join(out, 'results.json');
  const baseline = tempEntries();
  const delayMs = Math.round(random() * (opts.maxDelayMs ?? 1500));
  const child = tsbenchBackground([...runArgs(c), '--out', out]);
  const pid = child.pid as number;
  const deadline = Date.now() + (opts.waitMs ?? 60_000);
  let exited = false;
  void child.then(() => (exited = true));
  let reached = false;
  if ((c.when ?? 'sample') === 'sample') {
    while (!exited && Date.now() < deadline && !reached) {
      await waitForSamples(json, 1, 100);
      reached = savedSamples(json) >= 1;
    }
  } else {
    const made = c.when === 'netns' ? netnsMade : ioScratchRecorded;
    while (!exited && Date.now() < deadline && !(reached = made(pid))) await delay(20);
  }
  await delay(delayMs);
  child.kill(c.signal);
  const r = await child;
  // With the parents no run owns (`tsbench`, `tsbench-oci`): a graceful exit removes them itself, a sweep after a SIGKILL.
  const leftBeforeSweep = c.signal === 'SIGKILL' ? [] : [...(await settledLeftovers(pid, { baseline })), ...(await settled(() => strayParents()))];
  const clean = await tsbench(['clean', '--json']);
  let swept: string[];
  try {
    swept = (JSON.parse(clean.stdout) as { removed: string[] }).removed;
  } catch {
    swept = [`unreadable clean output: ${clean.stdout} ${clean.stderr}`];
  }
  const leftovers = [...(await settledLeftovers(pid, { baseline })), ...(await settled(() => strayParents()))];
  let results: string = 'absent';
  let samples = 0;
  if (existsSync(json)) {
    try {
      const parsed = ResultSchema.safeParse(JSON.parse(readFileSync(json, 'utf8')));
      results = parsed.success ? 'valid' : parsed.error.message;
      if (parsed.success) samples = Math.max(0, ...parsed.data.scenarios.flatMap((s) => s.targets.map((t) => t.samples.length)));
    } catch (e) {
      results = `unreadable: ${String(e)}`;
    }
  }
  rmSync(out, { recursive: true, force: true });
  return {
    case: c,
    delayMs,
    reached,
    exitCode: r.exitCode,
    exitSignal: r.signal,
    swept,
    leftovers,
    leftBeforeSweep,
    results,
    samples,
    stderr: r.stderr,
  };
}
