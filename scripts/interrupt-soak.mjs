#!/usr/bin/env node
/**
 * Interrupt soak (docs/reliability.md): N random interrupts across scenarios and
 * targets, each a real `tsbench run` stopped with SIGINT, SIGTERM or SIGKILL at a
 * random moment after its first saved sample (io: once its scratch directory is
 * recorded), then `tsbench clean`; tallies what was left and whether results.json
 * was readable. The same code as test/interrupts.test.ts (test/helpers/interrupt.ts).
 *
 *   npm run build && node scripts/interrupt-soak.mjs [N=50] [SEED]
 *
 * Run it as root, alone on the machine (tests share /tmp/tsbench-test.lock):
 *   flock /tmp/tsbench-test.lock node scripts/interrupt-soak.mjs 50
 * Exit 1 when anything was left or a results file was unreadable.
 */
import { cpus, release } from 'node:os';
import { interruptRun, seeded } from '../dist/test/helpers/interrupt.js';

const n = Number(process.argv[2] ?? 50);
const seed = Number(process.argv[3] ?? Date.now() % 1_000_000);
const random = seeded(seed);
const pick = (list) => list[Math.floor(random() * list.length)];

const POOL = [
  ...['native', 'container', 'runc', 'tcg'].map((target) => ({ scenario: 'startup', target })),
  ...['native', 'container', 'runc'].map((target) => ({ scenario: 'density', target })),
  ...['native', 'container'].map((target) => ({ scenario: 'io', target, when: 'io-scratch' })),
];
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGKILL'];

console.log(`interrupt soak: ${n} runs, seed ${seed}, ${cpus().length} CPUs, Linux ${release()}`);
const tally = { interrupts: 0, reached: 0, leftoversAfterSweep: 0, leftBeforeSweepGraceful: 0, unreadable: 0, absent: 0, swept: 0, bySignal: {} };
const started = Date.now();
for (let i = 1; i <= n; i++) {
  const c = { ...pick(POOL), signal: pick(SIGNALS) };
  const o = await interruptRun(c, random, { maxDelayMs: 1500, waitMs: 60_000 });
  tally.interrupts++;
  if (o.reached) tally.reached++;
  tally.leftoversAfterSweep += o.leftovers.length;
  tally.leftBeforeSweepGraceful += o.leftBeforeSweep.length;
  tally.swept += o.swept.length;
  if (o.results === 'absent') tally.absent++;
  else if (o.results !== 'valid') tally.unreadable++;
  tally.bySignal[c.signal] = (tally.bySignal[c.signal] ?? 0) + 1;
  const bad = o.leftovers.length > 0 || (o.results !== 'valid' && o.results !== 'absent');
  console.log(
    `${String(i).padStart(3)} ${c.scenario}/${c.target} ${c.signal} +${o.delayMs}ms ${o.reached ? '' : '(before first sample) '}exit=${o.exitCode ?? o.exitSignal} samples=${o.samples} swept=${o.swept.length} left=${o.leftovers.length} results=${o.results.slice(0, 60)}${bad ? ' <-- ' + o.leftovers.join('; ') : ''}${o.leftBeforeSweep.length > 0 ? ' (left by the graceful exit, swept: ' + o.leftBeforeSweep.join('; ') + ')' : ''}`,
  );
}
console.log(`\nseed ${seed}, ${((Date.now() - started) / 1000).toFixed(0)} s`);
console.log(JSON.stringify(tally, null, 2));
process.exitCode = tally.leftoversAfterSweep > 0 || tally.unreadable > 0 ? 1 : 0;
