/**
 * Preflight: what this host can give a run, read before anything is created
 * (no output directory, no instance, no image build), and the checks that
 * refuse a run it cannot give it with one line naming the flag and what fits
 * (a `UsageError`, exit 2).
 *
 * The host's facts (`readHostFacts`, `freeSpace`) are read here; the fits are
 * pure functions of them (`usableBytes`, `largestFitting`, `instancesThatFit`),
 * so that they are tested with made-up hosts. The checks every run gets (CPUs,
 * the memory an instance needs) are `checkLimits`; what a scenario needs beyond
 * them (io: disk space; density: descriptors, tasks, memory) is its own
 * `Scenario.preflight`. `preflight()` runs them all, and `checkRounds`: the
 * rounds a run takes and the size of its results, against a stated maximum of
 * rounds per run, the largest file tsbench reads back and the free space where
 * the results go (docs/reliability.md, "Counts, sizes and the cost of a round").
 */
import { availableParallelism } from 'node:os';
import { readFile, readdir, stat, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { execa } from 'execa';
import { UsageError } from '../core/errors.js';
import { FREE_SPACE_RESERVE } from '../core/defaults.js';
import { MAX_INPUT_BYTES } from '../core/input.js';
import { KiB, approxBytes, describeBytes, sizeFlagAtLeast, sizeFlagAtMost } from '../core/units.js';
import { CPU_PERIOD_US, MIN_CPU_QUOTA_US, type Driver, type Limits } from '../drivers/index.js';
import type { HostFacts, Meminfo } from './facts.js';
import type { Given, PreflightContext, Scenario, ScenarioOptions } from './scenarios/types.js';

export type { HostFacts, Meminfo };

/** The smallest `--cpus` a cgroup quota can express (0.01 at a 100 ms period). */
export const MIN_CPUS = MIN_CPU_QUOTA_US / CPU_PERIOD_US;

/** Descriptors and tasks kept free beyond what the instances take (transient pipes of a launch, Node's own). */
export const HEADROOM = { fds: 64, tasks: 64 } as const;

/** Parses MemTotal and MemAvailable (kB) out of /proc/meminfo's text. Pure, for tests. */
export function parseMeminfo(text: string): Meminfo {
  const kb = (field: string): number => {
    const v = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)?.[1];
    if (v === undefined) throw new Error(`/proc/meminfo has no ${field} line (Linux 3.14+ has MemAvailable)`);
    return Number(v) * 1024;
  };
  return { totalBytes: kb('MemTotal'), availableBytes: kb('MemAvailable') };
}

export async function readMeminfo(): Promise<Meminfo> {
  return parseMeminfo(await readFile('/proc/meminfo', 'utf8'));
}

/** CPUs in a cpuset list such as `0-3,8,10-11`. Pure, for tests. */
export function countCpuList(list: string): number {
  let n = 0;
  for (const part of list.trim().split(',')) {
    if (part === '') continue;
    const [a, b] = part.split('-').map(Number);
    if (a === undefined || !Number.isInteger(a)) continue;
    n += b !== undefined && Number.isInteger(b) ? b - a + 1 : 1;
  }
  return n;
}

/** This process's cgroup directories, each with its ancestors up to the root: v2 (`0::/x`) and every v1 controller listed. */
async function ownCgroupDirs(controllerFile: string, v1: string): Promise<string[]> {
  const text = await readFile('/proc/self/cgroup', 'utf8').catch(() => '');
  const dirs: string[] = [];
  for (const line of text.split('\n')) {
    const [, controllers, path] = /^\d+:([^:]*):(.*)$/.exec(line) ?? [];
    if (path === undefined || controllers === undefined) continue;
    const base = controllers === '' ? '/sys/fs/cgroup' : controllers.split(',').includes(v1) ? `/sys/fs/cgroup/${v1}` : undefined;
    if (base === undefined) continue;
    for (const root of controllers === '' ? [base, '/sys/fs/cgroup/unified'] : [base]) {
      for (let p = path; ; p = dirname(p)) {
        const dir = `${root}${p === '/' ? '' : p}`;
        if (
          await stat(`${dir}/${controllerFile}`).then(
            () => true,
            () => false,
          )
        )
          dirs.push(dir);
        if (p === '/' || p === '.' || p === '') break;
      }
    }
  }
  return dirs;
}

const readNumber = async (path: string): Promise<number | undefined> => {
  const t = (await readFile(path, 'utf8').catch(() => '')).trim();
  return /^\d+$/.test(t) ? Number(t) : undefined;
};

/** CPUs of this process's cgroup cpuset (v2 cpuset.cpus.effective, v1 cpuset.effective_cpus); undefined when none says. */
async function cgroupCpus(): Promise<number | undefined> {
  const counts: number[] = [];
  for (const file of ['cpuset.cpus.effective', 'cpuset.effective_cpus']) {
    for (const dir of (await ownCgroupDirs(file, 'cpuset')).slice(0, 1)) {
      const n = countCpuList(await readFile(`${dir}/${file}`, 'utf8').catch(() => ''));
      if (n > 0) counts.push(n);
    }
  }
  return counts.length > 0 ? Math.min(...counts) : undefined;
}

/** The tightest pids limit of this process's cgroup and its ancestors, as tasks left under it; undefined when none is set. */
async function cgroupPidsLeft(): Promise<{ limit: number; inUse: number; dir: string } | undefined> {
  let best: { limit: number; inUse: number; dir: string } | undefined;
  for (const dir of await ownCgroupDirs('pids.max', 'pids')) {
    const limit = await readNumber(`${dir}/pids.max`);
    const inUse = (await readNumber(`${dir}/pids.current`)) ?? 0;
    if (limit !== undefined && (best === undefined || limit - inUse < best.limit - best.inUse)) best = { limit, inUse, dir };
  }
  return best;
}

/** Open-file limits of this process, from /proc/self/limits. */
async function fdLimits(): Promise<{ soft: number; hard: number }> {
  const text = await readFile('/proc/self/limits', 'utf8');
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  const n = (s: string | undefined): number => (s === undefined || s === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(s));
  return { soft: n(m?.[1]), hard: n(m?.[2]) };
}

/** Reads the host's facts (a few files under /proc and /sys; no side effects). */
export async function readHostFacts(): Promise<HostFacts> {
  const [limits, fdsOpen, pidMax, threadsMax, loadavg, cgPids, cgCpus, meminfo] = await Promise.all([
    fdLimits(),
    readdir('/proc/self/fd').then((x) => x.length),
    readNumber('/proc/sys/kernel/pid_max'),
    readNumber('/proc/sys/kernel/threads-max'),
    readFile('/proc/loadavg', 'utf8'),
    cgroupPidsLeft(),
    cgroupCpus(),
    readMeminfo(),
  ]);
  // /proc/loadavg's fourth field is running/total scheduling entities: every task on the host.
  const hostTasks = Number(/\s\d+\/(\d+)\s/.exec(loadavg)?.[1] ?? 0);
  const candidates: { limit: number; inUse: number; from: string }[] = [];
  if (pidMax !== undefined) candidates.push({ limit: pidMax, inUse: hostTasks, from: 'kernel.pid_max' });
  if (threadsMax !== undefined) candidates.push({ limit: threadsMax, inUse: hostTasks, from: 'kernel.threads-max' });
  if (cgPids !== undefined) candidates.push({ limit: cgPids.limit, inUse: cgPids.inUse, from: `pids.max of ${cgPids.dir}` });
  const tightest = candidates.sort((a, b) => a.limit - a.inUse - (b.limit - b.inUse))[0] ?? {
    limit: Number.MAX_SAFE_INTEGER,
    inUse: 0,
    from: 'no limit found',
  };
  return {
    cpus: Math.min(availableParallelism(), cgCpus ?? Infinity),
    fds: { ...limits, inUse: fdsOpen },
    tasks: { limit: tightest.limit, limitFrom: tightest.from, inUse: tightest.inUse },
    memory: meminfo,
  };
}

/**
 * Raises this process's open-file soft limit to `wanted` (at most the hard limit) with util-linux's
 * `prlimit` on our own pid: Node has no setrlimit. Node already raises it to the hard limit at start,
 * so this matters only where that failed. Returns the limits afterwards; never throws.
 */
export async function raiseFdLimit(wanted: number): Promise<{ soft: number; hard: number }> {
  const now = await fdLimits();
  if (now.soft >= wanted || now.soft >= now.hard) return now;
  const soft = Math.min(wanted, now.hard);
  await execa('prlimit', ['--pid', String(process.pid), `--nofile=${soft}:${now.hard}`], { stdin: 'ignore', timeout: 5000 }).catch(() => {});
  return fdLimits();
}

/**
 * Free space where a directory is (or would be: the nearest existing ancestor), with the filesystem's device id and
 * size (0 for a pseudo filesystem such as /proc, which holds no files to fill).
 */
export async function freeSpace(path: string): Promise<{ path: string; freeBytes: number; totalBytes: number; device: number }> {
  for (let p = path; ; p = dirname(p)) {
    try {
      const [fs, st] = await Promise.all([statfs(p), stat(p)]);
      return { path, freeBytes: fs.bavail * fs.bsize, totalBytes: fs.blocks * fs.bsize, device: st.dev };
    } catch (e) {
      if (p === '/' || (e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
  }
}

/**
 * Bytes results may take where `freeBytes` are free, keeping 10 % of it free. Results are small (kilobytes a
 * sample), so the 1 GiB floor of `usableBytes`, meant for io's scratch files, would refuse a 300 KiB result on
 * a small disk (a test host's 450 MiB output disk). Pure.
 */
export function resultsUsableBytes(freeBytes: number): number {
  return Math.max(0, freeBytes * (1 - FREE_SPACE_RESERVE.fraction));
}

/** Bytes a run may write where `freeBytes` are free, keeping FREE_SPACE_RESERVE (10 %, at least 1 GiB) free. Pure. */
export function usableBytes(freeBytes: number): number {
  return Math.max(0, freeBytes - Math.max(FREE_SPACE_RESERVE.fraction * freeBytes, FREE_SPACE_RESERVE.minBytes));
}

/** The largest n in [0, hi] with fits(n), for a `fits` that holds up to some n and not beyond. Pure. */
export function largestFitting(fits: (n: number) => boolean, hi: number): number {
  let lo = 0;
  let top = Math.max(0, Math.floor(hi));
  if (fits(top)) return top;
  while (top - lo > 1) {
    const mid = Math.floor((lo + top) / 2);
    if (fits(mid)) lo = mid;
    else top = mid;
  }
  return fits(lo) ? lo : 0;
}

/** What one instance takes from the host, beyond its CPU: descriptors held by tsbench, host tasks, memory. */
export interface InstanceCost {
  fds: number;
  tasks: number;
  memoryBytes: number;
  /** How the memory figure was chosen, for the message: "its 256 MiB of RAM", "about 4 MiB (measured)". */
  memoryWhat: string;
}

/** The most instances that fit, and what stops one more, in words. */
export interface InstanceFit {
  largest: number;
  limitedBy: 'fds' | 'tasks' | 'memory';
  why: string;
}

/**
 * How many instances of this cost fit the host: under the open-file limit (tsbench holds every
 * instance's descriptors), the task limit, and the memory above `keepFreeBytes`, each with HEADROOM. Pure.
 */
export function instancesThatFit(cost: InstanceCost, host: HostFacts, keepFreeBytes: number): InstanceFit {
  const fdsLeft = Math.max(0, host.fds.soft - host.fds.inUse - HEADROOM.fds);
  const tasksLeft = Math.max(0, host.tasks.limit - host.tasks.inUse - HEADROOM.tasks);
  const memLeft = Math.max(0, host.memory.availableBytes - keepFreeBytes);
  const byFds = Math.floor(fdsLeft / cost.fds);
  const byTasks = Math.floor(tasksLeft / cost.tasks);
  const byMemory = Math.floor(memLeft / cost.memoryBytes);
  const largest = Math.min(byFds, byTasks, byMemory);
  if (largest === byFds)
    return {
      largest,
      limitedBy: 'fds',
      why: `each instance holds ${cost.fds} file descriptors in tsbench and ${fdsLeft} of the open-file limit of ${host.fds.soft} are free`,
    };
  if (largest === byTasks)
    return {
      largest,
      limitedBy: 'tasks',
      why: `each instance runs ${cost.tasks} host tasks (processes and threads) and ${tasksLeft} more fit under ${host.tasks.limitFrom} (${host.tasks.limit})`,
    };
  return {
    largest,
    limitedBy: 'memory',
    why: `each instance takes ${cost.memoryWhat} and ${approxBytes(memLeft)} of MemAvailable is above what must stay free (${approxBytes(keepFreeBytes)})`,
  };
}

/** Open files the soft limit must allow for `n` instances of `cost`. Pure. */
export function fdsNeeded(n: number, cost: InstanceCost, host: HostFacts): number {
  return n * cost.fds + host.fds.inUse + HEADROOM.fds;
}

/**
 * The checks every run gets: `--cpus` within the host's CPUs and at least what a cgroup quota can
 * express; `--memory` at most the host's RAM and at least what an instance of each target runs with,
 * as its driver says (`Capabilities.minMemory`). Limits are echoed as they were given.
 */
export async function checkLimits(limits: Limits, given: Given, drivers: ReadonlyMap<string, Driver>, host: HostFacts): Promise<void> {
  if (limits.cpus !== undefined) {
    const text = given.cpus ?? String(limits.cpus);
    if (limits.cpus > host.cpus)
      throw new UsageError(
        `--cpus ${text} is more than the ${host.cpus} CPU${host.cpus === 1 ? '' : 's'} this host gives tsbench (its affinity and cgroup cpuset); the most that fits is --cpus ${host.cpus}`,
      );
    if (limits.cpus < MIN_CPUS)
      throw new UsageError(
        `--cpus ${text} is below the smallest CPU quota a cgroup can express (${MIN_CPU_QUOTA_US / 1000} ms per ${CPU_PERIOD_US / 1000} ms period); the least that fits is --cpus ${MIN_CPUS}`,
      );
  }
  if (limits.memoryBytes !== undefined) {
    const text = given.memory ?? describeBytes(limits.memoryBytes);
    if (limits.memoryBytes > host.memory.totalBytes)
      throw new UsageError(
        `--memory ${text} is more than this host's ${approxBytes(host.memory.totalBytes)} of RAM (MemTotal); the most that fits is --memory ${sizeFlagAtMost(host.memory.totalBytes)}`,
      );
    for (const [name, d] of drivers) {
      const min = d.capabilities.minMemory;
      if (min !== undefined && limits.memoryBytes < min.bytes)
        throw new UsageError(`--memory ${text} is too little for ${name}: ${min.why}; pass --memory ${sizeFlagAtLeast(min.bytes)} or more`);
    }
  }
}

/**
 * The most rounds one run takes: its measured rounds (`--runs`, or `--max-runs` with `--until-decided`) and warmup
 * rounds (`--warmup`), every scenario's together. Chosen so that what a run keeps stays readable: 50,000 samples of
 * one series take about 50 s to summarise here (2000 bootstrap resamples, which every reader repeats on loading: a
 * 5,000-sample series 5 s), and at SAMPLE_BYTES they are 195 MiB, under the 256 MiB tsbench reads back from a file.
 */
export const MAX_ROUNDS_PER_RUN = 50_000;

/** The longest `--net-time`: iperf3's own (`-t` at most 86400 s, one day; it refuses more), so a longer one could not take a sample. */
export const MAX_NET_TIME_S = 86_400;

/**
 * What one sample is taken to fill in results.json, as written (pretty-printed, with its timeline and details), to
 * size a run's results before it starts. Measured: 0.6 KB (native startup), 1–2 KB (a VM's startup, cpu, memory,
 * io), 3.5 KB (density at 50 instances, which grows by about 50 bytes an instance beyond).
 */
export const SAMPLE_BYTES = 4 * KiB;

/** results.json without its samples (host, targets, images, the scenarios' parameters and statistics), at most. */
export const RESULT_HEADER_BYTES = 256 * KiB;

/**
 * How many times results.json's size a run has on disk at once, at its largest: the file and its atomic replacement,
 * the round journal (at most the file's size: cli/results.ts, core/journal.ts) and the report page and its
 * replacement (each embeds the file).
 */
export const RESULT_COPIES_ON_DISK = 5;

/** The rounds a run will take, as `checkRounds` weighs them. */
export interface RoundsPlan {
  /** each scenario's measured and warmup rounds, as the runner will take them */
  scenarios: readonly { name: string; runs: number; warmup: number }[];
  /** --until-decided's cap on measured rounds per scenario */
  maxRuns?: number;
  /** targets sampled in each round */
  targets: number;
  /** the flags as given (absent: each scenario's default or the original's) */
  given: { runs?: number; warmup?: number; maxRuns?: number };
}

/** Where a run's results go and the space free there. */
export interface ResultsSpace {
  dir: string;
  freeBytes: number;
}

/** The measured rounds of each scenario: its runs, or --until-decided's cap when above them. */
function measuredRounds(plan: RoundsPlan): number[] {
  return plan.scenarios.map((s) => (plan.maxRuns !== undefined ? Math.max(s.runs, plan.maxRuns) : s.runs));
}

/** Bytes results.json is estimated to reach: its header and SAMPLE_BYTES a sample, every target sampled every measured round. Pure. */
export function resultsBytes(plan: RoundsPlan): number {
  return RESULT_HEADER_BYTES + plan.targets * SAMPLE_BYTES * measuredRounds(plan).reduce((a, b) => a + b, 0);
}

/** Why a plan does not fit, in words; undefined when it does. Pure. */
function whyNot(plan: RoundsPlan, space: ResultsSpace): string | undefined {
  const measured = measuredRounds(plan).reduce((a, b) => a + b, 0);
  const warmup = plan.scenarios.reduce((a, s) => a + s.warmup, 0);
  if (measured + warmup > MAX_ROUNDS_PER_RUN)
    return `${measured + warmup} rounds${warmup > 0 ? ` (${warmup} of them warmup)` : ''}${plan.scenarios.length > 1 ? ` over ${plan.scenarios.length} scenarios` : ''}, more than the ${MAX_ROUNDS_PER_RUN} tsbench takes in one run`;
  const bytes = resultsBytes(plan);
  const what = `results of about ${approxBytes(bytes)} (${measured} rounds × ${plan.targets} target${plan.targets === 1 ? '' : 's'} × ${describeBytes(SAMPLE_BYTES)} a sample)`;
  if (bytes > MAX_INPUT_BYTES) return `${what}, more than the ${describeBytes(MAX_INPUT_BYTES)} tsbench reads back from one file`;
  const usable = resultsUsableBytes(space.freeBytes);
  if (bytes * RESULT_COPIES_ON_DISK > usable)
    return `${what}, which take ${approxBytes(bytes * RESULT_COPIES_ON_DISK)} in ${space.dir} while the run writes (${RESULT_COPIES_ON_DISK} copies: the file and its replacement, the round journal, the report and its replacement) and ${approxBytes(space.freeBytes)} is free there (keeping 10 % free)`;
  return undefined;
}

/** One flag `checkRounds` may name, with the plan it makes at a value and the least value it takes. */
interface RoundsFlag {
  flag: string;
  given: number | undefined;
  least: number;
  at: (n: number) => RoundsPlan;
}

/**
 * Refuses a run whose rounds are more than MAX_ROUNDS_PER_RUN, or whose results would be more than tsbench reads back
 * (MAX_INPUT_BYTES) or than fits where they go (RESULT_COPIES_ON_DISK of them, keeping FREE_SPACE_RESERVE free),
 * naming the flag to lower and the largest value of it that fits: `--warmup` when lowering it alone suffices, else
 * `--max-runs`, else `--runs`; `--out` when not even one round's results fit. Pure.
 */
export function checkRounds(plan: RoundsPlan, space: ResultsSpace): void {
  const problem = whyNot(plan, space);
  if (problem === undefined) return;
  const flags: RoundsFlag[] = [
    { flag: '--warmup', given: plan.given.warmup, least: 0, at: (w) => ({ ...plan, scenarios: plan.scenarios.map((s) => ({ ...s, warmup: w })) }) },
    ...(plan.maxRuns !== undefined
      ? [
          {
            flag: '--max-runs',
            given: plan.given.maxRuns,
            least: Math.max(1, ...plan.scenarios.map((s) => s.runs)),
            at: (m: number) => ({ ...plan, maxRuns: m }),
          },
        ]
      : []),
    {
      flag: '--runs',
      given: plan.given.runs,
      least: 1,
      at: (r: number) => ({
        ...plan,
        scenarios: plan.scenarios.map((s) => ({ ...s, runs: r })),
        maxRuns: plan.maxRuns === undefined ? undefined : Math.max(plan.maxRuns, r),
      }),
    },
  ];
  const largestOf = (f: RoundsFlag, from: number): number => largestFitting((n) => whyNot(f.at(n), space) === undefined, Math.min(from, MAX_ROUNDS_PER_RUN));
  for (const f of flags) {
    // --runs is named even when not given (the scenarios' defaults, a reproduction's original): it is what to pass.
    if (f.given === undefined && f.flag !== '--runs') continue;
    const now = f.given ?? Math.max(...plan.scenarios.map((s) => s.runs));
    const largest = largestOf(f, now);
    if (largest >= f.least && whyNot(f.at(largest), space) === undefined) {
      const text = f.given === undefined ? `the runs of ${plan.scenarios.map((s) => `${s.name} (${s.runs})`).join(', ')} make` : `${f.flag} ${f.given} makes`;
      throw new UsageError(`${text} ${problem}; the largest that fits is ${f.flag} ${largest}`);
    }
  }
  const bare = (r: number): RoundsPlan => ({ ...plan, maxRuns: undefined, scenarios: plan.scenarios.map((s) => ({ ...s, runs: r, warmup: 0 })) });
  if (whyNot(bare(1), space) !== undefined)
    throw new UsageError(`--out ${space.dir}: ${problem}, and not even one round's results fit; free some space there or pass --out on another filesystem`);
  const runs = largestFitting((r) => whyNot(bare(r), space) === undefined, MAX_ROUNDS_PER_RUN);
  throw new UsageError(`the rounds asked for make ${problem}; lower them together, e.g. --warmup 0 --runs ${runs}`);
}

/** Everything a run is checked for before anything is created; throws a UsageError on the first that fails. */
export async function preflight(opts: {
  scenarios: readonly Scenario[];
  drivers: ReadonlyMap<string, Driver>;
  limits: Limits;
  options: ScenarioOptions;
  given: Given;
  host?: HostFacts;
  /** the rounds and where the results go: checked by `checkRounds` */
  rounds?: RoundsPlan & { out: string };
}): Promise<void> {
  const host = opts.host ?? (await readHostFacts());
  await checkLimits(opts.limits, opts.given, opts.drivers, host);
  if (opts.rounds) {
    const { out, ...plan } = opts.rounds;
    const space = await freeSpace(out);
    // A pseudo filesystem (/proc) has no space to weigh: making the directory there fails, and says so.
    checkRounds(plan, { dir: out, freeBytes: space.totalBytes > 0 ? space.freeBytes : Number.MAX_SAFE_INTEGER });
  }
  const ctx: PreflightContext = { drivers: opts.drivers, limits: opts.limits, options: opts.options, given: opts.given, host };
  for (const s of opts.scenarios) await s.preflight?.(ctx);
}
