/**
 * The `container` target with real containers: isolation seen from inside,
 * limits enforced by the kernel, accounting read from the cgroups, and nothing
 * left behind after success, failure or Ctrl-C. Needs root (the whole file is
 * skipped with the probe's reason otherwise).
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { execa } from 'execa';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ResultSchema } from '../core/schema.js';
import createContainerDriver, { DIR_PREFIX, compileSeccomp } from '../drivers/container/index.js';
import { binPath } from '../drivers/process.js';
import {
  PARENT,
  blkioBytes,
  cgroupBase,
  cgroupLayoutOf,
  enforceableLimits,
  enforceablePart,
  findHierarchies,
  ioStatBytes,
  unavailableLimits,
  unenforceable,
} from '../drivers/linux/cgroups.js';
import { delegation, pureV2, systemdBooted } from '../drivers/linux/delegation.js';
import { DOCKER_CAPABILITIES, boundingCapabilities, capabilityMask } from '../drivers/linux/confinement.js';
import type { Driver, InstanceResult, LaunchRequest } from '../drivers/types.js';
import { tsbench, tsbenchBackground, waitForSamples } from './helpers/cli.js';
import { leftovers, settledLeftovers } from './helpers/leftovers.js';
import { jsonSchemaErrors } from './helpers/schema.js';

const work = mkdtempSync(join(tmpdir(), 'tsbench-container-test-'));
const driver: Driver = createContainerDriver();
const probe = await driver.probe();
const skip = probe.available ? false : `container target unavailable: ${probe.reason ?? ''}`;

/** Runs one job in a fresh container and returns its result. */
async function run(argv: string[], extra: Omit<LaunchRequest, 'job'> = {}): Promise<InstanceResult> {
  const instance = await driver.launch({ job: { kind: 'exec', argv }, ...extra });
  return instance.result;
}

/** Runs a busybox shell script in a container; returns its stdout lines. */
async function sh(script: string, extra: Omit<LaunchRequest, 'job'> = {}): Promise<string[]> {
  const r = await run(['/bin/busybox', 'sh', '-c', script], extra);
  assert.equal(r.status, 'ok', `${r.reason ?? ''}\n${r.stderr.join('\n')}\n${r.tail.join('\n')}`);
  return r.stdout;
}

before(async () => {
  if (!skip) await driver.prepare({ limits: {} });
});

after(async () => {
  await driver.teardown();
  rmSync(work, { recursive: true, force: true });
});

describe('cgroup hierarchies', () => {
  test('a v1 host with separate cpu and cpuacct mounts gets one cgroup per mount', () => {
    const mounts = [
      'cgroup /sys/fs/cgroup/cpu cgroup rw,nosuid,nodev,noexec,relatime,cpu 0 0',
      'cgroup /sys/fs/cgroup/cpuacct cgroup rw,nosuid,nodev,noexec,relatime,cpuacct 0 0',
      'cgroup /sys/fs/cgroup/memory cgroup rw,nosuid,nodev,noexec,relatime,memory 0 0',
      'cgroup /sys/fs/cgroup/pids cgroup rw,nosuid,nodev,noexec,relatime,pids 0 0',
      'cgroup /sys/fs/cgroup/blkio cgroup rw,nosuid,nodev,noexec,relatime,blkio 0 0',
      'cgroup2 /sys/fs/cgroup/unified cgroup2 rw,nosuid,nodev,noexec,relatime 0 0',
    ].join('\n');
    const host = findHierarchies(mounts, () => 'hugetlb\n');
    assert.deepEqual(host.missing, []);
    assert.equal(host.v2, undefined);
    assert.deepEqual(
      host.hierarchies.map((h) => [h.version, h.mount, h.controllers.join('+')]),
      [
        [1, '/sys/fs/cgroup/cpu', 'cpu'],
        [1, '/sys/fs/cgroup/cpuacct', 'cpuacct'],
        [1, '/sys/fs/cgroup/memory', 'memory'],
        [1, '/sys/fs/cgroup/pids', 'pids'],
        [1, '/sys/fs/cgroup/blkio', 'blkio'],
      ],
    );
  });

  test('a pure v2 host gets one cgroup holding every controller the root offers', () => {
    const host = findHierarchies('cgroup2 /sys/fs/cgroup cgroup2 rw,nsdelegate 0 0', () => 'cpuset cpu io memory hugetlb pids rdma misc\n');
    assert.deepEqual(host.missing, []);
    assert.deepEqual(host.hierarchies, [{ version: 2, mount: '/sys/fs/cgroup', controllers: ['cpu', 'io', 'memory', 'pids'] }]);
  });

  test('a missing controller is named', () => {
    const host = findHierarchies('cgroup2 /sys/fs/cgroup cgroup2 rw 0 0', () => 'cpu io\n');
    assert.deepEqual(host.missing, ['memory', 'pids']);
  });

  test('a missing controller makes just the limits that need it unavailable, each with its reason and fix', () => {
    const host = findHierarchies('cgroup2 /sys/fs/cgroup cgroup2 rw 0 0', () => 'cpu io pids\n');
    assert.deepEqual(enforceableLimits(host), { cpus: true, memoryBytes: false, pids: true });
    const [line, ...more] = unavailableLimits(host);
    assert.deepEqual(more, []);
    assert.match(line ?? '', /^the memory limit \(--memory\) is unavailable: the memory cgroup controller is not offered to tsbench here; .*echo \+memory > /);
    assert.match(unenforceable(host, { memoryBytes: 64 * 2 ** 20, cpus: 1 }) ?? '', /^the memory limit \(--memory\) needs the memory cgroup controller/);
    assert.equal(unenforceable(host, { cpus: 1, pids: 64 }), undefined);
    assert.deepEqual(enforceablePart(host, { memoryBytes: 1, cpus: 1, pids: 64 }), { cpus: 1, pids: 64 });
  });

  test('the layout is read from the mounts: pure v2, hybrid, v1', () => {
    assert.equal(cgroupLayoutOf('cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n'), 'v2');
    assert.equal(cgroupLayoutOf('cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0\ncgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n'), 'hybrid');
    assert.equal(cgroupLayoutOf('cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0\n'), 'v1');
    assert.equal(pureV2('cgroup2 /sys/fs/cgroup cgroup2 rw 0 0\n'), true);
    assert.equal(pureV2('cgroup /sys/fs/cgroup/memory cgroup rw,memory 0 0\ncgroup2 /sys/fs/cgroup/unified cgroup2 rw 0 0\n'), false);
  });

  test('off a pure v2 host run by systemd, tsbench keeps its cgroups at the root of each hierarchy and says why', async () => {
    const layout = cgroupLayoutOf(readFileSync('/proc/self/mounts', 'utf8'));
    const d = await delegation();
    if (layout === 'v2' && systemdBooted())
      assert.equal(d.mode, 'systemd-scope'); // a v2 host run by systemd: the scope (test/testhosts.test.ts)
    else {
      assert.equal(d.mode, 'root');
      assert.match(d.why, layout === 'v2' ? /no systemd manages this cgroup v2 tree/ : /not a pure cgroup v2 host/);
      assert.equal(cgroupBase(), '');
    }
  });

  test('I/O bytes are summed over devices from v1 blkio and v2 io.stat', () => {
    assert.deepEqual(blkioBytes('8:0 Read 4096\n8:0 Write 100\n8:16 Read 4\n8:16 Write 0\nTotal 4200\n'), { ioReadBytes: 4100, ioWriteBytes: 100 });
    assert.deepEqual(ioStatBytes('8:0 rbytes=10 wbytes=20 rios=1 wios=2\n259:0 rbytes=5 wbytes=0 rios=1 wios=0\n'), { ioReadBytes: 15, ioWriteBytes: 20 });
  });
});

test('probe says precisely what is missing when tsbench is not root', { skip: process.getuid?.() !== 0 ? 'needs root to drop it' : false }, async () => {
  const { execa } = await import('execa');
  const driverUrl = new URL('../drivers/container/index.js', import.meta.url).href;
  const script = `const { default: c } = await import(${JSON.stringify(driverUrl)}); process.stdout.write(JSON.stringify(await c().probe()));`;
  const r = await execa('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '--input-type=module', '-e', script], {
    reject: false,
  });
  if (r.exitCode !== 0) return; // no setpriv, or dist/ unreadable to nobody: nothing to learn here
  const p = JSON.parse(r.stdout) as { available: boolean; reason: string };
  assert.equal(p.available, false);
  assert.match(p.reason, /needs root .*run tsbench as root/);
});

const v2Mount = readFileSync('/proc/self/mounts', 'utf8')
  .split('\n')
  .map((l) => l.split(' '))
  .find((f) => f[2] === 'cgroup2')?.[1];

test('on cgroup v2 the workload is born in its cgroup (clone3 CLONE_INTO_CGROUP)', { skip: skip || (v2Mount ? false : 'no cgroup2 mount') }, async () => {
  const { execa } = await import('execa');
  const { binPath } = await import('../drivers/process.js');
  const dir = join(v2Mount as string, `${PARENT}-v2-test-${process.pid}`);
  (await import('node:fs')).mkdirSync(dir);
  try {
    const r = await execa(binPath('tsbench-launch'), ['--ns', 'pid', '--cgroup-dir', dir, '--', '/bin/cat', '/proc/self/cgroup'], { reject: false });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^0::/${PARENT}-v2-test-${process.pid}$`, 'm'));
  } finally {
    (await import('node:fs')).rmdirSync(dir);
  }
});

describe('isolation seen from inside a container', { skip }, () => {
  test('only the container’s processes are visible and the agent is PID 1', async () => {
    const out = await sh(
      '/bin/busybox ls /proc | /bin/busybox grep -E "^[0-9]+$" | /bin/busybox wc -l; /bin/busybox cat /proc/1/cmdline | /bin/busybox tr "\\0" " "',
    );
    const count = Number(out[0]);
    assert.ok(count >= 1 && count <= 5, `pids seen: ${count}`);
    assert.match(out[1] ?? '', /^\/sbin\/tsbench-agent exec /);
  });

  test('the network namespace has only lo, and it is up', async () => {
    const out = await sh(
      '/bin/busybox tail -n +3 /proc/net/dev | /bin/busybox cut -d: -f1; /bin/busybox cat /sys/class/net/lo/operstate /sys/class/net/lo/flags',
    );
    assert.deepEqual(
      out.slice(0, -2).map((l) => l.trim()),
      ['lo'],
    );
    assert.equal(Number(out.at(-1)) & 1, 1, 'IFF_UP');
  });

  test('each container has its own hostname', async () => {
    const [a] = await sh('/bin/busybox hostname');
    const [b] = await sh('/bin/busybox hostname');
    assert.match(a ?? '', /^tsbench-\d+-\d+$/);
    assert.notEqual(a, b);
    assert.notEqual(a, readFileSync('/proc/sys/kernel/hostname', 'utf8').trim());
  });

  test('host files are invisible and writes stay in the container', async () => {
    const marker = join('/tmp', `tsbench-marker-${process.pid}`);
    writeFileSync(marker, 'host');
    try {
      const out = await sh(`test -e ${marker} && echo visible || echo hidden; echo x > /etc/written && echo wrote; /bin/busybox head -1 /proc/mounts`);
      assert.deepEqual(out.slice(0, 2), ['hidden', 'wrote']);
      assert.match(out[2] ?? '', /^overlay \/ overlay /);
      const rootfs = (await import('../drivers/image/index.js')).loadImage();
      assert.equal(existsSync(join((await rootfs).rootfs, 'etc/written')), false, 'the image was not written');
    } finally {
      rmSync(marker, { force: true });
    }
  });

  test('/dev holds only the minimal devices and /sys is read-only', async () => {
    const out = await sh('/bin/busybox ls /dev; echo > /sys/x 2>/dev/null && echo sys-writable || echo sys-ro; echo hi > /dev/null && echo null-ok');
    const devs = out.slice(0, -2).sort();
    assert.deepEqual(devs, ['fd', 'full', 'null', 'ptmx', 'pts', 'random', 'shm', 'stderr', 'stdin', 'stdout', 'tty', 'urandom', 'zero']);
    assert.deepEqual(out.slice(-2), ['sys-ro', 'null-ok']);
  });
});

/** The hex mask of a `Cap…:` line of /proc/self/status among a probe's output lines. */
const capLine = (out: string[], name: string): bigint => BigInt(`0x${out.find((l) => l.startsWith(`${name}:`))?.split(/\s+/)[1] ?? 'x'}`);
const statusLine = (out: string[], name: string): string | undefined => out.find((l) => l.startsWith(`${name}:`))?.split(/\s+/)[1];

describe('confinement: as a default Docker container unless unconfined', { skip }, () => {
  const STATUS = '/bin/busybox grep -E "^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):" /proc/self/status';

  test("the workload keeps Docker's 14 capabilities, with no_new_privs and a seccomp filter", async () => {
    const out = await sh(STATUS);
    const docker = capabilityMask(DOCKER_CAPABILITIES) & capabilityMask(boundingCapabilities(readFileSync('/proc/self/status', 'utf8')));
    assert.equal(docker.toString(16), 'a80425fb', "Docker's default set, as CapBnd shows it in `docker run`");
    for (const set of ['CapBnd', 'CapPrm', 'CapEff']) assert.equal(capLine(out, set), docker, set);
    assert.equal(capLine(out, 'CapInh'), 0n);
    assert.equal(capLine(out, 'CapAmb'), 0n);
    assert.equal(statusLine(out, 'NoNewPrivs'), '1');
    assert.equal(statusLine(out, 'Seccomp'), '2');
  });

  test('the filter refuses mount, unshare, reboot, module loading and setting the clock with EPERM, not a kill', async () => {
    // Each would need a capability the container lacks too: the filter answers first, with EPERM, and the shell goes on.
    const out = await sh(
      [
        '/bin/busybox mkdir -p /mnt; /bin/busybox mount -t tmpfs none /mnt 2>&1; echo mount=$?',
        '/bin/busybox unshare -m true 2>&1; echo unshare=$?',
        '/bin/busybox reboot -f 2>&1; echo reboot=$?',
        'echo junk > /m.ko; /bin/busybox insmod /m.ko 2>&1; echo insmod=$?',
        '/bin/busybox date -s 2000-01-01 2>&1; echo date=$?',
      ].join('; '),
    );
    // busybox date exits 0 when it cannot set the date: its message tells.
    for (const step of ['mount', 'unshare', 'reboot', 'insmod']) assert.ok(out.includes(`${step}=1`), `${step} refused: ${out.join(' | ')}`);
    for (const step of ['unshare', 'reboot', 'insmod', 'date'])
      assert.ok(
        out.some((l) => l.startsWith(`${step}:`) && /Operation not permitted/.test(l)),
        `${step} failed with EPERM: ${out.join(' | ')}`,
      );
    assert.ok(out.some((l) => /permission denied/.test(l)) || out.some((l) => /not permitted/.test(l)), 'mount refused for permission');
  });

  test('/proc paths are masked and read-only as in Docker', async () => {
    const out = await sh(
      'echo x > /proc/sys/kernel/hostname 2>/dev/null && echo sys-writable || echo sys-ro; /bin/busybox wc -c < /proc/timer_list; /bin/busybox grep -E " /proc/(timer_list|sys|bus|fs|irq|sysrq-trigger) " /proc/self/mounts | /bin/busybox cut -d" " -f2,4',
    );
    assert.equal(out[0], 'sys-ro');
    assert.equal(out[1]?.trim(), '0', '/proc/timer_list reads as /dev/null');
    assert.ok(out.some((l) => l.startsWith('/proc/timer_list ')));
    for (const p of ['/proc/sys', '/proc/bus', '/proc/fs', '/proc/irq', '/proc/sysrq-trigger'].filter((x) => existsSync(x)))
      assert.ok(
        out.some((l) => l.startsWith(`${p} ro,`)),
        `${p} is read-only: ${out.join(' | ')}`,
      );
  });

  test('unconfined, the workload keeps every capability tsbench holds and runs with no filter', async () => {
    const loose = createContainerDriver({ confinement: 'unconfined' });
    try {
      const details = (await loose.probe()).details ?? {};
      assert.match(details['confinement'] ?? '', /^unconfined/);
      assert.match(probe.details?.['confinement'] ?? '', /^docker-default: 14 capabilities .*seccomp .* system calls allowed/);
      const r = await (
        await loose.launch({ job: { kind: 'exec', argv: ['/bin/busybox', 'sh', '-c', `${STATUS}; /bin/busybox unshare -m true; echo unshare=$?`] } })
      ).result;
      assert.equal(r.status, 'ok', r.stderr.join('\n'));
      const held = capabilityMask(boundingCapabilities(readFileSync('/proc/self/status', 'utf8')));
      assert.equal(capLine(r.stdout, 'CapBnd'), held);
      assert.equal(capLine(r.stdout, 'CapEff'), held);
      assert.equal(statusLine(r.stdout, 'NoNewPrivs'), '0');
      assert.equal(statusLine(r.stdout, 'Seccomp'), '0');
      assert.ok(r.stdout.includes('unshare=0'));
    } finally {
      await loose.teardown();
    }
  });
});

describe('the seccomp filter, compiled once per run', { skip }, () => {
  test('is BPF that the launcher loads at every start, and a file that is not one is refused before anything runs', async () => {
    const compiled = await compileSeccomp('docker-default', tmpdir());
    try {
      const bytes = readFileSync(compiled.seccompBpf);
      assert.ok(bytes.length > 0 && bytes.length % 8 === 0, `${bytes.length} bytes of 8-byte BPF instructions`);
      const junk = join(compiled.dir, 'junk.bpf');
      writeFileSync(junk, 'not bpf');
      const r = await execa(binPath('tsbench-launch'), ['--report-fd', '2', '--', '--no-new-privs', '--seccomp-bpf', junk, '--', '/bin/true'], {
        reject: false,
      });
      assert.notEqual(r.exitCode, 0);
      assert.match(r.stdout + r.stderr, /--seccomp-bpf .*junk\.bpf: not a compiled filter/);
    } finally {
      rmSync(compiled.dir, { recursive: true, force: true });
    }
  });

  test("a prepared driver's containers load it, and its teardown removes it", async () => {
    const d = createContainerDriver();
    await d.prepare({ limits: {} });
    const dirs = (): string[] => readdirSync(tmpdir()).filter((n) => n.startsWith('tsbench-seccomp-'));
    assert.equal(dirs().length >= 1, true);
    const r = await (await d.launch({ job: { kind: 'exec', argv: ['/bin/busybox', 'grep', '^Seccomp:', '/proc/self/status'] } })).result;
    assert.deepEqual(
      r.stdout.map((l) => l.replace(/\s+/g, ' ')),
      ['Seccomp: 2'],
    );
    const before = dirs().length;
    await d.teardown();
    assert.equal(dirs().length, before - 1);
  });
});

describe('limits and accounting', { skip }, () => {
  test('the cgroup’s peak memory of a workload killed at a 64M limit stays at the limit', async () => {
    // That it ends oom-killed is the driver contract's (test/contract.test.ts); this is the accounting.
    const r = await run(['/bin/busybox', 'dd', 'if=/dev/zero', 'of=/dev/null', 'bs=200M', 'count=1'], { limits: { memoryBytes: 64 * 2 ** 20 } });
    assert.equal(r.status, 'oom-killed', r.reason);
    assert.ok((r.accounting.peakMemoryBytes ?? 0) <= 65 * 2 ** 20, `peak ${r.accounting.peakMemoryBytes}`);
  });

  test('a pids limit stops a fork loop', async () => {
    const r = await run(['/bin/busybox', 'sh', '-c', 'i=0; while [ $i -lt 40 ]; do /bin/busybox sleep 1 & i=$((i+1)); done; wait; echo done'], {
      limits: { pids: 10 },
    });
    assert.match(r.stderr.join('\n'), /can't fork|Resource temporarily unavailable/);
  });

  test('a CPU quota of 0.5 CPUs holds within 10 % on a busy loop', async () => {
    // 6 s, not 3: one run in about ten saw a ~0.2 s stall on this 2-core host, which over 3 s alone read as 0.43 CPUs.
    const r = await run(['/usr/bin/stress-ng', '--cpu', '2', '--timeout', '6s', '--quiet'], { limits: { cpus: 0.5 } });
    assert.equal(r.status, 'ok', r.reason);
    const cpuMs = (r.accounting.cpuUserMs ?? 0) + (r.accounting.cpuSystemMs ?? 0);
    const wallMs = (r.timeline.toExitMs ?? 0) - (r.timeline.toReadyMs ?? 0);
    const cpus = cpuMs / wallMs;
    assert.ok(Math.abs(cpus - 0.5) <= 0.05, `used ${cpus.toFixed(3)} CPUs (${cpuMs.toFixed(0)} ms CPU over ${wallMs.toFixed(0)} ms)`);
  });

  test('accounting figures are non-zero and plausible', async () => {
    // Direct I/O to a volume on the host's disk: the rootfs's upper layer may be a tmpfs.
    const disk = join(work, 'io');
    (await import('node:fs')).mkdirSync(disk, { recursive: true });
    const r = await run(['/usr/bin/fio', '--name=w', '--filename=/data/f', '--size=8M', '--rw=write', '--direct=1', '--bs=1M', '--output-format=terse'], {
      volumes: [{ hostPath: disk, guestPath: '/data' }],
    });
    assert.equal(r.status, 'ok', `${r.reason ?? ''} ${r.stderr.join('\n')}`);
    const a = r.accounting;
    assert.ok((a.cpuUserMs ?? 0) + (a.cpuSystemMs ?? 0) > 0, 'CPU time');
    assert.ok((a.peakMemoryBytes ?? 0) > 1e6 && (a.peakMemoryBytes ?? 0) < 2 ** 30, `peak memory ${a.peakMemoryBytes}`);
    assert.equal(a.oomKills ?? 0, 0);
    if (a.ioWriteBytes !== undefined) assert.ok(a.ioWriteBytes >= 8 * 2 ** 20, `wrote ${a.ioWriteBytes} bytes`);
  });
});

describe('clean-up', { skip }, () => {
  test('a missing tool and a failed set-up are failures that name the cause and leave nothing', async () => {
    const missing = await run(['/no/such/tool']);
    assert.equal(missing.status, 'failed');
    assert.match(missing.reason ?? '', /exec|No such file/);
    // A failure inside the launcher's set-up: a file bound over a directory.
    const file = join(work, 'a-file');
    writeFileSync(file, 'x');
    const bad = await run(['/bin/busybox', 'true'], { volumes: [{ hostPath: file, guestPath: '/etc' }] });
    assert.equal(bad.status, 'failed');
    assert.match(bad.reason ?? '', /merged\/etc: Is a directory/);
    assert.deepEqual(leftovers(process.pid), []);
  });

  test('a bad volume is a one-line TargetError naming the fix', async () => {
    await assert.rejects(
      driver.launch({ job: { kind: 'noop' }, volumes: [{ hostPath: '/no/such/dir', guestPath: '/data' }] }),
      (e: Error) => e.name === 'TargetError' && /volume \/no\/such\/dir does not exist on the host.*fix --volume/.test(e.message),
    );
    assert.deepEqual(leftovers(process.pid), []);
  });

  test('a tsbench that exits without tearing down still leaves nothing behind', async () => {
    const driverUrl = new URL('../drivers/container/index.js', import.meta.url).href;
    const script = `
      const { default: create } = await import(${JSON.stringify(driverUrl)});
      const d = create();
      await d.prepare({ limits: {} });
      const i = await d.launch({ job: { kind: 'sleep' }, limits: { memoryBytes: 64 * 2 ** 20 } });
      await i.ready;
      process.stdout.write('ready\\n');
      process.exit(0);`;
    const { execa } = await import('execa');
    const child = execa(process.execPath, ['--input-type=module', '-e', script], { reject: false });
    const r = await child;
    const pid = child.pid as number;
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.stdout, 'ready');
    // The container's init dies with its launcher; give the kernel a moment to reap it.
    assert.deepEqual(await settledLeftovers(pid), []);
  });

  test('Ctrl-C during a long run exits 130 with valid partial JSON and leaves nothing behind', async () => {
    const out = join(work, 'sigint');
    const child = tsbenchBackground(['run', 'startup', '--targets', 'container', '--runs', '500', '--out', out]);
    const json = join(out, 'results.json');
    await waitForSamples(json, 1, 60_000);
    assert.ok(existsSync(json), 'results.json was written');
    child.kill('SIGINT');
    const r = await child;
    assert.equal(r.exitCode, 130, r.stderr);
    const doc = JSON.parse(readFileSync(json, 'utf8')) as unknown;
    assert.equal(jsonSchemaErrors(doc), '');
    const result = ResultSchema.parse(doc);
    assert.equal(result.complete, false);
    assert.ok(child.pid !== undefined);
    assert.deepEqual(leftovers(child.pid as number), []);
    assert.equal(readFileSync('/proc/mounts', 'utf8').includes(`${DIR_PREFIX}${child.pid}-`), false);
  });
});

describe('the command line', { skip }, () => {
  test('tsbench exec --target container runs a command and passes its exit code', async () => {
    const hi = await tsbench(['exec', '--target', 'container', '--', '/bin/busybox', 'echo', 'hi']);
    assert.equal(hi.exitCode, 0, hi.stderr);
    assert.equal(hi.stdout, 'hi');
    const code = await tsbench(['exec', '--target', 'container', '--memory', '256M', '--cpus', '1', '--', '/bin/busybox', 'sh', '-c', 'exit 3']);
    assert.equal(code.exitCode, 3, code.stderr);
  });

  test('startup runs end to end on native and container', async () => {
    const out = join(work, 'startup');
    const r = await tsbench(['run', 'startup', '--targets', 'native,container', '--runs', '5', '--warmup', '1', '--out', out]);
    assert.equal(r.exitCode, 0, r.stderr);
    const result = ResultSchema.parse(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')));
    const container = result.scenarios[0]?.targets.find((t) => t.target === 'container');
    assert.equal(container?.state, 'completed');
    assert.equal(container?.samples.length, 5);
    for (const s of container?.samples ?? []) {
      assert.equal(s.status, 'ok');
      assert.ok((s.values.toReadyMs ?? 0) > 0 && (s.values.toExitMs ?? 0) >= (s.values.toReadyMs ?? 0));
      assert.ok((s.accounting?.peakMemoryBytes ?? 0) > 0);
    }
    assert.ok(container?.ratioToNative.toExitMs !== undefined);
  });
});
