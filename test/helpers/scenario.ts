/** Running scenarios on real drivers in tests, and reading their results. */
import assert from 'node:assert/strict';
import { run } from '../../bench/runner.js';
import { ResultSchema, type Host, type Result, type TargetResult } from '../../core/schema.js';
import type { Scenario } from '../../bench/scenarios/types.js';
import createContainerDriver from '../../drivers/container/index.js';
import createNativeDriver from '../../drivers/native.js';
import { createTcgDriver } from '../../drivers/qemu/index.js';
import type { Driver } from '../../drivers/types.js';

/** The host recorded in test results (the scenarios never read it). */
export const TEST_HOST: Host = {
  hostname: 'test',
  cpuModel: 'test cpu',
  cpuCores: 2,
  memoryBytes: 1,
  os: 'test',
  kernel: '6.0',
  arch: 'x64',
  cgroup: 'v2',
  node: 'v20',
};

/** Runs the scenarios on the drivers, no warmup; asserts that no target failed and that the result matches the schema. */
export async function runScenarios(scenarios: Scenario[], ds: Driver[], runs: number, scenarioOptions: Record<string, unknown> = {}): Promise<Result> {
  const outcome = await run({
    scenarios,
    drivers: new Map(ds.map((d) => [d.name, d])),
    runs,
    warmup: 0,
    seed: 1,
    limits: {},
    scenarioOptions,
    command: ['run', ...scenarios.map((s) => s.name)],
    host: TEST_HOST,
  });
  assert.deepEqual(
    outcome.failed,
    [],
    JSON.stringify(
      outcome.result.scenarios.flatMap((s) => s.targets.map((t) => [t.error ?? '', ...(t.errorTail ?? [])])),
      null,
      1,
    ),
  );
  assert.equal(ResultSchema.safeParse(outcome.result).success, true, 'the result matches the schema');
  return outcome.result;
}

/** The target's result in a scenario (the first one by default); asserts that it completed. */
export function completedTarget(result: Result, name: string, scenario?: string): TargetResult {
  const sc = scenario === undefined ? result.scenarios[0] : result.scenarios.find((s) => s.name === scenario);
  const t = sc?.targets.find((x) => x.target === name);
  assert.ok(t, `${scenario === undefined ? '' : `${scenario}/`}${name} is in the result`);
  assert.equal(t.state, 'completed', t.error);
  return t;
}

/** Every value a metric took over the target's samples; asserts that every sample has it. */
export function everyValue(t: TargetResult, metric: string): number[] {
  const xs = t.samples.map((s) => s.values[metric]);
  assert.ok(xs.length > 0 && xs.every((x) => x !== undefined), `${t.target} has ${metric} in every sample`);
  return xs as number[];
}

/** The three drivers the scenario tests run on, probed, with the skip reasons of node:test. */
export interface ScenarioDrivers {
  native: Driver;
  container: Driver;
  tcg: Driver;
  /** Why native + container cannot run here, or false. */
  noContainer: string | false;
  /** Why native + tcg cannot run here, or false. */
  noVm: string | false;
  teardown(): Promise<void>;
}

/** Creates and probes native, container and tcg once for a scenario test file. */
export async function scenarioDrivers(): Promise<ScenarioDrivers> {
  const native = createNativeDriver();
  const container = createContainerDriver();
  const tcg = createTcgDriver();
  const [n, c, t] = await Promise.all([native.probe(), container.probe(), tcg.probe()]);
  return {
    native,
    container,
    tcg,
    noContainer: n.available && c.available ? false : `native/container unavailable: ${n.reason ?? ''} ${c.reason ?? ''}`,
    noVm: n.available && t.available ? false : `native/tcg unavailable: ${n.reason ?? ''} ${t.reason ?? ''}`,
    teardown: async () => void (await Promise.all([native.teardown(), container.teardown(), tcg.teardown()])),
  };
}
