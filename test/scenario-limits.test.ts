/**
 * The `limits` scenario (claim C7): the stress-ng parsers on real output, then
 * the scenario end to end through the runner with real drivers — native (the
 * control: no limit, the hog runs to the end, the busy loop gets a whole CPU),
 * the container (the hog is OOM-killed at 128 MiB and reported so, the
 * 0.5-CPU quota delivers 0.5 ± 0.1 CPUs) and a TCG VM (the guest kernel
 * OOM-kills the hog at 2× its RAM). Unavailable targets are skipped with their
 * probe's reason.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { listScenarios } from '../bench/scenarios/index.js';
import { cpuWorkersFor, limits } from '../bench/scenarios/limits.js';
import { ParseError, countPrematureWorkers, parseStressNgMetrics } from '../bench/scenarios/parsers/stress-ng.js';
import { completedTarget, everyValue, runScenarios, scenarioDrivers } from './helpers/scenario.js';
import { DEFAULT_MEMORY_BYTES } from '../core/defaults.js';

const { native, container, tcg, noContainer, noVm, teardown } = await scenarioDrivers();

after(teardown);

/** Real stress-ng 0.15.06 output: a 0.5-CPU container, then a hog at 2× a 128 MiB limit. */
const CPU_OUTPUT = `stress-ng: info:  [2] setting to a 3 second run per stressor
stress-ng: info:  [2] dispatching hogs: 1 cpu
stress-ng: metrc: [2] stressor       bogo ops real time  usr time  sys time   bogo ops/s     bogo ops/s
stress-ng: metrc: [2]                           (secs)    (secs)    (secs)   (real time) (usr+sys time)
stress-ng: metrc: [2] cpu                2136      3.00      1.52      0.00       711.99        1400.83
stress-ng: info:  [2] successful run completed in 3.00s`.split('\n');
const VM_OUTPUT = `stress-ng: info:  [4] dispatching hogs: 4 vm
stress-ng: warn:  [6] vm: WARNING: finished prematurely after just 0.62s
stress-ng: warn:  [7] vm: WARNING: finished prematurely after just 0.65s
stress-ng: warn:  [8] vm: WARNING: finished prematurely after just 0.71s
stress-ng: metrc: [4] vm               272451      0.87      2.83      0.37    312906.62       85166.33`.split('\n');

describe('the stress-ng parsers', () => {
  test('read bogo ops and real, user and system time of a stressor from --metrics-brief', () => {
    assert.deepEqual(parseStressNgMetrics(CPU_OUTPUT, 'cpu'), { bogoOps: 2136, realMs: 3000, userMs: 1520, systemMs: 0 });
    assert.equal(parseStressNgMetrics(VM_OUTPUT, 'vm').bogoOps, 272451);
  });

  test('count the workers that finished prematurely and throw a ParseError when the metrics row is missing', () => {
    assert.equal(countPrematureWorkers(VM_OUTPUT), 3);
    assert.equal(countPrematureWorkers(CPU_OUTPUT), 0);
    assert.throws(
      () => parseStressNgMetrics(CPU_OUTPUT, 'vm'),
      (e: unknown) => e instanceof ParseError && /vm stressor/.test(e.message),
    );
  });
});

describe('the limits scenario', () => {
  test('is listed after isolation, every metric described, and asks for more CPU than the quota', () => {
    const names = listScenarios().map((s) => s.name);
    assert.equal(names.indexOf('limits'), names.indexOf('isolation') + 1);
    assert.deepEqual(limits.defaults, { runs: 3, warmup: 0 });
    for (const m of ['memLimitHeld', 'cpuQuotaDeliveredCpus', 'cpuQuotaCpus'])
      assert.ok((limits.metrics.find((x) => x.name === m)?.description.length ?? 0) > 20, m);
    assert.equal(cpuWorkersFor(0.5), 1);
    assert.ok(cpuWorkersFor(1) >= 1 && cpuWorkersFor(1) <= 2);
  });

  test('holds in the container — the hog is OOM-killed and 0.5 CPU is delivered — and not natively', { skip: noContainer, timeout: 90_000 }, async () => {
    const result = await runScenarios([limits], [native, container], 2);
    const [n, c] = [completedTarget(result, 'native'), completedTarget(result, 'container')];
    assert.deepEqual(everyValue(n, 'memLimitHeld'), [0, 0], 'native (the control) has no limit: the hog runs to the end');
    assert.deepEqual(everyValue(c, 'memLimitHeld'), [1, 1], 'the container hog is stopped');
    for (const s of c.samples) {
      assert.equal(s.status, 'ok', 'an OOM-killed hog is a successful measurement');
      const hog = s.extra?.['hog'] as { status: string; reason?: string };
      assert.equal(hog.status, 'oom-killed', 'the driver reported the hog oom-killed');
      assert.match(hog.reason ?? '', /OOM killer/);
    }
    assert.deepEqual(everyValue(c, 'memLimitBytes'), [128 * 2 ** 20, 128 * 2 ** 20]);
    for (const x of everyValue(c, 'memPeakBytes')) assert.ok(x <= 128 * 2 ** 20, `the cgroup's peak ${x} stays within the limit`);
    for (const x of everyValue(c, 'memOomKills')) assert.ok(x >= 1);
    assert.deepEqual(everyValue(n, 'memOomKills'), [0, 0]);

    assert.deepEqual(everyValue(c, 'cpuQuotaCpus'), [0.5, 0.5]);
    assert.equal(n.stats['cpuQuotaCpus'], undefined, 'native has no quota');
    for (const x of everyValue(c, 'cpuQuotaDeliveredCpus')) assert.ok(Math.abs(x - 0.5) <= 0.1, `the container got ${x.toFixed(3)} CPUs under a 0.5 quota`);
    // The window ends at the agent's end mark, when it reaped stress-ng: the cgroup's figure is the workload's own.
    for (const t of [c, n]) {
      for (const s of t.samples) {
        const cpu = s.extra?.['cpu'] as { wallMs: number; hostCpuMs: number };
        const { toReadyMs, toExitMs } = s.timeline ?? {};
        assert.ok(cpu.wallMs > 0 && cpu.wallMs <= (toExitMs ?? 0) - (toReadyMs ?? 0), `window ${cpu.wallMs} ms within ready→exit`);
        const [delivered, inside] = [s.values['cpuQuotaDeliveredCpus'] as number, s.values['cpuInsideCpus'] as number];
        assert.ok(Math.abs(delivered - inside) <= 0.05, `${t.target}: host ${delivered.toFixed(3)} vs stress-ng's own ${inside.toFixed(3)} CPUs`);
      }
    }
    for (const x of everyValue(n, 'cpuQuotaDeliveredCpus')) assert.ok(x > 0.8, `native's busy loop got ${x.toFixed(3)} CPUs, unconfined`);
  });

  test('holds in a TCG VM: the guest kernel OOM-kills a hog of twice its RAM', { skip: noVm, timeout: 90_000 }, async () => {
    const result = await runScenarios([limits], [tcg], 1);
    const v = completedTarget(result, 'tcg');
    assert.deepEqual(everyValue(v, 'memLimitHeld'), [1]);
    assert.deepEqual(everyValue(v, 'memLimitBytes'), [DEFAULT_MEMORY_BYTES], 'the limit is the guest RAM');
    for (const x of everyValue(v, 'memOomKills')) assert.ok(x >= 1, 'the guest counted OOM kills');
    assert.deepEqual(everyValue(v, 'cpuQuotaCpus'), [1], 'a 0.5 quota is one vCPU');
    for (const x of everyValue(v, 'cpuQuotaDeliveredCpus')) assert.ok(x > 0.5 && x <= 1.1, `the vCPU delivered ${x.toFixed(3)}`);
  });
});
