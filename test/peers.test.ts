/**
 * Peer runtimes as targets (runc, crun, podman, docker): the generated OCI
 * bundle checked against runc itself, limits that hold in the runtime's cgroup,
 * startup measured beside `container` through the CLI, unavailable peers
 * reported with reasons, and nothing left behind. Needs root and runc (the
 * runc tests are skipped with the probe's reason otherwise).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import createContainerDriver from '../drivers/container/index.js';
import { CONTAINER_NAME, type NAMESPACES, OCI_VERSION, boundingCapabilities, ociConfig, type OciConfig } from '../drivers/oci/bundle.js';
import { OCI_PARENT } from '../drivers/oci/cgroups.js';
import { DOCKER_CAPABILITIES, MASKED_PATHS, READONLY_PATHS, allowedSyscalls, resolveSeccomp } from '../drivers/linux/confinement.js';
import { OciRuntimeDriver } from '../drivers/oci/runtime.js';
import type { Instance } from '../drivers/types.js';
import { tsbench, tsbenchBackground, waitForSamples } from './helpers/cli.js';
import { settledLeftovers } from './helpers/leftovers.js';

const work = mkdtempSync(join(tmpdir(), 'tsbench-peers-test-'));
const runc = new OciRuntimeDriver('runc');
const probe = await runc.probe();
const skip = probe.available ? false : `runc unavailable: ${probe.reason ?? ''}`;

/** The runtime's cgroup path of a running instance (`/tsbench-oci/<id>/ct`), from its first pid's memory line. */
function memoryCgroupOf(instance: Instance): string {
  const [pid] = instance.hostPids();
  assert.ok(pid !== undefined, 'the instance has processes in its cgroup');
  const line = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
    .split('\n')
    .find((l) => l.split(':')[1]?.split(',').includes('memory'));
  assert.ok(line, 'a v1 memory line in /proc/PID/cgroup');
  return line.split(':')[2] as string;
}

before(async () => {
  if (!skip) await runc.prepare({ limits: {} });
});

after(async () => {
  await runc.teardown();
  rmSync(work, { recursive: true, force: true });
});

describe('the generated config.json', () => {
  const spec = {
    job: { kind: 'exec' as const, argv: ['/bin/busybox', 'true'] },
    limits: { memoryBytes: 96 * 2 ** 20, cpus: 0.5, pids: 32 },
    volumes: [{ hostPath: '/tmp', guestPath: '/data', readOnly: true }],
    hostname: 'tsbench-x',
    cgroupsPath: '/tsbench-oci/x/ct',
    swapAccounting: true,
  };

  test("has the structure of `runc spec` and the namespaces of tsbench's container", { skip: skip ? 'runc missing' : false }, async () => {
    const dir = join(work, 'spec');
    (await import('node:fs')).mkdirSync(dir);
    const r = await execa('runc', ['spec', '--bundle', dir], { reject: false });
    assert.equal(r.exitCode, 0, r.stderr);
    const reference = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Record<string, unknown> & {
      process: Record<string, unknown>;
      linux: Record<string, unknown>;
    };
    const ours = ociConfig(spec) as unknown as Record<string, unknown> & { process: Record<string, unknown>; linux: Record<string, unknown> };
    // The same spec line (1.0.x), every top-level, process and linux field runc's template has.
    assert.equal((reference['ociVersion'] as string).split('.').slice(0, 2).join('.'), OCI_VERSION.split('.').slice(0, 2).join('.'));
    for (const key of ['ociVersion', 'process', 'root', 'hostname', 'mounts', 'linux']) assert.ok(key in ours, `top-level ${key}`);
    for (const key of ['terminal', 'user', 'args', 'env', 'cwd', 'capabilities', 'noNewPrivileges']) assert.ok(key in ours.process, `process.${key}`);
    for (const key of ['resources', 'namespaces']) assert.ok(key in ours.linux, `linux.${key}`);
    assert.deepEqual(
      Object.keys(ours.process['capabilities'] as object).sort(),
      Object.keys(reference.process['capabilities'] as object)
        .filter((k) => k !== 'inheritable')
        .sort(),
    );
    // runc's template has pid, network, ipc, uts, mount; container adds cgroup.
    const theirs = (reference.linux['namespaces'] as { type: string }[]).map((n) => n.type);
    const mine = (ours.linux['namespaces'] as { type: string }[]).map((n) => n.type);
    assert.deepEqual([...theirs, 'cgroup'].sort(), [...mine].sort());
    // Exactly the set the container target creates (its probe lists them in its own names).
    const container = await createContainerDriver().probe();
    if (container.available)
      assert.deepEqual(mine.map((t) => CONTAINER_NAME[t as (typeof NAMESPACES)[number]]).sort(), (container.details?.['namespaces'] ?? '').split(',').sort());
    const mounts = (ours['mounts'] as { destination: string }[]).map((m) => m.destination);
    for (const m of ['/proc', '/dev', '/dev/pts', '/dev/shm', '/sys', '/data']) assert.ok(mounts.includes(m), `mount ${m}`);
  });

  test('carries the limits as linux.resources, swap equal to the memory limit', () => {
    const c: OciConfig = ociConfig(spec);
    assert.deepEqual(c.linux.resources.memory, { limit: 96 * 2 ** 20, swap: 96 * 2 ** 20 });
    assert.deepEqual(c.linux.resources.cpu, { quota: 50_000, period: 100_000 });
    assert.deepEqual(c.linux.resources.pids, { limit: 32 });
    assert.deepEqual(c.process.args, ['/sbin/tsbench-agent', 'exec', '/bin/busybox', 'true']);
    assert.deepEqual(
      c.mounts.find((m) => m.destination === '/data'),
      { destination: '/data', type: 'bind', source: '/tmp', options: ['rbind', 'nosuid', 'nodev', 'ro'] },
    );
  });

  test("is confined as Docker's default from the same data as container, and not at all when unconfined", () => {
    const c = ociConfig(spec);
    assert.deepEqual(c.process.capabilities.bounding, DOCKER_CAPABILITIES);
    assert.deepEqual(c.process.capabilities.effective, DOCKER_CAPABILITIES);
    assert.deepEqual(c.process.capabilities.ambient, []);
    assert.equal(c.process.noNewPrivileges, true);
    assert.deepEqual(c.linux.maskedPaths, MASKED_PATHS);
    assert.deepEqual(c.linux.readonlyPaths, READONLY_PATHS);
    assert.equal(c.linux.seccomp?.defaultAction, 'SCMP_ACT_ERRNO');
    assert.equal(c.linux.seccomp?.defaultErrnoRet, 1);
    assert.deepEqual(c.linux.seccomp, resolveSeccomp(DOCKER_CAPABILITIES));
    const names = new Set(c.linux.seccomp?.syscalls.filter((s) => s.action === 'SCMP_ACT_ALLOW').flatMap((s) => s.names));
    for (const allowed of ['read', 'execve', 'clone', 'chroot', 'socket']) assert.ok(names.has(allowed), allowed);
    for (const refused of ['mount', 'unshare', 'reboot', 'init_module', 'settimeofday', 'setns', 'bpf']) assert.ok(!names.has(refused), refused);
    assert.ok(allowedSyscalls(c.linux.seccomp as NonNullable<typeof c.linux.seccomp>).length > 300);
    const open = ociConfig({ ...spec, confinement: 'unconfined' });
    assert.equal(open.process.capabilities.bounding.length, 41);
    assert.equal(open.process.noNewPrivileges, false);
    assert.equal(open.linux.seccomp, undefined);
    assert.equal(open.linux.maskedPaths, undefined);
  });

  test('asks only for the capabilities tsbench itself holds', () => {
    assert.deepEqual(boundingCapabilities('CapBnd:\t0000000000000021\n'), ['CAP_CHOWN', 'CAP_KILL']);
    assert.equal(boundingCapabilities('CapBnd:\t000001ffffffffff\n').length, 41);
  });
});

describe('runc running the bundle', { skip }, () => {
  test("a noop's CPU time and peak memory are read from the runtime's cgroup", async () => {
    // That it runs, becomes ready and exits 0 is the driver contract's (test/contract.test.ts).
    const i = await runc.launch({ job: { kind: 'noop' }, limits: { memoryBytes: 128 * 2 ** 20, cpus: 1, pids: 64 } });
    const r = await i.result;
    assert.equal(r.status, 'ok', `${r.reason ?? ''}\n${r.tail.join('\n')}`);
    assert.ok((r.accounting.cpuUserMs ?? 0) + (r.accounting.cpuSystemMs ?? 0) > 0, 'CPU time read from the cgroup');
    assert.ok((r.accounting.peakMemoryBytes ?? 0) > 0, 'peak memory read from the cgroup');
  });

  test("the limits of config.json hold in the runtime's cgroup", async () => {
    const i = await runc.launch({ job: { kind: 'sleep' }, limits: { memoryBytes: 96 * 2 ** 20, cpus: 0.5, pids: 32 } });
    try {
      await i.ready;
      const path = memoryCgroupOf(i);
      assert.match(path, new RegExp(`^/${OCI_PARENT}/tsbench-runc-${process.pid}-\\d+/ct$`));
      const id = path.split('/')[2] as string;
      const bundle = join(dirname(runc.stateDir as string), id);
      const config = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8')) as OciConfig;
      assert.equal(config.linux.cgroupsPath, path);
      assert.equal(config.linux.resources.memory?.limit, 96 * 2 ** 20);
      const v1 = (controller: string, file: string): string => readFileSync(join('/sys/fs/cgroup', controller, path, file), 'utf8').trim();
      assert.equal(Number(v1('memory', 'memory.limit_in_bytes')), 96 * 2 ** 20);
      assert.equal(Number(v1('cpu', 'cpu.cfs_quota_us')), 50_000);
      assert.equal(Number(v1('cpu', 'cpu.cfs_period_us')), 100_000);
      assert.equal(v1('pids', 'pids.max'), '32');
      // The instance's processes are the agent, in the pid namespace's PID 1 position.
      const pids = i.hostPids();
      assert.equal(pids.length, 1);
      assert.match(readFileSync(`/proc/${pids[0]}/cmdline`, 'utf8'), /tsbench-agent\0sleep/);
    } finally {
      await i.stop();
    }
    assert.equal((await i.result).status, 'ok');
  });

  test("runc lists no container under tsbench's private root once instances have ended", async () => {
    const r = await execa('runc', ['--root', runc.stateDir as string, 'list', '--quiet'], { reject: false });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.stdout.trim(), '');
  });
});

describe('the command line', () => {
  test('startup runs end to end on container and runc, both with toReadyMs and toExitMs', { skip }, async () => {
    const out = join(work, 'startup');
    const child = tsbenchBackground(['run', 'startup', '--targets', 'container,runc', '--runs', '3', '--warmup', '1', '--out', out]);
    const r = await child;
    assert.equal(r.exitCode, 0, r.stderr);
    const doc = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as {
      complete: boolean;
      scenarios: { targets: { target: string; state: string; samples: { status: string; values: Record<string, number> }[] }[] }[];
    };
    assert.equal(doc.complete, true);
    const targets = doc.scenarios[0]?.targets ?? [];
    assert.deepEqual(
      targets.map((t) => [t.target, t.state]),
      [
        ['container', 'completed'],
        ['runc', 'completed'],
      ],
    );
    for (const t of targets) {
      assert.equal(t.samples.length, 3);
      for (const s of t.samples) {
        assert.equal(s.status, 'ok');
        assert.ok(s.values['toReadyMs'] !== undefined && s.values['toExitMs'] !== undefined, `${t.target}: both figures`);
      }
    }
    assert.deepEqual(await settledLeftovers(child.pid as number), []);
  });

  test('targets --json reports every unavailable peer with a reason and runc with its version', async () => {
    const r = await tsbench(['targets', '--json']);
    assert.equal(r.exitCode, 0, r.stderr);
    const rows = JSON.parse(r.stdout) as { name: string; available: boolean; reason: string; details?: Record<string, string> }[];
    const peer = (n: string) => rows.find((x) => x.name === n);
    for (const n of ['runc', 'crun', 'podman', 'docker']) {
      const p = peer(n);
      assert.ok(p, n);
      if (!p.available) assert.ok(p.reason.length > 0, `${n} says why it is unavailable`);
    }
    for (const n of ['podman', 'docker']) {
      const p = peer(n);
      if (p && !p.available) assert.match(p.reason, /binary missing|daemon not running|info` failed|a test container failed/);
    }
    if (!skip) assert.match(peer('runc')?.details?.['version'] ?? '', /^runc version /);
    // crun 1.8 on a hybrid host: the refusal is quoted, whether tsbench then runs it or not.
    const crun = peer('crun');
    const hybrid =
      existsSync('/sys/fs/cgroup/unified/cgroup.controllers') && readFileSync('/sys/fs/cgroup/unified/cgroup.controllers', 'utf8').trim().length > 0;
    if (crun?.details?.['version']?.startsWith('crun version 1.8') && hybrid) assert.match(crun.reason, /cgroups in hybrid mode not supported/);
  });

  test('Ctrl-C during a long runc run exits 130 and leaves no container, cgroup, bundle or mount', { skip }, async () => {
    const out = join(work, 'sigint');
    const child = tsbenchBackground(['run', 'startup', '--targets', 'runc', '--runs', '500', '--out', out]);
    const json = join(out, 'results.json');
    await waitForSamples(json, 1, 60_000);
    assert.ok(existsSync(json), 'results.json was written');
    child.kill('SIGINT');
    const r = await child;
    assert.equal(r.exitCode, 130, r.stderr);
    // The namespace holder died with tsbench too: the helper looks for one still holding the driver's mounts.
    assert.deepEqual(await settledLeftovers(child.pid as number), []);
  });
});
