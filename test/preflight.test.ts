import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { HEADROOM, countCpuList, instancesThatFit, largestFitting, readHostFacts, usableBytes, type HostFacts } from '../bench/preflight.js';
import { dataDiskBytes, ioFootprint } from '../bench/scenarios/io.js';
import { defaultInstances, densityFit, INSTANCE_FOOTPRINT_BYTES } from '../bench/scenarios/density.js';
import { GiB, KiB, MiB, approxBytes, describeBytes, sizeFlagAtMost } from '../core/units.js';
import { NativeDriver } from '../drivers/native.js';
import { createTcgDriver } from '../drivers/qemu/index.js';
import { CONTAINER_CAPABILITIES, type Driver } from '../drivers/types.js';
import { tsbench } from './helpers/cli.js';

/** Drivers as sizing sees them: their capabilities and limits, nothing launched. */
const NATIVE: Pick<Driver, 'capabilities'> = new NativeDriver();
const CONTAINER: Pick<Driver, 'capabilities'> = { capabilities: CONTAINER_CAPABILITIES };
const TCG: Pick<Driver, 'capabilities' | 'limitsFor'> = createTcgDriver();

const work = mkdtempSync(join(tmpdir(), 'tsbench-preflight-test-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** A made-up host: 2 CPUs, 20000 open files, pid_max 32768, 24 GiB of which 20 available. */
const host = (over: Partial<HostFacts> = {}): HostFacts => ({
  cpus: 2,
  fds: { soft: 20_000, hard: 20_000, inUse: 36 },
  tasks: { limit: 32_768, limitFrom: 'kernel.pid_max', inUse: 200 },
  memory: { totalBytes: 24 * GiB, availableBytes: 20 * GiB },
  ...over,
});

describe('the fits, computed from host facts', () => {
  test('a run keeps 10 % of the free space free, and at least 1 GiB', () => {
    assert.equal(usableBytes(100 * GiB), 90 * GiB);
    assert.equal(usableBytes(5 * GiB), 4 * GiB);
    assert.equal(usableBytes(512 * MiB), 0);
  });

  test('the largest io size that fits a VM leaves room for ext4 on its data disk', () => {
    const usable = usableBytes(71.2 * GiB);
    const largest = largestFitting((mib) => dataDiskBytes(mib * MiB) <= usable, 1024 * 1024) * MiB;
    assert.ok(dataDiskBytes(largest) <= usable && dataDiskBytes(largest + MiB) > usable);
    assert.equal(sizeFlagAtMost(largest), '56G');
  });

  test('a container writes the io file twice, a VM its disk, native once', () => {
    const sum = (xs: { bytes: number }[]) => xs.reduce((a, x) => a + x.bytes, 0);
    assert.equal(sum(ioFootprint(NATIVE.capabilities, GiB)), GiB);
    assert.equal(sum(ioFootprint(CONTAINER.capabilities, GiB)), 2 * GiB);
    assert.equal(sum(ioFootprint(TCG.capabilities, GiB)), GiB + 128 * MiB);
  });

  test('instances are bounded by open files when descriptors run out first', () => {
    const fit = instancesThatFit({ fds: 4, tasks: 2, memoryBytes: MiB, memoryWhat: '1 MiB' }, host(), 0);
    assert.equal(fit.limitedBy, 'fds');
    assert.equal(fit.largest, Math.floor((20_000 - 36 - HEADROOM.fds) / 4));
    assert.match(fit.why, /4 file descriptors .* open-file limit of 20000/);
  });

  test('instances are bounded by the task limit when it is the tightest', () => {
    const fit = instancesThatFit(
      { fds: 4, tasks: 16, memoryBytes: MiB, memoryWhat: '1 MiB' },
      host({ tasks: { limit: 4096, limitFrom: 'pids.max of /sys/fs/cgroup/x', inUse: 100 } }),
      0,
    );
    assert.equal(fit.limitedBy, 'tasks');
    assert.equal(fit.largest, Math.floor((4096 - 100 - HEADROOM.tasks) / 16));
    assert.match(fit.why, /pids\.max of \/sys\/fs\/cgroup\/x/);
  });

  test('VMs are bounded by their RAM above the memory that must stay free', () => {
    const fit = densityFit(TCG, { memoryBytes: GiB }, host(), 0.2);
    assert.equal(fit.limitedBy, 'memory');
    assert.equal(fit.largest, Math.floor((20 * GiB - 0.2 * 24 * GiB) / GiB));
  });

  test('containers are sized by their measured footprint', () => {
    const fit = densityFit(CONTAINER, {}, host({ memory: { totalBytes: 4 * GiB, availableBytes: 2 * GiB } }), 0.2);
    assert.equal(fit.limitedBy, 'memory');
    assert.equal(fit.largest, Math.floor((2 * GiB - 0.2 * 4 * GiB) / INSTANCE_FOOTPRINT_BYTES));
  });

  test('the default number of instances never exceeds what fits', () => {
    assert.equal(defaultInstances(CONTAINER.capabilities, 20 * GiB, 512 * MiB, 7), 7);
    assert.equal(defaultInstances(CONTAINER.capabilities, 20 * GiB, 512 * MiB, 1000), 50);
    assert.equal(defaultInstances(TCG.capabilities, 20 * GiB, 512 * MiB, 2), 2);
  });

  test('a cpuset list counts its CPUs', () => {
    assert.equal(countCpuList('0-1'), 2);
    assert.equal(countCpuList('0-3,8,10-11\n'), 7);
  });

  test('this host has CPUs, an open-file limit and a task limit', async () => {
    const h = await readHostFacts();
    assert.ok(h.cpus >= 1 && h.fds.soft > h.fds.inUse && h.tasks.limit > h.tasks.inUse && h.memory.availableBytes > 0, JSON.stringify(h));
  });

  test('limits are described exactly, never rounded to 0', () => {
    assert.equal(describeBytes(KiB), '1 KiB');
    assert.equal(describeBytes(1536), '1536 bytes');
    assert.equal(describeBytes(512 * MiB), '512 MiB');
    assert.equal(describeBytes(2 * GiB), '2 GiB');
    assert.equal(approxBytes(71.25 * GiB), '71.2 GiB');
  });
});

describe('refusals before anything is created', () => {
  const cases: [string, string[], RegExp][] = [
    [
      'an --io-size beyond the free space',
      ['run', 'io', '--targets', 'native', '--io-size', '1T'],
      /^tsbench: --io-size 1T does not fit: \/\S+ has [\d.]+ GiB free and native needs 1\.0 TiB there .*; the largest that fits is \d+G/,
    ],
    [
      'an --instances beyond what the host holds',
      ['run', 'density', '--targets', 'container', '--instances', '100000'],
      /^tsbench: --instances 100000 does not fit container: .*; the largest count that fits is \d+/,
    ],
    [
      'a --cpus above the host CPUs',
      ['run', 'startup', '--targets', 'native', '--cpus', '1000'],
      /^tsbench: --cpus 1000 is more than the \d+ CPUs? .*; the most that fits is --cpus \d+$/,
    ],
    [
      'a --cpus below a cgroup quota',
      ['run', 'startup', '--targets', 'container', '--cpus', '0.001'],
      /^tsbench: --cpus 0\.001 is below .*; the least that fits is --cpus 0\.01$/,
    ],
    [
      'a --memory too small for a container',
      ['run', 'startup', '--targets', 'container', '--memory', '1k'],
      /^tsbench: --memory 1k is too little for container: .*4 MiB.*; pass --memory 4M or more$/,
    ],
    [
      'a duplicate target',
      ['run', 'startup', '--targets', 'native,native'],
      /^tsbench: --targets names native twice; give each target once, e\.g\. --targets native$/,
    ],
    ['a duplicate scenario', ['run', 'startup', 'startup', '--targets', 'native'], /^tsbench: scenario startup is given twice/],
  ];
  for (const [what, args, message] of cases) {
    test(`${what} exits with 2, one line naming the flag and what fits, and no output directory`, async () => {
      const out = join(work, what.replace(/\W+/g, '-'));
      const r = await tsbench([...args, '--out', out]);
      assert.equal(r.exitCode, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.equal(r.stdout, '');
      assert.equal(existsSync(out), false, 'no output directory');
    });
  }

  test('the largest --instances the refusal names is what the fits computation gives for this host', async () => {
    const r = await tsbench(['run', 'density', '--targets', 'container', '--instances', '100000']);
    const largest = /the largest count that fits is (\d+)/.exec(r.stderr)?.[1];
    assert.ok(largest !== undefined, r.stderr);
    const fit = densityFit(CONTAINER, {}, await readHostFacts(), 0.2);
    assert.ok(Math.abs(fit.largest - Number(largest)) <= 50, `${fit.largest} vs ${largest}`);
  });
});
