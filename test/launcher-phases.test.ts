/**
 * The launcher's own marks (issue 32): reported after the reap, turned into the startup timeline's phases for
 * native and container samples (in order, adding up to no more than the sample's total), and the window opened only
 * once tsbench says go. The container part needs root and the lean image (skipped with the probe's reason otherwise).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Duplex } from 'node:stream';
import { describe, test } from 'node:test';
import { startup } from '../bench/scenarios/startup.js';
import createContainerDriver from '../drivers/container/index.js';
import createNativeDriver from '../drivers/native.js';
import { binPath, launcherPhases } from '../drivers/process.js';
import { parseLauncherLine } from '../drivers/protocol.js';
import type { Driver, Phase, Timeline } from '../drivers/types.js';
import { phaseOrder } from '../reports/html/charts.js';
import { completedTarget, runScenarios } from './helpers/scenario.js';

const names = (phases: Phase[]): string[] => phases.map((p) => p.name);
const sum = (phases: Phase[]): number => phases.reduce((a, p) => a + p.ms, 0);

/** Every sample's phases: those names in that order, none negative, together within the sample's toExitMs. */
function assertPhases(timelines: Timeline[], expected: (got: string[]) => void): void {
  assert.ok(timelines.length > 0);
  for (const t of timelines) {
    expected(names(t.phases));
    for (const p of t.phases) assert.ok(p.ms >= 0, `${p.name}: ${p.ms} ms`);
    assert.ok(t.toExitMs !== undefined && sum(t.phases) <= t.toExitMs + 1e-6, `phases ${sum(t.phases)} ms within toExitMs ${t.toExitMs} ms`);
  }
}

const container: Driver = createContainerDriver();
const probe = await container.probe();

describe('launcher marks', () => {
  test('a mark line parses into its step and time; a malformed one is ignored', () => {
    assert.deepEqual(parseLauncherLine('mark no-new-privs 123'), { kind: 'mark', step: 'no-new-privs', monoNs: 123n });
    for (const line of ['mark exec', 'mark exec x', 'mark a/b 1', 'mark exec 1 2']) assert.equal(parseLauncherLine(line), undefined, line);
  });

  test('native marks make fork, exec, agent and exit, which add up to the fork-to-reap time', () => {
    const o = {
      startNs: 1_000_000n,
      launcherMarks: [{ step: 'exec', monoNs: 1_100_000n }],
      agentInitNs: 1_500_000n,
      agentReadyNs: 1_550_000n,
      endNs: 1_900_000n,
    };
    const phases = launcherPhases({ ...o, program: 'tsbench-agent' });
    assert.deepEqual(phases, [
      { name: 'fork', ms: 0.1 },
      { name: 'exec', ms: 0.4 },
      { name: 'agent', ms: 0.05 },
      { name: 'exit', ms: 0.35 },
    ]);
    assert.ok(Math.abs(sum(phases) - 0.9) < 1e-9);
    // A runtime the launcher runs has its own work named after it.
    assert.deepEqual(names(launcherPhases({ ...o, program: 'runc' })), ['fork', 'runc', 'agent', 'exit']);
    // Only what is known: no marks, no phases; no agent, only the launcher's.
    assert.deepEqual(launcherPhases({ ...o, launcherMarks: undefined }), []);
    assert.deepEqual(names(launcherPhases({ ...o, agentInitNs: undefined })), ['fork']);
  });

  test("a container's steps group into its set-up phases, in the order they happened", () => {
    const steps = [
      'cloned',
      'cgroups',
      'private',
      'overlay',
      'proc',
      'dev',
      'sys',
      'pivot',
      'lo',
      'hostname',
      'cgroupns',
      'paths',
      'caps',
      'no-new-privs',
      'seccomp',
      'exec',
    ];
    const launcherMarks = steps.map((step, i) => ({ step, monoNs: BigInt(1_000_000 + (i + 1) * 10_000) }));
    const phases = launcherPhases({
      startNs: 1_000_000n,
      launcherMarks,
      program: 'tsbench-agent',
      agentInitNs: 1_200_000n,
      agentReadyNs: 1_210_000n,
      endNs: 1_300_000n,
    });
    assert.deepEqual(names(phases), ['clone', 'cgroups', 'mounts', 'namespaces', 'confine', 'seccomp', 'exec', 'agent', 'exit']);
    assert.ok(Math.abs((phases.find((p) => p.name === 'mounts')?.ms ?? 0) - 0.06) < 1e-9);
    // `exec` ends the phase before it: seccomp's 10 µs, then its own 10 µs up to the exec.
    assert.ok(Math.abs((phases.find((p) => p.name === 'seccomp')?.ms ?? 0) - 0.02) < 1e-9);
    assert.ok(Math.abs(sum(phases) - 0.3) < 1e-9);
  });

  test("the timeline's phase order keeps every target's own order", () => {
    const order = phaseOrder([
      ['fork', 'exec', 'agent', 'exit'],
      ['qemu', 'kernel', 'agent', 'exit'],
      ['clone', 'cgroups', 'mounts', 'exec', 'agent', 'exit'],
      ['create', 'start', 'ready', 'die', 'exit'],
    ]);
    for (const list of [
      ['fork', 'exec', 'agent', 'exit'],
      ['qemu', 'kernel', 'agent', 'exit'],
      ['clone', 'cgroups', 'mounts', 'exec', 'agent', 'exit'],
      ['create', 'start', 'ready', 'die', 'exit'],
    ]) {
      const at = list.map((n) => order.indexOf(n));
      assert.deepEqual(
        at,
        [...at].sort((a, b) => a - b),
        `${list.join(' → ')} in ${order.join(', ')}`,
      );
    }
  });

  test('with --go-fd the launcher forks only once it was told to go, and reports its marks after the reap', async () => {
    const p = spawn(binPath('tsbench-launch'), ['--report-fd', '3', '--go-fd', '3', '--', binPath('tsbench-agent'), 'noop'], {
      stdio: ['ignore', 'ignore', 'inherit', 'pipe'],
    });
    const fd3 = p.stdio[3] as Duplex;
    const lines: string[] = [];
    const closed = new Promise<void>((res) =>
      createInterface({ input: fd3 })
        .on('line', (l) => lines.push(l))
        .on('close', res),
    );
    await new Promise((res) => setTimeout(res, 200));
    assert.deepEqual(lines, [], 'nothing happens before go');
    const goNs = process.hrtime.bigint();
    fd3.write('g');
    await closed;
    const events = lines.map(parseLauncherLine);
    assert.deepEqual(
      events.map((e) => e?.kind),
      ['start', 'mark', 'exit'],
    );
    const [start, mark, exit] = events as unknown as [{ monoNs: bigint }, { step: string; monoNs: bigint }, { monoNs: bigint }];
    assert.ok(start.monoNs >= goNs, 'the clock starts after go');
    assert.equal(mark.step, 'exec');
    assert.ok(start.monoNs <= mark.monoNs && mark.monoNs <= exit.monoNs);
  });

  test('a native startup sample carries the launcher phases in order, within its total', async () => {
    const result = await runScenarios([startup], [createNativeDriver()], 3);
    const t = completedTarget(result, 'native');
    assertPhases(
      t.samples.map((s) => s.timeline as Timeline),
      (got) => assert.deepEqual(got, ['fork', 'exec', 'agent', 'exit']),
    );
  });

  test(
    'a container startup sample carries its set-up phases in order, within its total',
    { skip: probe.available ? false : `container target unavailable: ${probe.reason ?? ''}` },
    async () => {
      const result = await runScenarios([startup], [container], 3);
      const t = completedTarget(result, 'container');
      assertPhases(
        t.samples.map((s) => s.timeline as Timeline),
        (got) => {
          assert.equal(got[0], 'clone', got.join(' → '));
          assert.deepEqual(got.slice(-3), ['exec', 'agent', 'exit'], got.join(' → '));
          assert.ok(got.includes('mounts'), got.join(' → '));
          const known = ['clone', 'cgroups', 'netns', 'mounts', 'namespaces', 'confine', 'seccomp', 'exec', 'agent', 'exit'];
          const at = got.map((n) => known.indexOf(n));
          assert.deepEqual(
            at,
            [...at].sort((a, b) => a - b),
            got.join(' → '),
          );
        },
      );
    },
  );
});
