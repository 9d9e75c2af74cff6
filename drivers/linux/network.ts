/**
 * The networks an instance can be put on, as people run them (bench/scenarios/net.ts measures them):
 *
 *   loopback  native: both ends are host processes on 127.0.0.1 (the baseline)
 *   host      a container in the host's network namespace (`docker run --network host`): 127.0.0.1
 *   veth      a container in its own namespace, joined to the peer's by a veth pair, routed (/30)
 *   bridge    the veth's far end on a Linux bridge that holds the gateway address, as docker0 does
 *   nat       the bridge, and the server's ports published on another of the peer's addresses through
 *             nftables DNAT, with the bridge's subnet masqueraded on the way out, as `docker run -p`
 *   tap       a VM: a tap device holding the gateway address (/30), QEMU's virtio-net behind it, as
 *             Firecracker's network tests set a microVM up
 *
 * Safety: everything but loopback/host lives in network namespaces made here (`ip netns add`, recorded
 * for the stale-state sweep before it exists) and every address is in 198.18.0.0/15, RFC 2544's
 * benchmarking range. The peer, the other end of the traffic, runs in its own such namespace, never in
 * the host's: no device, route, rule or bridge is ever made in the host's namespace, and nothing is
 * sent but between the run's own endpoints. Removing the two namespaces removes every device and rule
 * in them (veth pairs, the bridge, the tap, the nftables table).
 *
 * Set-up is iproute2 (`ip -b`, one process a namespace) and nft, timed: the figure is what a runtime
 * spends wiring an instance up, process starts included (Docker's libnetwork talks netlink itself).
 */
import { existsSync } from 'node:fs';
import { execa } from 'execa';
import { TargetError, describeError } from '../../core/errors.js';
import { ownState, record } from '../ownership.js';
import type { Capabilities, LaunchRequest, NetworkAttachment, NetworkKind } from '../types.js';

/** The networks, in the order a report lists them; `loopback` is native's. */
export const NET_PATHS = ['loopback', 'host', 'veth', 'bridge', 'nat', 'tap'] as const;
export type NetPath = (typeof NET_PATHS)[number];

/** RFC 2544's benchmarking range: every address a run gives out is in it. */
export const BENCH_RANGE = '198.18.0.0/15';

/** One line each, for reports and `tsbench scenarios`. */
export const NET_PATH_TEXT: Record<NetPath, string> = {
  loopback: 'native: both ends host processes over 127.0.0.1',
  host: "the host's network namespace (docker --network host), over 127.0.0.1",
  veth: 'its own namespace, a veth pair to the peer, routed /30',
  bridge: 'a veth on a Linux bridge holding the gateway (docker0)',
  nat: "the bridge, ports published on the peer's address by nftables DNAT, masquerade out (docker -p)",
  tap: 'a tap device and virtio-net (Firecracker-style, routed /30)',
};

/** What each network needs of the kernel, checked once per run by `networkSupport`. */
type Feature = 'netns' | 'veth' | 'bridge' | 'nftables' | 'tun';
const NEEDS: Record<NetPath, Feature[]> = {
  loopback: [],
  host: [],
  veth: ['netns', 'veth'],
  bridge: ['netns', 'veth', 'bridge'],
  nat: ['netns', 'veth', 'bridge', 'nftables'],
  tap: ['netns', 'tun'],
};

/** The path of nsenter (util-linux), which runs a command in a network namespace and execs it. */
export const NSENTER = '/usr/bin/nsenter';

/** argv run in the network namespace `netns` (an nsfs path), or as it is in the host's. */
export function inNetns(netns: string | undefined, argv: readonly string[]): string[] {
  return netns === undefined ? [...argv] : [NSENTER, `--net=${netns}`, '--', ...argv];
}

/** The networks each `LaunchRequest.network` kind puts an instance on (a host process's are the host's own: loopback). */
const PATHS_OF_KIND: Record<NetworkKind, readonly NetPath[]> = { host: ['host'], netns: ['veth', 'bridge', 'nat'], tap: ['tap'] };

/**
 * The networks a target with these capabilities can be measured on, in report order: a host process
 * (`sharesHost`) only loopback, the baseline every other network is compared with; any other target
 * the networks of the attachment kinds it takes (`Network.attachment`, which `makeNetwork` builds).
 */
export function netPathsOf(capabilities: Pick<Capabilities, 'network' | 'sharesHost'>): NetPath[] {
  if (capabilities.sharesHost) return ['loopback'];
  const takes = new Set(capabilities.network.flatMap((kind) => PATHS_OF_KIND[kind]));
  return NET_PATHS.filter((p) => takes.has(p));
}

/** Refuses a `LaunchRequest.network` the driver does not take, naming the target and what it takes. */
export function checkNetwork(target: string, capabilities: Capabilities, request: Pick<LaunchRequest, 'network'>): NetworkAttachment | undefined {
  const n = request.network;
  if (n === undefined || capabilities.network.includes(n.kind)) return n;
  const takes = capabilities.network.length > 0 ? `it takes ${capabilities.network.join(', ')}` : 'it takes none';
  throw new TargetError(target, 'launch', `cannot attach a ${n.kind} network to ${target}: ${takes}`);
}

async function ip(args: string[], batch?: string): Promise<void> {
  const r = await execa('ip', batch === undefined ? args : [...args, '-b', '-'], { reject: false, input: batch });
  if (r.exitCode !== 0) throw new Error(`ip ${args.join(' ')}${batch !== undefined ? ' -b' : ''}: ${(r.stderr || r.stdout).trim().split('\n')[0] ?? ''}`);
}

async function nft(netns: string, ruleset: string): Promise<void> {
  const r = await execa(NSENTER, [`--net=/run/netns/${netns}`, '--', 'nft', '-f', '-'], { reject: false, input: ruleset });
  if (r.exitCode !== 0) throw new Error(`nft -f: ${(r.stderr || r.stdout).trim().split('\n')[0] ?? ''}`);
}

let seq = 0;
/** A namespace name unique to this process and call: `tsbench-<owner>-<n><suffix>`. */
function netnsName(suffix: string): string {
  return `tsbench-${ownState().id}-${++seq}${suffix}`;
}

async function addNetns(names: string[]): Promise<void> {
  for (const name of names) record({ kind: 'netns', name });
  await ip([], names.map((n) => `netns add ${n}`).join('\n'));
}

async function delNetns(names: string[]): Promise<void> {
  const here = names.filter((n) => existsSync(`/run/netns/${n}`));
  if (here.length > 0) await ip([], here.map((n) => `netns del ${n}`).join('\n'));
}

let support: Promise<Map<Feature, string | undefined>> | undefined;

/**
 * Which kernel features this host offers the networks, each undefined when it works or the reason
 * when it does not: tried once per process in a throw-away namespace (a veth pair, a bridge, a tap,
 * an nftables NAT table), so a missing module or tool makes just the networks that need it unavailable.
 */
export function networkSupport(): Promise<Map<Feature, string | undefined>> {
  support ??= (async () => {
    const found = new Map<Feature, string | undefined>();
    if (process.getuid?.() !== 0) {
      for (const f of ['netns', 'veth', 'bridge', 'nftables', 'tun'] as const) found.set(f, 'needs root: run tsbench as root');
      return found;
    }
    const name = netnsName('-probe');
    try {
      await addNetns([name]);
      found.set('netns', undefined);
    } catch (e) {
      const why = `cannot make a network namespace (${describeError(e)})`;
      for (const f of ['netns', 'veth', 'bridge', 'nftables', 'tun'] as const) found.set(f, why);
      return found;
    }
    const attempt = async (f: Feature, run: () => Promise<void>, hint: string): Promise<void> => {
      try {
        await run();
        found.set(f, undefined);
      } catch (e) {
        found.set(f, `${describeError(e)}: ${hint}`);
      }
    };
    try {
      await attempt('veth', () => ip(['-n', name, 'link', 'add', 'pv0', 'type', 'veth', 'peer', 'name', 'pv1']), 'the kernel needs veth (modprobe veth)');
      await attempt('bridge', () => ip(['-n', name, 'link', 'add', 'pb0', 'type', 'bridge']), 'the kernel needs the bridge module (modprobe bridge)');
      await attempt(
        'tun',
        async () => {
          if (!existsSync('/dev/net/tun')) throw new Error('/dev/net/tun is missing');
          await ip(['-n', name, 'tuntap', 'add', 'dev', 'pt0', 'mode', 'tap']);
        },
        'the kernel needs tun (modprobe tun)',
      );
      await attempt(
        'nftables',
        () => nft(name, 'table ip tsbench_probe {\n  chain output {\n    type nat hook output priority -100;\n  }\n}\n'),
        'install nftables (apt-get install nftables) on a kernel with nf_tables and nft_nat',
      );
    } finally {
      await delNetns([name]).catch(() => {});
    }
    return found;
  })();
  return support;
}

/** Why `path` cannot be set up here, or undefined when it can. */
export async function unavailableBecause(path: NetPath): Promise<string | undefined> {
  const features = await networkSupport();
  for (const f of NEEDS[path]) {
    const why = features.get(f);
    if (why !== undefined) return why;
  }
  return undefined;
}

/** The servers' ports inside an instance's own namespace (a fresh one: nothing else listens there). */
export const SERVER_PORTS = { iperf3: 5201, sockperf: 11111 } as const;
export type ServerName = keyof typeof SERVER_PORTS;
/** The published port of each server on the nat network: its own plus this. */
export const PUBLISH_OFFSET = 10000;

/** A network made for one instance: what to attach it with, where its peer runs, where that peer connects. */
export interface Network {
  path: NetPath;
  /** What the instance is launched with; undefined for loopback (native needs nothing). */
  attachment?: NetworkAttachment;
  /** The peer's network namespace (an nsfs path); undefined: the host's (loopback, host). */
  peerNetns?: string;
  /** The address the instance's servers bind to. */
  bindAddress: string;
  /** Where the peer connects to reach the instance's server `name` listening on `port`. */
  endpoint(port: number): { address: string; port: number };
  /** Milliseconds the set-up took (namespaces, links, addresses, routes, rules), process starts included. */
  setupMs: number;
  /** What was made, for the results. */
  details: Record<string, string>;
  /** Removes every namespace (and with it every device and rule) it made. Idempotent; never throws. */
  remove(): Promise<void>;
}

/** Addresses of each namespaced network, one /24 each in 198.18.0.0/15 (each lives in its own namespaces anyway). */
const SUBNET: Record<'veth' | 'bridge' | 'nat' | 'tap', string> = { veth: '198.18.1', bridge: '198.18.2', nat: '198.18.3', tap: '198.18.4' };
/** The peer's published address on the nat network (on its loopback device, as a host's own address). */
export const PUBLISHED_ADDRESS = '198.18.255.1';
/** The VM's NIC's MAC address: locally administered, QEMU's prefix. */
export const VM_MAC = '52:54:00:12:34:56';

/**
 * Makes `path`'s network for one instance. loopback and host make nothing. The others make two
 * namespaces, `<name>-p` (the peer) and `<name>-i` (the instance's; not for tap, whose instance is a
 * VM behind the tap), recorded first, removed by `remove()`, at exit, or by the next command's sweep.
 */
export async function makeNetwork(path: NetPath): Promise<Network> {
  const local = (attachment?: NetworkAttachment): Network => ({
    path,
    attachment,
    bindAddress: '127.0.0.1',
    endpoint: (port) => ({ address: '127.0.0.1', port }),
    setupMs: 0,
    details: { network: NET_PATH_TEXT[path] },
    remove: async () => {},
  });
  if (path === 'loopback') return local();
  if (path === 'host') return local({ kind: 'host' });
  const why = await unavailableBecause(path);
  if (why !== undefined) throw new Error(`the ${path} network is unavailable here: ${why}`);

  const base = netnsName('');
  const peer = `${base}-p`;
  const inst = `${base}-i`;
  const names = path === 'tap' ? [peer] : [peer, inst];
  const net = SUBNET[path];
  const gateway = `${net}.1`;
  const address = `${net}.2`;
  const prefix = path === 'veth' || path === 'tap' ? 30 : 24;
  const removeAll = async (): Promise<void> => {
    await delNetns(names).catch(() => {});
  };
  const t0 = process.hrtime.bigint();
  try {
    const link = path === 'tap' ? [] : [`link add v0 netns ${peer} type veth peer name eth0 netns ${inst}`];
    for (const n of names) record({ kind: 'netns', name: n });
    await ip([], [...names.map((n) => `netns add ${n}`), ...link].join('\n'));
    const peerCmds = ['link set lo up'];
    if (path === 'veth') peerCmds.push(`addr add ${gateway}/${prefix} dev v0`, 'link set v0 up');
    if (path === 'bridge' || path === 'nat')
      peerCmds.push('link add br0 type bridge', `addr add ${gateway}/${prefix} dev br0`, 'link set br0 up', 'link set v0 master br0', 'link set v0 up');
    if (path === 'nat') peerCmds.push(`addr add ${PUBLISHED_ADDRESS}/32 dev lo`);
    if (path === 'tap') peerCmds.push('tuntap add dev tap0 mode tap', `addr add ${gateway}/${prefix} dev tap0`, 'link set tap0 up');
    await ip(['-n', peer], peerCmds.join('\n'));
    if (path !== 'tap') {
      await ip(['-n', inst], ['link set lo up', `addr add ${address}/${prefix} dev eth0`, 'link set eth0 up', `route add default via ${gateway}`].join('\n'));
    }
    if (path === 'nat') await nft(peer, natRuleset(address, `${net}.0/24`));
  } catch (e) {
    await removeAll();
    throw new Error(`cannot set up the ${path} network: ${describeError(e)}`, { cause: e });
  }
  const setupMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const attachment: NetworkAttachment =
    path === 'tap'
      ? { kind: 'tap', netnsPath: `/run/netns/${peer}`, ifname: 'tap0', mac: VM_MAC, address: `${address}/${prefix}`, gateway }
      : { kind: 'netns', path: `/run/netns/${inst}` };
  return {
    path,
    attachment,
    peerNetns: `/run/netns/${peer}`,
    bindAddress: path === 'tap' ? '0.0.0.0' : address,
    endpoint: (port) => (path === 'nat' ? { address: PUBLISHED_ADDRESS, port: port + PUBLISH_OFFSET } : { address, port }),
    setupMs,
    details: {
      network: NET_PATH_TEXT[path],
      instanceAddress: `${address}/${prefix}`,
      gateway,
      ...(path === 'nat' ? { published: `${PUBLISHED_ADDRESS}:<port+${PUBLISH_OFFSET}> → ${address}:<port> (nftables DNAT), ${net}.0/24 masqueraded` } : {}),
    },
    remove: removeAll,
  };
}

/**
 * Docker's NAT for a bridge network and `-p`, in nftables: DNAT of the published ports to the container
 * for traffic from elsewhere (prerouting) and from the host itself (output, to the host's own addresses),
 * and masquerade of the bridge's subnet leaving by another interface.
 */
export function natRuleset(instanceAddress: string, subnet: string): string {
  const dnat = Object.values(SERVER_PORTS).map((p) => `    fib daddr type local tcp dport ${p + PUBLISH_OFFSET} dnat to ${instanceAddress}:${p}`);
  return [
    'table ip tsbench {',
    '  chain prerouting {',
    '    type nat hook prerouting priority dstnat;',
    ...dnat,
    '  }',
    '  chain output {',
    '    type nat hook output priority -100;',
    ...dnat,
    '  }',
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat;',
    `    ip saddr ${subnet} oifname != "br0" masquerade`,
    '  }',
    '}',
    '',
  ].join('\n');
}
