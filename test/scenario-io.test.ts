/**
 * The `io` scenario: fio's JSON parsed from a captured real report, the fio
 * command it runs, and one sample end to end on native, container (volume and
 * overlay) and tcg with a small file and 1 s per job — plausible values, and no
 * scratch directory, disk, mount, cgroup or qemu left behind.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { FioParseError, parseFioJson } from '../bench/scenarios/parsers/fio.js';
import { IO_METRICS, fioArgv, io, ioValues, overlayName } from '../bench/scenarios/io.js';
import type { SampleOutcome } from '../bench/scenarios/types.js';
import createNativeDriver from '../drivers/native.js';
import createContainerDriver, { DIR_PREFIX } from '../drivers/container/index.js';
import { PARENT, detectCgroups } from '../drivers/linux/cgroups.js';
import { createTcgDriver } from '../drivers/qemu/index.js';
import type { Driver } from '../drivers/types.js';

const MiB = 2 ** 20;
const fixture = (name: string): string => readFileSync(fileURLToPath(new URL(`../../test/fixtures/${name}`, import.meta.url)), 'utf8');
const BASE = ['seqReadMiBps', 'seqWriteMiBps', 'randReadIops', 'randWriteIops', 'randReadP50Us', 'randReadP99Us', 'randWriteP50Us', 'randWriteP99Us'];

const drivers: Driver[] = [];
after(async () => {
  await Promise.all(drivers.map((d) => d.teardown()));
});

/** One sample with a small file and 1 s per job. */
async function sampleOn(driver: Driver, ioSizeBytes: number): Promise<SampleOutcome> {
  drivers.push(driver);
  await driver.prepare({ limits: {} });
  return io.sample(driver, { round: 0, limits: {}, signal: new AbortController().signal, options: { ioSizeBytes, ioRuntimeS: 1 } });
}

/** Every base metric is positive and within what a disk (or TCG) can do; latencies are ordered. */
function assertPlausible(values: Record<string, number>, prefix: (m: string) => string = (m) => m): void {
  for (const m of BASE) {
    const v = values[prefix(m)];
    assert.ok(v !== undefined && Number.isFinite(v) && v > 0, `${prefix(m)} = ${v}`);
  }
  const get = (m: string): number => values[prefix(m)] as number;
  assert.ok(get('seqReadMiBps') < 100_000 && get('seqWriteMiBps') < 100_000, 'bandwidths below 100 GiB/s');
  assert.ok(get('randReadIops') < 10_000_000 && get('randWriteIops') < 10_000_000, 'IOPS below 10 M');
  assert.ok(get('randReadP50Us') <= get('randReadP99Us') && get('randWriteP50Us') <= get('randWriteP99Us'), 'p50 ≤ p99');
  assert.ok(get('randReadP50Us') >= 1, 'a 4 KiB direct read takes at least a microsecond');
}

/** What of this process's containers is still around: directories, cgroups, mounts. */
function containerLeftovers(): string[] {
  const tag = `${process.pid}-`;
  const found: string[] = [];
  for (const name of readdirSync('/tmp')) if (name.startsWith(`${DIR_PREFIX}${tag}`)) found.push(`dir ${name}`);
  for (const h of detectCgroups().hierarchies) {
    const parent = join(h.mount, PARENT);
    if (existsSync(parent)) for (const name of readdirSync(parent)) if (name.startsWith(tag)) found.push(`cgroup ${join(parent, name)}`);
  }
  for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) if (line.includes(`${DIR_PREFIX}${tag}`)) found.push(`mount ${line}`);
  return found;
}

/** Processes whose command line contains `needle`. */
function processesWith(needle: string): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    try {
      const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
      if (cmdline.includes(needle)) found.push(`${pid}: ${cmdline}`);
    } catch {
      // gone
    }
  }
  return found;
}

describe("fio's JSON report", () => {
  test('a captured fio 3.33 report of the four jobs parses to its exact bandwidths, IOPS and latency percentiles', () => {
    const report = parseFioJson(fixture('fio-native-4jobs.json'));
    assert.equal(report.version, 'fio-3.33');
    assert.deepEqual(
      report.jobs.map((j) => j.name),
      ['seqRead', 'seqWrite', 'randRead', 'randWrite'],
    );
    const [seqRead, seqWrite, randRead, randWrite] = report.jobs;
    assert.equal(seqRead?.read.bwBytes, FIXTURE.seqReadBwBytes);
    assert.equal(seqWrite?.write.bwBytes, FIXTURE.seqWriteBwBytes);
    assert.equal(randRead?.read.iops, FIXTURE.randReadIops);
    assert.equal(randRead?.read.clatP50Ns, FIXTURE.randReadP50Ns);
    assert.equal(randRead?.read.clatP99Ns, FIXTURE.randReadP99Ns);
    assert.equal(randWrite?.write.iops, FIXTURE.randWriteIops);
    assert.equal(randWrite?.write.clatP50Ns, FIXTURE.randWriteP50Ns);
    assert.equal(randWrite?.write.clatP99Ns, FIXTURE.randWriteP99Ns);
    assert.equal(randWrite?.read.totalIos, 0, 'a write job read nothing');
  });

  test('the metric values are MiB/s, IOPS and microseconds taken from the right job and direction', () => {
    const v = ioValues(parseFioJson(fixture('fio-native-4jobs.json')));
    assert.equal(v['seqReadMiBps'], FIXTURE.seqReadBwBytes / MiB);
    assert.equal(v['seqWriteMiBps'], FIXTURE.seqWriteBwBytes / MiB);
    assert.equal(v['randReadIops'], FIXTURE.randReadIops);
    assert.equal(v['randWriteIops'], FIXTURE.randWriteIops);
    assert.equal(v['randReadP50Us'], FIXTURE.randReadP50Ns / 1000);
    assert.equal(v['randReadP99Us'], FIXTURE.randReadP99Ns / 1000);
    assert.equal(v['randWriteP50Us'], FIXTURE.randWriteP50Ns / 1000);
    assert.equal(v['randWriteP99Us'], FIXTURE.randWriteP99Ns / 1000);
  });

  test('notes fio prints before its JSON are skipped, and output without a report is an error that shows it', () => {
    const text = fixture('fio-native-4jobs.json');
    assert.equal(parseFioJson(['note: something fio says', ...text.split('\n')]).jobs.length, 4);
    assert.throws(
      () => parseFioJson(['fio: pid=12, err=22/file:filesetup.c', 'Invalid argument']),
      (e: unknown) => e instanceof FioParseError && e.snippet.includes('err=22'),
    );
    assert.throws(() => parseFioJson(['{ "jobs": [ {']), FioParseError);
  });
});

describe('the io scenario', () => {
  test('fio runs direct I/O with libaio at queue depth 16, time-based, the four jobs one after another', () => {
    const argv = fioArgv('/data/f', { sizeBytes: 16 * MiB, runtimeS: 2 });
    assert.equal(argv[0], '/usr/bin/fio');
    for (const a of [
      '--direct=1',
      '--ioengine=libaio',
      '--iodepth=16',
      '--runtime=2',
      '--time_based',
      '--stonewall',
      '--output-format=json',
      '--filename=/data/f',
      `--size=${16 * MiB}`,
    ])
      assert.ok(argv.includes(a), a);
    assert.deepEqual(
      argv.filter((a) => a.startsWith('--rw=')),
      ['--rw=read', '--rw=write', '--rw=randread', '--rw=randwrite'],
    );
    assert.deepEqual(
      argv.filter((a) => a.startsWith('--bs=')),
      ['--bs=1m', '--bs=1m', '--bs=4k', '--bs=4k'],
    );
  });

  test('every metric has a unit and a direction, and each base metric has an overlay twin', () => {
    for (const m of IO_METRICS) assert.ok(m.unit !== '' && (m.better === 'higher' || m.better === 'lower') && m.description.length > 20, m.name);
    const names = IO_METRICS.map((m) => m.name);
    assert.deepEqual(names, [...BASE, ...BASE.map(overlayName)]);
    assert.equal(overlayName('randReadIops'), 'overlayRandReadIops');
  });

  test('the parameters record the size, the time per job, the engine and where each target writes', () => {
    const p = io.parameters({ ioSizeBytes: 64 * MiB });
    assert.equal(p['sizeBytes'], 64 * MiB);
    assert.equal(p['runtimeSPerJob'], 3);
    assert.equal(p['direct'], true);
    assert.equal(p['ioEngine'], 'libaio');
    assert.equal(io.parameters({})['sizeBytes'], 256 * MiB);
  });

  test('natively fio writes in a tsbench scratch dir on the host, which is gone afterwards', async () => {
    const s = await sampleOn(createNativeDriver(), 16 * MiB);
    assert.equal(s.status, 'ok');
    assertPlausible(s.values);
    for (const m of BASE) assert.equal(s.values[overlayName(m)], s.values[m], `native repeats ${m} as the overlay baseline`);
    const file = String(s.extra?.['file']);
    assert.match(file, /\/tsbench-io-[^/]+\/tsbench-io\.dat$/);
    assert.equal(existsSync(dirname(file)), false, 'the scratch dir is removed');
  });

  test('a container measures its bind-mounted volume and its overlay root with the upper layer on disk, and leaves nothing', async (t) => {
    const driver = createContainerDriver();
    const probe = await driver.probe();
    if (!probe.available) return t.skip(`container target unavailable: ${probe.reason ?? ''}`);
    const s = await sampleOn(driver, 16 * MiB);
    assert.equal(s.status, 'ok');
    assertPlausible(s.values);
    assertPlausible(s.values, overlayName);
    assert.notEqual(s.values['overlayRandReadIops'], s.values['randReadIops'], 'two separate runs');
    const overlay = s.extra?.['overlay'] as Record<string, unknown>;
    assert.equal(overlay['direct'], true, 'O_DIRECT on overlayfs worked');
    assert.equal(existsSync(String(s.extra?.['hostDir'])), false, 'the volume dir is removed');
    assert.deepEqual(containerLeftovers(), []);
  });

  test('a tcg VM runs fio on its virtio-blk data disk at /data, and its disk and qemu are gone afterwards', async (t) => {
    const driver = createTcgDriver();
    const probe = await driver.probe();
    if (!probe.available) return t.skip(`tcg target unavailable: ${probe.reason ?? ''}`);
    const s = await sampleOn(driver, 1 * MiB);
    assert.equal(s.status, 'ok');
    assertPlausible(s.values);
    assert.equal(s.values['overlayRandReadIops'], undefined, 'VMs have no overlay metrics');
    const vm = s.extra?.['target'] as { diskBytes?: number; qemuArgv?: string[] };
    assert.ok((vm.diskBytes ?? 0) >= 1 * MiB + 64 * MiB, `data disk ${vm.diskBytes}`);
    const drive = vm.qemuArgv?.find((a) => a.startsWith('file=') && a.includes('id=d0')) ?? '';
    const disk = /^file=([^,]+)/.exec(drive)?.[1] ?? '';
    assert.match(disk, /tsbench-qemu-.*\.raw$/);
    assert.equal(existsSync(disk), false, 'the data disk is removed');
    assert.deepEqual(processesWith(disk), [], 'no qemu left');
  });
});

/** The figures as test/fixtures/fio-native-4jobs.json states them (fio 3.33, native, 16 MiB, 1 s per job). */
const FIXTURE = {
  seqReadBwBytes: 1006052146,
  seqWriteBwBytes: 1957480842,
  randReadIops: 60907.092907,
  randReadP50Ns: 132096,
  randReadP99Ns: 2244608,
  randWriteIops: 39082.917083,
  randWriteP50Ns: 211968,
  randWriteP99Ns: 4145152,
};
