/**
 * What tsbench does on a host that is itself a VM under TCG (the nested KVM test host), and the pieces
 * the test host is built from, without booting it: the detection, the per-VM KVM verdicts, the lean
 * kernel a test host carries (TSBENCH_LEAN_KERNEL), and the KVM modules the kernel cache keeps.
 * test/testhosts.test.ts boots the test host itself.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { driverOptionsFromEnv } from '../cli/env.js';
import { ImageError } from '../drivers/image/cache.js';
import { KVM_MODULES, missingModules, selectModules } from '../drivers/image/kernel.js';
import { leanKernelAt } from '../drivers/image/lean-kernel.js';
import { buildQemuArgs } from '../drivers/qemu/cmdline.js';
import { hostEmulatedBy } from '../drivers/qemu/host.js';
import { latestVerdictThisBoot, readVerdict, verdictPath, writeVerdict } from '../drivers/qemu/verdict.js';
import { renderHtml } from '../reports/html/index.js';
import { renderMarkdown } from '../reports/markdown.js';
import { around, craft } from './helpers/claims.js';
import { kvmUnavailable } from './helpers/testhost.js';

const work = mkdtempSync(join(tmpdir(), 'tsbench-nested-host-test-'));
after(() => rmSync(work, { recursive: true, force: true }));

const cpuinfo = (model: string): string => `processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: ${model}\nflags\t\t: fpu svm\n\n`;

describe('a host nested under TCG', () => {
  test("is recognised by the model name TCG's max CPU reports, and no other host is", async () => {
    assert.equal(await hostEmulatedBy(cpuinfo('QEMU TCG CPU version 2.5+')), 'tcg');
    assert.equal(await hostEmulatedBy(cpuinfo('AMD EPYC 7B13')), undefined);
    // a KVM guest's default CPU model is QEMU's too, but not TCG's: no claim about emulation there
    assert.equal(await hostEmulatedBy(cpuinfo('QEMU Virtual CPU version 2.5+')), undefined);
  });

  test('the workload VMs keep their CPU model; only a caller that names one (the test host) changes it', () => {
    const base = { kernel: '/k', rootDisk: '/r', append: 'console=ttyS0' } as const;
    const cpuOf = (argv: string[]): string | undefined => argv[argv.indexOf('-cpu') + 1];
    assert.equal(cpuOf(buildQemuArgs({ ...base, accelerator: 'kvm' })), 'host');
    assert.equal(cpuOf(buildQemuArgs({ ...base, accelerator: 'tcg' })), 'max');
    assert.equal(cpuOf(buildQemuArgs({ ...base, accelerator: 'tcg', cpu: 'max,pku=off' })), 'max,pku=off');
  });
});

describe('the KVM verdict cache', () => {
  const saved = process.env['XDG_CACHE_HOME'];
  after(() => (saved === undefined ? delete process.env['XDG_CACHE_HOME'] : (process.env['XDG_CACHE_HOME'] = saved)));

  test("keeps one verdict per VM of this host boot, so the lean and the stock VM do not re-probe each other's", async () => {
    process.env['XDG_CACHE_HOME'] = join(work, 'cache-a');
    const lean = { available: true, probedAt: '2026-12-02T10:00:00.000Z', probeMs: 900 };
    const stock = { available: false, reason: 'kvm: probe boot did not reach ready', probedAt: '2026-12-02T10:01:00.000Z', probeMs: 60000 };
    await writeVerdict('boot1 leanhash qemu 7.2 microvm', lean);
    await writeVerdict('boot1 stockhash qemu 7.2 microvm', stock);
    assert.deepEqual(await readVerdict('boot1 leanhash qemu 7.2 microvm'), lean);
    assert.deepEqual(await readVerdict('boot1 stockhash qemu 7.2 microvm'), stock);
    assert.deepEqual(await latestVerdictThisBoot('boot1'), stock);
    // a new host boot forgets the old boot's verdicts
    await writeVerdict('boot2 leanhash qemu 7.2 microvm', lean);
    assert.equal(await readVerdict('boot1 stockhash qemu 7.2 microvm'), undefined);
    assert.deepEqual(Object.keys((JSON.parse(readFileSync(verdictPath(), 'utf8')) as { verdicts: object }).verdicts), ['boot2 leanhash qemu 7.2 microvm']);
  });

  test('still reads the one verdict a file from before kept', async () => {
    process.env['XDG_CACHE_HOME'] = join(work, 'cache-b');
    mkdirSync(join(work, 'cache-b', 'tsbench', 'qemu'), { recursive: true });
    const verdict = { available: true, probedAt: '2026-12-01T00:00:00.000Z', probeMs: 700 };
    writeFileSync(verdictPath(), JSON.stringify({ key: 'boot1 h qemu m', verdict }));
    assert.deepEqual(await readVerdict('boot1 h qemu m'), verdict);
    assert.deepEqual(await latestVerdictThisBoot('boot1'), verdict);
  });
});

describe('a lean kernel built elsewhere (TSBENCH_LEAN_KERNEL)', () => {
  test('is booted from its cache entry, whatever its key', async () => {
    const dir = join(work, 'lean-abc');
    mkdirSync(dir);
    writeFileSync(join(dir, 'vmlinux'), 'ELF');
    writeFileSync(join(dir, 'config'), 'CONFIG_KVM_GUEST=y\n');
    writeFileSync(join(dir, 'kernel.json'), JSON.stringify({ version: '6.1.192', key: 'abc', vmlinuxBytes: 3, source: 's' }));
    const k = await leanKernelAt(dir);
    assert.equal(k.vmlinux, join(dir, 'vmlinux'));
    assert.equal(k.key, 'abc');
    assert.equal(driverOptionsFromEnv({ TSBENCH_LEAN_KERNEL: dir }).leanKernelDir, dir);
  });

  test('that is no cache entry is one line naming the variable, exit 2', async () => {
    await assert.rejects(leanKernelAt(join(work, 'nowhere')), (e: unknown) => {
      assert.ok(e instanceof ImageError);
      assert.equal(e.exitCode, 2);
      assert.match(e.message, /^TSBENCH_LEAN_KERNEL=.*nowhere is not a lean kernel that tsbench kernel build made .*: fix or unset it$/);
      return true;
    });
  });
});

describe('the kernel cache keeps the KVM modules, tun and vhost_net for the test host’s tap, dummy for its isolation runs, and the socket diag modules for CRIU', () => {
  const modules = join(work, 'modules');
  mkdirSync(join(modules, 'kernel'), { recursive: true });
  const dep = [
    'kernel/drivers/virtio/virtio_mmio.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko',
    'kernel/drivers/virtio/virtio.ko:',
    'kernel/drivers/virtio/virtio_ring.ko:',
    'kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko',
    'kernel/fs/ext4/ext4.ko: kernel/fs/jbd2/jbd2.ko',
    'kernel/fs/jbd2/jbd2.ko:',
    'kernel/arch/x86/kvm/kvm-amd.ko: kernel/arch/x86/kvm/kvm.ko kernel/virt/lib/irqbypass.ko',
    'kernel/arch/x86/kvm/kvm.ko: kernel/virt/lib/irqbypass.ko',
    'kernel/virt/lib/irqbypass.ko:',
    'kernel/drivers/net/tun.ko:',
    'kernel/drivers/net/tap.ko:',
    'kernel/drivers/net/dummy.ko:',
    'kernel/drivers/vhost/vhost_iotlb.ko:',
    'kernel/drivers/vhost/vhost.ko: kernel/drivers/vhost/vhost_iotlb.ko',
    'kernel/drivers/vhost/vhost_net.ko: kernel/drivers/vhost/vhost.ko kernel/drivers/vhost/vhost_iotlb.ko kernel/drivers/net/tap.ko kernel/drivers/net/tun.ko',
    'kernel/net/unix/unix_diag.ko:',
    'kernel/net/ipv4/inet_diag.ko:',
    'kernel/net/ipv4/tcp_diag.ko: kernel/net/ipv4/inet_diag.ko',
    'kernel/net/ipv4/udp_diag.ko: kernel/net/ipv4/inet_diag.ko',
    'kernel/net/netlink/netlink_diag.ko:',
    'kernel/net/packet/af_packet_diag.ko:',
    'kernel/net/netfilter/nfnetlink.ko:',
    'kernel/net/netfilter/nf_tables.ko: kernel/net/netfilter/nfnetlink.ko',
    'kernel/drivers/net/veth.ko:',
  ];
  writeFileSync(join(modules, 'modules.dep'), dep.join('\n') + '\n');
  writeFileSync(join(modules, 'modules.builtin'), '');

  test('kvm_amd, tun, vhost_net, dummy and the socket diag modules, each with its dependencies first, apart from the modules every boot loads', async () => {
    assert.deepEqual(KVM_MODULES, [
      'kvm_amd',
      'tun',
      'vhost_net',
      'dummy',
      'unix_diag',
      'inet_diag',
      'tcp_diag',
      'udp_diag',
      'netlink_diag',
      'af_packet_diag',
      'nf_tables',
      'veth',
    ]);
    const selected = await selectModules(modules, { set: 'kvm' });
    assert.deepEqual(selected.slice(0, 3), ['kernel/virt/lib/irqbypass.ko', 'kernel/arch/x86/kvm/kvm.ko', 'kernel/arch/x86/kvm/kvm-amd.ko']);
    assert.deepEqual([...selected.slice(3)].sort(), [
      'kernel/drivers/net/dummy.ko',
      'kernel/drivers/net/tap.ko',
      'kernel/drivers/net/tun.ko',
      'kernel/drivers/net/veth.ko',
      'kernel/drivers/vhost/vhost.ko',
      'kernel/drivers/vhost/vhost_iotlb.ko',
      'kernel/drivers/vhost/vhost_net.ko',
      'kernel/net/ipv4/inet_diag.ko',
      'kernel/net/ipv4/tcp_diag.ko',
      'kernel/net/ipv4/udp_diag.ko',
      'kernel/net/netfilter/nf_tables.ko',
      'kernel/net/netfilter/nfnetlink.ko',
      'kernel/net/netlink/netlink_diag.ko',
      'kernel/net/packet/af_packet_diag.ko',
      'kernel/net/unix/unix_diag.ko',
    ]);
    const atNet = (m: string): number => selected.indexOf(`kernel/net/${m}.ko`);
    for (const m of ['ipv4/tcp_diag', 'ipv4/udp_diag']) assert.ok(atNet('ipv4/inet_diag') < atNet(m), `inet_diag before ${m}`);
    assert.ok(atNet('netfilter/nfnetlink') < atNet('netfilter/nf_tables'), 'nfnetlink before nf_tables');
    const at = (m: string): number => selected.indexOf(`kernel/drivers/${m}.ko`);
    for (const dep of ['vhost/vhost', 'vhost/vhost_iotlb', 'net/tap', 'net/tun']) assert.ok(at(dep) < at('vhost/vhost_net'), `${dep} before vhost_net`);
    assert.deepEqual(await missingModules(modules, 'kvm'), []);
    assert.deepEqual(await missingModules(modules, 'container'), ['overlay']);
  });
});

describe('a report of results from a host nested under TCG', () => {
  test('says so in its host line and on its page', () => {
    const file = craft({ nestedUnder: 'tcg', scenarios: { startup: { native: { toReadyMs: around(1) }, kvm: { toReadyMs: around(2600) } } } });
    assert.match(renderMarkdown([file]), /nested under TCG: a VM whose CPU TCG emulates, its timings no KVM or native figures/);
    assert.match(renderHtml([file]), /nested under<\/th>.*TCG.*no timing here is a KVM or native figure/s);
    assert.doesNotMatch(renderMarkdown([craft({ scenarios: { startup: { native: { toReadyMs: around(1) } } } })]), /nested under/);
  });
});

describe('the nested KVM test host, when it cannot run KVM', () => {
  const result = (facts: Record<string, string>, consoleTail = ''): Parameters<typeof kvmUnavailable>[0] => ({
    timedOut: false,
    console: consoleTail,
    consoleTail,
    facts,
    out: work,
    wallMs: 0,
    dispose: async () => {},
  });

  test('says why, so that the tests skip with the reason instead of passing', () => {
    assert.match(kvmUnavailable(result({ svm: 'no', kvm: 'no' })) ?? '', /TCG offers no AMD SVM/);
    assert.match(
      kvmUnavailable(result({ svm: 'yes', kvm: 'no', insmod: 'insmod: ERROR: could not insert kvm_amd' })) ?? '',
      /kvm_amd did not give .* could not insert/,
    );
    assert.match(kvmUnavailable(result({}, 'Kernel panic - not syncing')) ?? '', /did not come up .*Kernel panic/);
    assert.equal(kvmUnavailable(result({ svm: 'yes', kvm: 'yes' })), undefined);
  });
});
