/**
 * drivers/linux/lifecycle.ts's pure part: the accounting a Linux container's
 * result gets and the one OOM verdict every container driver reports.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { recordAccounting } from '../drivers/linux/lifecycle.js';
import type { InstanceResult, InstanceStatus } from '../drivers/types.js';

function result(status: InstanceStatus): InstanceResult {
  return {
    status,
    exitCode: status === 'ok' ? 0 : null,
    timeline: { harnessMs: 0, phases: [] },
    accounting: { cpuUserMs: 1 },
    stdout: [],
    stderr: [],
    tail: [],
  };
}

test('the cgroups counters replace the launcher rusage; non-finite ones are dropped', () => {
  const r = result('ok');
  recordAccounting(r, { cpuUserMs: 5, peakMemoryBytes: Number.NaN, oomKills: 0 }, {});
  assert.equal(r.accounting.cpuUserMs, 5);
  assert.equal('peakMemoryBytes' in r.accounting, false);
  assert.equal(r.status, 'ok');
});

test('a kill by the memory cgroup is oom-killed, with the limit in the reason', () => {
  const r = result('failed');
  recordAccounting(r, { oomKills: 2 }, { memoryBytes: 128 * 2 ** 20 });
  assert.equal(r.status, 'oom-killed');
  assert.equal(r.reason, 'the OOM killer killed 2 process(es) of the instance (the limit is 128 MiB)');
  const unlimited = result('ok');
  recordAccounting(unlimited, { oomKills: 1 }, {});
  assert.equal(unlimited.reason, 'the OOM killer killed 1 process(es) of the instance (no limit)');
});

test('an instance tsbench killed or timed out keeps its status', () => {
  for (const status of ['killed', 'timeout'] as const) {
    const r = result(status);
    recordAccounting(r, { oomKills: 1 }, { memoryBytes: 2 ** 20 });
    assert.equal(r.status, status);
  }
});
