/**
 * `net`: what each isolation layer's network costs (claim C12). The same two
 * servers from the image run inside the instance, and a peer outside it, the
 * host's copy of the same binaries, drives them:
 *
 *   iperf3 -s            TCP bulk throughput: the peer sends for `--net-time`
 *                        seconds (the instance receives: rx), then asks the
 *                        server to send (`-R`: the instance transmits: tx)
 *   sockperf server      TCP request/response: `sockperf ping-pong --tcp
 *                        --full-rtt -m 64`, one 64-byte message in flight,
 *                        round trips p50 and p99 in µs and transactions/s
 *
 * over every network the target offers (drivers/linux/network.ts):
 *   native      loopback (both ends host processes, the baseline)
 *   containers  host (the host's namespace), veth, bridge, nat (bridge + a
 *               published port through nftables DNAT, as `docker run -p`)
 *   VMs         tap (a tap device and virtio-net; vhost-net where the host has it)
 * The peer runs in a namespace the run made (the host's only for loopback and
 * host, over 127.0.0.1); every address is in 198.18.0.0/15.
 *
 * Each network gets its own metrics (`vethRxGbps`, `natRttP50Us`, …) so one
 * run compares them, and native reports its loopback figures under every
 * network's names: the baseline that the runner's ratio to native divides by.
 * Beside the traffic, each sample measures what wiring an instance up costs:
 * `<net>ReadyMs` is the network's set-up (namespaces, links, addresses, rules:
 * `<net>SetupMs`) plus the instance's time to ready on it, and `loReadyMs` the
 * time to ready of the same target with no network but `lo` (a VM: no NIC).
 *
 * Containers and VMs get the same CPU and memory (`matchedLimits`); the peer is
 * unconfined. A network the host cannot make (no veth, bridge, nftables or
 * tun) is skipped with its reason in the sample; the others still run.
 */
import { createServer } from 'node:net';
import { execa } from 'execa';
import { TargetError, describeError } from '../../core/errors.js';
import {
  makeNetwork,
  inNetns,
  netPathsOf,
  unavailableBecause,
  NET_PATHS,
  NET_PATH_TEXT,
  SERVER_PORTS,
  type Driver,
  type Instance,
  type InstanceResult,
  type Job,
  type NetPath,
  type Network,
} from '../../drivers/index.js';
import type { MetricSpec } from '../../core/schema.js';
import { connected, parseIperf3Json, parseSockperf, type Iperf3Result, type SockperfResult } from './parsers/net.js';
import { MATCHED_LIMITS, matchedLimits, type PreflightContext, type SampleOutcome, type Scenario, type ScenarioOptions } from './types.js';

export const IPERF3 = '/usr/bin/iperf3';
export const SOCKPERF = '/usr/bin/sockperf';
/** Seconds of each of the three measurements (iperf3 rx, iperf3 tx, sockperf). @default 2 */
export const DEFAULT_NET_TIME_S = 2;
/** sockperf's request and reply size in bytes: a small RPC. */
export const MESSAGE_BYTES = 64;
/** How long the peer keeps retrying while the instance's server is not listening yet. */
const CONNECT_DEADLINE_MS = 60_000;

/** The networks whose figures each target has: native's loopback stands in for all of the others. */
export type MeasuredNet = Exclude<NetPath, 'loopback'>;
export const MEASURED_NETS: readonly MeasuredNet[] = NET_PATHS.filter((p): p is MeasuredNet => p !== 'loopback');

const FIGURES = [
  { suffix: 'RxGbps', unit: 'Gbit/s', better: 'higher', text: 'TCP bulk throughput into the instance (iperf3, the peer sends)' },
  { suffix: 'TxGbps', unit: 'Gbit/s', better: 'higher', text: 'TCP bulk throughput out of the instance (iperf3 -R, the instance sends)' },
  { suffix: 'RttP50Us', unit: 'µs', better: 'lower', text: `TCP request/response round trip, median (sockperf ping-pong, ${MESSAGE_BYTES} B)` },
  { suffix: 'RttP99Us', unit: 'µs', better: 'lower', text: `TCP request/response round trip, 99th percentile (sockperf ping-pong, ${MESSAGE_BYTES} B)` },
  {
    suffix: 'Tps',
    unit: 'transactions/s',
    better: 'higher',
    text: `TCP request/response transactions per second, one in flight (sockperf ping-pong, ${MESSAGE_BYTES} B)`,
  },
] as const;

export function netMetric(net: MeasuredNet, suffix: (typeof FIGURES)[number]['suffix'] | 'ReadyMs' | 'SetupMs'): string {
  return `${net}${suffix}`;
}

export const NET_METRICS: readonly MetricSpec[] = [
  ...MEASURED_NETS.flatMap((net) =>
    FIGURES.map((f) => ({
      name: netMetric(net, f.suffix),
      unit: f.unit,
      better: f.better,
      description: `${f.text}; ${net}: ${NET_PATH_TEXT[net]} (native: its loopback figure, the baseline)`,
      headline: f.suffix === 'RttP50Us' && (net === 'bridge' || net === 'tap') ? true : undefined,
    })),
  ),
  { name: 'loReadyMs', unit: 'ms', better: 'lower', description: "launch to ready with no network but lo (a VM: no NIC), the server's job" },
  ...MEASURED_NETS.flatMap((net) => [
    {
      name: netMetric(net, 'ReadyMs'),
      unit: 'ms',
      better: 'lower' as const,
      description: `the ${net} network's set-up plus launch to ready on it (${NET_PATH_TEXT[net]})`,
    },
    {
      name: netMetric(net, 'SetupMs'),
      unit: 'ms',
      better: 'lower' as const,
      description: `setting the ${net} network up: namespaces, links, addresses, routes, rules (iproute2, nft), process starts included`,
    },
  ]),
];

/** The networks a target is measured on, from what its driver takes (drivers/linux/network.ts `netPathsOf`). */
export function netsOf(driver: Pick<Driver, 'capabilities'>): NetPath[] {
  return netPathsOf(driver.capabilities);
}

function timeS(options: ScenarioOptions): number {
  const t = options['netTimeS'];
  return typeof t === 'number' && Number.isInteger(t) && t > 0 ? t : DEFAULT_NET_TIME_S;
}

/** The networks of the run's targets (set by preflight), or every one (a run without preflight: the runner's tests). */
function runNets(options: ScenarioOptions): readonly MeasuredNet[] {
  const n = options['netPaths'];
  return Array.isArray(n) ? MEASURED_NETS.filter((x) => n.includes(x)) : MEASURED_NETS;
}

/** A free TCP port on 127.0.0.1, from the kernel: for servers in the host's namespace (loopback, host). */
async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a !== null ? resolve(a.port) : reject(new Error('no port'))));
    });
  });
}

export function serverJob(tool: 'iperf3' | 'sockperf', bind: string, port: number): Job {
  return tool === 'iperf3'
    ? { kind: 'exec', argv: [IPERF3, '-s', '-B', bind, '-p', String(port)] }
    : { kind: 'exec', argv: [SOCKPERF, 'server', '--tcp', '-i', bind, '-p', String(port)] };
}

export function iperf3Client(address: string, port: number, seconds: number, reverse: boolean): string[] {
  return [IPERF3, '-c', address, '-p', String(port), '-t', String(seconds), '-J', ...(reverse ? ['-R'] : [])];
}

/** sockperf counts its own 400 ms warm-up in -t: the figures are over the `seconds` − 0.4 s after it. */
export function sockperfClient(address: string, port: number, seconds: number): string[] {
  return [SOCKPERF, 'ping-pong', '--tcp', '-i', address, '-p', String(port), '-t', String(seconds), '--full-rtt', '-m', String(MESSAGE_BYTES)];
}

/** Runs a client in the peer's namespace until it connects (the server starts just after the agent's ready). */
async function drive<T extends object>(
  argv: string[],
  network: Network,
  parse: (out: { stdout: string; all: string }) => T | { refused: string },
  instance: Instance | undefined,
  signal: AbortSignal,
  what: string,
): Promise<T> {
  const deadline = Date.now() + CONNECT_DEADLINE_MS;
  for (;;) {
    const [file, ...args] = inNetns(network.peerNetns, argv) as [string, ...string[]];
    const r = await execa(file, args, {
      reject: false,
      all: true,
      cancelSignal: signal,
      timeout: CONNECT_DEADLINE_MS + 120_000,
    });
    if (signal.aborted) throw new Error('cancelled');
    const parsed = parse({ stdout: r.stdout, all: r.all });
    if (connected(parsed)) return parsed;
    if (Date.now() > deadline) throw new Error(`${what}: could not connect for ${CONNECT_DEADLINE_MS / 1000} s: ${parsed.refused}`);
    // An instance that ended will never listen.
    const ended =
      instance === undefined ? false : await Promise.race([instance.result.then(() => true), new Promise<boolean>((res) => setTimeout(() => res(false), 50))]);
    if (ended) throw new Error(`${what}: the instance's server ended before it took a connection (${parsed.refused})`);
  }
}

interface NetFigures {
  values: Record<string, number>;
  extra: Record<string, unknown>;
}

/** Launches one server in the instance (natively: a host process) on `network` and gives it back with its ready time. */
async function withServer<T>(
  driver: Driver,
  network: Network,
  tool: 'iperf3' | 'sockperf',
  port: number,
  ctx: { limits: ReturnType<typeof matchedLimits>; signal: AbortSignal },
  use: (instance: Instance) => Promise<T>,
): Promise<{ value: T; result: InstanceResult }> {
  const instance = await driver.launch({
    job: serverJob(tool, network.bindAddress, port),
    limits: ctx.limits,
    signal: ctx.signal,
    // loopback attaches nothing: a host process is on the host's network already.
    network: network.attachment,
  });
  let value: T;
  try {
    await instance.ready;
    value = await use(instance);
  } catch (e) {
    await instance.kill();
    const r = await instance.result;
    throw new TargetError(driver.name, `net ${network.path}`, `${describeError(e)}${r.reason ? ` (${r.reason})` : ''}`, { cause: e, tail: r.tail });
  }
  await instance.kill();
  return { value, result: await instance.result };
}

/** One network's figures: set it up, both iperf3 directions, sockperf, take it down. */
async function measure(
  driver: Driver,
  path: NetPath,
  seconds: number,
  ctx: { limits: ReturnType<typeof matchedLimits>; signal: AbortSignal },
): Promise<NetFigures> {
  const network = await makeNetwork(path);
  try {
    const local = path === 'loopback' || path === 'host';
    const iperfPort = local ? await freePort() : SERVER_PORTS.iperf3;
    const sockPort = local ? await freePort() : SERVER_PORTS.sockperf;
    const iperfAt = network.endpoint(iperfPort);
    const sockAt = network.endpoint(sockPort);
    const iperf = await withServer(driver, network, 'iperf3', iperfPort, ctx, async (inst) => {
      const json = (o: { stdout: string }) => parseIperf3Json(o.stdout);
      const rx = await drive(iperf3Client(iperfAt.address, iperfAt.port, seconds, false), network, json, inst, ctx.signal, 'iperf3 (rx)');
      const tx = await drive(iperf3Client(iperfAt.address, iperfAt.port, seconds, true), network, json, inst, ctx.signal, 'iperf3 -R (tx)');
      return { rx, tx };
    });
    const sock = await withServer(driver, network, 'sockperf', sockPort, ctx, (inst) =>
      drive(sockperfClient(sockAt.address, sockAt.port, seconds), network, (o) => parseSockperf(o.all), inst, ctx.signal, 'sockperf ping-pong'),
    );
    const { rx, tx }: { rx: Iperf3Result; tx: Iperf3Result } = iperf.value;
    const rr: SockperfResult = sock.value;
    const ready = iperf.result.timeline.toReadyMs;
    return {
      values: {
        RxGbps: rx.bitsPerSecond / 1e9,
        TxGbps: tx.bitsPerSecond / 1e9,
        RttP50Us: rr.p50RttUs,
        RttP99Us: rr.p99RttUs,
        Tps: rr.transactionsPerSecond,
        ...(ready !== undefined ? { ReadyMs: network.setupMs + ready } : {}),
        SetupMs: network.setupMs,
      },
      extra: {
        ...network.details,
        setupMs: network.setupMs,
        rxRetransmits: rx.retransmits,
        txRetransmits: tx.retransmits,
        rttMeanUs: rr.meanRttUs,
        rttObservations: rr.observations,
        instance: iperf.result.extra,
      },
    };
  } finally {
    await network.remove();
  }
}

async function netPreflight(ctx: PreflightContext): Promise<void> {
  const nets = new Set<MeasuredNet>();
  for (const d of ctx.drivers.values()) for (const n of netsOf(d)) if (n !== 'loopback') nets.add(n);
  ctx.options['netPaths'] = [...nets];
}

export const net: Scenario = {
  name: 'net',
  description: 'TCP throughput (iperf3, both directions) and request/response latency (sockperf) over loopback, veth, bridge, NAT and a VM NIC',
  metrics: NET_METRICS,
  defaults: { runs: 3, warmup: 0 },
  parameters: (options) => ({
    throughput: `iperf3 -t ${timeS(options)}, one TCP stream each way; the server in the instance, the client in the peer`,
    latency: `sockperf ping-pong --tcp --full-rtt -m ${MESSAGE_BYTES} -t ${timeS(options)}, the round trips after its own 400 ms warm-up`,
    netTimeS: timeS(options),
    addresses: '198.18.0.0/15 (RFC 2544), in namespaces the run made; loopback and host: 127.0.0.1',
    networks: Object.fromEntries(NET_PATHS.map((p) => [p, NET_PATH_TEXT[p]])),
    limits: MATCHED_LIMITS,
  }),
  preflight: netPreflight,
  async sample(driver, ctx): Promise<SampleOutcome> {
    const limits = matchedLimits(ctx.limits);
    const seconds = timeS(ctx.options);
    const values: Record<string, number> = {};
    const networks: Record<string, unknown> = {};
    const unavailable: Record<string, string> = {};
    const paths = netsOf(driver).filter((p) => p === 'loopback' || runNets(ctx.options).includes(p));
    if (paths.length === 0) throw new TargetError(driver.name, 'net', 'this target takes no network the net scenario measures');

    // Time to ready with lo only (a VM: no NIC), beside the networked launches below.
    const lo = await driver.launch({ job: { kind: 'noop' }, limits, signal: ctx.signal });
    const loResult = await lo.result;
    if (loResult.status !== 'ok' || loResult.timeline.toReadyMs === undefined)
      throw new TargetError(driver.name, 'net', loResult.reason ?? 'the lo-only instance never reported ready', { tail: loResult.tail });
    values['loReadyMs'] = loResult.timeline.toReadyMs;

    for (const path of paths) {
      const why = await unavailableBecause(path);
      if (why !== undefined) {
        unavailable[path] = why;
        continue;
      }
      const f = await measure(driver, path, seconds, { limits, signal: ctx.signal });
      networks[path] = f.extra;
      // Native's loopback is every network's baseline.
      const names: MeasuredNet[] = path === 'loopback' ? [...runNets(ctx.options)] : [path];
      for (const n of names) {
        for (const fig of FIGURES) {
          const v = f.values[fig.suffix];
          if (v !== undefined) values[netMetric(n, fig.suffix)] = v;
        }
        if (path !== 'loopback') {
          if (f.values['ReadyMs'] !== undefined) values[netMetric(n, 'ReadyMs')] = f.values['ReadyMs'];
          values[netMetric(n, 'SetupMs')] = f.values['SetupMs'] ?? 0;
        }
      }
    }
    if (Object.keys(networks).length === 0)
      throw new TargetError(
        driver.name,
        'net',
        `no network could be set up: ${Object.entries(unavailable)
          .map(([p, w]) => `${p}: ${w}`)
          .join('; ')}`,
      );
    return {
      status: 'ok',
      values,
      timeline: loResult.timeline,
      extra: { networks, unavailable: Object.keys(unavailable).length > 0 ? unavailable : undefined },
    };
  },
};
