/**
 * Starts an instance's top process through tsbench-launch (drivers/launcher),
 * in a process group of its own, and follows it: the launcher's fork and reap
 * timestamps and its own marks on fd 3, the agent's protocol on stdout, raw
 * output for the tail. The launcher opens its clock only when told to on fd 3
 * (`--go-fd`), once this process is done with its part of the spawn, so none of
 * Node's work runs beside the timed window.
 * Every launched group is registered so that an interrupted tsbench can kill
 * what it started (`killAllLaunched`) and nothing outlives it.
 */
import { constants } from 'node:os';
import { basename } from 'node:path';
import { createInterface } from 'node:readline';
import type { Duplex, Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { atExit } from '../core/exit.js';
import { ownerEnv } from './ownership.js';
import { nsToMs } from '../core/units.js';
import { parseAgentLine, parseLauncherLine, type AgentEvent } from './protocol.js';
import { processesFootprint, type CpuMeter } from './linux/measure.js';
import type { Accounting, Footprint, Instance, InstanceResult, InstanceStatus, Phase, WorkloadCpu } from './types.js';

/** Absolute path of one of tsbench's compiled C programs (dist/bin). */
export function binPath(name: string): string {
  return fileURLToPath(new URL(`../bin/${name}`, import.meta.url));
}

export interface ProcessSpec {
  /** Target name, for messages. */
  target: string;
  /** What the launcher runs. */
  argv: string[];
  /**
   * A command that runs the launcher, outside its clock: it must exec the
   * launcher in place (e.g. `nsenter -t PID -m --`, which enters a mount
   * namespace without forking), so the launcher still leads the process group.
   */
  wrapper?: string[];
  env?: Record<string, string>;
  /** The launcher's working directory (default: tsbench's). */
  cwd?: string;
  /** Kill the instance when the agent has not said `ready` by then. */
  readyTimeoutMs?: number;
  /** Kill the instance when it has not exited by then. */
  exitTimeoutMs?: number;
  signal?: AbortSignal;
  onOutput?: (line: string) => void;
  onStderr?: (line: string) => void;
  /** How many raw output lines to keep for error messages. @default 20 */
  tailLines?: number;
  /**
   * `LaunchRequest.workloadCpu`: how the instance's host CPU is read when the agent's `ready` line and its
   * `end` line arrive (a cgroup's, a qemu's), or `rusage`: the agent's own report of the workload it reaped is
   * that CPU (a workload on the host's kernel, natively). Nothing is read when it is undefined.
   */
  workloadCpu?: CpuMeter | 'rusage';
  /** Whether the agent's CLOCK_MONOTONIC is the host's (`toInstanceResult`'s `sameClock`): not in gVisor, whose Sentry keeps its own. @default true */
  sameClock?: boolean;
}

/** Everything observed about one launched process, clock values in CLOCK_MONOTONIC ns. */
export interface ProcessOutcome {
  /** Just before Node spawned the launcher. */
  requestedNs: bigint;
  /** The launcher's fork. */
  startNs?: bigint;
  /** The launcher's own marks in its window, in order (reported after the reap): `exec`, a container's set-up steps. */
  launcherMarks?: { step: string; monoNs: bigint }[];
  /** The program the launcher runs (its name: the agent, or a runtime such as runc), for the phases' names. */
  program?: string;
  /** What the launcher forked (from its `start` report). */
  childPid?: number;
  /** The launcher's reap of the top process. */
  endNs?: bigint;
  exitCode: number | null;
  signal: number | null;
  /** CPU time and peak RSS of everything the top process waited for (getrusage RUSAGE_CHILDREN). */
  rusage?: { userUs: number; systemUs: number; maxRssKb: number };
  /** Agent events with the host time each line arrived. */
  agentInitNs?: bigint;
  agentReadyNs?: bigint;
  readyReceivedNs?: bigint;
  agentExitCode?: number;
  /** The agent's `end`: it reaped the job's workload (agent clock). */
  agentEndNs?: bigint;
  /** The agent's rusage of the reaped workload. */
  jobRusage?: { userUs: number; systemUs: number; maxRssKb: number };
  /** `ProcessSpec.workloadCpu`'s readings when `ready` and `end` arrived, in ms of CPU. */
  cpuAtReadyMs?: number;
  cpuAtEndMs?: number;
  /** The agent's `mark` events in order (agent clock), e.g. a container started inside a VM. */
  marks?: { name: string; monoNs: bigint }[];
  agentErrors: string[];
  meminfo?: { totalKb: number; availableKb: number };
  stdout: string[];
  stderr: string[];
  tail: string[];
  launcherError?: string;
  timedOut?: 'ready' | 'exit';
  killed: boolean;
}

const live = new Set<LaunchedProcess>();

/** Kills every process group tsbench launched and has not yet seen exit. Synchronous, so it works in an exit handler. */
export function killAllLaunched(): void {
  for (const p of live) p.killNow();
}

export function liveLaunchCount(): number {
  return live.size;
}

// First of the exit hooks: the instances' own clean-up hooks then find their process groups gone.
atExit(killAllLaunched, 'kill');

export class LaunchedProcess {
  readonly ready: Promise<void>;
  readonly done: Promise<ProcessOutcome>;
  /** The launcher's pid, which leads the process group. */
  readonly pid: number | undefined;
  private readonly stdin: Writable | undefined;
  private readonly outcome: ProcessOutcome;
  private exited = false;

  constructor(private readonly spec: ProcessSpec) {
    const requestedNs = process.hrtime.bigint();
    const outcome: ProcessOutcome = {
      requestedNs,
      program: programOf(spec.argv),
      exitCode: null,
      signal: null,
      agentErrors: [],
      stdout: [],
      stderr: [],
      tail: [],
      killed: false,
    };
    this.outcome = outcome;
    // Marks the launcher and all it starts as this tsbench's (drivers/ownership.ts), before the spawn: a sweep
    // after a SIGKILL finds them by it. TSBENCH_PARENT: the launcher dies with us (PR_SET_PDEATHSIG), and checks we still live.
    const owner = { ...ownerEnv(), TSBENCH_PARENT: String(process.pid) };
    const launch = [binPath('tsbench-launch'), '--report-fd', '3', '--go-fd', '3', '--', ...spec.argv];
    const [file, ...args] = [...(spec.wrapper ?? []), ...launch] as [string, ...string[]];
    const sub = execa(file, args, {
      stdio: ['pipe', 'pipe', 'pipe', 'pipe'],
      detached: true,
      buffer: false,
      reject: false,
      cleanup: false,
      cwd: spec.cwd,
      ...(spec.env ? { env: { ...spec.env, ...owner }, extendEnv: false } : { env: owner }),
    });
    this.pid = sub.pid;
    this.stdin = sub.stdin ?? undefined;
    this.stdin?.on('error', () => {});
    live.add(this);

    let resolveReady!: () => void;
    let rejectReady!: (e: Error) => void;
    this.ready = new Promise<void>((res, rej) => {
      resolveReady = res;
      rejectReady = rej;
    });
    this.ready.catch(() => {});

    const meter = typeof spec.workloadCpu === 'function' ? spec.workloadCpu : undefined;
    const readings: Promise<void>[] = [];
    const keep = spec.tailLines ?? 20;
    const pushTail = (line: string): void => {
      this.outcome.tail.push(line);
      if (this.outcome.tail.length > keep) this.outcome.tail.shift();
    };
    const onAgent = (ev: AgentEvent): void => {
      const o = this.outcome;
      switch (ev.kind) {
        case 'init':
          // The first: in a container inside a VM, the VM's agent starts before the container's.
          o.agentInitNs ??= ev.monoNs;
          break;
        case 'mark':
          (o.marks ??= []).push({ name: ev.name, monoNs: ev.monoNs });
          break;
        case 'ready':
          o.agentReadyNs = ev.monoNs;
          o.readyReceivedNs = process.hrtime.bigint();
          resolveReady();
          if (meter) readings.push(meter().then((ms) => void (o.cpuAtReadyMs = ms)));
          break;
        case 'end':
          o.agentEndNs ??= ev.monoNs;
          if (meter && readings.length === 1) readings.push(meter().then((ms) => void (o.cpuAtEndMs = ms)));
          break;
        case 'meminfo':
          o.meminfo = { totalKb: ev.totalKb, availableKb: ev.availableKb };
          break;
        case 'out':
          o.stdout.push(ev.text);
          spec.onOutput?.(ev.text);
          break;
        case 'err':
          o.stderr.push(ev.text);
          spec.onStderr?.(ev.text);
          break;
        case 'rusage':
          o.jobRusage ??= { userUs: ev.userUs, systemUs: ev.systemUs, maxRssKb: ev.maxRssKb };
          break;
        case 'error':
          o.agentErrors.push(ev.message);
          break;
        case 'exit':
          o.agentExitCode = ev.code;
          break;
      }
    };
    const lines = (stream: Readable | null | undefined, each: (line: string) => void): Promise<void> =>
      new Promise((res) => {
        if (!stream) return res();
        const rl = createInterface({ input: stream, crlfDelay: Infinity });
        rl.on('line', each);
        rl.on('close', res);
        // readline re-emits its input's errors: fd 3's EPIPE when the go byte meets a launcher that already died.
        rl.on('error', () => res());
      });

    const streams = Promise.all([
      lines(sub.stdout, (line) => {
        pushTail(line);
        const ev = parseAgentLine(line);
        if (ev) onAgent(ev);
      }),
      lines(sub.stderr, (line) => {
        pushTail(line);
        const ev = parseAgentLine(line);
        if (ev) onAgent(ev);
      }),
      lines(sub.stdio[3] as Readable | null, (line) => {
        const ev = parseLauncherLine(line);
        if (!ev) return;
        if (ev.kind === 'start') {
          this.outcome.startNs = ev.monoNs;
          this.outcome.childPid = ev.pid;
        } else if (ev.kind === 'mark') (this.outcome.launcherMarks ??= []).push({ step: ev.step, monoNs: ev.monoNs });
        else if (ev.kind === 'error') this.outcome.launcherError = ev.message;
        else {
          this.outcome.endNs = ev.monoNs;
          this.outcome.rusage = { userUs: ev.userUs, systemUs: ev.systemUs, maxRssKb: ev.maxRssKb };
        }
      }),
    ]);
    // Go (fd 3 is a socket pair, both ways): once the spawn's callbacks and this constructor's work are done, the
    // launcher may take its first clock read. A launcher that died early gets nothing, and needs nothing.
    const report = sub.stdio[3] as Duplex | null;
    report?.on('error', () => {});
    sub.once('spawn', () => setImmediate(() => report?.write('g', () => {})));

    const timers: NodeJS.Timeout[] = [];
    if (spec.readyTimeoutMs !== undefined) {
      timers.push(
        setTimeout(() => {
          if (this.outcome.agentReadyNs === undefined) {
            this.outcome.timedOut = 'ready';
            this.killNow();
          }
        }, spec.readyTimeoutMs),
      );
    }
    if (spec.exitTimeoutMs !== undefined) {
      timers.push(
        setTimeout(() => {
          this.outcome.timedOut = 'exit';
          this.killNow();
        }, spec.exitTimeoutMs),
      );
    }
    const onAbort = (): void => {
      this.outcome.killed = true;
      this.killNow();
    };
    spec.signal?.addEventListener('abort', onAbort, { once: true });
    if (spec.signal?.aborted) onAbort();

    this.done = (async () => {
      const result = await sub;
      await streams;
      await Promise.all(readings);
      this.exited = true;
      live.delete(this);
      // The launcher is gone; kill anything of its group a workload left behind.
      this.killGroup();
      for (const t of timers) clearTimeout(t);
      spec.signal?.removeEventListener('abort', onAbort);
      const o = outcome;
      if (o.endNs === undefined && o.startNs !== undefined) o.endNs = process.hrtime.bigint();
      o.exitCode = result.exitCode ?? null;
      const sig = result.signal ? signalNumber(result.signal) : null;
      o.signal = sig;
      if (o.exitCode === null && sig !== null) o.exitCode = 128 + sig;
      rejectReady(new Error(readyFailure(o, spec.target)));
      return o;
    })();
  }

  /** Whether the agent's clock is the host's (`ProcessSpec.sameClock`). */
  get sameClock(): boolean {
    return this.spec.sameClock ?? true;
  }

  /** How the instance's workload CPU is read (`ProcessSpec.workloadCpu`). */
  get workloadCpu(): ProcessSpec['workloadCpu'] {
    return this.spec.workloadCpu;
  }

  /** The pid of the process the launcher started (the agent, qemu, a container's init), once known. */
  get childPid(): number | undefined {
    return this.outcome.childPid;
  }

  /** Writes to the instance's stdin (the agent's `stop`, a VM's serial console). */
  write(text: string): void {
    if (!this.exited) this.stdin?.write(text);
  }

  closeStdin(): void {
    this.stdin?.end();
  }

  kill(): void {
    this.outcome.killed = true;
    this.killNow();
  }

  /** @internal SIGKILL to the whole process group. */
  killNow(): void {
    if (!this.exited) this.killGroup();
  }

  private killGroup(): void {
    if (this.pid === undefined) return;
    try {
      process.kill(-this.pid, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }
}

/** The program in a launcher argv: the first word, or the one after the container options' `--`. */
function programOf(argv: string[]): string | undefined {
  const first = argv[0];
  const program = first?.startsWith('--') ? argv[argv.indexOf('--') + 1] : first;
  return program === undefined ? undefined : basename(program);
}

/**
 * The phase each launcher mark ends (drivers/container/nsexec.c's steps); `exec` (the child about to exec) ends
 * the phase before it, or `fork` when it is the first: natively the child does nothing else.
 */
const STEP_PHASES: Record<string, string> = {
  cloned: 'clone',
  cgroups: 'cgroups',
  netns: 'netns',
  'upper-tmpfs': 'mounts',
  private: 'mounts',
  overlay: 'mounts',
  proc: 'mounts',
  dev: 'mounts',
  sys: 'mounts',
  volumes: 'mounts',
  chroot: 'mounts',
  pivot: 'mounts',
  lo: 'namespaces',
  hostname: 'namespaces',
  cgroupns: 'namespaces',
  cgroupfs: 'namespaces',
  paths: 'confine',
  caps: 'confine',
  'no-new-privs': 'confine',
  seccomp: 'seccomp',
};

/**
 * The timeline of an instance started on the host's clock, from the launcher's marks and the agent's: consecutive
 * durations from the launcher's fork (`startNs`) that add up to `toExitMs`.
 *  - natively: `fork` (until the child is about to exec), `exec` (execve until the agent's first instruction),
 *    `agent` (until it is ready), `exit` (until the launcher reaped it);
 *  - in a container (nsexec.c): `clone` (the clone into the new namespaces, until the child runs), then its set-up
 *    as it happened — `cgroups` (v1: moving itself), `netns` (joining a prepared one), `mounts` (overlay root, /proc,
 *    /dev, /sys, volumes, pivot_root), `namespaces` (lo up, hostname, cgroup namespace and its cgroupfs), `confine`
 *    (masked and read-only paths, capabilities, no_new_privs), `seccomp` (loading the filter) — then `exec`, `agent`,
 *    `exit`;
 *  - a runtime the launcher runs (runc, crun, podman): `fork`, then the runtime's own work until the agent's first
 *    instruction under its name, `agent`, `exit`.
 * Only the phases whose ends are known; none without the launcher's marks. Pure, for tests.
 */
export function launcherPhases(o: Pick<ProcessOutcome, 'startNs' | 'endNs' | 'launcherMarks' | 'program' | 'agentInitNs' | 'agentReadyNs'>): Phase[] {
  if (o.startNs === undefined || o.launcherMarks === undefined || o.launcherMarks.length === 0) return [];
  const phases: Phase[] = [];
  let at = o.startNs;
  const add = (name: string, until: bigint): void => {
    const ms = Math.max(0, nsToMs(until - at));
    const same = phases.find((p) => p.name === name);
    if (same) same.ms += ms;
    else phases.push({ name, ms });
    at = until > at ? until : at;
  };
  for (const m of o.launcherMarks) add(m.step === 'exec' ? (phases.at(-1)?.name ?? 'fork') : (STEP_PHASES[m.step] ?? m.step), m.monoNs);
  if (o.agentInitNs === undefined) return phases;
  add(o.program === undefined || o.program === 'tsbench-agent' ? 'exec' : o.program, o.agentInitNs);
  if (o.agentReadyNs === undefined) return phases;
  add('agent', o.agentReadyNs);
  if (o.endNs !== undefined) add('exit', o.endNs);
  return phases;
}

function signalNumber(name: string): number | null {
  return constants.signals[name as NodeJS.Signals] ?? null;
}

function readyFailure(o: ProcessOutcome, target: string): string {
  return `[tsbench] [${target}] the workload exited before it was ready: ${describeOutcome(o)}`;
}

/** One line saying why a process did not end well, in execa's order: timeout, cancelled, launcher, agent, signal, exit code. */
export function describeOutcome(o: ProcessOutcome): string {
  if (o.timedOut === 'ready') return 'did not report ready in time';
  if (o.timedOut === 'exit') return 'did not exit in time';
  if (o.killed) return 'killed by tsbench (cancelled)';
  if (o.launcherError) return o.launcherError;
  if (o.agentErrors.length > 0) return `agent: ${o.agentErrors.join('; ')}`;
  if (o.signal !== null) return `killed by signal ${o.signal}`;
  const code = o.agentExitCode ?? o.exitCode;
  if (code !== null && code !== 0) return `exit code ${code}`;
  return 'ok';
}

/**
 * Turns what was observed into an instance result. `sameClock` says whether the
 * agent's CLOCK_MONOTONIC is the host's (native, containers) or a guest's (VMs),
 * in which case "ready" is when its line reached the host.
 */
export function toInstanceResult(
  o: ProcessOutcome,
  opts: {
    sameClock: boolean;
    accounting?: Accounting;
    phases?: Phase[];
    status?: InstanceStatus;
    reason?: string;
    workloadCpu?: ProcessSpec['workloadCpu'];
    /**
     * The meter's reading when the instance's process exited, for when it could no longer read at the agent's `end`
     * (a VM whose qemu exits right after it: the launcher's rusage of qemu); it counts that little exit as the workload's.
     */
    cpuAtExitMs?: number;
  },
): InstanceResult {
  const start = o.startNs ?? o.requestedNs;
  const readyNs = opts.sameClock ? o.agentReadyNs : o.readyReceivedNs;
  const reason = describeOutcome(o);
  const status: InstanceStatus = opts.status ?? (o.timedOut ? 'timeout' : o.killed ? 'killed' : reason === 'ok' ? 'ok' : 'failed');
  const accounting: Accounting = opts.accounting ?? {};
  if (o.rusage && accounting.cpuUserMs === undefined) {
    accounting.cpuUserMs = o.rusage.userUs / 1000;
    accounting.cpuSystemMs = o.rusage.systemUs / 1000;
    accounting.peakMemoryBytes ??= o.rusage.maxRssKb * 1024;
  }
  const rusage = o.jobRusage && { userMs: o.jobRusage.userUs / 1000, systemMs: o.jobRusage.systemUs / 1000, maxRssBytes: o.jobRusage.maxRssKb * 1024 };
  return {
    status,
    exitCode: o.agentExitCode ?? o.exitCode,
    reason: status === 'ok' ? undefined : (opts.reason ?? reason),
    timeline: {
      harnessMs: o.startNs === undefined ? 0 : nsToMs(o.startNs - o.requestedNs),
      toReadyMs: readyNs === undefined ? undefined : nsToMs(readyNs - start),
      toExitMs: o.endNs === undefined ? undefined : nsToMs(o.endNs - start),
      phases: opts.phases ?? launcherPhases(o),
    },
    accounting,
    stdout: o.stdout,
    stderr: o.stderr,
    guestMemory: o.meminfo,
    tail: o.tail,
    workloadCpu: workloadCpuOf(o, opts.workloadCpu, rusage, opts.cpuAtExitMs),
    rusage,
  };
}

/** The workload's CPU from ready to its end (`InstanceResult.workloadCpu`), from the meter's two readings or the agent's rusage. */
function workloadCpuOf(o: ProcessOutcome, how: ProcessSpec['workloadCpu'], rusage: InstanceResult['rusage'], atExitMs?: number): WorkloadCpu | undefined {
  if (how === undefined || o.agentReadyNs === undefined || o.agentEndNs === undefined) return undefined;
  const windowMs = nsToMs(o.agentEndNs - o.agentReadyNs);
  if (how === 'rusage') return rusage && { hostCpuMs: rusage.userMs + rusage.systemMs, windowMs };
  const end = o.cpuAtEndMs ?? atExitMs;
  if (o.cpuAtReadyMs === undefined || end === undefined) return undefined;
  return { hostCpuMs: Math.max(0, end - o.cpuAtReadyMs), windowMs };
}

/**
 * Wraps a launched process as an Instance; shared by the targets whose agent runs on the host's clock. Its
 * footprint is the PSS of its host pids (a driver whose instance has more to say replaces `footprint`).
 */
export function processInstance(target: string, proc: LaunchedProcess, finish?: (r: InstanceResult) => Promise<InstanceResult>): Instance {
  const result = proc.done.then(async (o) => {
    const r = toInstanceResult(o, { sameClock: proc.sameClock, workloadCpu: proc.workloadCpu });
    return finish ? finish(r) : r;
  });
  // The workload's memory is the agent's and its children's, not the launcher's.
  const hostPids = (): number[] => [proc.childPid ?? proc.pid].filter((p): p is number => p !== undefined);
  return {
    target,
    hostPids,
    footprint: (): Promise<Footprint | undefined> => processesFootprint(hostPids()),
    ready: proc.ready,
    result,
    stop: async () => {
      proc.write('stop\n');
      proc.closeStdin();
    },
    kill: async () => proc.kill(),
  };
}
