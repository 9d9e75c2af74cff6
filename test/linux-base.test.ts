/**
 * The one Linux-container lifecycle (drivers/linux/lifecycle.ts) as the engines use it: an
 * instance with no directory of tsbench's, whose cgroups are a systemd unit, run by the agent on
 * the host (its `noop` job) with stand-in cgroups, so that the order of the steps shows: the unit
 * recorded before the cgroups are made, the accounting read, the driver's inspection of the run
 * before the clean-up, the clean-up, then the OOM verdict and the driver's last word.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { agentBinary } from '../drivers/image/index.js';
import { LinuxInstances, type CgroupSet } from '../drivers/linux/lifecycle.js';
import { ownState } from '../drivers/ownership.js';
import { jobArgv } from '../drivers/protocol.js';
import type { Accounting } from '../drivers/types.js';

test('an instance without a directory goes through every step of the lifecycle, in order', async () => {
  const steps: string[] = [];
  const unit = `tsbench-test_${process.pid}.slice`;
  const cgroups: CgroupSet = {
    unit,
    relative: () => [],
    create: async () => void steps.push('cgroups made'),
    where: () => 'nowhere',
    read: async (): Promise<Accounting> => {
      steps.push('accounting read');
      return { cpuUserMs: 3, oomKills: 1 };
    },
    remove: async () => void steps.push('cgroups removed'),
    removeSync: () => {},
    pidsSync: () => [],
  };
  const instances = new LinuxInstances({ target: 'test', readyTimeoutMs: 10_000 });
  const instance = await instances.launch({ job: { kind: 'noop' }, limits: { memoryBytes: 2 ** 20 }, measureUpper: true }, () => ({
    cgroups,
    create: async () => {
      steps.push('created');
      return { argv: [agentBinary(), ...jobArgv({ kind: 'noop' })] };
    },
    extra: () => ({ driverFact: 1 }),
    inspect: async (r) => {
      steps.push('inspected');
      r.extra = { ...r.extra, inspected: true };
    },
    release: async () => void steps.push('released'),
    finish: (r) => void steps.push(`finished ${r.status}`),
  }));
  await instance.ready;
  const r = await instance.result;
  await instances.teardown();

  assert.deepEqual(steps, ['cgroups made', 'created', 'accounting read', 'inspected', 'released', 'cgroups removed', 'finished oom-killed']);
  assert.deepEqual(r.extra, { driverFact: 1, inspected: true }, 'no upper layer to measure: nothing about it');
  assert.equal(r.accounting.cpuUserMs, 3);
  const records = readFileSync(join(ownState().dir, 'resources'), 'utf8');
  assert.ok(records.includes(JSON.stringify({ kind: 'unit', name: unit })), 'the unit is recorded');
  assert.ok(!records.includes('"kind":"dir"'), 'no directory recorded');
});
