/**
 * `io`: what each isolation layer costs a disk workload (claim C6). fio runs
 * four jobs one after another (`--stonewall`) on one file of `--io-size` bytes
 * (default 256 MiB), all with direct I/O (`--direct=1`, O_DIRECT), so the page
 * cache cannot stand in for the disk, and the same engine and queue depth:
 *
 *   seqRead   sequential read,  1 MiB blocks, queue depth 16
 *   seqWrite  sequential write, 1 MiB blocks, queue depth 16
 *   randRead  random read,      4 KiB blocks, queue depth 16
 *   randWrite random write,     4 KiB blocks, queue depth 16
 *
 * Each job is time-based (`--runtime=3 --time_based`, the file wrapped around
 * as often as it takes) rather than size-based: the targets differ by an order
 * of magnitude (TCG), so a fixed size would be too short to be steady natively
 * or far too long in a VM, while a fixed time bounds the scenario's duration
 * and gives every target the same window. fio lays the file out (buffered
 * writes and an fsync, not measured) before the first job, which is a read, so
 * no job ever reads holes or unwritten extents.
 *
 * Where a target's file lives follows from its capabilities, on the host's tmp dir's filesystem
 * (an engine's overlay: its storage's):
 * - a host process (`sharesHost`: native): a scratch directory `tsbench-io-*` under the host's tmp dir;
 * - a target with a data disk (`dataDisk`: VMs): a fresh ext4 virtio-blk data disk (a raw file in the
 *   host's tmp dir, opened by QEMU with cache=none, i.e. O_DIRECT on the host too) at /data;
 * - a target that takes volumes (containers): the same kind of scratch directory bind-mounted at
 *   /data (the volume figures), and, where it has an overlay root whose upper layer can be on disk
 *   (`upperDiskDir`), in a second instance, a file on that root (`upper: 'disk'`, like docker's
 *   overlay2) — the `overlay*` metrics.
 * Native reports its one host-directory run under the `overlay*` names as
 * well, as the baseline the container's overlay is compared with, so the
 * runner's ratio-to-native covers them; VMs have no overlay metrics.
 *
 * Containers and VMs get the same CPU and memory (`matchedLimits`). Scratch
 * directories are removed after every sample, whatever happened.
 */
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TargetError, UsageError, describeError } from '../../core/errors.js';
import { makeOwnedDir, type Capabilities, type Driver, type InstanceResult, type LaunchRequest } from '../../drivers/index.js';
import type { MetricSpec } from '../../core/schema.js';
import { parseFioJson, type FioReport } from './parsers/fio.js';
import { matchedLimits, sampleFrom, type PreflightContext, type SampleOutcome, type Scenario, type ScenarioOptions } from './types.js';
import { MiB, approxBytes, sizeFlagAtMost } from '../../core/units.js';
import { freeSpace, largestFitting, usableBytes } from '../preflight.js';

/** The file fio works on when `--io-size` is not given. */
export const DEFAULT_IO_SIZE_BYTES = 256 * MiB;
/** Seconds each of the four jobs runs (time-based). */
export const DEFAULT_IO_RUNTIME_S = 3;
/** The fio binary: the image's copy in containers and VMs, the very same file natively. */
export const FIO = '/usr/bin/fio';
/** fio's asynchronous engine; works natively, on overlayfs and in the guest. */
export const IO_ENGINE = 'libaio';
export const QUEUE_DEPTH = 16;
/** The file's name inside its directory (the scratch dir, /data, or the overlay root). */
const FILE = 'tsbench-io.dat';

/** The jobs in the order fio runs them, each with the metric-name stem it feeds. */
const JOBS = [
  { name: 'seqRead', rw: 'read', bs: '1m' },
  { name: 'seqWrite', rw: 'write', bs: '1m' },
  { name: 'randRead', rw: 'randread', bs: '4k' },
  { name: 'randWrite', rw: 'randwrite', bs: '4k' },
] as const;

const BASE_METRICS: readonly MetricSpec[] = [
  { name: 'seqReadMiBps', unit: 'MiB/s', better: 'higher', description: 'sequential read, 1 MiB blocks, QD16, O_DIRECT: bandwidth in MiB/s' },
  { name: 'seqWriteMiBps', unit: 'MiB/s', better: 'higher', description: 'sequential write, 1 MiB blocks, QD16, O_DIRECT: bandwidth in MiB/s' },
  { name: 'randReadIops', unit: 'IOPS', better: 'higher', description: 'random read, 4 KiB blocks, QD16, O_DIRECT: I/O operations per second', headline: true },
  { name: 'randWriteIops', unit: 'IOPS', better: 'higher', description: 'random write, 4 KiB blocks, QD16, O_DIRECT: I/O operations per second' },
  { name: 'randReadP50Us', unit: 'µs', better: 'lower', description: 'random read 4 KiB QD16: median completion latency (fio clat) in µs' },
  { name: 'randReadP99Us', unit: 'µs', better: 'lower', description: 'random read 4 KiB QD16: 99th-percentile completion latency (fio clat) in µs' },
  { name: 'randWriteP50Us', unit: 'µs', better: 'lower', description: 'random write 4 KiB QD16: median completion latency (fio clat) in µs' },
  { name: 'randWriteP99Us', unit: 'µs', better: 'lower', description: 'random write 4 KiB QD16: 99th-percentile completion latency (fio clat) in µs' },
];

const WHERE_BASE = 'native: a host scratch dir; container: a bind-mounted host dir at /data; VM: its virtio-blk data disk at /data';
const WHERE_OVERLAY = 'container: a file on its overlay root, upper layer on the host disk; native: its host-dir figure, repeated as the baseline; VMs: none';

/** `randReadIops` → `overlayRandReadIops`. */
export function overlayName(metric: string): string {
  return `overlay${metric.charAt(0).toUpperCase()}${metric.slice(1)}`;
}

export const IO_METRICS: readonly MetricSpec[] = [
  ...BASE_METRICS.map((m) => ({ ...m, description: `${m.description} (${WHERE_BASE})` })),
  ...BASE_METRICS.map((m) => ({ ...m, name: overlayName(m.name), description: `${m.description} (${WHERE_OVERLAY})`, headline: undefined })),
];

interface IoParams {
  sizeBytes: number;
  runtimeS: number;
}

function params(options: ScenarioOptions): IoParams {
  const size = options['ioSizeBytes'];
  const runtime = options['ioRuntimeS'];
  const sizeBytes = typeof size === 'number' && Number.isFinite(size) && size > 0 ? size : DEFAULT_IO_SIZE_BYTES;
  const runtimeS = typeof runtime === 'number' && Number.isFinite(runtime) && runtime > 0 ? runtime : DEFAULT_IO_RUNTIME_S;
  if (sizeBytes < MiB) throw new TargetError('io', 'options', `--io-size ${sizeBytes} is too small for 1 MiB blocks: give at least 1M, e.g. --io-size 16M`);
  return { sizeBytes: Math.floor(sizeBytes / MiB) * MiB, runtimeS };
}

/** fio's argv for one file; the four jobs run one after another. Pure, for tests. */
export function fioArgv(file: string, p: IoParams): string[] {
  return [
    FIO,
    '--output-format=json',
    '--eta=never',
    `--filename=${file}`,
    `--size=${p.sizeBytes}`,
    '--direct=1',
    `--ioengine=${IO_ENGINE}`,
    `--iodepth=${QUEUE_DEPTH}`,
    `--runtime=${p.runtimeS}`,
    '--time_based',
    '--stonewall',
    ...JOBS.flatMap((j) => [`--name=${j.name}`, `--rw=${j.rw}`, `--bs=${j.bs}`]),
  ];
}

/** The metric values of one fio report, under the base names. */
export function ioValues(report: FioReport): Record<string, number> {
  const job = (name: string) => {
    const j = report.jobs.find((x) => x.name === name);
    if (!j) throw new Error(`fio's report has no job ${name}`);
    if (j.error !== 0) throw new Error(`fio job ${name} failed with error ${j.error}`);
    return j;
  };
  const us = (ns: number | undefined, what: string): number => {
    if (ns === undefined) throw new Error(`fio reported no ${what}`);
    return ns / 1000;
  };
  const seqRead = job('seqRead').read;
  const seqWrite = job('seqWrite').write;
  const randRead = job('randRead').read;
  const randWrite = job('randWrite').write;
  for (const [name, d] of [
    ['seqRead', seqRead],
    ['seqWrite', seqWrite],
    ['randRead', randRead],
    ['randWrite', randWrite],
  ] as const) {
    if (d.totalIos <= 0) throw new Error(`fio job ${name} completed no I/O`);
  }
  return {
    seqReadMiBps: seqRead.bwBytes / MiB,
    seqWriteMiBps: seqWrite.bwBytes / MiB,
    randReadIops: randRead.iops,
    randWriteIops: randWrite.iops,
    randReadP50Us: us(randRead.clatP50Ns, 'randRead p50'),
    randReadP99Us: us(randRead.clatP99Ns, 'randRead p99'),
    randWriteP50Us: us(randWrite.clatP50Ns, 'randWrite p50'),
    randWriteP99Us: us(randWrite.clatP99Ns, 'randWrite p99'),
  };
}

/** A VM's data disk for a file of `sizeBytes`: ext4's journal and metadata take some of it, so an eighth more, at least 64 MiB. */
export function dataDiskBytes(sizeBytes: number): number {
  return sizeBytes + Math.max(64 * MiB, Math.ceil(sizeBytes / 8 / MiB) * MiB);
}

/** The capabilities that say where a target's io file goes. */
type IoCapabilities = Pick<Capabilities, 'sharesHost' | 'dataDisk' | 'volumes' | 'upperDiskDir'>;

/** What one sample writes on the host for a file of `sizeBytes`, and where: the directories a sample of this target fills. */
export function ioFootprint(caps: IoCapabilities, sizeBytes: number): { dir: string; bytes: number; what: string }[] {
  if (caps.sharesHost) return [{ dir: tmpdir(), bytes: sizeBytes, what: 'the file' }];
  if (caps.dataDisk) return [{ dir: tmpdir(), bytes: dataDiskBytes(sizeBytes), what: 'its data disk' }];
  // The volume's scratch dir is kept until the overlay run is over: both files exist at once.
  return [
    ...(caps.volumes ? [{ dir: tmpdir(), bytes: sizeBytes, what: 'the volume file' }] : []),
    ...(caps.upperDiskDir !== undefined ? [{ dir: caps.upperDiskDir, bytes: sizeBytes, what: 'the overlay file' }] : []),
  ];
}

/**
 * Refuses an `--io-size` that does not fit where some target writes it, keeping FREE_SPACE_RESERVE free,
 * and says the largest that fits every target. Targets take their samples one at a time and remove
 * what they wrote after each, so each target is checked alone.
 */
async function ioPreflight(ctx: PreflightContext): Promise<void> {
  const sizeBytes = Math.floor(((ctx.options['ioSizeBytes'] as number | undefined) ?? DEFAULT_IO_SIZE_BYTES) / MiB) * MiB;
  const text = ctx.given.ioSize ?? `${DEFAULT_IO_SIZE_BYTES / MiB}M (the default)`;
  if (sizeBytes < MiB) throw new UsageError(`--io-size ${text} is too small for 1 MiB blocks: give at least 1M, e.g. --io-size 16M`);
  const spaces = new Map<string, Awaited<ReturnType<typeof freeSpace>>>();
  const space = async (dir: string) => spaces.get(dir) ?? spaces.set(dir, await freeSpace(dir)).get(dir)!;
  let worst: { message: string; largest: number } | undefined;
  for (const [name, d] of ctx.drivers) {
    const parts = ioFootprint(d.capabilities, sizeBytes);
    const byDevice = new Map<number, { dir: string; free: number; parts: typeof parts }>();
    for (const part of parts) {
      const s = await space(part.dir);
      const entry = byDevice.get(s.device) ?? { dir: part.dir, free: s.freeBytes, parts: [] };
      entry.parts.push(part);
      byDevice.set(s.device, entry);
    }
    for (const { dir, free, parts: here } of byDevice.values()) {
      const need = (size: number): number =>
        ioFootprint(d.capabilities, size)
          .filter((p) => here.some((h) => h.what === p.what))
          .reduce((a, p) => a + p.bytes, 0);
      const usable = usableBytes(free);
      if (need(sizeBytes) <= usable) continue;
      const largest = largestFitting((mib) => need(mib * MiB) <= usable, sizeBytes / MiB) * MiB;
      if (worst === undefined || largest < worst.largest)
        worst = {
          largest,
          message: `${dir} has ${approxBytes(free)} free and ${name} needs ${approxBytes(need(sizeBytes))} there (${here.map((p) => p.what).join(' and ')})`,
        };
    }
  }
  if (worst === undefined) return;
  const fits = worst.largest >= MiB ? `the largest that fits is ${sizeFlagAtMost(worst.largest)}` : 'not even 1M fits: free some space first';
  throw new UsageError(`--io-size ${text} does not fit: ${worst.message}; ${fits} (keeping 10 %, at least 1 GiB, free)`);
}

/** A fresh host scratch directory on the tmp dir's filesystem, recorded for the sweep (drivers/ownership.ts) before it is made. */
function scratchDir(): Promise<string> {
  return makeOwnedDir(join(tmpdir(), 'tsbench-io-'));
}

/** Runs fio in one instance and returns the result and its values; throws a TargetError naming the variant. */
async function runFio(
  driver: Driver,
  variant: string,
  file: string,
  p: IoParams,
  request: Omit<LaunchRequest, 'job'>,
): Promise<{ r: InstanceResult; values: Record<string, number>; fioVersion: string }> {
  const instance = await driver.launch({ job: { kind: 'exec', argv: fioArgv(file, p) }, ...request });
  const r = await instance.result;
  const tail = [...r.stderr.slice(-10), ...r.tail];
  if (r.status !== 'ok') throw new TargetError(driver.name, `io ${variant}`, `fio on ${file} did not finish: ${r.reason ?? r.status}`, { tail });
  try {
    const report = parseFioJson(r.stdout);
    return { r, values: ioValues(report), fioVersion: report.version };
  } catch (e) {
    throw new TargetError(driver.name, `io ${variant}`, `fio on ${file}: ${describeError(e)}`, { tail, cause: e });
  }
}

/** What explains one fio run, for the sample's `extra`. */
function facts(variant: string, file: string, fioVersion: string, r: InstanceResult): Record<string, unknown> {
  return { variant, file, fio: fioVersion, direct: true, engine: IO_ENGINE, target: r.extra };
}

export const io: Scenario = {
  name: 'io',
  description:
    'fio, O_DIRECT + libaio at QD16, four time-based jobs on one --io-size file (default 256 MiB, 3 s each): sequential read/write in 1 MiB blocks, random read/write in 4 KiB; native in a host dir, container on a bind-mounted host dir and on its overlay root (upper on disk), VM on a virtio-blk disk',
  metrics: IO_METRICS,
  defaults: { runs: 3, warmup: 0 },
  preflight: ioPreflight,
  parameters: (options) => {
    const p = params(options);
    return {
      tool: 'fio',
      sizeBytes: p.sizeBytes,
      runtimeSPerJob: p.runtimeS,
      timeBased: true,
      direct: true,
      ioEngine: IO_ENGINE,
      queueDepth: QUEUE_DEPTH,
      jobs: JOBS.map((j) => `${j.name}: rw=${j.rw} bs=${j.bs}`),
      files: {
        native: `${tmpdir()}/tsbench-io-*/${FILE}`,
        container: `/data/${FILE} (host ${tmpdir()}/tsbench-io-* bind-mounted); overlay: /${FILE} (upper layer on disk)`,
        vm: `/data/${FILE} on an ext4 virtio-blk disk (raw file in ${tmpdir()}, cache=none)`,
      },
    };
  },
  async sample(driver, ctx): Promise<SampleOutcome> {
    const p = params(ctx.options);
    const limits = matchedLimits(ctx.limits);
    const base = { limits, signal: ctx.signal };
    const caps = driver.capabilities;

    if (!caps.sharesHost && caps.dataDisk) {
      const { r, values, fioVersion } = await runFio(driver, 'disk', `/data/${FILE}`, p, { ...base, dataDiskBytes: dataDiskBytes(p.sizeBytes) });
      const s = sampleFrom(r, values);
      return { ...s, extra: facts('virtio-blk', `/data/${FILE}`, fioVersion, r) };
    }

    if (!caps.sharesHost && !caps.volumes)
      throw new TargetError(driver.name, 'io', 'this target takes neither a data disk nor a host directory: no file to measure');
    const dir = await scratchDir();
    try {
      if (caps.sharesHost) {
        const file = join(dir, FILE);
        const { r, values, fioVersion } = await runFio(driver, 'host dir', file, p, base);
        const s = sampleFrom(r, { ...values, ...Object.fromEntries(Object.entries(values).map(([k, v]) => [overlayName(k), v])) });
        return { ...s, extra: { ...facts('host dir', file, fioVersion, r), overlayMetrics: 'the same run: native has no overlay; it is their baseline' } };
      }
      const vol = await runFio(driver, 'volume', `/data/${FILE}`, p, { ...base, volumes: [{ hostPath: dir, guestPath: '/data' }] });
      let ovl: Awaited<ReturnType<typeof runFio>> | undefined;
      let refused: string | undefined = caps.upperDiskDir === undefined ? 'no overlay root whose upper layer can be on disk' : undefined;
      try {
        if (refused === undefined) ovl = await runFio(driver, 'overlay', `/${FILE}`, p, { ...base, upper: 'disk' });
      } catch (e) {
        // Kernels whose overlayfs cannot pass O_DIRECT through fail fio's open with EINVAL:
        // no buffered figures pretend otherwise; the sample says why the overlay metrics are missing.
        if (!(e instanceof TargetError) || !e.tail.some((l) => /O_DIRECT|Invalid argument|err=22\b/.test(l))) throw e;
        refused = `fio with --direct=1 was refused on the overlay root (${e.tail.find((l) => /Invalid argument|O_DIRECT|err=22/.test(l)) ?? e.message}); no overlay metrics`;
      }
      const overlayValues = ovl ? Object.fromEntries(Object.entries(ovl.values).map(([k, v]) => [overlayName(k), v])) : {};
      const s = sampleFrom(vol.r, { ...vol.values, ...overlayValues });
      return {
        ...s,
        extra: {
          ...facts('volume', `/data/${FILE}`, vol.fioVersion, vol.r),
          hostDir: dir,
          overlay: ovl
            ? { ...facts('overlay (upper on disk)', `/${FILE}`, ovl.fioVersion, ovl.r), timeline: ovl.r.timeline, accounting: ovl.r.accounting }
            : { variant: 'overlay (upper on disk)', file: `/${FILE}`, direct: false, skipped: refused },
        },
      };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
};
