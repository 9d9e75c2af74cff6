/**
 * The engines, docker and podman, end to end on this host: docker against a private dockerd
 * (test/helpers/dockerd.ts) that the file starts and stops, never a user's own; podman daemonless.
 * startup through the CLI (with docker's phases from its events), cpu, memory, io, limits (the
 * hog OOM-killed and reported) and isolation through the runner at their smallest sizes, an
 * interrupted run, and nothing left behind: no instance, cgroup, container or image, and the
 * daemon gone with its directory. Skipped with the reason where docker or podman is not installed.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { cpu } from '../bench/scenarios/cpu.js';
import { io } from '../bench/scenarios/io.js';
import { isolation } from '../bench/scenarios/isolation.js';
import { limits } from '../bench/scenarios/limits.js';
import { memory } from '../bench/scenarios/memory.js';
import { removeCgroupTree } from '../drivers/linux/cgroups.js';
import { OCI_PARENT, SliceCgroups } from '../drivers/oci/cgroups.js';
import { EngineDriver, podmanUlimits } from '../drivers/oci/engine.js';
import { enginePhases, engineEventTimes } from '../drivers/oci/events.js';
import type { Probe } from '../drivers/types.js';
import { CLI, waitForSamples } from './helpers/cli.js';
import { dockerdUnavailable, startPrivateDockerd, type PrivateDockerd } from './helpers/dockerd.js';
import { settledLeftovers } from './helpers/leftovers.js';
import { completedTarget, everyValue, runScenarios } from './helpers/scenario.js';

const work = mkdtempSync(join(tmpdir(), 'tsbench-engines-test-'));
const noDockerd = await dockerdUnavailable();
const keyBefore = existsSync('/etc/docker/key.json');
const podmanMissing = (await execa('podman', ['--version'], { reject: false, stdin: 'ignore' })).exitCode !== 0;

let daemon: PrivateDockerd | undefined;
let docker: EngineDriver | undefined;
const podman = new EngineDriver('podman');
let dockerProbe: Probe = { available: false, reason: noDockerd ?? 'not probed' };
let podmanProbe: Probe = { available: false, reason: 'podman is not installed (Debian: apt-get install podman; scripts/setup.sh installs it)' };

before(async () => {
  if (noDockerd === undefined) {
    daemon = await startPrivateDockerd();
    docker = new EngineDriver('docker', { dockerHost: daemon.host });
    dockerProbe = await docker.probe();
  }
  if (!podmanMissing) podmanProbe = await podman.probe();
});

after(async () => {
  await docker?.teardown();
  await podman.teardown();
  await daemon?.stop();
  rmSync(work, { recursive: true, force: true });
});

const skipDocker = (): string | false => (dockerProbe.available ? false : `docker unavailable: ${dockerProbe.reason ?? ''}`);
const skipPodman = (): string | false => (podmanProbe.available ? false : `podman unavailable: ${podmanProbe.reason ?? ''}`);

/** Runs the CLI with the private daemon as DOCKER_HOST. */
function cli(args: string[]) {
  return execa(process.execPath, [CLI, ...args], { reject: false, stdin: 'ignore', env: daemon ? { DOCKER_HOST: daemon.host } : {} });
}

describe('the pieces, without an engine', () => {
  test("podman is given tsbench's own open-file and process limits, nproc capped at the kernel's pid limit", () => {
    const limitsText = [
      'Limit                     Soft Limit           Hard Limit           Units',
      'Max processes             96363                96363                processes',
      'Max open files            20000                20000                files',
    ].join('\n');
    assert.deepEqual(podmanUlimits(limitsText, 32768), ['--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=32768:32768']);
    assert.deepEqual(podmanUlimits(limitsText.replace(/96363/g, 'unlimited'), 4194304), [
      '--ulimit',
      'nofile=20000:20000',
      '--ulimit',
      'nproc=4194304:4194304',
    ]);
    assert.deepEqual(podmanUlimits(limitsText.replace(/96363/g, '1000'), 32768), ['--ulimit', 'nofile=20000:20000', '--ulimit', 'nproc=1000:1000']);
  });

  test('a cgroup tree is removed children first, and what cannot be removed is named', async () => {
    // A plain directory with a file stands for a cgroup that stays: rmdir fails on it as on a busy cgroup.
    const tree = join(work, 'tree');
    mkdirSync(join(tree, 'conmon'), { recursive: true });
    mkdirSync(join(tree, 'libpod-1', 'nested'), { recursive: true });
    mkdirSync(join(tree, 'stuck'));
    writeFileSync(join(tree, 'stuck', 'file'), '');
    const failed = await removeCgroupTree(tree, Date.now() + 100);
    assert.deepEqual(failed, [`${join(tree, 'stuck')} (ENOTEMPTY)`, `${tree} (ENOTEMPTY)`]);
    assert.deepEqual(readdirSync(tree), ['stuck'], 'the rest went, deepest first');
    assert.deepEqual(await removeCgroupTree(join(work, 'never-made'), Date.now()), [], 'a tree that is not there is gone');
  });

  test("an instance on systemd's cgroup driver gets a slice of its own inside tsbench.slice, its name not nested further", () => {
    const s = new SliceCgroups({ version: 2, mount: '/sys/fs/cgroup', controllers: ['cpu', 'memory', 'io', 'pids'] }, 'tsbench-docker-1234-7');
    assert.equal(s.slice, 'tsbench-docker_1234_7.slice', "systemd reads '-' as nesting: one level below tsbench.slice");
    assert.equal(s.where(), '/sys/fs/cgroup/tsbench.slice/tsbench-docker_1234_7.slice');
  });

  test("docker's events become phases in the order they happened, on the instance's clock", () => {
    const fork = 1_700_000_000_000;
    const lines = [
      { Type: 'container', Action: 'create', timeNano: (fork + 40) * 1e6 },
      { Type: 'container', Action: 'attach', timeNano: (fork + 42) * 1e6 },
      { Type: 'container', Action: 'start', timeNano: (fork + 370) * 1e6 },
      { Type: 'container', Action: 'die', timeNano: (fork + 410) * 1e6 },
      { Type: 'container', Action: 'destroy', timeNano: (fork + 430) * 1e6 },
    ]
      .map((e) => JSON.stringify(e))
      .join('\n');
    const times = engineEventTimes(`${lines}\nnot json`, fork);
    assert.deepEqual(Object.keys(times), ['create', 'attach', 'start', 'die', 'destroy']);
    assert.ok(Math.abs((times['create'] ?? 0) - 40) < 0.01);
    const phases = enginePhases(times, { toReadyMs: 364, toExitMs: 440 });
    assert.deepEqual(
      phases.map((p) => p.name),
      ['create', 'ready', 'start', 'die', 'exit'],
    );
    assert.ok(Math.abs(phases.reduce((s, p) => s + p.ms, 0) - 440) < 0.01, 'the phases add up to the time to exit');
  });
});

describe('docker with a private daemon', () => {
  test('the probe names the daemon, its version, storage driver and cgroup driver', { skip: noDockerd ?? false }, () => {
    assert.equal(dockerProbe.available, true, dockerProbe.reason);
    const d = dockerProbe.details ?? {};
    assert.equal(d['daemon'], daemon?.host);
    assert.match(d['server'] ?? '', /^\d+\.\d+/);
    assert.equal(d['storageDriver'], 'overlay2');
    assert.equal(d['cgroupDriver'], 'cgroupfs');
    assert.match(d['cgroupParent'] ?? '', /tsbench-oci\/<name> \(cgroupfs\)$/);
  });

  test('targets --json reports docker available against DOCKER_HOST', { skip: noDockerd ?? false }, async () => {
    const r = await cli(['targets', '--json']);
    assert.equal(r.exitCode, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as { name: string; available: boolean; reason: string; details?: Record<string, string> }[];
    const row = rows.find((x) => x.name === 'docker');
    assert.equal(row?.available, true, row?.reason);
    assert.equal(row?.details?.['daemon'], daemon?.host);
  });
});

describe('podman', () => {
  test(
    'the probe runs a test container on runc with the cgroupfs manager, and its imported image stays for the run until teardown',
    { skip: podmanMissing ? 'podman is not installed' : false },
    async () => {
      assert.equal(podmanProbe.available, true, podmanProbe.reason);
      assert.equal(podmanProbe.details?.['ociRuntime'], 'runc');
      assert.equal(podmanProbe.details?.['cgroupDriver'], 'cgroupfs');
      // 'after the engines' checks that teardown removes it
      const images = await execa('podman', ['images', '--format', '{{.Repository}}'], { reject: false, stdin: 'ignore' });
      assert.deepEqual(
        images.stdout.split('\n').filter((l) => l.includes('tsbench')),
        ['localhost/tsbench-workload'],
      );
    },
  );
});

for (const name of ['docker', 'podman'] as const) {
  const skip = (): string | false => (name === 'docker' ? skipDocker() : skipPodman());
  const driver = (): EngineDriver => (name === 'docker' ? (docker as EngineDriver) : podman);

  describe(`${name} end to end`, () => {
    test(`startup runs through the CLI with both figures${name === 'docker' ? " and docker run's phases" : ''}, leaving nothing`, async (t) => {
      if (skip()) return t.skip(String(skip()));
      const out = join(work, `${name}-startup`);
      const child = cli(['run', 'startup', '--targets', name, '--runs', '2', '--warmup', '0', '--out', out]);
      const r = await child;
      assert.equal(r.exitCode, 0, r.stderr);
      const doc = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as {
        scenarios: {
          targets: {
            target: string;
            state: string;
            samples: { status: string; values: Record<string, number>; timeline?: { phases: { name: string }[] } }[];
          }[];
        }[];
      };
      const target = doc.scenarios[0]?.targets[0];
      assert.equal(target?.state, 'completed');
      for (const s of target?.samples ?? []) {
        assert.equal(s.status, 'ok');
        assert.ok((s.values['toReadyMs'] ?? 0) > 0 && (s.values['toExitMs'] ?? 0) >= (s.values['toReadyMs'] ?? 0));
        if (name === 'docker')
          assert.deepEqual(
            [...(s.timeline?.phases.map((p) => p.name) ?? [])].sort(),
            ['create', 'die', 'exit', 'ready', 'start'],
            "docker's create, start and die events beside ready and exit",
          );
      }
      assert.deepEqual(await settledLeftovers(child.pid as number), []);
    });

    test('cpu, memory, io and isolation run at their smallest sizes, and limits reports the hog OOM-killed', { timeout: 240_000 }, async (t) => {
      if (skip()) return t.skip(String(skip()));
      const d = driver();
      const result = await runScenarios([cpu, memory, io, isolation, limits], [d], 1, {
        cpuEvents: 100,
        memoryTotalMiB: 256,
        ioSizeBytes: 16 * 2 ** 20,
        ioRuntimeS: 1,
      });
      for (const sc of ['cpu', 'memory', 'io', 'isolation', 'limits']) {
        const tr = completedTarget(result, d.name, sc);
        assert.equal(tr.samples.length, 1, sc);
        assert.equal(tr.samples[0]?.status, 'ok', `${sc}: ${JSON.stringify(tr.samples[0]?.extra ?? {})}`);
      }
      const l = completedTarget(result, d.name, 'limits');
      assert.deepEqual(everyValue(l, 'memLimitHeld'), [1], 'the hog is stopped by the memory limit');
      const hog = l.samples[0]?.extra?.['hog'] as { status: string; reason?: string };
      assert.equal(hog.status, 'oom-killed', 'the driver reported the hog oom-killed');
      assert.match(hog.reason ?? '', /OOM killer/);
      for (const x of everyValue(l, 'memOomKills')) assert.ok(x >= 1);
      for (const x of everyValue(l, 'cpuQuotaDeliveredCpus')) assert.ok(Math.abs(x - 0.5) <= 0.15, `${x.toFixed(3)} CPUs under a 0.5 quota`);
    });

    /** The engine's CLI: the private daemon's docker, or podman. */
    const engine = (args: string[]) =>
      name === 'docker' ? (daemon as PrivateDockerd).docker(args) : execa('podman', args, { reject: false, stdin: 'ignore' });
    /** A long startup run through the CLI, once its first sample is saved (wrapped: the subprocess is a promise). */
    async function longRun(label: string): Promise<{ child: ReturnType<typeof cli> }> {
      const out = join(work, `${name}-${label}`);
      const child = cli(['run', 'startup', '--targets', name, '--runs', '500', '--warmup', '0', '--out', out]);
      await waitForSamples(join(out, 'results.json'), 1, 60_000);
      return { child };
    }
    async function assertNoContainer(): Promise<void> {
      const ps = await engine(['ps', '-a', '--format', '{{.Names}}']);
      assert.deepEqual(
        ps.stdout.split('\n').filter((n) => n.startsWith('tsbench-')),
        [],
        'the engine lists no tsbench container',
      );
    }

    test('Ctrl-C during a long run exits 130 and leaves no container, cgroup or process', async (t) => {
      if (skip()) return t.skip(String(skip()));
      const { child } = await longRun('sigint');
      child.kill('SIGINT');
      const r = await child;
      assert.equal(r.exitCode, 130, r.stderr);
      assert.deepEqual(await settledLeftovers(child.pid as number), []);
      await assertNoContainer();
    });

    test('after a SIGKILL in the middle of a run the next tsbench command removes the imported image and the container', async (t) => {
      if (skip()) return t.skip(String(skip()));
      const { child } = await longRun('sigkill');
      child.kill('SIGKILL');
      await child;
      const tag = `tsbench-workload:`;
      const images = async () =>
        (await engine(['images', '--format', '{{.Repository}}:{{.Tag}}'])).stdout.split('\n').filter((l) => l.includes(tag) && l.endsWith(`-${child.pid}`));
      assert.equal((await images()).length, 1, 'the dead run left its image');
      const clean = await cli(['clean']);
      assert.equal(clean.exitCode, 0, clean.stderr);
      assert.match(clean.stdout, new RegExp(`image ${tag}[0-9a-f]{12}-${child.pid} \\(${name}\\)`));
      assert.deepEqual(await images(), [], 'no tsbench image after the sweep');
      await assertNoContainer();
      assert.deepEqual(await settledLeftovers(child.pid as number), []);
    });
  });
}

function podmanPs() {
  return execa('podman', ['ps', '-a', '--format', '{{.Names}}'], { reject: false, stdin: 'ignore' });
}

describe('after the engines', () => {
  test('no tsbench image or container is left in either engine, no peer cgroup on the host, and no file where tsbench ran', async (t) => {
    if (skipDocker() && skipPodman()) return t.skip('neither engine runs here');
    await docker?.teardown();
    await podman.teardown();
    // podman's conmon writes `oom` into its working directory when the hog is OOM-killed: a scratch directory, gone now
    assert.equal(existsSync(join(process.cwd(), 'oom')), false, `conmon's oom file in ${process.cwd()}`);
    if (daemon) {
      for (const args of [
        ['ps', '-a', '--format', '{{.Names}}'],
        ['images', '--format', '{{.Repository}}'],
        ['volume', 'ls', '-q'],
      ]) {
        const r = await daemon.docker(args);
        assert.equal(r.exitCode, 0, r.stderr);
        assert.deepEqual(
          r.stdout.split('\n').filter((l) => l.length > 0),
          [],
          `docker ${args[0]}: nothing left`,
        );
      }
    }
    if (!podmanMissing) {
      const images = await execa('podman', ['images', '--format', '{{.Repository}}'], { reject: false, stdin: 'ignore' });
      assert.deepEqual(
        images.stdout.split('\n').filter((l) => l.includes('tsbench')),
        [],
        'podman: no tsbench image',
      );
      assert.deepEqual(
        (await podmanPs()).stdout.split('\n').filter((n) => n.startsWith('tsbench-')),
        [],
      );
    }
    const mine = new RegExp(`^tsbench-(docker|podman)-${process.pid}-`);
    for (const m of readdirSync('/sys/fs/cgroup')) {
      const parent = join('/sys/fs/cgroup', m, OCI_PARENT);
      if (existsSync(parent))
        assert.deepEqual(
          readdirSync(parent).filter((n) => mine.test(n)),
          [],
          parent,
        );
    }
  });

  test('the private daemon stops, leaving no process, mount or directory', { skip: noDockerd ?? false }, async () => {
    const d = daemon as PrivateDockerd;
    assert.deepEqual(await d.stop(), []);
    daemon = undefined;
    assert.equal(existsSync(d.dir), false);
    assert.equal(readFileSync('/proc/self/mounts', 'utf8').includes(d.dir), false);
    assert.throws(() => process.kill(d.pid, 0), 'the daemon is gone');
    assert.equal(existsSync('/etc/docker/key.json'), keyBefore, "dockerd 20.10's trust key went to its own directory, not /etc/docker");
  });
});
