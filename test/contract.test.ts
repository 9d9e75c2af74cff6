/**
 * The driver contract (drivers/types.ts), checked on every target tsbench knows:
 * launch → ready → exit, a failing job reported as a failure, output, stop and
 * kill, an interrupted launch, and nothing left behind; then each capability the
 * driver declares (limits, OOM reported, volumes, the networks it takes), skipping, and saying so, what
 * it declares it lacks; and the measurements every instance reports (its footprint, its workload's CPU
 * from ready to the job's end, the agent's rusage, its limits as applied). A target whose probe says it cannot run here is skipped
 * whole, with the probe's reason. Per-driver test files keep only what is
 * specific to one driver.
 *
 * VMs are costly (a TCG boot is seconds), so every target runs the same few
 * instances: one job reports the limits it sees, its output and a failing exit
 * code at once, and several tests read its result.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createDriver, listTargets } from '../drivers/registry.js';
import { makeNetwork, type NetPath } from '../drivers/linux/network.js';
import {
  appliedLimits,
  type Driver,
  type Instance,
  type InstanceResult,
  type LaunchRequest,
  type Limits,
  type NetworkKind,
  type Probe,
} from '../drivers/types.js';
import { groupsOf, leftovers, settledLeftovers, tempEntries } from './helpers/leftovers.js';

const MiB = 2 ** 20;
const work = mkdtempSync(join(tmpdir(), 'tsbench-contract-test-'));
const baseline = tempEntries();

/**
 * The limits every declaring target gets: 640 MiB is above a VM's 256 MiB default;
 * 1.5 CPUs is a 150000/100000 µs quota, or 2 vCPUs (rounded up).
 */
const LIMITS: Required<Limits> = { memoryBytes: 640 * MiB, cpus: 1.5, pids: 32 };

/**
 * Prints what the job sees of its limits, one `key=value` a line: the vCPUs and RAM of
 * its kernel, and the memory, cpu and pids files of its own cgroup, from cgroup v2 where
 * the controller is there, else from its v1 hierarchy (a cgroup namespace shows the
 * job's cgroup as the root of a fresh mount; the true root has no limit files in v2). A
 * confined container may not mount: it reads the read-only /sys/fs/cgroup its runtime
 * mounted, as Docker's containers do.
 */
const REPORT_LIMITS = [
  'cg=/tmp/tsbench-contract-cg; mkdir -p $cg/v2 $cg/v1; v2=',
  'if mount -t cgroup2 none $cg/v2 2>/dev/null; then v2=" $(cat $cg/v2/cgroup.controllers) "; fi',
  'for c in memory cpu pids; do',
  '  if ls /sys/fs/cgroup/$c/$c.* >/dev/null 2>&1; then d=/sys/fs/cgroup/$c',
  '  elif [ -z "$v2" ] && ls /sys/fs/cgroup/$c.max >/dev/null 2>&1; then d=/sys/fs/cgroup',
  '  else case "$v2" in *" $c "*) d=$cg/v2 ;; *) d=$cg/v1/$c; mkdir -p $d; mount -t cgroup -o $c none $d 2>/dev/null || continue ;; esac; fi',
  '  for f in $d/$c.*; do case ${f##*/} in memory.max|memory.limit_in_bytes|cpu.max|cpu.cfs_quota_us|cpu.cfs_period_us|pids.max) echo "cgroup.${f##*/}=$(cat $f)" ;; esac; done',
  'done',
  'echo nproc=$(nproc)',
  'echo memtotal-kb=$(grep MemTotal /proc/meminfo | tr -s " " | cut -d" " -f2)',
].join('\n');

/** Two lines of output, one on stderr, then a failing exit code. */
const OUTPUT_THEN_FAIL = 'echo contract-line-1; echo contract-line-2; echo contract-err >&2; exit 3';

/** Allocates 200 MiB at once: past a 64 MiB limit. */
const ALLOCATE = ['/bin/busybox', 'dd', 'if=/dev/zero', 'of=/dev/null', 'bs=200M', 'count=1'];

/** The CPU quota (CPUs) of the cgroup a host process is in: cpu.max on cgroup v2, cfs_quota_us / cfs_period_us on v1. */
function hostCpuQuota(pid: number): number | undefined {
  const lines = readFileSync(`/proc/${pid}/cgroup`, 'utf8').split('\n');
  const v1 = lines.find((l) => l.split(':')[1]?.split(',').includes('cpu'));
  try {
    if (v1 !== undefined) {
      const dir = readdirSync('/sys/fs/cgroup').includes('cpu') ? `/sys/fs/cgroup/cpu${v1.split(':')[2]}` : `/sys/fs/cgroup/cpu,cpuacct${v1.split(':')[2]}`;
      return Number(readFileSync(`${dir}/cpu.cfs_quota_us`, 'utf8')) / Number(readFileSync(`${dir}/cpu.cfs_period_us`, 'utf8'));
    }
    const v2 = lines.find((l) => l.startsWith('0::'));
    const [quota, period] = readFileSync(`/sys/fs/cgroup${v2?.slice(3) ?? ''}/cpu.max`, 'utf8')
      .trim()
      .split(' ')
      .map(Number);
    return (quota as number) / (period as number);
  } catch {
    return undefined;
  }
}

interface Target {
  name: string;
  driver: Driver;
  probe: Probe;
}

// Every target, probed at once (a kvm probe boots a guest, or reuses this host boot's verdict).
const targets: Target[] = await Promise.all(
  listTargets().map(async ({ name }) => {
    const driver = await createDriver(name);
    return { name, driver, probe: await driver.probe() };
  }),
);

after(() => rmSync(work, { recursive: true, force: true }));

test('every unavailable target says why', () => {
  for (const { name, probe } of targets) {
    if (!probe.available) assert.ok((probe.reason ?? '').trim().length > 0, `${name} is unavailable without a reason`);
  }
});

for (const { name, driver, probe } of targets) {
  const caps = driver.capabilities;
  const limits: Limits = {
    memoryBytes: caps.limits.memoryBytes ? LIMITS.memoryBytes : undefined,
    cpus: caps.limits.cpus ? LIMITS.cpus : undefined,
    pids: caps.limits.pids ? LIMITS.pids : undefined,
  };
  const declaresLimits = caps.limits.memoryBytes || caps.limits.cpus || caps.limits.pids;
  const applied = appliedLimits(driver, limits);
  const lacks = (what: string): string => `${name} declares no ${what}`;

  describe(name, { skip: probe.available ? false : `${name} unavailable: ${probe.reason ?? '(no reason given)'}` }, () => {
    /** Groups of every instance this block launched, for the final check. */
    const groups: number[] = [];

    const launch = (request: LaunchRequest): Promise<Instance> => driver.launch(request);

    /** Waits for ready, remembers the instance's process groups, and checks they are gone once it ends. */
    async function readyAndWatched(instance: Instance): Promise<number[]> {
      await instance.ready;
      const seen = groupsOf(instance.hostPids());
      groups.push(...seen);
      return seen;
    }

    /** The one job whose result several tests read: its limits, its output, and exit 3. */
    const streamed: string[] = [];
    let reportResult: Promise<InstanceResult> | undefined;
    function report(): Promise<InstanceResult> {
      const script = declaresLimits ? `${REPORT_LIMITS}\n${OUTPUT_THEN_FAIL}` : OUTPUT_THEN_FAIL;
      reportResult ??= launch({
        job: { kind: 'exec', argv: ['/bin/busybox', 'sh', '-c', script] },
        limits,
        onOutput: (l) => streamed.push(l),
        workloadCpu: true,
      }).then((i) => i.result);
      return reportResult;
    }
    async function reported(): Promise<Map<string, string>> {
      const r = await report();
      return new Map(r.stdout.filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const));
    }
    const detail = (r: InstanceResult): string =>
      `${r.status} ${r.reason ?? ''}\nstdout: ${r.stdout.join('\n')}\nstderr: ${r.stderr.join('\n')}\ntail: ${r.tail.join('\n')}`;

    before(() => driver.prepare({ limits: {} }));

    // Whatever a failing test left running; the last test checks teardown itself.
    after(() => driver.teardown());

    test('a noop job becomes ready and exits ok with code 0, ready no later than exit', async () => {
      const instance = await launch({ job: { kind: 'noop' } });
      await instance.ready;
      const r = await instance.result;
      assert.equal(r.status, 'ok', detail(r));
      assert.equal(r.exitCode, 0);
      const { toReadyMs, toExitMs } = r.timeline;
      assert.ok(toReadyMs !== undefined && toExitMs !== undefined, JSON.stringify(r.timeline));
      assert.ok(toReadyMs > 0 && toReadyMs <= toExitMs, JSON.stringify(r.timeline));
    });

    test('a job that exits 3 is a reported failure with exit code 3', async () => {
      const r = await report();
      assert.equal(r.status, 'failed', detail(r));
      assert.equal(r.exitCode, 3);
      assert.match(r.reason ?? '', /3/);
    });

    test('the job’s output arrives line by line, in order, as it runs and in the result', async () => {
      const r = await report();
      const mine = (lines: string[]): string[] => lines.filter((l) => l.startsWith('contract-'));
      assert.deepEqual(mine(r.stdout), ['contract-line-1', 'contract-line-2'], detail(r));
      assert.deepEqual(mine(streamed), ['contract-line-1', 'contract-line-2']);
      assert.deepEqual(mine(r.stderr), ['contract-err']);
    });

    test('an exec job reports its workload’s CPU from ready to the end of the job, and the agent’s rusage', async () => {
      const r = await report();
      assert.ok(r.workloadCpu, `no workloadCpu: ${detail(r)}`);
      const { hostCpuMs, windowMs } = r.workloadCpu;
      assert.ok(windowMs > 0 && windowMs <= (r.timeline.toExitMs ?? Infinity), `window ${windowMs} ms, exit at ${r.timeline.toExitMs} ms`);
      assert.ok(hostCpuMs >= 0 && hostCpuMs <= windowMs * availableParallelism() + 20, `${hostCpuMs} ms of CPU in ${windowMs} ms`);
      assert.ok(r.rusage && r.rusage.maxRssBytes > 0 && r.rusage.userMs >= 0 && r.rusage.systemMs >= 0, JSON.stringify(r.rusage));
    });

    test('the limits as applied are those asked for, as the driver enforces them', () => {
      for (const k of ['cpus', 'memoryBytes', 'pids'] as const) {
        if (!caps.limits[k]) assert.equal(applied[k], undefined, `${k} is not enforced, so not applied`);
        else if (caps.memoryLimit === 'ram' && k !== 'pids') assert.ok((applied[k] ?? 0) >= (limits[k] ?? 0), `${k}: ${applied[k]} for ${limits[k]}`);
        else assert.equal(applied[k], limits[k], k);
      }
      if (caps.minMemory) assert.ok(caps.minMemory.bytes > 0 && caps.minMemory.why.length > 0);
    });

    test('a sleep job stays ready until stop() ends it ok, and leaves nothing behind', async () => {
      const instance = await launch({ job: { kind: 'sleep' } });
      const seen = await readyAndWatched(instance);
      assert.ok(instance.hostPids().length > 0, 'a running instance names its host processes');
      const footprint = await instance.footprint();
      assert.ok(footprint && footprint.pssBytes > 0, `a running instance has a footprint: ${JSON.stringify(footprint)}`);
      if (caps.memoryLimit === 'cgroup') assert.ok((footprint.cgroupUsageBytes ?? 0) > 0, 'and a cgroup its usage');
      if (caps.memoryLimit === 'ram' && footprint.guestRamTouchedBytes !== undefined)
        assert.equal(footprint.guestRamTouchedBytes + (footprint.vmmOverheadBytes ?? NaN), footprint.pssBytes, 'guest RAM and VMM overhead add up');
      await instance.stop();
      const r = await instance.result;
      assert.equal(r.status, 'ok', detail(r));
      assert.equal(r.exitCode, 0);
      assert.deepEqual(await settledLeftovers(process.pid, { driverState: false, groups: seen }), []);
    });

    test('kill() ends a sleep job at once, and killing it again is harmless', async () => {
      const instance = await launch({ job: { kind: 'sleep' } });
      const seen = await readyAndWatched(instance);
      await Promise.all([instance.kill(), instance.kill()]);
      const r = await instance.result;
      await instance.kill();
      assert.equal(r.status, 'killed', detail(r));
      assert.ok(r.timeline.toExitMs !== undefined);
      assert.deepEqual(await settledLeftovers(process.pid, { driverState: false, groups: seen }), []);
    });

    test('kill() ends a job whose tool runs on (a server), the tool with it', async () => {
      const instance = await launch({ job: { kind: 'exec', argv: ['/bin/busybox', 'sleep', '1000'] } });
      const seen = await readyAndWatched(instance);
      await instance.kill();
      const r = await instance.result;
      assert.equal(r.status, 'killed', detail(r));
      assert.deepEqual(await settledLeftovers(process.pid, { driverState: false, groups: seen }), []);
    });

    test('aborting the launch signal ends a running sleep job as killed and leaves nothing behind', async () => {
      const abort = new AbortController();
      const instance = await launch({ job: { kind: 'sleep' }, signal: abort.signal });
      const seen = await readyAndWatched(instance);
      abort.abort(new Error('interrupted by the contract test'));
      const r = await instance.result;
      assert.equal(r.status, 'killed', detail(r));
      assert.deepEqual(await settledLeftovers(process.pid, { driverState: false, groups: seen }), []);
    });

    describe('limits', () => {
      test(
        `a memory limit of ${LIMITS.memoryBytes / MiB} MiB is what the job sees`,
        { skip: caps.limits.memoryBytes ? false : lacks('memory limit') },
        async () => {
          const kv = await reported();
          const cgroup = kv.get('cgroup.memory.max') ?? kv.get('cgroup.memory.limit_in_bytes');
          if (caps.memoryLimit === 'ram') {
            // The guest kernel keeps some of the RAM for itself: MemTotal is a little less than asked.
            const kb = Number(kv.get('memtotal-kb'));
            assert.ok(
              kb > 0.85 * (LIMITS.memoryBytes / 1024) && kb <= LIMITS.memoryBytes / 1024,
              `MemTotal ${kb} kB for ${LIMITS.memoryBytes / MiB} MiB asked`,
            );
          } else {
            // A kernel of the instance's own on the host's cgroup (a user-space kernel) shows no cgroup files: its MemTotal is the limit.
            const memTotal = Number(kv.get('memtotal-kb')) * 1024;
            assert.ok(cgroup !== undefined || memTotal === LIMITS.memoryBytes, `no memory limit file in the job's cgroup, nor MemTotal: ${[...kv].join(' ')}`);
          }
          // A container (here, or in the VM) has its cgroup say so as well.
          if (cgroup !== undefined) assert.equal(Number(cgroup), LIMITS.memoryBytes);
        },
      );

      test(
        `a CPU limit of ${LIMITS.cpus} is the job’s CPU quota, or its vCPUs rounded up`,
        { skip: caps.limits.cpus ? false : lacks('CPU limit') },
        async () => {
          const kv = await reported();
          const [quota, period] = kv.has('cgroup.cpu.max')
            ? (kv.get('cgroup.cpu.max') ?? '').split(' ').map(Number)
            : [Number(kv.get('cgroup.cpu.cfs_quota_us')), Number(kv.get('cgroup.cpu.cfs_period_us'))];
          const hasQuota = quota !== undefined && Number.isFinite(quota) && quota > 0;
          if (caps.cpuAccounting === 'guest') assert.equal(Number(kv.get('nproc')), applied.cpus, `vCPUs: ${[...kv].join(' ')}`);
          else if (hasQuota) assert.equal((quota as number) / (period as number), LIMITS.cpus);
          else {
            // The job sees no cgroup (a user-space kernel's own view): the quota is where the host enforces it, the cgroup of its host processes.
            assert.ok(![...kv.keys()].some((k) => k.startsWith('cgroup.')), `no CPU quota in the job's cgroup: ${[...kv].join(' ')}`);
            const instance = await launch({ job: { kind: 'sleep' }, limits });
            try {
              await readyAndWatched(instance);
              const [pid] = instance.hostPids();
              assert.ok(pid !== undefined, 'the instance has host processes');
              assert.equal(hostCpuQuota(pid), LIMITS.cpus, `the CPU quota of host process ${pid}'s cgroup`);
            } finally {
              await instance.stop();
              await instance.result;
            }
          }
        },
      );

      test(`a pids limit of ${LIMITS.pids} is the job’s cgroup pids.max`, { skip: caps.limits.pids ? false : lacks('pids limit') }, async () => {
        const kv = await reported();
        assert.equal(kv.get('cgroup.pids.max'), String(LIMITS.pids), [...kv].join(' '));
      });
    });

    test('a job allocating past a 64 MiB memory limit ends oom-killed', { skip: caps.reportsOom ? false : lacks('OOM reporting') }, async () => {
      const instance = await launch({ job: { kind: 'exec', argv: ALLOCATE }, limits: { memoryBytes: 64 * MiB } });
      const r = await instance.result;
      assert.equal(r.status, 'oom-killed', detail(r));
      assert.ok((r.accounting.oomKills ?? 0) >= 1, JSON.stringify(r.accounting));
    });

    test(
      'host directories are bound: read-only ones visible and unwritable, read-write ones written back',
      { skip: caps.volumes ? false : lacks('volumes') },
      async () => {
        const ro = mkdtempSync(join(work, `${name}-ro-`));
        const rw = mkdtempSync(join(work, `${name}-rw-`));
        writeFileSync(join(ro, 'in.txt'), 'from the host\n');
        const instance = await launch({
          job: {
            kind: 'exec',
            argv: [
              '/bin/busybox',
              'sh',
              '-c',
              'cat /contract-ro/in.txt; echo no > /contract-ro/x 2>/dev/null && echo writable || echo refused; echo back > /contract-rw/out.txt && echo wrote',
            ],
          },
          volumes: [
            { hostPath: ro, guestPath: '/contract-ro', readOnly: true },
            { hostPath: rw, guestPath: '/contract-rw' },
          ],
        });
        const r = await instance.result;
        assert.equal(r.status, 'ok', detail(r));
        assert.deepEqual(r.stdout, ['from the host', 'refused', 'wrote']);
        assert.deepEqual(readdirSync(ro), ['in.txt']);
        assert.equal(readFileSync(join(rw, 'out.txt'), 'utf8'), 'back\n');
      },
    );

    /** The network each kind is tested on (drivers/linux/network.ts). */
    const NETWORK_OF: Record<NetworkKind, NetPath> = { host: 'host', netns: 'veth', tap: 'tap' };
    /** The interfaces the instance sees (from /proc/net/dev) and its local IPv4 addresses (from /proc/net/fib_trie, else `ip addr`). */
    const SEE_NETWORK = [
      '/bin/busybox',
      'sh',
      '-c',
      // Without /proc/net/fib_trie (a user-space network stack has none), the addresses netlink gives.
      "sed -n 's/^ *\\([^:]*\\):.*/if=\\1/p' /proc/net/dev; { grep -B1 '/32 host LOCAL' /proc/net/fib_trie 2>/dev/null || /bin/busybox ip -4 -o addr | sed -n 's/.* inet \\([0-9.]*\\).*/\\1/p'; } | grep -o '[0-9.]*$' | sed 's/^/addr=/'",
    ];
    const ownInterfaces = (): string[] =>
      readFileSync('/proc/net/dev', 'utf8')
        .split('\n')
        .flatMap((l) => (l.includes(':') ? [l.slice(0, l.indexOf(':')).trim()] : []))
        .sort();
    for (const kind of ['host', 'netns', 'tap'] as const) {
      test(`a ${kind} network is the one the instance sees`, { skip: caps.network.includes(kind) ? false : lacks(`${kind} network`) }, async () => {
        const network = await makeNetwork(NETWORK_OF[kind]);
        try {
          assert.ok(network.attachment);
          const instance = await launch({ job: { kind: 'exec', argv: SEE_NETWORK }, network: network.attachment });
          const r = await instance.result;
          assert.equal(r.status, 'ok', detail(r));
          const seen = (key: string): string[] => r.stdout.filter((l) => l.startsWith(`${key}=`)).map((l) => l.slice(key.length + 1));
          if (kind === 'host') assert.deepEqual(seen('if').sort(), ownInterfaces(), "the host's interfaces");
          else {
            assert.deepEqual(seen('if').sort(), ['eth0', 'lo'], detail(r));
            assert.ok(seen('addr').includes(network.details['instanceAddress']?.split('/')[0] ?? '?'), detail(r));
          }
        } finally {
          await network.remove();
        }
      });
    }

    test('a network the driver does not take is refused, naming what it takes', async () => {
      const other = (['host', 'netns', 'tap'] as const).find((k) => !caps.network.includes(k));
      assert.ok(other, 'no driver takes every kind');
      const attachment: LaunchRequest['network'] =
        other === 'host'
          ? { kind: 'host' }
          : other === 'netns'
            ? { kind: 'netns', path: '/run/netns/none' }
            : { kind: 'tap', netnsPath: '/run/netns/none', ifname: 't', mac: '52:54:00:00:00:01', address: '198.18.9.2/30', gateway: '198.18.9.1' };
      await assert.rejects(launch({ job: { kind: 'noop' }, network: attachment }), new RegExp(`network.*\\b${other}\\b|\\b${other}\\b.*network`));
    });

    test('teardown leaves nothing of the target, and a second teardown is harmless', async () => {
      // One instance still starting when teardown comes (not waiting for ready spares a VM boot).
      const running = await launch({ job: { kind: 'sleep' } });
      groups.push(...groupsOf(running.hostPids()));
      await driver.teardown();
      assert.notEqual((await running.result).status, 'ok');
      await driver.teardown();
      assert.deepEqual(await settledLeftovers(process.pid, { groups, baseline }), []);
    });
  });
}

// The whole file's instances are gone too (a failing test may have skipped its own check).
test('nothing is left of any target once every driver is torn down', async () => {
  await Promise.all(targets.map((t) => t.driver.teardown()));
  assert.deepEqual(await settledLeftovers(process.pid, { baseline }), []);
  assert.deepEqual(leftovers(process.pid, { baseline }), []);
});
