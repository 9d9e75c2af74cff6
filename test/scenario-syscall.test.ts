/**
 * The `syscall` scenario (issue 33): tsbench-syscalls' parser on real captured output
 * (test/fixtures/tsbench-syscalls.txt), the tool itself (time-bounded, its usage), the
 * same binary in the images, and the scenario end to end through the runner on native,
 * container and container-unconfined with the smallest rounds. The assertions are on
 * structure and accounting, not on speed, apart from one wide margin (a getppid costs
 * less than a pipe round trip, which makes four system calls and two context switches).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { execa } from 'execa';
import type { Result } from '../core/schema.js';
import { listScenarios } from '../bench/scenarios/index.js';
import { ParseError, parseSyscalls } from '../bench/scenarios/parsers/syscalls.js';
import { DEFAULT_SYSCALL_ROUND_MS, DEFAULT_SYSCALL_ROUNDS, SYSCALL_CALLS, SYSCALLS_TOOL, syscall } from '../bench/scenarios/syscall.js';
import { containerSettingsOf } from '../cli/commands/reproduce.js';
import { UNCONFINED_TARGET, createUnconfinedContainerDriver } from '../drivers/container/index.js';
import { TSBENCH_TOOLS, loadImage, toolBinary } from '../drivers/image/index.js';
import { listTargets, parseTargets } from '../drivers/registry.js';
import { completedTarget, everyValue, runScenarios, scenarioDrivers } from './helpers/scenario.js';

const fixture = (name: string): string => readFileSync(new URL(`../../test/fixtures/${name}`, import.meta.url), 'utf8');

const { native, container, noContainer, teardown } = await scenarioDrivers();
const unconfined = createUnconfinedContainerDriver();
const unconfinedProbe = await unconfined.probe();

after(async () => {
  await Promise.all([teardown(), unconfined.teardown()]);
});

describe('the tsbench-syscalls parser', () => {
  test('reads the setup line and every call with its median, min, max, rounds, calls and failures from real output', () => {
    const p = parseSyscalls(fixture('tsbench-syscalls.txt'));
    assert.deepEqual(p.setup, { roundMs: 20, rounds: 5, pin: 'cpu0', file: '/usr/lib/os-release' });
    assert.deepEqual([...p.calls.keys()], [...SYSCALL_CALLS]);
    assert.deepEqual(p.calls.get('getppid'), { medianNs: 2860.1, minNs: 2626.7, maxNs: 4567.3, rounds: 5, calls: 34816, failed: 0 });
    assert.equal(p.calls.get('pipeRoundTrip')?.calls, 2368);
  });

  test('throws a ParseError naming what is missing or malformed', () => {
    const text = fixture('tsbench-syscalls.txt');
    assert.throws(
      () => parseSyscalls(text.split('\n').slice(1)),
      (e: unknown) => e instanceof ParseError && /setup/.test(e.message),
    );
    assert.throws(
      () => parseSyscalls(text.split('\n').slice(0, 1)),
      (e: unknown) => e instanceof ParseError && /call=/.test(e.message),
    );
    assert.throws(
      () => parseSyscalls(text.replace('medianNs=2860.1', 'medianNs=nan')),
      (e: unknown) => e instanceof ParseError && /call=getppid .*medianNs=/.test(e.message),
    );
    assert.throws(
      () => parseSyscalls(text.replace('calls=34816', 'calls=0')),
      (e: unknown) => e instanceof ParseError && /made no calls/.test(e.message),
    );
  });
});

describe('the tsbench-syscalls tool', () => {
  test('runs each call for its rounds of a fixed time, whatever a call costs, and prints one line per call asked for', async () => {
    const started = Date.now();
    const r = await execa(toolBinary('tsbench-syscalls'), ['--round-ms', '10', '--rounds', '3', 'getppid', 'pipeRoundTrip']);
    // 2 calls × (1 warm-up + 3 rounds) × 10 ms: well under a second even on a loaded machine.
    assert.ok(Date.now() - started < 10_000, `${Date.now() - started} ms`);
    const p = parseSyscalls(r.stdout);
    assert.deepEqual([...p.calls.keys()], ['getppid', 'pipeRoundTrip']);
    for (const f of p.calls.values()) {
      assert.equal(f.rounds, 3);
      assert.equal(f.failed, 0);
      assert.ok(f.calls > 0 && f.minNs > 0 && f.minNs <= f.medianNs && f.medianNs <= f.maxNs, JSON.stringify(f));
    }
    assert.match(p.setup.pin, /^cpu\d+$/);
  });

  test('refuses an unknown call or option with its usage and exit code 2', async () => {
    for (const args of [['nosuchcall'], ['--rounds', '0'], ['--round-ms', 'x']]) {
      const r = await execa(toolBinary('tsbench-syscalls'), args, { reject: false });
      assert.equal(r.exitCode, 2, args.join(' '));
      assert.match(r.stderr, /usage: tsbench-syscalls .*\n\s+CALLs: getppid personality openReadClose mmapTouch pipeRoundTrip/);
    }
  });

  test('is in the lean image at the path the scenario runs, byte for byte the binary native runs', { skip: noContainer }, async () => {
    assert.deepEqual(
      TSBENCH_TOOLS.map((t) => t.path),
      [SYSCALLS_TOOL],
    );
    const image = await loadImage();
    assert.deepEqual(readFileSync(`${image.rootfs}${SYSCALLS_TOOL}`), readFileSync(toolBinary('tsbench-syscalls')));
  });
});

describe('the syscall scenario', () => {
  test('is listed, every metric in ns per call and lower better, with its rounds recorded', () => {
    assert.ok(listScenarios().some((s) => s.name === 'syscall'));
    assert.deepEqual(
      syscall.metrics.map((m) => m.name),
      SYSCALL_CALLS.map((c) => `${c}Ns`),
    );
    for (const m of syscall.metrics) assert.ok(m.unit === 'ns' && m.better === 'lower' && m.description.length > 20, m.name);
    const p = syscall.parameters({});
    assert.equal(p['roundMs'], DEFAULT_SYSCALL_ROUND_MS);
    assert.equal(p['rounds'], DEFAULT_SYSCALL_ROUNDS);
    assert.equal(syscall.parameters({ syscallRoundMs: 7, syscallRounds: 2 })['roundMs'], 7);
  });

  test(
    'runs on native, container and container-unconfined with positive ns per call and its ratio to native',
    { skip: noContainer, timeout: 120_000 },
    async () => {
      if (!unconfinedProbe.available) return;
      const result = await runScenarios([syscall], [native, container, unconfined], 2, { syscallRoundMs: 5, syscallRounds: 3 });
      for (const name of ['native', 'container', UNCONFINED_TARGET]) {
        const t = completedTarget(result, name);
        for (const call of SYSCALL_CALLS) {
          for (const v of everyValue(t, `${call}Ns`)) assert.ok(Number.isFinite(v) && v > 0, `${name} ${call}: ${v}`);
        }
        const getppid = t.stats['getppidNs']?.median ?? Number.NaN;
        const pipe = t.stats['pipeRoundTripNs']?.median ?? Number.NaN;
        assert.ok(getppid < pipe, `${name}: getppid ${getppid} ns < pipe round trip ${pipe} ns`);
        for (const s of t.samples) {
          const extra = s.extra as { pin?: string; file?: string; perCall?: Record<string, { calls: number }> };
          assert.match(extra.pin ?? '', /^cpu\d+$/, `${name} pinned`);
          assert.match(extra.file ?? '', /os-release$/);
          for (const call of SYSCALL_CALLS) assert.ok((extra.perCall?.[call]?.calls ?? 0) > 0, `${name} ${call} calls`);
        }
        if (name !== 'native') assert.ok(t.ratioToNative['personalityNs'] !== undefined, `${name} has a ratio to native`);
      }
    },
  );
});

describe('container-unconfined', () => {
  test('is registered beside container and takes an image like it', () => {
    const info = listTargets().find((t) => t.name === UNCONFINED_TARGET);
    assert.match(info?.description ?? '', /without confinement.*TSBENCH_CONFINEMENT/);
    assert.deepEqual(parseTargets('container,container-unconfined@debian'), ['container', 'container-unconfined@debian']);
  });

  test('is unconfined whatever the options say, and its probe says the target set it', { skip: noContainer }, async () => {
    const forced = createUnconfinedContainerDriver({ confinement: 'docker-default' });
    const probe = await forced.probe();
    await forced.teardown();
    assert.equal(forced.name, UNCONFINED_TARGET);
    assert.match(probe.details?.['confinement'] ?? '', /^unconfined:/);
    assert.match(probe.details?.['confinementSetBy'] ?? '', /container-unconfined/);
    assert.equal((await container.probe()).details?.['confinementSetBy'], undefined, 'container takes the run’s confinement');
  });

  test("does not decide a reproduction's confinement: the run's comes from the other container targets", () => {
    const details = (confinement: string, setBy?: string): Record<string, string> => ({
      confinement,
      ...(setBy ? { confinementSetBy: setBy } : {}),
      upper: 'tmpfs',
    });
    const result = (targets: { name: string; details: Record<string, string> }[]): Result => ({ targets }) as unknown as Result;
    const variant = { name: UNCONFINED_TARGET, details: details('unconfined: every capability', 'the target container-unconfined') };
    assert.deepEqual(containerSettingsOf(result([variant, { name: 'container', details: details('docker-default: 14 capabilities') }])), {
      confinement: 'docker-default',
      upper: 'tmpfs',
    });
    assert.deepEqual(containerSettingsOf(result([variant])), { upper: 'tmpfs' });
  });
});
