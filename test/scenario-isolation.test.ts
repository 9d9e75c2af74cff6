/**
 * The `isolation` scenario (claims C8, C9): its probe parser, then the scenario
 * end to end through the runner with real drivers — native (the control, sees
 * every host marker), the container (sees none, writes almost nothing to its
 * upper layer) and a TCG VM (sees its own guest) — and the host markers all
 * removed afterwards, also when the run is interrupted mid-sample. Targets that
 * are unavailable here are skipped with their probe's reason.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { execa } from 'execa';
import { tsbenchBackground, waitForSamples } from './helpers/cli.js';
import { kernelCmdline, loadImage } from '../drivers/image/index.js';
import { KERNEL_CMDLINE_MAX, guestCmdlineBytes } from '../drivers/qemu/cmdline.js';
import { listScenarios } from '../bench/scenarios/index.js';
import { MARKER_PREFIX, isolation, probeArgv } from '../bench/scenarios/isolation.js';
import { jobArgv } from '../drivers/protocol.js';
import { ParseError, parseProbe, probeInt } from '../bench/scenarios/parsers/probe.js';
import type { Result, TargetResult } from '../core/schema.js';
import type { Driver } from '../drivers/types.js';
import { completedTarget, everyValue, runScenarios, scenarioDrivers } from './helpers/scenario.js';

const { native, container, tcg, noContainer, noVm, teardown } = await scenarioDrivers();

after(teardown);

const SEES = ['seesHostPids', 'seesHostNet', 'seesHostMounts', 'seesHostHostname', 'seesHostIpc'] as const;
/** What root may do to the kernel; /proc/kcore only where the host kernel has it. */
const CAN = ['canMount', 'canLoadModules', 'canReadKcore', 'canSetClock'] as const;
const hostCan = (m: (typeof CAN)[number]): number => (m === 'canReadKcore' && !existsSync('/proc/kcore') ? 0 : 1);

/** Asserts that no marker of any sample is left on the host. */
async function assertMarkersGone(markers: { link: string; mount: string; shm: { id: number } }[]): Promise<void> {
  const links = (await execa('ip', ['-o', 'link', 'show'])).stdout;
  const mounts = readFileSync('/proc/self/mounts', 'utf8');
  const shm = readFileSync('/proc/sysvipc/shm', 'utf8')
    .split('\n')
    .slice(1)
    .map((l) => l.trim().split(/\s+/)[1]);
  for (const m of markers) {
    const name = m.link.split(' ')[0] ?? '';
    assert.ok(name.startsWith(MARKER_PREFIX), name);
    assert.ok(!new RegExp(`: ${name}[:@]`).test(links), `the link ${name} is gone`);
    assert.ok(!mounts.includes(` ${m.mount} `), `the tmpfs at ${m.mount} is unmounted`);
    assert.ok(!shm.includes(String(m.shm.id)), `the shm segment ${m.shm.id} is removed`);
  }
}

const markersOf = (t: TargetResult): { link: string; mount: string; shm: { id: number } }[] =>
  t.samples.map((s) => s.extra?.['markers'] as { link: string; mount: string; shm: { id: number } });

describe('the isolation probe parser', () => {
  test('reads the KEY=VALUE lines of a finished probe and ignores other output', () => {
    const v = parseProbe(['noise', 'tsbench-probe visiblePids=2', 'tsbench-probe hostname=tsbench-1-1', 'tsbench-probe mounts= 5', 'tsbench-probe end']);
    assert.equal(probeInt(v, 'visiblePids'), 2);
    assert.equal(probeInt(v, 'mounts'), 5);
    assert.equal(v.get('hostname'), 'tsbench-1-1');
  });

  test('throws a ParseError when the probe was cut short or a value is missing or not a count', () => {
    assert.throws(
      () => parseProbe(['tsbench-probe visiblePids=2']),
      (e: unknown) => e instanceof ParseError && /did not finish/.test(e.message),
    );
    assert.throws(
      () => parseProbe(['tsbench-probe end'], ['mounts']),
      (e: unknown) => e instanceof ParseError && /mounts=/.test(e.message),
    );
    assert.throws(() => probeInt(parseProbe(['tsbench-probe mounts=', 'tsbench-probe end']), 'mounts'), ParseError);
  });
});

describe('the isolation scenario', () => {
  test('is listed after density, every metric described, three runs by default', () => {
    const names = listScenarios().map((s) => s.name);
    assert.equal(names.indexOf('isolation'), names.indexOf('density') + 1);
    assert.deepEqual(isolation.defaults, { runs: 3, warmup: 0 });
    for (const m of [
      'seesHostPids',
      'seesHostNet',
      'seesHostMounts',
      'seesHostHostname',
      'seesHostIpc',
      'visiblePids',
      'netInterfaces',
      'mounts',
      'upperBytesAtStart',
      ...CAN,
      'seccompMode',
      'noNewPrivs',
    ]) {
      const spec = isolation.metrics.find((x) => x.name === m);
      assert.ok(spec && spec.description.length > 20, m);
    }
  });

  test("fits a VM's kernel command line (x86 COMMAND_LINE_SIZE, 2048 bytes), which carries the job", () => {
    const markers = {
      pid: 4_194_304,
      pidCmdlineMd5: '',
      netName: `${MARKER_PREFIX}zzzzzzz`,
      netKind: 'bridge',
      mountDir: '/tmp/tsb-mark-XXXXXX',
      shmId: 2_147_483_647,
      shmKey: 2_147_483_647,
      hostname: 'h',
    };
    // The lean VM's: the kernel mounts its root, QEMU adds a virtio_mmio.device= for the root disk (no data disk here).
    const root = { device: '/dev/vda', by: 'kernel' as const };
    const append = kernelCmdline({ job: jobArgv({ kind: 'exec', argv: probeArgv(markers) }), root, tscKhz: 9_999_999, extra: ['noapictimer'] });
    const bytes = guestCmdlineBytes({ append, machine: 'microvm', acpi: false });
    assert.ok(bytes < KERNEL_CMDLINE_MAX, `${bytes} bytes`);
  });

  test(
    'finds every host marker natively and none in the container, whose upper layer stays far smaller than the image',
    { skip: noContainer, timeout: 60_000 },
    async () => {
      const result = await runScenarios([isolation], [native, container], 2);
      const [n, c] = [completedTarget(result, 'native'), completedTarget(result, 'container')];
      for (const m of SEES) {
        assert.deepEqual(everyValue(n, m), [1, 1], `native (the control) sees the host: ${m}`);
        assert.deepEqual(everyValue(c, m), [0, 0], `the container does not see the host: ${m}`);
      }
      // Confined as Docker's default: root may do nothing to the kernel, under no_new_privs and a seccomp filter.
      for (const m of CAN) {
        assert.deepEqual(everyValue(n, m), [hostCan(m), hostCan(m)], `native root (the control): ${m}`);
        assert.deepEqual(everyValue(c, m), [0, 0], `the container may not: ${m}`);
      }
      assert.deepEqual(everyValue(n, 'seccompMode'), [0, 0]);
      assert.deepEqual(everyValue(c, 'seccompMode'), [2, 2]);
      assert.deepEqual(everyValue(c, 'noNewPrivs'), [1, 1]);
      // The container runs its agent and the probe's shell, has only lo, and mounts its own root, /proc, /dev, /dev/pts and
      // /sys, plus the masked (those the kernel has) and read-only paths.
      for (const x of everyValue(c, 'visiblePids')) assert.ok(x >= 1 && x <= 4, `container pids ${x}`);
      assert.deepEqual(everyValue(c, 'netInterfaces'), [1, 1]);
      for (const x of everyValue(c, 'mounts')) assert.ok(x >= 3 && x <= 8 + 16, `container mounts ${x}`);
      assert.deepEqual(everyValue(c, 'ipcObjects'), [0, 0]);
      for (const [metric, min] of [
        ['visiblePids', 10],
        ['netInterfaces', 2],
        ['mounts', 6],
        ['ipcObjects', 1],
      ] as const) {
        for (const x of everyValue(n, metric)) assert.ok(x >= min, `native ${metric} ${x} ≥ ${min}`);
      }
      for (const s of c.samples) assert.match(String(s.extra?.['instanceHostname']), /^tsbench-/);

      const image = await loadImage();
      for (const bytes of everyValue(c, 'upperBytesAtStart')) {
        assert.ok(bytes > 0 && bytes < 1024 * 1024, `upperBytesAtStart ${bytes}`);
        assert.ok(bytes * 1000 < image.sizes.rootfsBytes, `the upper layer (${bytes} B) is under 1/1000 of the rootfs (${image.sizes.rootfsBytes} B)`);
      }
      assert.equal(n.stats['upperBytesAtStart'], undefined, 'native has no upper layer');
      await assertMarkersGone([...markersOf(n), ...markersOf(c)]);
    },
  );

  test('removes the host markers when the run is interrupted during a sample', { skip: noContainer, timeout: 30_000 }, async () => {
    const ac = new AbortController();
    const planted: string[] = [];
    // The real container driver, aborted the moment the probe is launched.
    const interrupted: Driver = {
      ...container,
      name: container.name,
      probe: () => container.probe(),
      prepare: (ctx) => container.prepare(ctx),
      teardown: () => container.teardown(),
      launch: async (req) => {
        planted.push(...(req.job.kind === 'exec' ? req.job.argv.slice(-5) : []));
        const instance = await container.launch(req);
        ac.abort();
        return instance;
      },
    };
    await assert.rejects(isolation.sample(interrupted, { round: 0, limits: {}, signal: ac.signal, options: {} }));
    const [, link, mount, shmId] = planted;
    assert.ok(link && mount && shmId, 'the probe was launched with its markers');
    await assertMarkersGone([{ link, mount, shm: { id: Number(shmId) } }]);
  });

  test('leaves no marker behind when tsbench is stopped with Ctrl-C in the middle of a run', { skip: noContainer, timeout: 60_000 }, async () => {
    const out = await mkdtemp(join(tmpdir(), 'tsbench-test-'));
    try {
      const child = tsbenchBackground(['run', 'isolation', '--targets', 'native,container', '--runs', '200', '--out', out]);
      const prefix = `${MARKER_PREFIX}${(child.pid ?? 0).toString(36)}`;
      // Wait for a first saved round, then for a link of a later sample, and interrupt while it is planted.
      await waitForSamples(join(out, 'results.json'), 1, 10_000);
      for (let i = 0; i < 200 && !(await execa('ip', ['-o', 'link', 'show'])).stdout.includes(prefix); i++) await delay(10);
      child.kill('SIGINT');
      const r = await child;
      assert.equal(r.exitCode, 130, r.stderr);
      assert.ok(!(await execa('ip', ['-o', 'link', 'show'])).stdout.includes(prefix), 'no link of the interrupted run is left');
      const mounts = readFileSync('/proc/self/mounts', 'utf8')
        .split('\n')
        .filter((l) => l.startsWith(`${MARKER_PREFIX} `));
      const result = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as Result;
      assert.equal(result.complete, false);
      const planted = result.scenarios[0]?.targets.flatMap(markersOf) ?? [];
      assert.ok(planted.length > 0, 'some samples were taken before the interruption');
      await assertMarkersGone(planted);
      for (const m of planted) assert.ok(!mounts.some((l) => l.includes(m.mount)));
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });

  test('sees its own guest, not the host, in a TCG VM', { skip: noVm, timeout: 60_000 }, async () => {
    const result = await runScenarios([isolation], [tcg], 1);
    const v = completedTarget(result, 'tcg');
    for (const m of SEES) assert.deepEqual(everyValue(v, m), [0], `the VM does not see the host: ${m}`);
    // The guest's root may mount, set its clock and load modules into its own kernel; no filter confines it.
    for (const m of ['canMount', 'canSetClock', 'canLoadModules'] as const) assert.deepEqual(everyValue(v, m), [1], `the guest's root: ${m}`);
    assert.deepEqual(everyValue(v, 'seccompMode'), [0]);
    assert.deepEqual(everyValue(v, 'ipcObjects'), [0]);
    assert.equal(v.stats['upperBytesAtStart'], undefined, 'a VM has no container upper layer');
    await assertMarkersGone(markersOf(v));
  });
});
