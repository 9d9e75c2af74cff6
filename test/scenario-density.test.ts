/**
 * The `density` scenario end to end with real instances: a few natives and
 * containers and two TCG VMs started at once, the memory guard, and nothing
 * left behind after any run. Targets that cannot run here are skipped with
 * their probe's reason.
 *
 * Leaks are found by a marker: the test puts TSBENCH_DENSITY_TEST=<its pid> in
 * its environment, which native agents and qemu inherit; containers are found
 * by their cgroups, directories and processes named after this pid.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_INSTANCES, defaultInstances, density, densityOptions } from '../bench/scenarios/density.js';
import { parseMeminfo } from '../bench/preflight.js';
import { listScenarios } from '../bench/scenarios/index.js';
import type { SampleOutcome } from '../bench/scenarios/types.js';
import createContainerDriver, { DIR_PREFIX } from '../drivers/container/index.js';
import { PARENT, detectCgroups } from '../drivers/linux/cgroups.js';
import createNativeDriver from '../drivers/native.js';
import { createTcgDriver } from '../drivers/qemu/index.js';
import type { Driver } from '../drivers/types.js';

const MARK = 'TSBENCH_DENSITY_TEST';
process.env[MARK] = String(process.pid);
const GiB = 2 ** 30;

const native = createNativeDriver();
const container = createContainerDriver();
const tcg = createTcgDriver();
const drivers: Driver[] = [native, container, tcg];
const [nativeProbe, containerProbe, tcgProbe] = await Promise.all(drivers.map((d) => d.probe()));
const skipOf = (p: typeof nativeProbe | undefined, name: string): string | false => (p?.available ? false : `${name} unavailable: ${p?.reason ?? ''}`);
const noNative = skipOf(nativeProbe, 'native');
const noContainer = skipOf(containerProbe, 'container');
const noVm = skipOf(tcgProbe, 'tcg');

/** Everything of this test's instances still on the host: processes, cgroups, directories, mounts. */
function leftovers(): string[] {
  const found: string[] = [];
  const tag = `${process.pid}-`;
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    if (Number(pid) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      const environ = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
      const root = readlinkSync(`/proc/${pid}/root`);
      const ours = environ.includes(`${MARK}=${process.pid}`);
      if ((ours && /tsbench-agent|tsbench-launch|qemu-system/.test(cmdline)) || cmdline.includes(`tsbench-${tag}`) || root.includes(`${DIR_PREFIX}${tag}`)) {
        found.push(`process ${pid}: ${cmdline}`);
      }
    } catch {
      // Gone meanwhile, or a kernel thread.
    }
  }
  if (!noContainer) {
    for (const h of detectCgroups().hierarchies) {
      const parent = join(h.mount, PARENT);
      if (!existsSync(parent)) continue;
      for (const name of readdirSync(parent)) if (name.startsWith(tag)) found.push(`cgroup ${join(parent, name)}`);
    }
  }
  for (const name of readdirSync(tmpdir())) if (name.startsWith(`${DIR_PREFIX}${tag}`)) found.push(`dir ${join(tmpdir(), name)}`);
  for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) if (line.includes(`${DIR_PREFIX}${tag}`)) found.push(`mount ${line}`);
  return found;
}

/** One density sample on a driver with these scenario options. */
function sample(driver: Driver, options: Record<string, unknown>): Promise<SampleOutcome> {
  return density.sample(driver, { round: 0, limits: {}, signal: new AbortController().signal, options });
}

function assertSane(s: SampleOutcome, n: number): void {
  assert.equal(s.status, 'ok');
  assert.equal(s.values['instances'], n);
  assert.equal(s.extra?.['instancesRequested'], n);
  assert.equal(s.extra?.['stoppedEarly'], undefined);
  const p50 = s.values['startupP50Ms'] as number;
  const p99 = s.values['startupP99Ms'] as number;
  assert.ok(p50 > 0 && p50 <= p99, `p50 ${p50} ms, p99 ${p99} ms`);
  assert.ok((s.values['pssPerInstanceBytes'] as number) > 0, 'PSS per instance is positive');
  assert.ok(Number.isFinite(s.values['memAvailableDeltaPerInstanceBytes']), 'MemAvailable delta per instance is recorded');
  assert.equal(typeof s.extra?.['memAvailableBeforeBytes'], 'number');
  assert.equal(typeof s.extra?.['memAvailableAfterBytes'], 'number');
  assert.equal((s.extra?.['toReadyMs'] as number[]).length, n);
  assert.deepEqual(leftovers(), [], 'no instance is left after the sample');
}

const seen: Record<string, SampleOutcome> = {};

before(async () => {
  for (const [d, skip] of [
    [native, noNative],
    [container, noContainer],
    [tcg, noVm],
  ] as const)
    if (!skip) await d.prepare({ limits: {} });
});

after(async () => {
  await Promise.all(drivers.map((d) => d.teardown()));
});

describe('density sizing and options', () => {
  test('density is listed after the other performance scenarios and before the claim probes', () => {
    const names = listScenarios().map((s) => s.name);
    assert.deepEqual(names.slice(0, 6), ['startup', 'cpu', 'memory', 'io', 'net', 'density']);
    assert.deepEqual(names.slice(6), ['isolation', 'limits', 'syscall', 'firstwork']);
  });

  test('without --instances, 50 instances run natively and in containers', () => {
    assert.equal(defaultInstances({ memoryLimit: 'none' }, 20 * GiB, 512 * 2 ** 20), DEFAULT_INSTANCES);
    assert.equal(defaultInstances({ memoryLimit: 'cgroup' }, 1 * GiB, 512 * 2 ** 20), DEFAULT_INSTANCES);
  });

  test('without --instances, VMs are at most 4 and take at most half of MemAvailable, but at least 1 runs', () => {
    assert.equal(defaultInstances({ memoryLimit: 'ram' }, 20 * GiB, 512 * 2 ** 20), 4);
    assert.equal(defaultInstances({ memoryLimit: 'ram' }, 3 * GiB, 512 * 2 ** 20), 3);
    assert.equal(defaultInstances({ memoryLimit: 'ram' }, 0.5 * GiB, 512 * 2 ** 20), 1);
  });

  test('a bad instance count or guard fraction is refused with the flag to fix', () => {
    assert.throws(() => densityOptions({ instances: 0 }), /--instances/);
    assert.throws(() => densityOptions({ densityMinFreeFraction: 1.5 }), /densityMinFreeFraction/);
    assert.deepEqual(densityOptions({}), { instances: undefined, minFreeFraction: 0.2 });
  });

  test('MemTotal and MemAvailable are read in bytes', () => {
    assert.deepEqual(parseMeminfo('MemTotal:       1000 kB\nMemFree:  10 kB\nMemAvailable:    500 kB\n'), { totalBytes: 1024000, availableBytes: 512000 });
  });

  test('every metric names its unit and says which way is better', () => {
    for (const m of density.metrics) {
      assert.ok(m.unit.length > 0 && m.description.length > 20, m.name);
      assert.ok(m.better === 'lower' || m.better === 'higher', m.name);
    }
  });
});

describe('density end to end', () => {
  test('the leak check sees a running native instance (it can find leaks)', { skip: noNative }, async () => {
    const i = await native.launch({ job: { kind: 'sleep' } });
    await i.ready;
    const found = leftovers();
    await i.stop();
    await i.result;
    assert.ok(
      found.some((l) => l.includes('tsbench-agent')),
      found.join('\n'),
    );
    assert.deepEqual(leftovers(), []);
  });

  test('the leak check sees a running container (its cgroup and processes)', { skip: noContainer }, async () => {
    const i = await container.launch({ job: { kind: 'sleep' } });
    await i.ready;
    const found = leftovers();
    await i.stop();
    await i.result;
    assert.ok(
      found.some((l) => l.startsWith('cgroup ')),
      found.join('\n'),
    );
    assert.ok(
      found.some((l) => l.startsWith('process ')),
      found.join('\n'),
    );
    assert.deepEqual(leftovers(), []);
  });

  test('five native instances start at once and all are gone after the sample', { skip: noNative }, async () => {
    seen['native'] = await sample(native, { instances: 5 });
    assertSane(seen['native'], 5);
  });

  test('five containers start at once and leave no process, cgroup or directory behind', { skip: noContainer }, async () => {
    seen['container'] = await sample(container, { instances: 5 });
    assertSane(seen['container'], 5);
  });

  test('two TCG VMs start at once, each costing more memory than a native instance, part of it the VMM itself', { skip: noVm }, async () => {
    seen['tcg'] = await sample(tcg, { instances: 2 });
    assertSane(seen['tcg'], 2);
    const vm = seen['tcg'].values['pssPerInstanceBytes'] as number;
    const nat = seen['native']?.values['pssPerInstanceBytes'];
    if (nat !== undefined) assert.ok(vm > nat, `VM PSS ${vm} B vs native ${nat} B`);
    assert.ok(vm > 16 * 2 ** 20, `a booted VM holds its kernel, page tables and QEMU's own memory: ${vm} B`);
    const overhead = seen['tcg'].values['vmmOverheadPerInstanceBytes'] as number;
    assert.ok(overhead > 0 && overhead < vm, `the VMM's own overhead is part of its PSS: ${overhead} B of ${vm} B`);
    assert.equal((seen['tcg'].extra?.['vmmOverheadBytes'] as number[]).length, 2, 'one overhead per VM');
    assert.equal(seen['native']?.values['vmmOverheadPerInstanceBytes'], undefined, 'no VMM outside VMs');
  });

  test('the memory guard stops launching early and the sample says why', { skip: noNative }, async () => {
    const s = await sample(native, { instances: 5, densityMinFreeFraction: 0.999 });
    assert.equal(s.status, 'ok');
    assert.equal(s.values['instances'], 1);
    assert.equal(s.extra?.['instancesRequested'], 5);
    assert.match(String(s.extra?.['stoppedEarly']), /MemAvailable fell to .* below the 99\.9 % guard .* after 1 of 5/);
    assert.deepEqual(leftovers(), []);
  });

  test('an instance that fails to launch leaves none of the others running', { skip: noNative }, async () => {
    let launches = 0;
    const flaky: Driver = {
      ...native,
      name: 'native',
      probe: () => native.probe(),
      capabilities: native.capabilities,
      prepare: (c) => native.prepare(c),
      teardown: () => native.teardown(),
      launch: async (r) => {
        if (++launches === 4) throw new Error('no more room');
        return native.launch(r);
      },
    };
    await assert.rejects(sample(flaky, { instances: 5 }), /launching instance 4 of 5 failed: no more room/);
    assert.deepEqual(leftovers(), []);
  });
});
