/**
 * The firstwork scenario (issue 34): launch to the end of a first job that fills fresh memory, on native, the
 * container and the lean microVM, cold-booted and restored from a snapshot: the same job everywhere, and
 * toFirstWorkMs = toReadyMs + the job's own time.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { firstwork, FIRST_WORK_MIB } from '../bench/scenarios/firstwork.js';
import { listScenarios } from '../bench/scenarios/index.js';
import { createQemuDriver } from '../drivers/qemu/index.js';
import { completedTarget, everyValue, runScenarios, scenarioDrivers } from './helpers/scenario.js';

const d = await scenarioDrivers();
const restore = createQemuDriver('tcg', 'lean', { restore: {} });
after(async () => {
  await d.teardown();
  await restore.teardown();
});

describe('the firstwork scenario', () => {
  test('is listed, its metrics described, its job recorded', () => {
    assert.ok(listScenarios().includes(firstwork));
    for (const m of firstwork.metrics) assert.ok(m.description.length > 20, m.name);
    assert.match(String(firstwork.parameters({})['job']), new RegExp(`^exec dd .*bs=${FIRST_WORK_MIB}M count=2$`));
  });

  test('native and the container: to first work is to ready plus the job', { skip: d.noContainer, timeout: 120_000 }, async () => {
    const r = await runScenarios([firstwork], [d.native, d.container], 2);
    for (const name of ['native', 'container']) {
      const t = completedTarget(r, name, 'firstwork');
      const [ready, first, work] = [everyValue(t, 'toReadyMs'), everyValue(t, 'toFirstWorkMs'), everyValue(t, 'workMs')];
      ready.forEach((x, i) => assert.ok(Math.abs(x + (work[i] as number) - (first[i] as number)) < 1e-6, `${name} sample ${i}`));
    }
  });

  test('a cold-booted and a restored microVM run it too', { skip: d.noVm, timeout: 300_000 }, async () => {
    const r = await runScenarios([firstwork], [d.tcg, restore], 1);
    for (const name of ['tcg', 'tcg-restore']) assert.ok((everyValue(completedTarget(r, name, 'firstwork'), 'workMs')[0] ?? 0) > 0, name);
  });
});
