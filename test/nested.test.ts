/**
 * `container-in-tcg` / `container-in-kvm` (claim C10): tsbench's container inside
 * the VM, with real QEMU under TCG. The guest's agent starts the job through the
 * image's tsbench-launch in fresh namespaces, an overlay root and a cgroup with the
 * run's limits; the startup timeline gains a `container` phase; container-in-kvm
 * stands or falls with kvm. Needs qemu-system-x86_64, a fetched kernel and a built
 * image; the boots are skipped with the probe's reason otherwise.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ResultSchema } from '../core/schema.js';
import { createKvmDriver, createTcgDriver, vmPhases } from '../drivers/qemu/index.js';
import { GUEST_HOSTNAME, createNestedDriver, guestContainerArgs, type NestedDriver } from '../drivers/qemu/nested.js';
import type { InstanceResult } from '../drivers/types.js';
import { tsbench } from './helpers/cli.js';

const MiB = 2 ** 20;
const work = mkdtempSync(join(tmpdir(), 'tsbench-nested-test-'));
const nestedProbe = await createNestedDriver('tcg').probe();
const noNested = nestedProbe.available ? false : `container-in-tcg unavailable: ${nestedProbe.reason ?? ''}`;
const drivers: { teardown(): Promise<void> }[] = [];

after(async () => {
  await Promise.all(drivers.map((d) => d.teardown()));
  rmSync(work, { recursive: true, force: true });
});

/** The initial namespaces' fixed inode numbers (include/linux/proc_ns.h): a job showing one of these is not in a namespace of its own. */
const INITIAL_NS = { ipc: 0xefffffff, uts: 0xeffffffe, pid: 0xeffffffc, cgroup: 0xeffffffb } as const;

/** What the job prints about where it runs, one `key=value` a line. */
const PROBE = [
  'echo comm=$(cat /proc/1/comm)',
  'for n in pid mnt uts ipc net cgroup; do echo ns.$n=$(readlink /proc/self/ns/$n); done',
  'echo hostname=$(hostname)',
  'echo cgroup=$(cat /proc/self/cgroup)',
  'echo root=$(grep " / / " /proc/self/mountinfo)',
  'true',
].join('; ');

async function probeJob(driver: { launch: NestedDriver['launch'] }): Promise<{ r: InstanceResult; kv: Map<string, string> }> {
  const instance = await driver.launch({ job: { kind: 'exec', argv: ['/bin/busybox', 'sh', '-c', PROBE] }, limits: { cpus: 1, memoryBytes: 256 * MiB } });
  const r = await instance.result;
  assert.equal(r.status, 'ok', `${r.reason ?? ''}\n${r.tail.join('\n')}`);
  const kv = new Map(r.stdout.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const));
  return { r, kv };
}

describe('the container inside the VM, pure parts', () => {
  test('the kernel parameters carry the launcher options and the cgroup with the same limits as the VM', () => {
    const args = guestContainerArgs({ cpus: 1.5, memoryBytes: 768 * MiB, pids: 64, disk: '/dev/vda' });
    const decode = (name: string): string[] => {
      const v = args.find((a) => a.startsWith(`${name}=`));
      assert.ok(v, name);
      return Buffer.from(v.slice(name.length + 1), 'base64url')
        .toString()
        .split('\0');
    };
    const launcher = decode('tsbench.container');
    assert.equal(launcher[launcher.indexOf('--ns') + 1], 'pid,mnt,uts,ipc,net,cgroup');
    assert.equal(launcher[launcher.indexOf('--rootfs-lower') + 1], '/');
    assert.ok(launcher.includes('--no-pivot'));
    assert.equal(launcher[launcher.indexOf('--volume') + 1], '/data:/data');
    const cgroup = decode('tsbench.cgroup');
    assert.ok(cgroup.includes(`tsbench-ct/memory.max=${768 * MiB}`), cgroup.join(' '));
    assert.ok(cgroup.includes('tsbench-ct/cpu.max=150000 100000'), cgroup.join(' '));
    assert.ok(cgroup.includes('tsbench-ct/pids.max=64'), cgroup.join(' '));
    assert.deepEqual(guestContainerArgs({}).length, 2);
    assert.ok(
      !Buffer.from(guestContainerArgs({})[1]?.split('=')[1] ?? '', 'base64url')
        .toString()
        .includes('.max='),
      'no limits given, none written',
    );
  });

  test("in a VM with a NIC the container keeps the guest's network namespace, so its network is the NIC", () => {
    const namespaces = (args: string[]): string | undefined => {
      const launcher = Buffer.from(args[0]?.split('=')[1] ?? '', 'base64url')
        .toString()
        .split('\0');
      return launcher[launcher.indexOf('--ns') + 1];
    };
    assert.equal(namespaces(guestContainerArgs({ net: true })), 'pid,mnt,uts,ipc,cgroup');
    assert.equal(namespaces(guestContainerArgs({})), 'pid,mnt,uts,ipc,net,cgroup', 'without a NIC: a network namespace with lo only');
  });

  test('a container mark splits the agent phase at the clone, and the phases still add up to the time to exit', () => {
    const ms = 1_000_000n;
    const phases = vmPhases({
      startNs: 0n,
      readyReceivedNs: 5000n * ms,
      agentReadyNs: 4000n * ms, // the guest kernel started 1000 ms after the launch
      agentInitNs: 3000n * ms,
      marks: [{ name: 'container', monoNs: 3100n * ms }],
      endNs: 5050n * ms,
    });
    assert.deepEqual(
      phases.map((p) => `${p.name}=${p.ms}`),
      ['qemu=1000', 'kernel=3000', 'agent=100', 'container=900', 'exit=50'],
    );
  });
});

describe('container-in-tcg under real QEMU', { skip: noNested }, () => {
  test('startup through the CLI completes in the lean and the stock VM with a container phase between the agent and the exit', async () => {
    const out = join(work, 'startup');
    const targets = ['container-in-tcg', 'container-in-tcg-cloud'];
    const r = await tsbench(['run', 'startup', '--targets', targets.join(','), '--runs', '1', '--warmup', '0', '--out', out], { timeout: 180_000 });
    assert.equal(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
    const result = ResultSchema.parse(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')));
    for (const target of targets) {
      const t = result.scenarios[0]?.targets.find((x) => x.target === target);
      assert.equal(t?.state, 'completed', t?.error);
      assert.equal(t.samples.length, 1);
      for (const s of t.samples) {
        const tl = s.timeline;
        assert.ok(tl);
        assert.deepEqual(
          tl.phases.map((p) => p.name),
          target.endsWith('-cloud') ? ['qemu', 'kernel', 'initrd', 'agent', 'container', 'exit'] : ['qemu', 'kernel', 'agent', 'container', 'exit'],
        );
        assert.ok(
          tl.phases.every((p) => p.ms > 0),
          JSON.stringify(tl.phases),
        );
        const sum = tl.phases.reduce((a, p) => a + p.ms, 0);
        assert.ok(Math.abs(sum - (tl.toExitMs ?? 0)) < 1, `${sum} vs ${tl.toExitMs}`);
      }
    }
  });

  test('the job runs in its own namespaces and overlay root, unlike the same job in the VM alone', async () => {
    const nested = createNestedDriver('tcg');
    const alone = createTcgDriver();
    drivers.push(nested, alone);
    const inside = await probeJob(nested);
    const vm = await probeJob(alone);
    const at = (m: Map<string, string>, k: string): string => m.get(k) ?? assert.fail(`no ${k} in ${[...m].join(' ')}`);

    // PID 1 of the job's pid namespace is the container's agent (the guest's init is the agent too, in the initial namespaces).
    assert.equal(at(inside.kv, 'comm'), 'tsbench-agent');
    for (const ns of ['pid', 'mnt', 'uts', 'ipc', 'net', 'cgroup']) {
      assert.notEqual(at(inside.kv, `ns.${ns}`), at(vm.kv, `ns.${ns}`), `${ns} namespace is the guest's`);
    }
    for (const [ns, ino] of Object.entries(INITIAL_NS)) {
      assert.equal(at(vm.kv, `ns.${ns}`), `${ns}:[${ino}]`, 'the VM alone runs the job in the initial namespaces');
      assert.notEqual(at(inside.kv, `ns.${ns}`), `${ns}:[${ino}]`);
    }
    assert.equal(at(inside.kv, 'hostname'), GUEST_HOSTNAME);
    assert.equal(at(inside.kv, 'cgroup'), '0::/', 'the cgroup namespace is rooted at the container cgroup');
    assert.match(at(inside.kv, 'root'), / - overlay overlay .*lowerdir=\//);
    // The VM's size; that the container's cgroup holds the same limits inside is the driver contract's (test/contract.test.ts).
    assert.equal((inside.r.extra as { memoryMiB?: number } | undefined)?.memoryMiB, 256);
    assert.equal((inside.r.extra as { vcpus?: number } | undefined)?.vcpus, 1);
  });
});

describe('container-in-kvm', () => {
  test('is available exactly when kvm is, and unavailable for the kvm reason', async () => {
    // In turn: the first probe boots kvm once and caches the verdict the second must reuse.
    const kvm = await createKvmDriver().probe();
    const nested = await createNestedDriver('kvm').probe();
    if (!kvm.available) {
      assert.equal(nested.available, false);
      assert.equal(nested.reason, kvm.reason);
    } else {
      assert.equal(nested.available, nestedProbe.available, nested.reason);
    }
  });
});
