/**
 * Interrupts at a random moment (issue 14): real `tsbench run` processes on
 * native, container, runc, runsc and tcg, stopped with SIGINT, SIGTERM or SIGKILL after
 * their first saved sample (io: once its scratch directory is recorded), each
 * followed by `tsbench clean`. Nothing may be left on the host and every
 * results.json must be valid. The moments come from a seed, printed; replay one
 * with TSBENCH_TEST_SEED=<seed>. scripts/interrupt-soak.mjs does the same 50 times.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createDriver } from '../drivers/registry.js';
import { interruptRun, seeded, type InterruptCase } from './helpers/interrupt.js';

const seed = Number(process.env['TSBENCH_TEST_SEED'] ?? Date.now() % 1_000_000);
console.log(`interrupts: seed ${seed} (TSBENCH_TEST_SEED=${seed} replays it)`);
const random = seeded(seed);

const CASES: InterruptCase[] = [
  { scenario: 'startup', target: 'native', signal: 'SIGINT' },
  { scenario: 'density', target: 'native', signal: 'SIGKILL' },
  { scenario: 'startup', target: 'container', signal: 'SIGTERM' },
  { scenario: 'io', target: 'container', signal: 'SIGINT', when: 'io-scratch' },
  { scenario: 'density', target: 'container', signal: 'SIGKILL' },
  { scenario: 'startup', target: 'runc', signal: 'SIGKILL' },
  { scenario: 'io', target: 'native', signal: 'SIGKILL', when: 'io-scratch' },
  { scenario: 'startup', target: 'tcg', signal: 'SIGKILL' },
  // gVisor: its Sentry runs in a session of its own, outside the launcher's group (the sweep finds it in the cgroup).
  { scenario: 'startup', target: 'runsc', signal: 'SIGINT' },
  { scenario: 'startup', target: 'runsc', signal: 'SIGKILL' },
];

const available = new Map<string, string | undefined>();
async function unavailable(target: string): Promise<string | undefined> {
  if (!available.has(target)) {
    const d = await createDriver(target, {});
    const p = await d.probe();
    await d.teardown();
    available.set(target, p.available ? undefined : p.reason);
  }
  return available.get(target);
}

for (const c of CASES) {
  // A sandbox's probe and first sample take seconds (a Sentry boots), more on a loaded machine.
  const slow = c.target === 'runsc';
  test(
    `${c.scenario} on ${c.target} interrupted by ${c.signal} leaves nothing after a sweep and a valid results file`,
    { timeout: slow ? 180_000 : 90_000 },
    async (t) => {
      const why = await unavailable(c.target);
      if (why !== undefined) return t.skip(`${c.target} unavailable: ${why}`);
      const o = await interruptRun(c, random, { maxDelayMs: 800, waitMs: slow ? 120_000 : 30_000 });
      t.diagnostic(`delay ${o.delayMs} ms, reached ${o.reached}, exit ${o.exitCode ?? o.exitSignal}, ${o.samples} sample(s), swept ${o.swept.length}`);
      assert.ok(o.reached, `the run got to its first sample / scratch dir: ${o.stderr}`);
      assert.deepEqual(o.leftovers, [], 'nothing left after tsbench clean');
      if (c.signal !== 'SIGKILL') {
        assert.deepEqual(o.leftBeforeSweep, [], 'a graceful interrupt cleans up by itself');
        assert.equal(o.exitCode, 130, o.stderr);
      }
      assert.ok(o.results === 'valid' || (c.signal === 'SIGKILL' && o.results === 'absent'), `results.json: ${o.results}`);
      if (c.signal !== 'SIGKILL') assert.equal(o.results, 'valid');
    },
  );
}
