/**
 * Counts and sizes a run cannot finish or fit, refused before anything starts, and the cost of a round
 * (docs/reliability.md, "Counts, sizes and the cost of a round"): the stated maximum of rounds per run and
 * the results' size against what tsbench reads back and the free space where they go (`checkRounds`), each
 * refusal through the real CLI (exit 2, one line naming the flag and the largest value that fits, nothing
 * made); the checkpoints of the runner and the round journal between them (core/journal.ts), replayed by
 * `loadResult`, also after a SIGKILL.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { after, describe, test } from 'node:test';
import { execa } from 'execa';
import { MAX_ROUNDS_PER_RUN, SAMPLE_BYTES, RESULT_HEADER_BYTES, checkRounds, resultsBytes, type RoundsPlan } from '../bench/preflight.js';
import { isCheckpoint, run } from '../bench/runner.js';
import { startup } from '../bench/scenarios/startup.js';
import { ResultWriter, resultPaths } from '../cli/results.js';
import { MAX_INPUT_BYTES } from '../core/input.js';
import { journalHead, journalLine, journalPath, replayJournal, type JournalRound } from '../core/journal.js';
import { loadResult, sha256Hex } from '../core/load.js';
import { ResultSchema, type Result } from '../core/schema.js';
import { GiB, MiB } from '../core/units.js';
import type { Driver } from '../drivers/types.js';
import { stateRoot } from '../drivers/ownership.js';
import { CLI, tsbench, tsbenchBackground } from './helpers/cli.js';
import { leftovers } from './helpers/leftovers.js';
import { MockDriver } from './helpers/mock-driver.js';
import { TEST_HOST } from './helpers/scenario.js';

const work = mkdtempSync(join(tmpdir(), 'tsbench-run-limits-test-'));
after(() => rmSync(work, { recursive: true, force: true }));

const ONE: RoundsPlan = { scenarios: [{ name: 'startup', runs: 30, warmup: 3 }], targets: 1, given: {} };
const ROOMY = { dir: '/results', freeBytes: 100 * GiB };

/** The message `checkRounds` refuses `plan` with; undefined when it fits. */
function refusal(plan: RoundsPlan, space = ROOMY): string | undefined {
  try {
    checkRounds(plan, space);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

/** The plan with one flag set, as `--runs`, `--warmup` or `--max-runs` set it. */
function withRuns(plan: RoundsPlan, runs: number): RoundsPlan {
  return { ...plan, scenarios: plan.scenarios.map((s) => ({ ...s, runs })), given: { ...plan.given, runs } };
}

/** The largest value a refusal names for `flag`. */
function largestNamed(message: string | undefined, flag: string): number {
  const m = new RegExp(`the largest that fits is ${flag} (\\d+)$`).exec(message ?? '');
  assert.ok(m, `names the largest ${flag}: ${message}`);
  return Number(m[1]);
}

describe('checkRounds: a stated maximum of rounds per run, and results that fit', () => {
  test('a run of the default size fits', () => {
    assert.equal(refusal(ONE), undefined);
    assert.equal(refusal(withRuns(ONE, 5000)), undefined);
  });

  test('--runs 1000000000 is more rounds than a run takes: the largest that fits is the maximum less the warmup', () => {
    const m = refusal(withRuns(ONE, 1_000_000_000));
    assert.equal(
      m,
      `--runs 1000000000 makes 1000000003 rounds (3 of them warmup), more than the ${MAX_ROUNDS_PER_RUN} tsbench takes in one run; the largest that fits is --runs ${MAX_ROUNDS_PER_RUN - 3}`,
    );
    assert.equal(refusal(withRuns(ONE, MAX_ROUNDS_PER_RUN - 3)), undefined);
  });

  test('--warmup is named when lowering it alone fits', () => {
    const plan: RoundsPlan = { ...ONE, scenarios: [{ name: 'startup', runs: 5, warmup: 1_000_000_000 }], given: { runs: 5, warmup: 1_000_000_000 } };
    assert.equal(largestNamed(refusal(plan), '--warmup'), MAX_ROUNDS_PER_RUN - 5);
  });

  test('--max-runs is named when --until-decided would go past the maximum', () => {
    const plan: RoundsPlan = { ...ONE, maxRuns: 1_000_000_000, given: { maxRuns: 1_000_000_000 } };
    assert.equal(largestNamed(refusal(plan), '--max-runs'), MAX_ROUNDS_PER_RUN - 3);
  });

  test('rounds over several scenarios count together', () => {
    const plan: RoundsPlan = {
      scenarios: [
        { name: 'startup', runs: 30_000, warmup: 3 },
        { name: 'cpu', runs: 30_000, warmup: 1 },
      ],
      targets: 1,
      given: { runs: 30_000 },
    };
    const m = refusal(plan);
    assert.match(m ?? '', /^--runs 30000 makes 60004 rounds \(4 of them warmup\) over 2 scenarios/);
    assert.equal(largestNamed(m, '--runs'), Math.floor((MAX_ROUNDS_PER_RUN - 4) / 2));
  });

  test('results over what tsbench reads back from one file: the largest --runs whose results fit', () => {
    const plan = withRuns({ ...ONE, targets: 2 }, 40_000);
    assert.ok(resultsBytes(plan) > MAX_INPUT_BYTES);
    const m = refusal(plan);
    assert.match(
      m ?? '',
      /^--runs 40000 makes results of about [\d.]+ MiB \(40000 rounds × 2 targets × 4 KiB a sample\), more than the 256 MiB tsbench reads back from one file; /,
    );
    const largest = largestNamed(m, '--runs');
    assert.equal(largest, Math.floor((MAX_INPUT_BYTES - RESULT_HEADER_BYTES) / SAMPLE_BYTES / 2));
    assert.equal(refusal(withRuns(plan, largest)), undefined);
    assert.notEqual(refusal(withRuns(plan, largest + 1)), undefined);
  });

  test('results that do not fit the free space where they go, five times over, keeping 10 % free', () => {
    const space = { dir: '/small', freeBytes: (0.5 * GiB) / 0.9 };
    const plan = withRuns(ONE, 40_000);
    const m = refusal(plan, space);
    assert.match(
      m ?? '',
      /^--runs 40000 makes results of about [\d.]+ MiB .*, which take [\d.]+ MiB in \/small while the run writes \(5 copies: .*\) and 568.8 MiB is free there \(keeping 10 % free\)/,
    );
    const largest = largestNamed(m, '--runs');
    assert.ok(resultsBytes(withRuns(plan, largest)) * 5 <= 0.5 * GiB);
    assert.equal(refusal(withRuns(plan, largest), space), undefined);
    assert.notEqual(refusal(withRuns(plan, largest + 1), space), undefined);
  });

  test('the scenarios’ own runs that do not fit name --runs; when not one round fits, --out', () => {
    assert.match(
      refusal(ONE, { dir: '/tiny', freeBytes: 1.5 * MiB }) ?? '',
      /^the runs of startup \(30\) make results .*; the largest that fits is --runs \d+$/,
    );
    assert.match(
      refusal(ONE, { dir: '/full', freeBytes: MiB }) ?? '',
      /^--out \/full: results .*, and not even one round's results fit; free some space there or pass --out on another filesystem$/,
    );
  });
});

describe('checkpoints: the whole result when the samples have doubled, a journal line between', () => {
  test('a run of 20 samples is written whole at 1, 2, 4, 8 and 16', () => {
    let atLast = 0;
    const full: number[] = [];
    for (let n = 1; n <= 20; n++) {
      if (isCheckpoint(n, atLast)) {
        full.push(n);
        atLast = n;
      }
    }
    assert.deepEqual(full, [1, 2, 4, 8, 16]);
    assert.equal(isCheckpoint(0, 0), false, 'a round without a sample (warmup) is appended');
  });

  test('the runner writes whole at checkpoints and appends every other round, and the journal replays to the final samples', async () => {
    const log: string[] = [];
    const drivers = new Map<string, Driver>([
      ['native', new MockDriver('native', { log })],
      ['b', new MockDriver('b', { log })],
    ]);
    const writes: Result[] = [];
    const appends: JournalRound[] = [];
    const outcome = await run({
      scenarios: [startup],
      drivers,
      runs: 10,
      warmup: 1,
      seed: 1,
      limits: {},
      scenarioOptions: {},
      command: ['run', 'startup'],
      host: TEST_HOST,
      write: async (r) => void writes.push(structuredClone(r)),
      append: async (r) => void appends.push(structuredClone(r)),
    });
    const samplesOf = (r: Result): number => r.scenarios.reduce((n, s) => n + s.targets.reduce((m, t) => m + t.samples.length, 0), 0);
    // start, after prepare, at 2, 4, 8, 16 samples (2 targets a round), the scenario's end, the run's end
    assert.deepEqual(writes.map(samplesOf), [0, 0, 2, 4, 8, 16, 20, 20]);
    // the warmup round and rounds 3, 5, 6, 7, 9, 10 (0-based 2, 4, 5, 6, 8, 9)
    assert.equal(appends.length, 7);
    assert.deepEqual(
      appends.flatMap((a) => a.targets.filter((t) => t.target === 'native' && t.sample).map((t) => t.sample?.round)),
      [2, 4, 5, 6, 8, 9],
    );
    // The last checkpoint before the end (16 samples) plus the rounds appended after it give every sample.
    const checkpoint = structuredClone(writes[5] as Result);
    const text = `${JSON.stringify(checkpoint)}\n`;
    const tail = appends.filter((a) => a.targets.some((t) => (t.sample?.round ?? -1) > 7));
    const replay = replayJournal(checkpoint, journalHead(sha256Hex(text)) + tail.map(journalLine).join(''), sha256Hex(text));
    assert.equal(replay.rounds, 2);
    assert.deepEqual(
      checkpoint.scenarios[0]?.targets.map((t) => t.samples.map((s) => s.values['toExitMs'])),
      outcome.result.scenarios[0]?.targets.map((t) => t.samples.map((s) => s.values['toExitMs'])),
    );
  });
});

describe('the round journal beside results.json', () => {
  /** A running result of one startup scenario with `n` native samples. */
  function partial(n: number): Result {
    const r = ResultSchema.parse(JSON.parse(readFileSync(new URL('../../test/fixtures/report/startup-tcg.json', import.meta.url), 'utf8')));
    r.complete = false;
    const sc = r.scenarios[0]!;
    sc.targets = sc.targets.filter((t) => t.target === 'native');
    const t = sc.targets[0]!;
    const proto = t.samples[0]!;
    t.state = 'running';
    t.samples = Array.from({ length: n }, (_, round) => ({ ...proto, round, values: { toReadyMs: 1 + round, toExitMs: 2 + round } }));
    return r;
  }
  const round = (r: Result, n: number): JournalRound => ({
    scenario: 0,
    name: 'startup',
    updatedAt: `2026-12-06T00:00:${String(n).padStart(2, '0')}.000Z`,
    targets: [
      { target: 'native', state: 'running', sample: { ...r.scenarios[0]!.targets[0]!.samples[0]!, round: n, values: { toReadyMs: 1 + n, toExitMs: 2 + n } } },
    ],
  });

  test('appended rounds are read back by loadResult; a full write removes the journal', async () => {
    const dir = join(work, 'writer');
    const paths = resultPaths(dir);
    const writer = new ResultWriter(paths);
    const r = partial(2);
    await writer.write(r);
    assert.equal(existsSync(paths.journal), false);
    for (const n of [2, 3, 4]) await writer.append(round(r, n));
    assert.equal(paths.journal, journalPath(paths.json));
    const lines = readFileSync(paths.journal, 'utf8').split('\n');
    assert.equal(lines.length, 5, 'a head, three rounds and the last newline');
    assert.deepEqual(JSON.parse(lines[0]!), { journal: 1, base: sha256Hex(readFileSync(paths.json)) });

    const warned: string[] = [];
    const loaded = await loadResult(paths.json, { warn: (l) => warned.push(l) });
    const t = loaded.result.scenarios[0]?.targets[0];
    assert.deepEqual(
      t?.samples.map((s) => s.round),
      [0, 1, 2, 3, 4],
    );
    assert.equal(t?.stats['toExitMs']?.n, 5, 'figures recomputed over every sample');
    assert.equal(t?.stats['toExitMs']?.median, 4);
    assert.deepEqual(loaded.journal, { path: paths.journal, rounds: 3 });
    assert.equal(loaded.text, undefined, 'no file bytes stand for it');
    assert.equal(loaded.result.updatedAt, '2026-12-06T00:00:04.000Z');
    assert.equal(warned.length, 1);
    assert.match(warned[0] ?? '', /3 more round\(s\) read from .*results\.journal, written after the file's last full write/);
    // results.json alone is still a whole, valid result.
    assert.equal(ResultSchema.parse(JSON.parse(readFileSync(paths.json, 'utf8'))).scenarios[0]?.targets[0]?.samples.length, 2);

    const done = loaded.result;
    done.complete = true;
    await writer.write(done);
    assert.equal(existsSync(paths.journal), false, 'the final write removes the journal');
    const again = await loadResult(paths.json, { warn: () => {} });
    assert.equal(again.journal, undefined);
    assert.equal(again.result.scenarios[0]?.targets[0]?.samples.length, 5);
  });

  test('a journal of an earlier version of the file, a torn last line and a round already there are ignored', () => {
    const r = partial(3);
    const base = sha256Hex('the file');
    const torn = `${journalHead(base)}${journalLine(round(r, 3))}{"scenario":0,"na`;
    assert.equal(replayJournal(r, torn, sha256Hex('another file')).rounds, 0, 'another base: its rounds are in the file');
    assert.equal(r.scenarios[0]?.targets[0]?.samples.length, 3);
    assert.equal(replayJournal(r, torn, base).rounds, 1, 'the torn line is left out');
    assert.equal(r.scenarios[0]?.targets[0]?.samples.length, 4);
    const again = partial(3);
    assert.equal(replayJournal(again, journalHead(base) + journalLine(round(again, 1)) + journalLine(round(again, 3)), base).rounds, 2);
    assert.deepEqual(
      again.scenarios[0]?.targets[0]?.samples.map((s) => s.round),
      [0, 1, 2, 3],
      'round 1 was there: not added twice',
    );
    const wrong = partial(3);
    const replay = replayJournal(wrong, journalHead(base) + journalLine({ ...round(wrong, 3), name: 'cpu' }), base);
    assert.equal(replay.rounds, 0);
    assert.match(replay.note ?? '', /line 2 is not a round of this result/);
  });
});

/**
 * stderr without the start-up sweep's line about what other, killed runs left (drivers/ownership.ts):
 * it is about them, not this command.
 */
function ownLines(stderr: string): string {
  return stderr
    .split('\n')
    .filter((l) => !/^tsbench: removed \d+ leftover\(s\) of killed runs/.test(l))
    .join('\n')
    .trim();
}

/**
 * Runs the CLI with a temp dir of its own and checks a refusal: exit 2, one line on stderr matching `message`,
 * no stack; the output directory not made; nothing of the process: its temp dir empty, no ownership state, no
 * cgroup, directory or process of its pid.
 */
async function refused(args: string[], message: RegExp, env: Record<string, string> = {}): Promise<string> {
  const tmp = mkdtempSync(join(work, 'tmp-'));
  const out = join(work, `out-${Math.random().toString(36).slice(2)}`);
  const child = execa(process.execPath, [CLI, ...args, ...(args.includes('--out') ? [] : ['--out', out])], {
    reject: false,
    stdin: 'ignore',
    timeout: 30_000,
    env: { TMPDIR: tmp, ...env },
  });
  const r = await child;
  assert.equal(r.timedOut, false, `tsbench ${args.join(' ')} still ran after 30 s`);
  assert.equal(r.exitCode, 2, r.stderr);
  const stderr = ownLines(r.stderr);
  assert.equal(stderr.split('\n').length, 1, r.stderr);
  assert.match(stderr, message);
  assert.doesNotMatch(stderr, /at .*\.js:\d+/, 'no stack trace');
  assert.equal(existsSync(out), false, 'no output directory');
  assert.deepEqual(readdirSync(tmp), [], 'nothing in its temp dir');
  const pid = child.pid!;
  const states = existsSync(stateRoot()) ? readdirSync(stateRoot()) : [];
  assert.deepEqual(
    states.filter((id) => id.startsWith(`${pid}-`)),
    [],
    'no ownership state',
  );
  assert.deepEqual(leftovers(pid), []);
  return stderr;
}

describe('tsbench run refuses what cannot finish or fit, exit 2, one line, before anything is made', () => {
  test('--runs 1000000000', async () => {
    await refused(
      ['run', 'startup', '--targets', 'native', '--runs', '1000000000'],
      new RegExp(
        `^tsbench: --runs 1000000000 makes 1000000003 rounds \\(3 of them warmup\\), more than the ${MAX_ROUNDS_PER_RUN} tsbench takes in one run; the largest that fits is --runs ${MAX_ROUNDS_PER_RUN - 3}$`,
      ),
    );
  });

  test('--warmup 1000000000', async () => {
    await refused(
      ['run', 'startup', '--targets', 'native', '--runs', '5', '--warmup', '1000000000'],
      /^tsbench: --warmup 1000000000 makes .*; the largest that fits is --warmup \d+$/,
    );
  });

  test('--until-decided --max-runs 1000000000', async () => {
    await refused(
      ['run', 'startup', '--targets', 'native', '--until-decided', '--max-runs', '1000000000'],
      /^tsbench: --max-runs 1000000000 makes .*; the largest that fits is --max-runs \d+$/,
    );
  });

  test('results over what tsbench reads back', async () => {
    await refused(
      ['run', 'startup', '--targets', 'native,container', '--runs', '40000'],
      /^tsbench: --runs 40000 makes results of about [\d.]+ MiB \(40000 rounds × 2 targets × 4 KiB a sample\), more than the 256 MiB tsbench reads back from one file; the largest that fits is --runs \d+$/,
    );
  });

  test('results over the free space of --out', { skip: process.getuid?.() !== 0 ? 'mounting a small tmpfs needs root' : false }, async () => {
    const small = join(work, 'small');
    mkdirSync(small);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=300m', 'tsbench-run-limits-test', small]);
    try {
      const out = join(small, 'results');
      await refused(
        ['run', 'startup', '--targets', 'native', '--runs', '20000', '--out', out],
        /^tsbench: --runs 20000 makes results of about [\d.]+ MiB .*, which take [\d.]+ MiB in \S+small\/results while the run writes .* is free there .*; the largest that fits is --runs \d+$/,
      );
      assert.equal(existsSync(out), false, 'no output directory');
    } finally {
      execFileSync('umount', [small]);
    }
  });

  test('--memory over the host’s RAM', async () => {
    await refused(
      ['run', 'startup', '--targets', 'native', '--memory', '100T'],
      /^tsbench: --memory 100T is more than this host's [\d.]+ GiB of RAM \(MemTotal\); the most that fits is --memory \d+G$/,
    );
    assert.ok(totalmem() < 100 * 2 ** 40);
  });

  test('--net-time over what iperf3 measures', async () => {
    await refused(
      ['run', 'net', '--targets', 'native', '--net-time', '100000'],
      /^tsbench: --net-time 100000 is more than iperf3 measures for \(at most 86400 s\); the largest that fits is --net-time 86400$/,
    );
  });

  test('--io-size over the free space of the temp dir', async () => {
    await refused(['run', 'io', '--targets', 'native', '--io-size', '100T'], /^tsbench: --io-size 100T does not fit: .*; the largest that fits is \d+G/);
  });

  test('TSBENCH_TSC_KHZ over any TSC', async () => {
    await refused(['run', 'startup', '--targets', 'native'], /^tsbench: TSBENCH_TSC_KHZ=99999999999 is more than any TSC runs at/, {
      TSBENCH_TSC_KHZ: '99999999999',
    });
  });
});

test('a SIGKILLed run leaves results.json and its journal, and tsbench report reads every round', { timeout: 120_000 }, async () => {
  const out = join(work, 'killed');
  const json = join(out, 'results.json');
  const journal = journalPath(json);
  const child = tsbenchBackground(['run', 'startup', '--targets', 'native', '--runs', '3000', '--warmup', '0', '--out', out]);
  // Past the checkpoint at 16 samples, the journal holds the rounds after it.
  const deadline = Date.now() + 60_000;
  const lines = (): number => (existsSync(journal) ? readFileSync(journal, 'utf8').split('\n').length - 2 : 0);
  while (Date.now() < deadline && !(lines() >= 3 && JSON.parse(readFileSync(json, 'utf8')).scenarios[0]?.targets[0]?.samples.length >= 16)) await delay(20);
  child.kill('SIGKILL');
  await child;
  await tsbench(['clean']);
  const inFile = ResultSchema.parse(JSON.parse(readFileSync(json, 'utf8'))).scenarios[0]?.targets[0]?.samples.length ?? 0;
  const rounds = readFileSync(journal, 'utf8')
    .split('\n')
    .slice(1)
    .filter((l) => l.endsWith('}')).length;
  assert.ok(rounds >= 3, `journal rounds: ${rounds}`);
  const loaded = await loadResult(json, { warn: () => {} });
  const samples = loaded.result.scenarios[0]?.targets[0]?.samples ?? [];
  assert.equal(samples.length, inFile + rounds, 'the file’s samples and the journal’s rounds');
  assert.deepEqual(
    samples.map((s) => s.round),
    samples.map((_, i) => i),
  );
  const page = join(work, 'killed.html');
  const r = await tsbench(['report', out, '-o', page]);
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stderr, /more round\(s\) read from .*results\.journal/);
  assert.ok(existsSync(page));
});
