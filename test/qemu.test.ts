/**
 * The VM targets `kvm` and `tcg` with real QEMU under TCG: the command line, the
 * boot timeline, failures with the console tail and no VM left behind, the kvm
 * probe's verdict on this host, the data disk, and the CLI end to end.
 * Needs qemu-system-x86_64, a fetched kernel and a built image; the boots are
 * skipped with the tcg probe's reason otherwise.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { execa } from 'execa';
import { TargetError } from '../core/errors.js';
import { ResultSchema } from '../core/schema.js';
import { startup } from '../bench/scenarios/startup.js';
import {
  buildQemuArgs,
  createKvmDriver,
  createTcgDriver,
  formatCommand,
  inNetns,
  tapProblem,
  tcgLeanArgs,
  vmPhases,
  type QemuDriver,
} from '../drivers/qemu/index.js';
import { MMIO_CMDLINE_BYTES_PER_DEVICE, guestCmdlineBytes } from '../drivers/qemu/cmdline.js';
import { kvmProviderNote } from '../drivers/qemu/host.js';
import { qemuVersion } from '../drivers/qemu/version.js';
import { listTargets } from '../drivers/registry.js';
import { tsbench, tsbenchBackground } from './helpers/cli.js';
import { descendants } from './helpers/leftovers.js';

/** Guest RAM for the boots: the default. */
const MEMORY = 256 * 2 ** 20;
const work = mkdtempSync(join(tmpdir(), 'tsbench-qemu-test-'));
const tcgProbe = await createTcgDriver().probe();
const noVm = tcgProbe.available ? false : `tcg target unavailable: ${tcgProbe.reason ?? ''}`;
const drivers: QemuDriver[] = [];
function tcg(opts: Parameters<typeof createTcgDriver>[0] = {}): QemuDriver {
  const d = createTcgDriver(opts);
  drivers.push(d);
  return d;
}

/** Pids of every process whose command line contains `needle` (pgrep -f). */
async function pgrep(needle: string): Promise<string[]> {
  const r = await execa('pgrep', ['-a', '-f', needle], { reject: false });
  return r.stdout.split('\n').filter((l) => l.trim() !== '' && !l.includes('pgrep'));
}

function alive(pid: number): boolean {
  try {
    const state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0];
    return state !== 'Z';
  } catch {
    return false;
  }
}

after(async () => {
  await Promise.all(drivers.map((d) => d.teardown()));
  rmSync(work, { recursive: true, force: true });
});

describe('the QEMU command line', () => {
  /** Milliseconds as the nanoseconds the agent reports. */
  const ms = (x: number): bigint => BigInt(Math.round(x * 1e6));
  const base = { kernel: '/k/vmlinuz', initrd: '/k/initramfs.cpio', rootDisk: '/i/root.ext4', append: 'console=ttyS0 quiet tsbench.job=bm9vcA' };

  test('tcg on microvm translates with -cpu max, boots the kernel directly, attaches the root disk read-only and talks on the serial console', () => {
    const argv = buildQemuArgs({ ...base, accelerator: 'tcg' });
    assert.deepEqual(argv, [
      'qemu-system-x86_64',
      '-nodefaults',
      '-no-user-config',
      '-display',
      'none',
      '-serial',
      'stdio',
      '-no-reboot',
      '-accel',
      'tcg',
      '-M',
      'microvm',
      '-cpu',
      'max',
      '-smp',
      '1',
      '-m',
      '256M',
      '-kernel',
      '/k/vmlinuz',
      '-initrd',
      '/k/initramfs.cpio',
      '-append',
      base.append,
      '-drive',
      'file=/i/root.ext4,format=raw,if=none,id=root,readonly=on',
      '-device',
      'virtio-blk-device,drive=root',
    ]);
  });

  test('the lean kernel boots without an initramfs on a microvm without ACPI', () => {
    const { initrd: _initrd, ...lean } = base;
    const argv = buildQemuArgs({ ...lean, accelerator: 'tcg', acpi: false });
    assert.ok(!argv.includes('-initrd'));
    assert.equal(argv[argv.indexOf('-M') + 1], 'microvm,acpi=off');
  });

  test('kvm uses the host CPU, and CPU and memory limits become vCPUs (rounded up) and RAM', () => {
    const argv = buildQemuArgs({ ...base, accelerator: 'kvm', cpus: 1.5, memoryBytes: 300 * 2 ** 20 + 1 });
    const after = (flag: string): string | undefined => argv[argv.indexOf(flag) + 1];
    assert.equal(after('-accel'), 'kvm');
    assert.equal(after('-cpu'), 'host');
    assert.equal(after('-smp'), '2');
    assert.equal(after('-m'), '301M');
  });

  test('a data disk is raw virtio-blk with O_DIRECT after the root disk: an mmio device on microvm, a PCI device on pc and q35', () => {
    for (const [machine, device] of [
      ['microvm', 'virtio-blk-device'],
      ['pc', 'virtio-blk-pci'],
      ['q35', 'virtio-blk-pci'],
    ] as const) {
      const argv = buildQemuArgs({ ...base, accelerator: 'tcg', machine, disk: '/tmp/tsbench-x/disk.raw' });
      assert.equal(argv[argv.indexOf('-M') + 1], machine);
      assert.equal(argv[argv.lastIndexOf('-drive') + 1], 'file=/tmp/tsbench-x/disk.raw,format=raw,if=none,id=d0,cache=none,aio=io_uring');
      assert.equal(argv[argv.lastIndexOf('-device') + 1], `${device},drive=d0`);
      assert.equal(argv[argv.indexOf('-device') + 1], `${device},drive=root`, 'the root disk first: it is /dev/vda');
    }
    assert.equal(buildQemuArgs({ ...base, accelerator: 'tcg' }).filter((a) => a === '-drive').length, 1);
  });

  const nic = { ifname: 'tap0', mac: '52:54:00:12:34:56', vhost: false };

  test('a NIC is a tap netdev without scripts and a virtio-net device after the disks, so the root disk stays vda', () => {
    const argv = buildQemuArgs({ ...base, accelerator: 'tcg', disk: '/tmp/tsbench-x/disk.raw', nic });
    const devices = argv.flatMap((a, i) => (a === '-device' ? [argv[i + 1]] : []));
    assert.deepEqual(devices, ['virtio-blk-device,drive=root', 'virtio-blk-device,drive=d0', 'virtio-net-device,netdev=net0,mac=52:54:00:12:34:56']);
    assert.equal(argv[argv.indexOf('-netdev') + 1], 'tap,id=net0,ifname=tap0,script=no,downscript=no,vhost=off');
    assert.ok(argv.indexOf('-netdev') > argv.lastIndexOf('-drive'), 'the NIC comes after every disk');
    assert.equal(buildQemuArgs({ ...base, accelerator: 'tcg' }).includes('-netdev'), false, 'no NIC unless asked for');
  });

  test('vhost-net is asked of QEMU only when the caller says the host has it', () => {
    const on = buildQemuArgs({ ...base, accelerator: 'kvm', nic: { ...nic, vhost: true } });
    assert.match(on[on.indexOf('-netdev') + 1] ?? '', /,vhost=on$/);
    const off = buildQemuArgs({ ...base, accelerator: 'kvm', nic });
    assert.match(off[off.indexOf('-netdev') + 1] ?? '', /,vhost=off$/);
  });

  test('the NIC is a PCI device without an option ROM on pc and q35, after the disks', () => {
    for (const machine of ['pc', 'q35'] as const) {
      const argv = buildQemuArgs({ ...base, accelerator: 'tcg', machine, nic });
      const devices = argv.flatMap((a, i) => (a === '-device' ? [argv[i + 1]] : []));
      assert.deepEqual(devices, ['virtio-blk-pci,drive=root', 'virtio-net-pci,netdev=net0,mac=52:54:00:12:34:56,romfile=']);
    }
  });

  test('on a microvm without ACPI the NIC costs one more virtio_mmio.device= of kernel command line', () => {
    const plain = guestCmdlineBytes({ append: base.append, machine: 'microvm', acpi: false });
    assert.equal(guestCmdlineBytes({ append: base.append, machine: 'microvm', acpi: false, nic }), plain + MMIO_CMDLINE_BYTES_PER_DEVICE);
    assert.equal(
      guestCmdlineBytes({ append: base.append, machine: 'microvm', acpi: false, nic, disk: '/d' }),
      Buffer.byteLength(base.append) + 3 * MMIO_CMDLINE_BYTES_PER_DEVICE,
    );
    assert.equal(guestCmdlineBytes({ append: base.append, machine: 'microvm', nic }), Buffer.byteLength(base.append), 'with ACPI QEMU adds nothing');
  });

  test('QEMU with a NIC starts in the tap’s network namespace through nsenter, which execs it', () => {
    assert.deepEqual(inNetns('/run/netns/tsbench-x'), ['/usr/bin/nsenter', '--net=/run/netns/tsbench-x', '--']);
  });

  test('a tap request with a bad field is refused, naming the field and what it should be', () => {
    const good = { kind: 'tap' as const, netnsPath: '/run/netns/n', ifname: 'tap0', mac: '52:54:00:12:34:56', address: '198.18.3.2/30', gateway: '198.18.3.1' };
    assert.equal(tapProblem(good), undefined);
    assert.equal(tapProblem({ ...good, address: '198.18.3.2/31', gateway: '198.18.3.3' }), undefined, 'a /31 has two addresses');
    for (const [field, bad, why] of [
      ['ifname', 'tap0,vhost=on', /network\.ifname .* no Linux interface name/],
      ['ifname', 'a-very-long-tap-name', /network\.ifname/],
      ['mac', '53:54:00:12:34:56', /network\.mac .* no unicast MAC/],
      ['mac', '52:54:00:12:34', /network\.mac/],
      ['netnsPath', 'run/netns/n', /network\.netnsPath .* not absolute/],
      ['address', '198.18.3.2', /network\.address .* ADDRESS\/PREFIX/],
      ['address', '198.18.3.2/33', /network\.address/],
      ['address', '198.18.3.256/30', /network\.address/],
      ['gateway', 'gw', /network\.gateway 'gw' is no IPv4 address/],
      ['gateway', '198.18.3.5', /network\.gateway 198\.18\.3\.5 is not another address of 198\.18\.3\.2\/30/],
      ['gateway', '198.18.3.2', /network\.gateway .* not another address/],
    ] as const)
      assert.match(tapProblem({ ...good, [field]: bad }) ?? '', why, `${field}=${bad}`);
  });

  test('the printed command reads back in a shell as the same argv', async () => {
    const argv = buildQemuArgs({ ...base, accelerator: 'tcg', append: `console=ttyS0 it's "quoted" $HOME` });
    const { stdout } = await execa('sh', ['-c', `for a in ${formatCommand(argv.slice(1))}; do printf '%s\\n' "$a"; done`]);
    assert.deepEqual(stdout.split('\n'), argv.slice(1));
  });

  test('the boot phases add up to the time to exit, the guest part from the guest clock', () => {
    const phases = vmPhases({ startNs: ms(1000), agentInitNs: ms(2000), agentReadyNs: ms(2050), readyReceivedNs: ms(3600), endNs: ms(3620) });
    assert.deepEqual(
      phases.map((p) => [p.name, Math.round(p.ms)]),
      [
        ['qemu', 550],
        ['kernel', 2000],
        ['agent', 50],
        ['exit', 20],
      ],
    );
    assert.equal(Math.round(phases.reduce((s, p) => s + p.ms, 0)), 2620);
  });

  test("the stock VM's initramfs is a phase of its own, ended by the agent's root mark", () => {
    const marks = [{ name: 'root', monoNs: ms(2030) }];
    const phases = vmPhases({ startNs: ms(1000), agentInitNs: ms(2000), agentReadyNs: ms(2050), readyReceivedNs: ms(3600), endNs: ms(3620), marks });
    assert.deepEqual(
      phases.map((p) => [p.name, Math.round(p.ms)]),
      [
        ['qemu', 550],
        ['kernel', 2000],
        ['initrd', 30],
        ['agent', 20],
        ['exit', 20],
      ],
    );
  });

  test("configuring a NIC is the agent's first phase, net, after the lean kernel and after the stock VM's initrd", () => {
    const lean = vmPhases({
      startNs: ms(1000),
      agentInitNs: ms(2000),
      agentReadyNs: ms(2050),
      readyReceivedNs: ms(3600),
      endNs: ms(3620),
      marks: [{ name: 'net', monoNs: ms(2012) }],
    });
    assert.deepEqual(
      lean.map((p) => [p.name, Math.round(p.ms)]),
      [
        ['qemu', 550],
        ['kernel', 2000],
        ['net', 12],
        ['agent', 38],
        ['exit', 20],
      ],
    );
    const marks = [
      { name: 'root', monoNs: ms(2030) },
      { name: 'net', monoNs: ms(2040) },
    ];
    const cloud = vmPhases({ startNs: ms(1000), agentInitNs: ms(2000), agentReadyNs: ms(2050), readyReceivedNs: ms(3600), endNs: ms(3620), marks });
    assert.deepEqual(
      cloud.map((p) => [p.name, Math.round(p.ms)]),
      [
        ['qemu', 550],
        ['kernel', 2000],
        ['initrd', 30],
        ['net', 10],
        ['agent', 10],
        ['exit', 20],
      ],
    );
    assert.equal(Math.round(cloud.reduce((s, p) => s + p.ms, 0)), 2620);
  });

  test("a distribution's boot is timed as systemd-analyze names it: kernel, initrd, userspace up to the agent's unit", () => {
    // The Debian image: its initrd's scripts mark their start and the mounted root; systemd then starts the agent.
    const marks = [
      { name: 'initrd', monoNs: ms(5370) },
      { name: 'root', monoNs: ms(8430) },
    ];
    const phases = vmPhases({ startNs: ms(1000), agentInitNs: ms(30074), agentReadyNs: ms(30088), readyReceivedNs: ms(31400), endNs: ms(31700), marks });
    assert.deepEqual(
      phases.map((p) => [p.name, Math.round(p.ms)]),
      [
        ['qemu', 312],
        ['kernel', 5370],
        ['initrd', 3060],
        ['userspace', 21644],
        ['agent', 14],
        ['exit', 300],
      ],
    );
  });

  test("a workload in a distribution's VM starts once the boot has settled, and the wait is a phase of its own", () => {
    const marks = [
      { name: 'initrd', monoNs: ms(5000) },
      { name: 'root', monoNs: ms(8000) },
      { name: 'settled', monoNs: ms(33000) },
    ];
    const phases = vmPhases({ startNs: ms(1000), agentInitNs: ms(26000), agentReadyNs: ms(33010), readyReceivedNs: ms(34310), endNs: ms(40000), marks });
    assert.deepEqual(
      phases.map((p) => [p.name, Math.round(p.ms)]),
      [
        ['qemu', 300],
        ['kernel', 5000],
        ['initrd', 3000],
        ['userspace', 18000],
        ['settle', 7000],
        ['agent', 10],
        ['exit', 5690],
      ],
    );
  });

  test("in a distribution's VM with a NIC the agent configures it before the boot settles: net, then settle", () => {
    const marks = [
      { name: 'initrd', monoNs: ms(5000) },
      { name: 'root', monoNs: ms(8000) },
      { name: 'net', monoNs: ms(26020) },
      { name: 'settled', monoNs: ms(33000) },
    ];
    const phases = vmPhases({ startNs: ms(1000), agentInitNs: ms(26000), agentReadyNs: ms(33010), readyReceivedNs: ms(34310), endNs: ms(40000), marks });
    assert.deepEqual(
      phases.map((p) => [p.name, Math.round(p.ms)]),
      [
        ['qemu', 300],
        ['kernel', 5000],
        ['initrd', 3000],
        ['userspace', 18000],
        ['net', 20],
        ['settle', 6980],
        ['agent', 10],
        ['exit', 5690],
      ],
    );
  });

  test('a writable root disk is a throw-away QEMU snapshot of the image, never the image itself', () => {
    const argv = buildQemuArgs({ ...base, accelerator: 'tcg', rootDiskMode: 'snapshot' });
    assert.equal(argv[argv.indexOf('-drive') + 1], 'file=/i/root.ext4,format=raw,if=none,id=root,snapshot=on');
  });

  test('only the lean microVM under TCG goes without the local APIC timer, which TCG would fail to verify anyway', () => {
    assert.deepEqual(tcgLeanArgs('tcg', 'lean'), ['noapictimer']);
    assert.deepEqual(tcgLeanArgs('kvm', 'lean'), []);
    assert.deepEqual(tcgLeanArgs('tcg', 'cloud'), []);
  });

  test('the lean microVM and the stock VM are registered under both accelerators, alone and with a container inside', () => {
    const names = listTargets().map((t) => t.name);
    for (const n of ['kvm', 'tcg', 'kvm-cloud', 'tcg-cloud', 'container-in-tcg', 'container-in-tcg-cloud', 'container-in-kvm', 'container-in-kvm-cloud'])
      assert.ok(names.includes(n), `${n} in ${names.join(', ')}`);
    assert.match(listTargets().find((t) => t.name === 'tcg')?.description ?? '', /lean microVM/);
    assert.match(listTargets().find((t) => t.name === 'tcg-cloud')?.description ?? '', /Debian's cloud kernel/);
  });
});

describe('the kvm probe', () => {
  test('names kvm_pvm as what serves /dev/kvm only where there is a /dev/kvm', async () => {
    const sys = mkdtempSync(join(work, 'sys-module-'));
    writeFileSync(join(sys, 'kvm_pvm'), '');
    assert.match((await kvmProviderNote(sys, '/dev/null')) ?? '', /served by kvm_pvm/);
    assert.equal(await kvmProviderNote(sys, join(work, 'no-such-kvm')), undefined, 'no device: nothing serves it');
    assert.equal(await kvmProviderNote(join(work, 'no-modules'), '/dev/null'), undefined, 'an ordinary kvm module');
  });

  test('the VM’s limits as applied: vCPUs rounded up, whole MiB of RAM, the default RAM where none is asked', () => {
    const d = createTcgDriver();
    assert.deepEqual(d.limitsFor({}), { cpus: 1, memoryBytes: 256 * 2 ** 20, pids: undefined });
    assert.deepEqual(d.limitsFor({ cpus: 1.5, memoryBytes: 300 * 2 ** 20 + 1, pids: 10 }), { cpus: 2, memoryBytes: 301 * 2 ** 20, pids: undefined });
    assert.equal(d.capabilities.minMemory?.bytes, 32 * 2 ** 20);
  });

  test('says whether a guest boots under KVM here, names kvm_pvm when it serves /dev/kvm, and is cached', async (t) => {
    const first = await createKvmDriver().probe();
    assert.equal(first.details?.['accelerator'], 'kvm');
    const note = await kvmProviderNote();
    if (note !== undefined) {
      assert.equal(first.available, false);
      assert.match(first.reason ?? '', /^kvm: .*kvm_pvm, a paravirtual nested hypervisor/);
    } else t.diagnostic(`no kvm_pvm here; kvm available: ${first.available} ${first.reason ?? ''}`);
    const second = await createKvmDriver().probe();
    assert.deepEqual({ available: second.available, reason: second.reason }, { available: first.available, reason: first.reason });
    if (first.details?.['kvmProbe'] !== undefined) assert.equal(second.details?.['kvmProbe'], first.details['kvmProbe'], 'the second probe reuses the verdict');
  });
});

describe("QEMU's version", () => {
  test('is asked once for all the probes of a process, and a QEMU that is missing, not executable or failing says which', async () => {
    const dir = mkdtempSync(join(work, 'qemu-bin-'));
    const counter = join(dir, 'asked');
    const fake = join(dir, 'qemu-fake');
    writeFileSync(fake, `#!/bin/sh\necho x >> ${counter}\necho 'QEMU emulator version 9.9.9 (fake)'\n`, { mode: 0o755 });
    const probes = await Promise.all((['lean', 'cloud', 'lean'] as const).map((profile) => createTcgDriver({ binary: fake, profile }).probe()));
    assert.deepEqual(
      probes.map((p) => p.details?.['qemu']),
      ['9.9.9', '9.9.9', '9.9.9'],
    );
    assert.deepEqual(await qemuVersion(fake), { ok: true, version: '9.9.9' });
    assert.equal(readFileSync(counter, 'utf8'), 'x\n', 'one --version for every probe');

    const absent = join(dir, 'absent');
    const missing = await createTcgDriver({ binary: absent }).probe();
    assert.deepEqual(
      { available: missing.available, reason: missing.reason },
      { available: false, reason: `${absent} not found: apt-get install qemu-system-x86` },
    );
    const plain = join(dir, 'plain');
    writeFileSync(plain, 'not a program', { mode: 0o644 });
    assert.deepEqual(await qemuVersion(plain), { ok: false, reason: `${plain} is not executable: reinstall qemu-system-x86` });
    const failing = join(dir, 'failing');
    writeFileSync(failing, '#!/bin/sh\necho "qemu: cannot load libfoo.so" >&2\nexit 127\n', { mode: 0o755 });
    assert.deepEqual(await qemuVersion(failing), { ok: false, reason: `${failing} --version failed: qemu: cannot load libfoo.so` });
  });
});

describe('VMs under TCG', { skip: noVm }, () => {
  test('a sleep job reports the guest memory, costs host PSS while it runs, and stops on "stop" written to the console', async () => {
    const d = tcg();
    await d.prepare({ limits: { memoryBytes: MEMORY } });
    const vm = await d.launch({ job: { kind: 'sleep' }, limits: { memoryBytes: MEMORY } });
    await vm.ready;
    const [pid] = vm.hostPids();
    assert.ok(pid !== undefined && readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('qemu-system-x86_64'));
    const footprint = await vm.footprint();
    const pss = footprint?.pssBytes;
    assert.ok(pss !== undefined && pss > 16 * 2 ** 20, `qemu PSS ${pss}`);
    assert.ok(footprint?.guestRamTouchedBytes !== undefined && footprint.vmmOverheadBytes !== undefined, 'split into guest RAM and VMM overhead');
    assert.equal(footprint.guestRamTouchedBytes + footprint.vmmOverheadBytes, pss);
    await vm.stop();
    const r = await vm.result;
    assert.equal(r.status, 'ok', `${r.reason}\n${r.tail.join('\n')}`);
    assert.ok(r.guestMemory && r.guestMemory.totalKb > 128 * 1024 && r.guestMemory.availableKb > 0, JSON.stringify(r.guestMemory));
    assert.equal(r.extra.accelerator, 'tcg');
    assert.equal(r.extra.memoryMiB, MEMORY / 2 ** 20);
    assert.equal(r.extra.profile, 'lean');
    assert.equal(r.extra.qemuArgv[0], 'qemu-system-x86_64');
    assert.equal(alive(pid), false, 'qemu is gone');
  });

  test('the data disk appears at /data in the guest and survives a write and read back', async () => {
    const d = tcg({ diskBytes: 64 * 2 ** 20 });
    await d.prepare({ limits: { memoryBytes: MEMORY } });
    const vm = await d.launch({ job: { kind: 'exec', argv: ['/bin/busybox', 'sh', '-c', 'echo x > /data/f && sync && cat /data/f'] } });
    const r = await vm.result;
    assert.equal(r.status, 'ok', `${r.reason}\n${r.stderr.join('\n')}\n${r.tail.join('\n')}`);
    assert.deepEqual(r.stdout, ['x']);
    const drive = r.extra.qemuArgv[r.extra.qemuArgv.lastIndexOf('-drive') + 1] ?? '';
    const file = /file=([^,]+)/.exec(drive)?.[1] ?? '';
    assert.match(file, /tsbench/);
    assert.equal(existsSync(file), false, 'the instance removed its disk');
    await d.teardown();
    assert.equal(existsSync(join(file, '..')), false, 'teardown removed the scratch dir');
  });

  test('a file that is no kernel fails at once with QEMU’s message in the tail, and leaves no qemu', async () => {
    const bogus = join(work, 'not-a-kernel');
    writeFileSync(bogus, 'this is not a bzImage\n'.repeat(100));
    const d = tcg({ kernel: bogus });
    await d.prepare({ limits: { memoryBytes: MEMORY } });
    await assert.rejects(startup.sample(d, { round: 0, limits: { memoryBytes: MEMORY }, signal: new AbortController().signal, options: {} }), (e: unknown) => {
      assert.ok(e instanceof TargetError, String(e));
      assert.match(e.message, /\[tcg\] startup: the VM ended before the agent's ready/);
      assert.ok(
        e.tail.some((l) => /^qemu(-system-x86_64)?: /.test(l)),
        e.tail.join('\n'),
      );
      return true;
    });
    assert.deepEqual(await pgrep(bogus), []);
  });

  test('a guest without an init panics, and the failure says so with the console tail', async () => {
    const empty = join(work, 'empty.cpio');
    writeFileSync(empty, '');
    const d = tcg({ initramfs: empty });
    await d.prepare({ limits: { memoryBytes: MEMORY } });
    const vm = await d.launch({ job: { kind: 'noop' }, limits: { memoryBytes: MEMORY } });
    await assert.rejects(vm.ready);
    const r = await vm.result;
    assert.equal(r.status, 'failed');
    assert.match(r.reason ?? '', /before the agent's ready: the guest found no usable \/init/);
    assert.ok(
      r.tail.some((l) => /Kernel panic/.test(l)),
      r.tail.join('\n'),
    );
    assert.ok(r.tail.length <= 20);
    assert.deepEqual(await pgrep(empty), []);
  });

  test('a boot that misses the ready timeout is killed with its group and reported as a timeout', async () => {
    const d = tcg({ readyTimeoutMs: 150 });
    await d.prepare({ limits: { memoryBytes: MEMORY } });
    const vm = await d.launch({ job: { kind: 'noop' }, limits: { memoryBytes: MEMORY } });
    const [pid] = vm.hostPids();
    const r = await vm.result;
    assert.equal(r.status, 'timeout');
    assert.match(r.reason ?? '', /did not reach the agent's ready in 0.15 s \(tcg\)/);
    assert.ok(pid !== undefined && !alive(pid), 'qemu was killed');
  });

  test('a job too long for the guest kernel command line is refused before booting, saying how long it is', async () => {
    const d = tcg();
    await d.prepare({ limits: { memoryBytes: MEMORY } });
    const argv = ['/bin/busybox', 'echo', 'x'.repeat(1600)];
    await assert.rejects(
      d.launch({ job: { kind: 'exec', argv } }),
      /the job and its options need \d+ bytes of kernel command line, more than the 2047 an x86 guest keeps/,
    );
  });

  test('too little guest RAM for the profile is refused before booting, naming --memory', async () => {
    const d = tcg();
    await assert.rejects(d.prepare({ limits: { memoryBytes: 24 * 2 ** 20 } }), /24 MiB of guest RAM is too little for tcg: .* pass --memory 32M/);
    await assert.rejects(tcg({ profile: 'cloud' }).prepare({ limits: { memoryBytes: 64 * 2 ** 20 } }), /too little for tcg-cloud: .* pass --memory 96M/);
  });

  test('tsbench exec --target tcg streams the command’s output from a VM', async () => {
    const r = await tsbench(['exec', '--target', 'tcg', '--', '/usr/bin/fio', '--version']);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, /^fio-\d/m);
  });

  test('startup on native and tcg (and container when registered) end to end writes results with VM boot phases', async () => {
    const out = join(work, 'startup');
    const targets = ['native', 'tcg', 'tcg-cloud', ...(listTargets().some((t) => t.name === 'container') ? ['container'] : [])];
    const r = await tsbench(['run', 'startup', '--targets', targets.join(','), '--runs', '2', '--warmup', '0', '--allow-missing', '--out', out], {
      timeout: 180_000,
    });
    assert.equal(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
    const result = ResultSchema.parse(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')));
    assert.equal(result.targets.find((t) => t.name === 'tcg')?.details?.['accelerator'], 'tcg');
    const vm = result.scenarios[0]?.targets.find((t) => t.target === 'tcg');
    assert.equal(vm?.state, 'completed', vm?.error);
    assert.equal(vm.samples.length, 2);
    for (const s of vm.samples) {
      const tl = s.timeline;
      assert.ok(tl);
      assert.deepEqual(
        tl.phases.map((p) => p.name),
        ['qemu', 'kernel', 'agent', 'exit'],
      );
      assert.ok(
        tl.phases.every((p) => p.ms > 0),
        JSON.stringify(tl.phases),
      );
      const sum = tl.phases.reduce((a, p) => a + p.ms, 0);
      assert.ok(Math.abs(sum - (tl.toExitMs ?? 0)) < 1, `${sum} vs ${tl.toExitMs}`);
      assert.ok((tl.toReadyMs ?? 0) > 100);
      assert.equal((s.extra as { profile?: string } | undefined)?.profile, 'lean');
    }
    const stock = result.scenarios[0]?.targets.find((t) => t.target === 'tcg-cloud');
    assert.equal(stock?.state, 'completed', stock?.error);
    for (const s of stock.samples) {
      assert.deepEqual(
        s.timeline?.phases.map((p) => p.name),
        ['qemu', 'kernel', 'initrd', 'agent', 'exit'],
      );
      assert.equal((s.extra as { profile?: string } | undefined)?.profile, 'cloud');
    }
  });

  test('the lean microVM on a PCI machine is unavailable, pointing at the stock VM', async () => {
    const probe = await tcg({ machine: 'pc' }).probe();
    assert.equal(probe.available, false);
    assert.match(probe.reason ?? '', /lean kernel has no PCI, which -M pc needs: .*tcg-cloud/);
  });

  test('SIGINT to tsbench during a VM boot leaves no qemu behind', async () => {
    const child = tsbenchBackground(['run', 'startup', '--targets', 'tcg', '--runs', '5', '--warmup', '0', '--out', join(work, 'sigint')]);
    const pid = child.pid as number;
    let qemu: number[] = [];
    for (let i = 0; i < 200 && qemu.length === 0; i++) {
      await new Promise((res) => setTimeout(res, 50));
      qemu = descendants(pid).filter((p) => {
        try {
          return readFileSync(`/proc/${p}/cmdline`, 'utf8').startsWith('qemu-system-x86_64');
        } catch {
          return false;
        }
      });
    }
    assert.ok(qemu.length > 0, 'a VM was started');
    process.kill(pid, 'SIGINT');
    const r = await child;
    assert.equal(r.exitCode, 130, r.stderr);
    for (const q of qemu) assert.equal(alive(q), false, `qemu ${q} survived`);
  });
});
