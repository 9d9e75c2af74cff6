/**
 * The `net` scenario: iperf3's and sockperf's outputs parsed from captured real
 * runs, the NAT rules and the networks each kind of target is measured on, and
 * one sample end to end on native (loopback) and container (host, veth, bridge,
 * nat) with 1 s measurements — plausible figures, every address in
 * 198.18.0.0/15, the host's own interfaces untouched, and no namespace, link,
 * cgroup or process left behind, also after a SIGINT and a SIGKILL; one
 * sample on tcg over its tap. A host without nftables makes only the nat
 * network unavailable, with its reason. (The VM's NIC itself: test/qemu-net.test.ts.)
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { ParseError, parseIperf3Json, parseSockperf } from '../bench/scenarios/parsers/net.js';
import { MEASURED_NETS, NET_METRICS, net, netsOf, sockperfClient } from '../bench/scenarios/net.js';
import { BENCH_RANGE, PUBLISHED_ADDRESS, natRuleset } from '../drivers/linux/network.js';
import createNativeDriver from '../drivers/native.js';
import createContainerDriver from '../drivers/container/index.js';
import { createTcgDriver } from '../drivers/qemu/index.js';
import { CONTAINER_CAPABILITIES, type Driver } from '../drivers/types.js';
import { CLI } from './helpers/cli.js';
import { interruptRun, seeded } from './helpers/interrupt.js';
import { leftovers } from './helpers/leftovers.js';
import { completedTarget, runScenarios } from './helpers/scenario.js';

const fixture = (name: string): string => readFileSync(fileURLToPath(new URL(`../../test/fixtures/${name}`, import.meta.url)), 'utf8');
const FIGURES = ['RxGbps', 'TxGbps', 'RttP50Us', 'RttP99Us', 'Tps'];

/** Whether an IPv4 address lies in 198.18.0.0/15. */
function inBenchRange(address: string): boolean {
  const [a, b] = address.split('.').map(Number);
  return a === 198 && (b === 18 || b === 19);
}

/** The host's own interfaces, by name: the run must not add, remove or change any. */
async function hostLinks(): Promise<string> {
  return (await execa('ip', ['-o', 'link', 'show'])).stdout
    .split('\n')
    .map((l) => l.split(':')[1]?.trim() ?? '')
    .sort()
    .join(',');
}

const drivers: Driver[] = [];
after(async () => {
  await Promise.all(drivers.map((d) => d.teardown()));
});

describe('the tools the net scenario reads', () => {
  test('iperf3 reports the receiver’s throughput of either direction', () => {
    const fwd = parseIperf3Json(fixture('iperf3-forward.json'));
    const rev = parseIperf3Json(fixture('iperf3-reverse.json'));
    for (const r of [fwd, rev]) {
      assert.ok(!('refused' in r));
      assert.ok(r.bitsPerSecond > 1e9 && r.seconds > 0.9, JSON.stringify(r));
    }
  });

  test('a refused iperf3 connection is worth a retry, a broken report is an error', () => {
    assert.deepEqual(parseIperf3Json(fixture('iperf3-refused.json')), { refused: 'unable to connect to server: Connection refused' });
    assert.throws(() => parseIperf3Json('iperf3: error - something'), ParseError);
    assert.throws(() => parseIperf3Json('{"error":"the server has terminated"}'), /terminated/);
  });

  test('sockperf’s round trips come out as p50 ≤ p99 and transactions per second over its valid duration', () => {
    const r = parseSockperf(fixture('sockperf-pp.txt'));
    assert.ok(!('refused' in r));
    assert.equal(r.p50RttUs, 20.668);
    assert.equal(r.p99RttUs, 35.165);
    assert.equal(r.meanRttUs, 22.057);
    assert.equal(Math.round(r.transactionsPerSecond), Math.round(24905 / 0.55));
  });

  test('a refused sockperf connection is worth a retry, output without round trips is an error', () => {
    assert.ok('refused' in parseSockperf(fixture('sockperf-refused.txt')));
    assert.throws(() => parseSockperf('sockperf: Test ended\n'), /Valid Duration/);
  });

  test('sockperf runs as long as asked, its own warm-up included, and reports full round trips', () => {
    const argv = sockperfClient('198.18.2.2', 11111, 2);
    assert.deepEqual(argv.slice(argv.indexOf('-t'), argv.indexOf('-t') + 2), ['-t', '2']);
    assert.ok(argv.includes('--full-rtt') && argv.includes('--tcp'));
  });
});

describe('the networks', () => {
  test('the NAT publishes each server’s port on the peer’s address and masquerades the bridge’s subnet, as docker -p does', () => {
    const rules = natRuleset('198.18.3.2', '198.18.3.0/24');
    assert.match(rules, /type nat hook prerouting priority dstnat;/);
    assert.match(rules, /type nat hook output priority -100;/);
    assert.match(rules, /tcp dport 15201 dnat to 198\.18\.3\.2:5201/);
    assert.match(rules, /tcp dport 21111 dnat to 198\.18\.3\.2:11111/);
    assert.match(rules, /ip saddr 198\.18\.3\.0\/24 oifname != "br0" masquerade/);
    for (const a of [...rules.matchAll(/\d+\.\d+\.\d+\.\d+/g)].map((m) => m[0])) assert.ok(inBenchRange(a), a);
    assert.ok(inBenchRange(PUBLISHED_ADDRESS));
    assert.equal(BENCH_RANGE, '198.18.0.0/15');
  });

  test('each kind of target is measured on the networks its driver takes', () => {
    const caps = (network: Driver['capabilities']['network']) => ({ ...CONTAINER_CAPABILITIES, network });
    assert.deepEqual(netsOf({ capabilities: { ...caps(['host']), sharesHost: true } }), ['loopback'], 'a host process: loopback, the baseline');
    assert.deepEqual(netsOf({ capabilities: caps(['host', 'netns']) }), ['host', 'veth', 'bridge', 'nat']);
    assert.deepEqual(netsOf({ capabilities: caps(['host']) }), ['host'], 'docker joins no prepared namespace');
    assert.deepEqual(netsOf({ capabilities: caps(['tap']) }), ['tap']);
  });

  test('every network has its five figures, its set-up and its ready time as metrics', () => {
    const names = new Set(NET_METRICS.map((m) => m.name));
    for (const n of MEASURED_NETS) for (const f of [...FIGURES, 'ReadyMs', 'SetupMs']) assert.ok(names.has(`${n}${f}`), `${n}${f}`);
    assert.ok(names.has('loReadyMs'));
  });

  test('a driver refuses a network it does not take, naming what it takes', async () => {
    const native = createNativeDriver();
    await assert.rejects(
      native.launch({ job: { kind: 'noop' }, network: { kind: 'netns', path: '/run/netns/x' } }),
      /cannot attach a netns network to native: it takes host/,
    );
  });
});

describe('one sample on native and container', () => {
  test('every network is measured, native’s loopback is each one’s baseline, and nothing is left on the host', async () => {
    const before = await hostLinks();
    const native = createNativeDriver();
    const container = createContainerDriver();
    drivers.push(native, container);
    const result = await runScenarios([net], [native, container], 1, { netTimeS: 1 });
    const n = completedTarget(result, 'native');
    const c = completedTarget(result, 'container');
    const nv = n.samples[0]?.values ?? {};
    const cv = c.samples[0]?.values ?? {};
    for (const net of ['host', 'veth', 'bridge', 'nat']) {
      for (const f of FIGURES) {
        const v = cv[`${net}${f}`];
        assert.ok(v !== undefined && Number.isFinite(v) && v > 0, `container ${net}${f} = ${v}`);
        assert.ok(nv[`${net}${f}`] !== undefined, `native's loopback stands for ${net}${f}`);
      }
      assert.ok((cv[`${net}RxGbps`] as number) < 1000 && (cv[`${net}TxGbps`] as number) < 1000, 'below 1 Tbit/s');
      assert.ok((cv[`${net}RttP50Us`] as number) <= (cv[`${net}RttP99Us`] as number), 'p50 ≤ p99');
      assert.ok((cv[`${net}RttP50Us`] as number) >= 1, 'a TCP round trip takes at least a microsecond');
      assert.ok(c.ratioToNative[`${net}RttP50Us`] !== undefined, `the ${net} round trip has a ratio to native`);
    }
    assert.equal(nv['vethRxGbps'], nv['natRxGbps'], 'one loopback figure for every network');
    assert.equal(cv['hostSetupMs'], 0, 'the host network needs no set-up');
    for (const net of ['veth', 'bridge', 'nat']) {
      assert.ok((cv[`${net}SetupMs`] as number) > 0, `${net} set-up is timed`);
      assert.ok((cv[`${net}ReadyMs`] as number) > (cv[`${net}SetupMs`] as number), `${net}'s ready time includes its set-up`);
    }
    assert.ok((cv['loReadyMs'] as number) > 0);

    // Every address the run gave out is in the benchmarking range.
    const networks = (c.samples[0]?.extra?.['networks'] ?? {}) as Record<string, Record<string, unknown>>;
    assert.deepEqual(Object.keys(networks).sort(), ['bridge', 'host', 'nat', 'veth']);
    for (const [name, d] of Object.entries(networks)) {
      if (name === 'host') continue;
      for (const key of ['instanceAddress', 'gateway']) assert.ok(inBenchRange(String(d[key])), `${name} ${key} ${String(d[key])}`);
    }
    await container.teardown();
    assert.equal(await hostLinks(), before, "the host's interfaces are untouched");
    assert.deepEqual(
      leftovers(process.pid, { driverState: false }).filter((l) => l.startsWith('netns') || l.startsWith('cgroup')),
      [],
    );
  });
});

describe('one sample on tcg', () => {
  test('the VM is measured over its tap and virtio-net, records what it used, and no vhost-net is claimed where there is none', async () => {
    const tcg = createTcgDriver();
    drivers.push(tcg);
    const probe = await tcg.probe();
    if (!probe.available) return assert.fail(`tcg is unavailable: ${probe.reason ?? ''}`);
    const result = await runScenarios([net], [tcg], 1, { netTimeS: 1 });
    const t = completedTarget(result, 'tcg');
    const v = t.samples[0]?.values ?? {};
    for (const f of FIGURES) assert.ok((v[`tap${f}`] ?? 0) > 0, `tap${f} = ${v[`tap${f}`]}`);
    assert.ok((v['tapSetupMs'] ?? 0) > 0 && (v['tapReadyMs'] ?? 0) > (v['tapSetupMs'] ?? 0));
    assert.equal(v['vethRxGbps'], undefined, 'a VM is measured on its tap only');
    const tap = (t.samples[0]?.extra?.['networks'] as Record<string, Record<string, unknown>>)['tap'] ?? {};
    const instance = (tap['instance'] ?? {}) as Record<string, unknown>;
    assert.equal(instance['nic'], 'virtio-net-device');
    assert.equal(instance['vhost'], existsSync('/dev/vhost-net'));
    assert.ok(inBenchRange(String(tap['instanceAddress']).split('/')[0] ?? ''));
    await tcg.teardown();
    assert.deepEqual(
      leftovers(process.pid, { driverState: false }).filter((l) => l.startsWith('netns')),
      [],
    );
  });
});

describe('a host without nftables', () => {
  test('makes the nat network unavailable with its reason while the others are measured', async () => {
    const bin = mkdtempSync(join(tmpdir(), 'tsbench-fake-nft-'));
    const out = mkdtempSync(join(tmpdir(), 'tsbench-net-out-'));
    try {
      writeFileSync(join(bin, 'nft'), '#!/bin/sh\necho "Error: Could not process rule: No such file or directory" >&2\nexit 1\n');
      chmodSync(join(bin, 'nft'), 0o755);
      const r = await execa(process.execPath, [CLI, 'run', 'net', '--targets', 'native,container', '--runs', '1', '--net-time', '1', '--out', out, '--json'], {
        reject: false,
        env: { PATH: `${bin}:${process.env['PATH'] ?? ''}` },
        timeout: 180_000,
      });
      assert.equal(r.exitCode, 0, r.stderr);
      const result = JSON.parse(r.stdout) as {
        scenarios: { targets: { target: string; samples: { values: Record<string, number>; extra?: Record<string, unknown> }[] }[] }[];
      };
      const c = result.scenarios[0]?.targets.find((t) => t.target === 'container');
      const sample = c?.samples[0];
      assert.ok(sample, 'the container has a sample');
      const unavailable = sample.extra?.['unavailable'] as Record<string, string> | undefined;
      assert.match(unavailable?.['nat'] ?? '', /nft -f: Error: Could not process rule.*install nftables/);
      assert.equal(sample.values['natRxGbps'], undefined);
      for (const net of ['host', 'veth', 'bridge']) assert.ok((sample.values[`${net}RxGbps`] ?? 0) > 0, `${net} still measured`);
    } finally {
      rmSync(bin, { recursive: true, force: true });
      rmSync(out, { recursive: true, force: true });
    }
  });
});

describe('an interrupted net run', () => {
  for (const signal of ['SIGINT', 'SIGKILL'] as const) {
    test(`leaves no namespace, link, cgroup or process after a ${signal} (${signal === 'SIGKILL' ? 'the next command sweeps them' : 'it removes them itself'})`, async () => {
      const o = await interruptRun({ scenario: 'net', target: 'container', signal, when: 'netns' }, seeded(signal === 'SIGINT' ? 7 : 11), { maxDelayMs: 800 });
      assert.ok(o.reached, `the run made a network namespace: ${o.stderr}`);
      if (signal === 'SIGINT') {
        assert.equal(o.exitCode, 130, o.stderr);
        assert.deepEqual(o.leftBeforeSweep, []);
      } else {
        assert.equal(o.exitSignal, 'SIGKILL');
      }
      assert.deepEqual(o.leftovers, []);
    });
  }
});
