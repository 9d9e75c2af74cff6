/**
 * A VM's NIC for real: a tap device in a network namespace this test makes, QEMU started inside that
 * namespace, virtio-net in the guest configured by the agent (`tsbench.net=`), and iperf3 between the
 * namespace and an iperf3 server in the guest. The lean microVM (virtio_net built in), the stock VM
 * (Debian's kernel loading virtio_net from its initramfs), a container inside the lean microVM (on the
 * VM's NIC) and, where its image is built, the Debian image's VM (systemd, udev).
 *
 * Safety: the only addresses are 198.18.3.1/30 (the tap, in the test's namespace) and 198.18.3.2/30 (the
 * guest); nothing is made in the host's network namespace, and removing the namespace removes the tap.
 * Needs root, /dev/net/tun, iproute2, iperf3, QEMU and the built images; skipped with the reason otherwise.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { execa } from 'execa';
import { TargetError } from '../core/errors.js';
import { VHOST_NET, createQemuDriver, type QemuDriver, type VmInstance } from '../drivers/qemu/index.js';
import { CONTAINER_NETWORK_ON_NIC, createNestedDriver, type NestedDriver } from '../drivers/qemu/nested.js';
import type { Driver, NetworkAttachment } from '../drivers/types.js';

const NS = `tsbench-t-${process.pid}`;
const PORT = 5201;
const GUEST = '198.18.3.2';
const TAP: Extract<NetworkAttachment, { kind: 'tap' }> = {
  kind: 'tap',
  netnsPath: `/run/netns/${NS}`,
  ifname: 'tap0',
  mac: '52:54:00:12:34:56',
  address: `${GUEST}/30`,
  gateway: '198.18.3.1',
};
const MEMORY = 256 * 2 ** 20;
const SERVER = { kind: 'exec' as const, argv: ['/usr/bin/iperf3', '-s', '-1', '-p', String(PORT)] };

async function missingHostPart(): Promise<string | false> {
  if (process.getuid?.() !== 0) return 'needs root (ip netns add, a tap device)';
  if (!existsSync('/dev/net/tun')) return 'no /dev/net/tun: the host kernel has no TUN/TAP';
  for (const tool of ['ip', 'iperf3', 'qemu-system-x86_64'])
    if ((await execa(tool, [tool === 'ip' ? '-V' : '--version'], { reject: false, stdin: 'ignore' })).failed)
      return `${tool} not found: apt-get install iproute2 iperf3 qemu-system-x86`;
  return false;
}

const hostSkip = await missingHostPart();
/** Every driver a test made, torn down at the end; the namespace goes after them. */
const drivers: Driver[] = [];

function ip(...args: string[]): Promise<unknown> {
  return execa('ip', args, { stdin: 'ignore' });
}

before(async () => {
  if (hostSkip !== false) return;
  await ip('netns', 'add', NS);
  await ip('-n', NS, 'link', 'set', 'lo', 'up');
  await ip('-n', NS, 'tuntap', 'add', 'dev', TAP.ifname, 'mode', 'tap');
  await ip('-n', NS, 'addr', 'add', `${TAP.gateway}/30`, 'dev', TAP.ifname);
  await ip('-n', NS, 'link', 'set', TAP.ifname, 'up');
});

after(async () => {
  await Promise.all(drivers.map((d) => d.teardown()));
  // The tap lives in the namespace: it goes with it.
  if (hostSkip === false) await execa('ip', ['netns', 'del', NS], { reject: false });
});

interface IperfReport {
  /** iperf3 3.12 with -J exits 0 on a refused connection and says so here */
  error?: string;
  end: { sum_received?: { bits_per_second: number; bytes: number } };
}

/**
 * One second of iperf3 from the namespace to the guest's server. The server starts just after the agent's
 * ready: a refused connection is tried again, for up to `withinMs`.
 */
async function iperfToGuest(withinMs = 60_000): Promise<IperfReport> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    const r = await execa('ip', ['netns', 'exec', NS, 'iperf3', '-c', GUEST, '-p', String(PORT), '-t', '1', '-J'], { reject: false, timeout: 60_000 });
    const report = r.exitCode === 0 ? (JSON.parse(r.stdout) as IperfReport) : undefined;
    if (report !== undefined && report.error === undefined) return report;
    const said = report?.error ?? r.stdout + r.stderr;
    if (!/refused/i.test(said) || Date.now() > deadline) throw new Error(`iperf3 -c ${GUEST} failed: ${said.slice(0, 400)}`);
    await new Promise((ok) => setTimeout(ok, 100));
  }
}

/** Boots `driver` with the NIC and the iperf3 server, measures, and checks what the instance recorded. */
async function serveThroughNic(driver: QemuDriver | NestedDriver, nic: string): Promise<{ gbps: number; vm: VmInstance }> {
  await driver.prepare({ limits: { memoryBytes: MEMORY } });
  const vm = (await driver.launch({ job: SERVER, network: TAP, limits: { memoryBytes: MEMORY } })) as VmInstance;
  try {
    assert.equal(vm.details.nic, nic);
    assert.equal(vm.details.netBackend, 'tap');
    assert.equal(vm.details.netAddress, TAP.address);
    assert.equal(vm.details.vhost, existsSync(VHOST_NET), 'vhost-net exactly where the host has it');
    if (vm.details.vhost === false) assert.equal(vm.details.vhostWhy, `no ${VHOST_NET}`);
    assert.deepEqual(vm.details.qemuArgv.slice(0, 3), ['/usr/bin/nsenter', `--net=${TAP.netnsPath}`, '--']);
    await vm.ready;
    const [pid] = vm.hostPids();
    assert.ok(pid !== undefined && readFileSync(`/proc/${pid}/cmdline`, 'utf8').startsWith('qemu-system-x86_64'), 'nsenter execed QEMU: the same pid');
    const report = await iperfToGuest();
    // The server (-1) ends after one client: so does the VM. One that does not is killed, and fails below.
    const stuck = setTimeout(() => void vm.kill(), 60_000);
    const r = await vm.result;
    clearTimeout(stuck);
    assert.equal(r.status, 'ok', `${r.reason ?? ''}\n${r.stderr.join('\n')}\n${r.tail.join('\n')}`);
    assert.equal(r.exitCode, 0);
    assert.ok(
      r.timeline.phases.some((p) => p.name === 'net'),
      JSON.stringify(r.timeline.phases),
    );
    const bps = report.end.sum_received?.bits_per_second ?? 0;
    assert.ok(bps > 0 && (report.end.sum_received?.bytes ?? 0) > 0, JSON.stringify(report.end));
    return { gbps: bps / 1e9, vm };
  } finally {
    await vm.kill();
  }
}

async function probed<D extends Driver>(driver: D): Promise<{ driver: D; skip: string | false }> {
  drivers.push(driver);
  if (hostSkip !== false) return { driver, skip: hostSkip };
  const p = await driver.probe();
  return { driver, skip: p.available ? false : `${driver.name} unavailable: ${p.reason ?? ''}` };
}

const lean = await probed(createQemuDriver('tcg', 'lean'));
const cloud = await probed(createQemuDriver('tcg', 'cloud'));
const nested = await probed(createNestedDriver('tcg'));
const debian = await probed(createQemuDriver('tcg', 'cloud', { image: 'debian' }));

describe('a VM with a NIC on a tap device', () => {
  test('the lean microVM serves iperf3 over its built-in virtio-net, and exits 0', { skip: lean.skip }, async (t) => {
    const { gbps, vm } = await serveThroughNic(lean.driver, 'virtio-net-device');
    t.diagnostic(`tcg: ${gbps.toFixed(3)} Gbit/s over the tap (vhost ${String(vm.details.vhost)})`);
  });

  test('the stock VM serves iperf3 over virtio-net, the module its initramfs loads for the NIC, and exits 0', { skip: cloud.skip }, async (t) => {
    const { gbps } = await serveThroughNic(cloud.driver, 'virtio-net-device');
    t.diagnostic(`tcg-cloud: ${gbps.toFixed(3)} Gbit/s over the tap`);
  });

  test("a container inside the VM serves iperf3 on the VM's NIC, sharing the guest's network namespace", { skip: nested.skip }, async (t) => {
    const { gbps, vm } = await serveThroughNic(nested.driver, 'virtio-net-device');
    assert.equal(vm.details.containerNetwork, CONTAINER_NETWORK_ON_NIC);
    t.diagnostic(`container-in-tcg: ${gbps.toFixed(3)} Gbit/s over the tap`);
  });

  test("the Debian image's VM configures the NIC as a systemd service and serves iperf3 on it", { skip: debian.skip }, async (t) => {
    const { gbps } = await serveThroughNic(debian.driver, 'virtio-net-device');
    t.diagnostic(`tcg-cloud@debian: ${gbps.toFixed(3)} Gbit/s over the tap`);
  });

  test('a network a VM cannot take is refused before anything boots, naming its kind', { skip: lean.skip }, async () => {
    for (const network of [{ kind: 'host' }, { kind: 'netns', path: TAP.netnsPath }] as const)
      await assert.rejects(lean.driver.launch({ job: { kind: 'noop' }, network }), (e: unknown) => {
        assert.ok(e instanceof TargetError, String(e));
        assert.match(e.message, new RegExp(`\\[tcg\\] launch: a VM takes no network of kind '${network.kind}'.*give it kind 'tap'`));
        return true;
      });
  });

  test('a tsbench.net= the agent cannot read fails the VM with exit 127, naming the parameter and its form', { skip: lean.skip }, async () => {
    const d = createQemuDriver('tcg', 'lean', { kernelArgs: ['tsbench.net=198.18.3.2/30'] });
    drivers.push(d);
    const r = await (await d.launch({ job: { kind: 'noop' }, limits: { memoryBytes: MEMORY } })).result;
    assert.equal(r.status, 'failed');
    assert.equal(r.exitCode, 127);
    assert.match(r.reason ?? '', /agent: tsbench\.net=198\.18\.3\.2\/30 is not ADDRESS\/PREFIX,GATEWAY \(IPv4\)/);
  });

  test('a tsbench.net= in a VM without a NIC fails after 2 s, saying there is no interface but lo', { skip: lean.skip }, async () => {
    const d = createQemuDriver('tcg', 'lean', { kernelArgs: ['tsbench.net=198.18.3.2/30,198.18.3.1'] });
    drivers.push(d);
    const r = await (await d.launch({ job: { kind: 'noop' }, limits: { memoryBytes: MEMORY } })).result;
    assert.equal(r.status, 'failed');
    assert.equal(r.exitCode, 127);
    assert.match(r.reason ?? '', /agent: no network interface but lo in \/sys\/class\/net after 2 s/);
  });

  test('a tap device missing from the namespace is refused, rather than QEMU making a fresh unconfigured one', { skip: lean.skip }, async () => {
    await assert.rejects(
      lean.driver.launch({ job: { kind: 'noop' }, network: { ...TAP, ifname: 'tap9' } }),
      /no tap device tap9 in \/run\/netns\/tsbench-t-\d+: make it first \(ip -n NAME tuntap add dev tap9 mode tap\)/,
    );
    const leftover = await execa('ip', ['-n', NS, 'link', 'show', 'tap9'], { reject: false });
    assert.notEqual(leftover.exitCode, 0, 'no tap9 was made');
  });
});
