/**
 * The `cpu` and `memory` scenarios: their sysbench parsers on real captured
 * output (test/fixtures/sysbench-*.txt), and both scenarios end to end through
 * the runner on native and container with small sizes, and on tcg with the
 * smallest (one run), whose footprint splits into guest RAM and VMM overhead. Targets that are unavailable here are skipped with their
 * probe's reason.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { DEFAULT_MEMORY_BYTES } from '../core/defaults.js';
import type { Result, TargetResult } from '../core/schema.js';
import { cpu, intOption } from '../bench/scenarios/cpu.js';
import { listScenarios } from '../bench/scenarios/index.js';
import { memory } from '../bench/scenarios/memory.js';
import { ParseError, parseSysbenchCpu, parseSysbenchMemory } from '../bench/scenarios/parsers/sysbench.js';
import { completedTarget, everyValue, runScenarios, scenarioDrivers } from './helpers/scenario.js';

const fixture = (name: string): string => readFileSync(new URL(`../../test/fixtures/${name}`, import.meta.url), 'utf8');

const { native, container, tcg, noContainer, noVm, teardown } = await scenarioDrivers();

after(teardown);

/** Runs both scenarios on the given drivers through the runner, with small sizes. */
function median(t: TargetResult, metric: string): number {
  const m = t.stats[metric]?.median;
  assert.ok(m !== undefined && Number.isFinite(m), `${t.target} has ${metric}`);
  return m;
}

describe('the sysbench parsers', () => {
  test('read events per second, total time and events from real sysbench cpu output', () => {
    const p = parseSysbenchCpu(fixture('sysbench-cpu.txt'));
    assert.equal(p.eventsPerS, 3358.39);
    assert.ok(Math.abs(p.totalTimeMs - 594.9) < 1e-9, String(p.totalTimeMs));
    assert.equal(p.events, 2000);
  });

  test('read the MiB transferred, the MiB/s and the total time from real sysbench memory output', () => {
    const p = parseSysbenchMemory(fixture('sysbench-memory.txt').split('\n'));
    assert.equal(p.transferredMiB, 4096);
    assert.equal(p.mibPerS, 4142.09);
    assert.ok(Math.abs(p.totalTimeMs - 988) < 1e-9, String(p.totalTimeMs));
  });

  test('throw a ParseError naming the missing line when the output is cut short', () => {
    const cut = fixture('sysbench-cpu.txt').split('General statistics')[0] ?? '';
    assert.throws(
      () => parseSysbenchCpu(cut),
      (e: unknown) => e instanceof ParseError && /total time/.test(e.message),
    );
    assert.throws(() => parseSysbenchMemory('sysbench 1.0.20\n'), ParseError);
  });
});

describe('the cpu and memory scenarios', () => {
  test('are listed after startup, each metric with its direction and description', () => {
    assert.deepEqual(
      listScenarios()
        .map((s) => s.name)
        .slice(0, 3),
      ['startup', 'cpu', 'memory'],
    );
    for (const s of [cpu, memory]) for (const m of s.metrics) assert.ok(m.description.length > 20 && (m.better === 'lower' || m.better === 'higher'), m.name);
    assert.equal(cpu.metrics.find((m) => m.name === 'eventsPerS')?.better, 'higher');
    assert.equal(memory.metrics.find((m) => m.name === 'bandwidthMBps')?.better, 'higher');
    assert.equal(memory.metrics.find((m) => m.name === 'footprintPssBytes')?.better, 'lower');
  });

  test('record their sizes as parameters and reject sizes that are not positive integers', () => {
    assert.deepEqual(
      { events: cpu.parameters({ cpuEvents: 300 })['events'], cpuMaxPrime: cpu.parameters({})['cpuMaxPrime'] },
      { events: 300, cpuMaxPrime: 10000 },
    );
    assert.throws(() => intOption({ cpuEvents: 0 }, 'cpuEvents', 1), /positive integer/);
    assert.throws(() => intOption({ cpuEvents: 'x' }, 'cpuEvents', 1), /positive integer/);
  });

  test('run natively and in a container with plausible figures', { skip: noContainer, timeout: 60_000 }, async () => {
    const result = await runScenarios([cpu, memory], [native, container], 2, { cpuEvents: 300, memoryTotalMiB: 512 });
    const [n, c] = [completedTarget(result, 'native', 'cpu'), completedTarget(result, 'container', 'cpu')];
    assert.equal(n.samples.length, 2);
    for (const t of [n, c]) {
      for (const m of ['workMs', 'eventsPerS', 'hostCpuMs', 'hostCpuPerEventUs', 'hostCpuMsWork']) assert.ok(median(t, m) > 0, `${t.target} ${m}`);
      // One thread of 300 events: ~90 ms of work; the host CPU time is about the work's.
      assert.ok(median(t, 'hostCpuMs') > 0.5 * median(t, 'workMs') && median(t, 'hostCpuMs') < 3 * median(t, 'workMs') + 50, `${t.target} hostCpuMs`);
      assert.ok(median(t, 'hostCpuMsWork') <= median(t, 'hostCpuMs'));
    }
    const ratio = median(c, 'workMs') / median(n, 'workMs');
    assert.ok(ratio > 0.5 && ratio < 2, `container workMs is ${ratio.toFixed(2)}× native's`);
    assert.ok(c.ratioToNative['workMs'] !== undefined, 'the runner gives the ratio to native');

    const [nm, cm] = [completedTarget(result, 'native', 'memory'), completedTarget(result, 'container', 'memory')];
    for (const t of [nm, cm]) {
      assert.ok(median(t, 'footprintPssBytes') > 64 * 1024 && median(t, 'footprintPssBytes') < 64 * 2 ** 20, `${t.target} PSS`);
      assert.ok(median(t, 'bandwidthMBps') > 100, `${t.target} bandwidth`);
      assert.equal(t.stats['guestAvailableBytes'], undefined, 'no guest memory outside VMs');
    }
    assert.ok(median(cm, 'cgroupUsageBytes') > 0);
    assert.equal(nm.stats['cgroupUsageBytes'], undefined);
    const bw = median(cm, 'bandwidthMBps') / median(nm, 'bandwidthMBps');
    assert.ok(bw > 0.3 && bw < 3, `container bandwidth is ${bw.toFixed(2)}× native's`);
  });

  describe('in a TCG VM', { skip: noVm }, () => {
    // One run of both scenarios serves every test below: a TCG boot is the suite's most expensive step.
    let once: Promise<Result> | undefined;
    const result = (): Promise<Result> => (once ??= runScenarios([cpu, memory], [native, tcg], 1, { cpuEvents: 100, memoryTotalMiB: 256 }));

    test('run with the boot left out of workMs and a larger footprint than native', { timeout: 80_000 }, async () => {
      const r = await result();
      const [n, v] = [completedTarget(r, 'native', 'cpu'), completedTarget(r, 'tcg', 'cpu')];
      const boot = v.samples[0]?.timeline?.toReadyMs ?? 0;
      assert.ok(boot > 0, 'the VM reported ready');
      // The whole instance took boot + work; sysbench's own time excludes the boot.
      assert.ok(median(v, 'workMs') > 0 && median(v, 'workMs') < (v.samples[0]?.timeline?.toExitMs ?? 0) - boot + 1, 'workMs excludes the boot');
      assert.ok(median(v, 'workMs') >= median(n, 'workMs'), 'emulated work is not faster than native');
      assert.ok(median(v, 'hostCpuMs') > median(v, 'hostCpuMsWork'), "the qemu process's boot CPU is taken out of hostCpuMsWork");
      const [nm, vm] = [completedTarget(r, 'native', 'memory'), completedTarget(r, 'tcg', 'memory')];
      assert.ok(median(vm, 'footprintPssBytes') > median(nm, 'footprintPssBytes'), "qemu's PSS exceeds the native agent's");
      assert.ok(median(vm, 'guestAvailableBytes') > 0 && median(vm, 'guestAvailableBytes') < median(vm, 'guestTotalBytes'));
      assert.ok(median(vm, 'bandwidthMBps') > 10);
    });

    test("split qemu's PSS into guest RAM touched, less than the VM's RAM, and a VMM overhead, which add up to it", { timeout: 80_000 }, async () => {
      const vm = completedTarget(await result(), 'tcg', 'memory');
      const ramBytes = DEFAULT_MEMORY_BYTES; // the matched limit when the run sets no --memory
      const [pss] = everyValue(vm, 'footprintPssBytes');
      const [guest] = everyValue(vm, 'guestRamTouchedBytes');
      const [overhead] = everyValue(vm, 'vmmOverheadBytes');
      const [used] = everyValue(vm, 'guestUsedBytes');
      const figures = `PSS ${pss}, guest RAM ${guest}, overhead ${overhead}, guest used ${used}`;
      assert.ok(guest !== undefined && guest > 0 && guest < ramBytes, figures);
      assert.ok(overhead !== undefined && overhead > 0, figures);
      assert.ok(Math.abs((guest ?? 0) + (overhead ?? 0) - (pss ?? 0)) <= 1024, `guest RAM + overhead = PSS: ${figures}`);
      // The guest's pages in use have all been touched, give or take the free pages MemAvailable holds back (watermarks).
      assert.ok(used !== undefined && used > 0 && used < (guest ?? 0) + 16 * 2 ** 20, figures);
      const split = vm.samples[0]?.extra?.['vmMemory'] as { guestRamBytes?: number; tcgBufferPssBytes?: number; problem?: string } | undefined;
      assert.equal(split?.guestRamBytes, ramBytes, 'looked for a mapping of the RAM the VM was given');
      assert.equal(split?.problem, undefined);
      assert.ok(
        (split?.tcgBufferPssBytes ?? 0) > 0 && (split?.tcgBufferPssBytes ?? 0) < (overhead ?? 0),
        'the translation buffer is part of the overhead under TCG',
      );
      assert.equal(completedTarget(await result(), 'native', 'memory').stats['vmmOverheadBytes'], undefined, 'no VMM outside VMs');
    });
  });
});
