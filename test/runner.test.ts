import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { nextLook, run, type UntilDecided } from '../bench/runner.js';
import { claimsDecided } from '../cli/until-decided.js';
import { around, one } from './helpers/claims.js';
import { ResultSchema, type Host, type Result } from '../core/schema.js';
import { startup } from '../bench/scenarios/startup.js';
import type { Driver } from '../drivers/types.js';
import { MockDriver } from './helpers/mock-driver.js';
import { TEST_HOST } from './helpers/scenario.js';

const host: Host = TEST_HOST;

function drivers(...ds: MockDriver[]): Map<string, Driver> {
  return new Map(ds.map((d) => [d.name, d]));
}

async function runMock(ds: MockDriver[], runs: number, warmup: number, signal?: AbortSignal, untilDecided?: UntilDecided) {
  const writes: Result[] = [];
  const outcome = await run({
    scenarios: [startup],
    drivers: drivers(...ds),
    runs,
    warmup,
    seed: 1,
    limits: {},
    scenarioOptions: {},
    command: ['run', 'startup'],
    host,
    write: async (r) => {
      writes.push(structuredClone(r));
    },
    ...(signal ? { signal } : {}),
    ...(untilDecided ? { untilDecided } : {}),
  });
  return { outcome, writes };
}

describe('the runner', () => {
  test('interleaves targets round by round', async () => {
    const log: string[] = [];
    await runMock([new MockDriver('native', { log }), new MockDriver('b', { log }), new MockDriver('c', { log })], 2, 1);
    assert.deepEqual(log, ['native:1', 'b:1', 'c:1', 'native:2', 'b:2', 'c:2', 'native:3', 'b:3', 'c:3']);
  });

  test('drops warmup samples and keeps exactly the requested runs', async () => {
    const log: string[] = [];
    const { outcome } = await runMock([new MockDriver('native', { log })], 3, 2);
    const t = outcome.result.scenarios[0]?.targets[0];
    assert.ok(t);
    assert.equal(t.state, 'completed');
    // Launches 1 and 2 were warmups: the kept samples are launches 3, 4, 5.
    assert.deepEqual(
      t.samples.map((s) => s.values.toExitMs),
      [3, 4, 5],
    );
    assert.deepEqual(
      t.samples.map((s) => s.round),
      [0, 1, 2],
    );
    assert.equal(t.stats.toExitMs?.median, 4);
    assert.equal(t.stats.toReadyMs?.median, 2);
  });

  test('a failing target gets its reason and the others go on', async () => {
    const log: string[] = [];
    const a = new MockDriver('native', { log });
    const b = new MockDriver('b', { log, failAt: 2 });
    const c = new MockDriver('c', { log });
    const { outcome } = await runMock([a, b, c], 4, 0);
    const [ta, tb, tc] = outcome.result.scenarios[0]?.targets ?? [];
    assert.equal(tb?.state, 'errored');
    assert.match(tb?.error ?? '', /\[b\] startup: boom at launch 2/);
    assert.deepEqual(tb?.errorTail, ['last words']);
    assert.equal(tb?.samples.length, 1);
    assert.equal(ta?.samples.length, 4);
    assert.equal(tc?.samples.length, 4);
    assert.deepEqual(outcome.failed, ['b']);
    assert.equal(b.launches, 2, 'a failed target is not launched again');
    assert.deepEqual([a.tornDown, b.tornDown, c.tornDown], [1, 1, 1]);
  });

  test('an unavailable target is skipped with its reason and never launched', async () => {
    const log: string[] = [];
    const gone = new MockDriver('gone', { log, unavailable: 'not installed' });
    const { outcome } = await runMock([new MockDriver('native', { log }), gone], 2, 0);
    assert.deepEqual(outcome.missing, ['gone']);
    assert.equal(gone.launches, 0);
    assert.equal(gone.prepared, 0);
    const t = outcome.result.scenarios[0]?.targets[1];
    assert.equal(t?.state, 'skipped');
    assert.equal(t?.error, 'not installed');
  });

  test('writes a valid result after every round, complete only at the end', async () => {
    const log: string[] = [];
    const { writes } = await runMock([new MockDriver('native', { log }), new MockDriver('b', { log })], 3, 1);
    assert.ok(writes.length >= 4, `only ${writes.length} writes`);
    for (const w of writes) ResultSchema.parse(w);
    assert.deepEqual(
      writes.map((w) => w.complete),
      [...writes.slice(1).map(() => false), true],
    );
    const sampleCounts = writes.map((w) => w.scenarios[0]?.targets[0]?.samples.length ?? 0);
    assert.deepEqual(
      [...sampleCounts].sort((x, y) => x - y),
      sampleCounts,
      'samples only accumulate',
    );
  });

  test('computes the ratio of each target to native', async () => {
    const log: string[] = [];
    const { outcome } = await runMock([new MockDriver('native', { log }), new MockDriver('b', { log })], 3, 0);
    const b = outcome.result.scenarios[0]?.targets[1];
    assert.equal(b?.ratioToNative.toExitMs?.ratio, 1);
    assert.equal(outcome.result.scenarios[0]?.targets[0]?.ratioToNative.toExitMs, undefined);
  });

  test('an aborted run stops, marks itself incomplete and still tears down', async () => {
    const log: string[] = [];
    const controller = new AbortController();
    const a = new MockDriver('native', { log });
    const origLaunch = a.launch.bind(a);
    a.launch = async () => {
      if (a.launches === 2) controller.abort(new Error('SIGINT'));
      return origLaunch();
    };
    const { outcome } = await runMock([a], 10, 0, controller.signal);
    assert.equal(outcome.cancelled, true);
    assert.equal(outcome.result.complete, false);
    assert.equal(outcome.result.interrupted, 'SIGINT');
    assert.equal(outcome.result.scenarios[0]?.targets[0]?.state, 'cancelled');
    assert.equal(outcome.result.scenarios[0]?.targets[0]?.samples.length, 2);
    assert.equal(a.tornDown, 1);
  });
});

describe('sampling until decided', () => {
  test('goes on past --runs, looking each time the samples grew by a tenth, and stops at the first look that is decided', async () => {
    const looks: number[] = [];
    const log: string[] = [];
    const { outcome } = await runMock([new MockDriver('native', { log }), new MockDriver('b', { log })], 10, 1, undefined, {
      maxRuns: 100,
      decide: (_r, sc) => {
        const n = sc.targets[0]?.samples.length ?? 0;
        looks.push(n);
        return { decided: n >= 14, pending: n >= 14 ? [] : ['C0 a part'] };
      },
    });
    assert.deepEqual(looks, [10, 11, 13, 15]);
    const sc = outcome.result.scenarios[0];
    assert.deepEqual(sc?.untilDecided, { maxRuns: 100, rounds: 15, looks: 4, decided: true, pending: [] });
    assert.deepEqual(
      sc?.targets.map((t) => [t.state, t.samples.length]),
      [
        ['completed', 15],
        ['completed', 15],
      ],
    );
    assert.equal(log.length, 2 * 16, 'interleaved as ever, one warmup round');
    assert.equal(outcome.result.options.maxRuns, 100);
    ResultSchema.parse(outcome.result);
  });

  test('stops at maxRuns and records what is still undecided', async () => {
    const { outcome } = await runMock([new MockDriver('native', { log: [] })], 10, 0, undefined, {
      maxRuns: 12,
      decide: () => ({ decided: false, pending: ['C10 little extra startup (tcg): about 400 samples per target would decide it'] }),
    });
    assert.deepEqual(outcome.result.scenarios[0]?.untilDecided, {
      maxRuns: 12,
      rounds: 12,
      looks: 3,
      decided: false,
      pending: ['C10 little extra startup (tcg): about 400 samples per target would decide it'],
    });
    assert.equal(outcome.result.complete, true);
  });

  test('looks come every tenth more samples: after 100, at 110', () => {
    assert.deepEqual([nextLook(1), nextLook(10), nextLook(100)], [2, 11, 110]);
  });

  test("the claims judge lists the inconclusive parts the scenario's targets can decide, with the samples each would need", () => {
    const wide = one({ startup: { tcg: { toReadyMs: around(800, 0.3, 10) }, 'container-in-tcg': { toReadyMs: around(960, 0.3, 10) } } }).result;
    const sc = wide.scenarios[0];
    assert.ok(sc);
    for (const t of sc.targets) t.state = 'running';
    const d = claimsDecided(wide, sc);
    assert.equal(d.decided, false);
    assert.deepEqual(d.pending.length, 1);
    assert.match(d.pending[0] ?? '', /^C10 little extra startup \(tcg\): about \d+ samples per target would decide it$/);
    const narrow = one({ startup: { tcg: { toReadyMs: around(800, 0.01, 10) }, 'container-in-tcg': { toReadyMs: around(830, 0.01, 10) } } }).result;
    assert.deepEqual(claimsDecided(narrow, narrow.scenarios[0] as NonNullable<typeof sc>), { decided: true, pending: [], stop: true });
  });

  test('a part whose target failed cannot be decided by more rounds: not decided, stop, and why', () => {
    const r = one({ startup: { tcg: { toReadyMs: around(800, 0.3, 10) }, 'container-in-tcg': { toReadyMs: around(960, 0.3, 10) } } }).result;
    const sc = r.scenarios[0];
    assert.ok(sc);
    const tcg = sc.targets.find((t) => t.target === 'tcg');
    assert.ok(tcg);
    tcg.state = 'errored';
    tcg.error = "the VM ended before the agent's ready";
    assert.deepEqual(claimsDecided(r, sc), {
      decided: false,
      stop: true,
      pending: ["C10 little extra startup (tcg): cannot be decided in this run, tcg errored: the VM ended before the agent's ready"],
    });
  });

  test('the runner stops when the judge says more rounds cannot help', async () => {
    const { outcome } = await runMock([new MockDriver('native', { log: [] })], 5, 0, undefined, {
      maxRuns: 50,
      decide: () => ({ decided: false, stop: true, pending: ['C0 a part: cannot be decided in this run'] }),
    });
    assert.deepEqual(outcome.result.scenarios[0]?.untilDecided, {
      maxRuns: 50,
      rounds: 5,
      looks: 1,
      decided: false,
      pending: ['C0 a part: cannot be decided in this run'],
    });
  });
});
