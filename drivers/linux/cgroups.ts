/**
 * cgroups for container instances, on cgroup v2, v1, or a hybrid of both,
 * detected at run time from /proc/self/mounts (see bench/host.ts `cgroupLayout`).
 *
 * Each controller tsbench uses lives in one hierarchy: a v1 mount that has it
 * (cpu and cpuacct may share one, or not), or the v2 unified hierarchy when its
 * root lists it in cgroup.controllers. An instance gets one cgroup per
 * hierarchy, `<hierarchy>/tsbench/<id>`, with its limits written before the
 * workload starts; the launcher puts the workload there before its first
 * instruction (v2: clone3 CLONE_INTO_CGROUP; v1: the child writes "0" to each
 * `tasks`, see drivers/container/nsexec.c). At exit the accounting is read,
 * then every directory is removed.
 */
import { existsSync, readFileSync, readdirSync, rmdirSync } from 'node:fs';
import { mkdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Accounting, Limits } from '../types.js';

/** A controller tsbench knows. `cpuacct` and `blkio` exist on v1 only, `io` on v2 only. */
export type Controller = 'memory' | 'cpu' | 'cpuacct' | 'pids' | 'blkio' | 'io';

/** Controllers without which there is no container: the limits tsbench sets. */
export const REQUIRED: readonly Controller[] = ['memory', 'cpu', 'pids'];
/** Controllers that only add accounting (CPU time on v1, I/O bytes). */
const OPTIONAL: readonly Controller[] = ['cpuacct', 'blkio', 'io'];

/** The directory under each hierarchy that holds tsbench's cgroups. */
export const PARENT = 'tsbench';

/**
 * Where tsbench makes its parents, relative to each cgroup mount: '' (the mount's root) unless this
 * process was given a delegated subtree — on a pure cgroup v2 host run by systemd, the transient scope
 * drivers/linux/delegation.ts asks systemd for (`tsbench.slice/tsbench-<pid>.scope`), so that tsbench
 * never makes cgroups in the part of the tree systemd manages.
 */
let base = '';

/** The delegated subtree tsbench's cgroups live in ('' for the mount's root). */
export function cgroupBase(): string {
  return base;
}

/** Set once by drivers/linux/delegation.ts when systemd has delegated a scope to this process. */
export function setCgroupBase(relative: string): void {
  base = relative;
}

/** `<mount>/<base>/<name>`: where tsbench's parent `name` (`tsbench`, `tsbench-oci`) is in a hierarchy. */
export function parentDir(mount: string, name: string): string {
  return join(mount, base, name);
}

/** CFS period for the CPU quota: 100 ms, the kernel's and docker's default. */
export const CPU_PERIOD_US = 100_000;
/** The least quota the kernel takes (cpu.cfs_quota_us, cpu.max): 1 ms, so 0.01 CPU at our period. */
export const MIN_CPU_QUOTA_US = 1000;

/** The CFS quota in µs per CPU_PERIOD_US for `cpus` CPUs (at least 1 ms, the kernel's minimum). */
export function cpuQuotaUs(cpus: number): number {
  return Math.max(MIN_CPU_QUOTA_US, Math.round(cpus * CPU_PERIOD_US));
}

export interface Hierarchy {
  version: 1 | 2;
  /** Where it is mounted. */
  mount: string;
  /** The controllers of ours it holds. */
  controllers: Controller[];
}

export interface CgroupHost {
  hierarchies: Hierarchy[];
  /** Required controllers found in no hierarchy. */
  missing: Controller[];
  /** The v2 hierarchy, when one of ours lives there. */
  v2?: Hierarchy;
  /**
   * Whole disks (`MAJ:MIN`) that get a non-binding throttle rule in each v1 blkio
   * cgroup: since Linux 6.10 blk-throttle counts a queue's bytes only once some
   * cgroup has a rule on it, so without one blkio.throttle.io_service_bytes
   * stays 0. The rule (1 TiB/s) never binds; it leaves throttling active on
   * that queue, which costs a check per bio.
   */
  disks: string[];
}

/**
 * Finds the hierarchy of every controller from the mount table. `readControllers`
 * reads a v2 root's cgroup.controllers (injectable for tests).
 */
export function findHierarchies(
  mounts: string,
  readControllers: (mount: string) => string = (m) => readFileSync(join(m, 'cgroup.controllers'), 'utf8'),
): CgroupHost {
  const known = new Set<string>([...REQUIRED, ...OPTIONAL]);
  const hierarchies: Hierarchy[] = [];
  let v2: Hierarchy | undefined;
  for (const line of mounts.split('\n')) {
    const [, where, type, options] = line.split(' ');
    if (where === undefined || options === undefined) continue;
    const mount = where.replace(/\\040/g, ' ');
    if (type === 'cgroup') {
      const controllers = options.split(',').filter((o) => known.has(o) && o !== 'io') as Controller[];
      if (controllers.length > 0 && !hierarchies.some((h) => h.mount === mount)) hierarchies.push({ version: 1, mount, controllers });
    } else if (type === 'cgroup2' && v2 === undefined) {
      let available: string[] = [];
      try {
        available = readControllers(mount).trim().split(/\s+/);
      } catch {
        // An unreadable root offers nothing.
      }
      v2 = { version: 2, mount, controllers: available.filter((c) => c === 'memory' || c === 'cpu' || c === 'pids' || c === 'io') as Controller[] };
    }
  }
  // A controller bound to a v1 hierarchy cannot be on v2 as well; keep each where it is.
  const onV1 = new Set(hierarchies.flatMap((h) => h.controllers));
  if (v2) {
    v2.controllers = v2.controllers.filter((c) => !onV1.has(c));
    if (v2.controllers.length > 0) hierarchies.push(v2);
  }
  const have = new Set(hierarchies.flatMap((h) => h.controllers));
  const result: CgroupHost = { hierarchies, missing: REQUIRED.filter((c) => !have.has(c)), disks: [] };
  if (v2 && v2.controllers.length > 0) result.v2 = v2;
  return result;
}

/** How a host's cgroups are mounted (what results record as `host.cgroup`). */
export type CgroupLayout = 'v1' | 'v2' | 'hybrid' | 'none';

/**
 * The layout, from /proc/self/mounts: pure v2 (the unified hierarchy at /sys/fs/cgroup), v1
 * controllers with a v2 mount at `unified/` (hybrid, systemd's old default and this project's
 * machine), or v1.
 */
export function cgroupLayoutOf(mounts: string): CgroupLayout {
  let v1 = false;
  let v2 = false;
  let v2Root = false;
  for (const line of mounts.split('\n')) {
    const [, where, type] = line.split(' ');
    if (type === 'cgroup2') {
      v2 = true;
      if (where === '/sys/fs/cgroup') v2Root = true;
    } else if (type === 'cgroup') v1 = true;
  }
  if (v2Root && !v1) return 'v2';
  if (v1 && v2) return 'hybrid';
  if (v1) return 'v1';
  return v2 ? 'v2' : 'none';
}

/** The host's hierarchies; on v2, the controllers offered where tsbench makes its cgroups (a delegated scope's, or the root's). */
export function detectCgroups(): CgroupHost {
  const host = findHierarchies(readFileSync('/proc/self/mounts', 'utf8'), (m) => readFileSync(join(m, base, 'cgroup.controllers'), 'utf8'));
  if (host.hierarchies.some((h) => h.version === 1 && h.controllers.includes('blkio'))) host.disks = wholeDisks();
  return host;
}

/** `MAJ:MIN` of the real disks in /sys/block (not loop, ram or zram devices). */
function wholeDisks(): string[] {
  try {
    return readdirSync('/sys/block')
      .filter((name) => !/^(loop|ram|zram)\d/.test(name))
      .map((name) => {
        try {
          return readFileSync(join('/sys/block', name, 'dev'), 'utf8').trim();
        } catch {
          return '';
        }
      })
      .filter((dev) => /^\d+:\d+$/.test(dev));
  } catch {
    return [];
  }
}

/** Bytes per second of the throttle rule that only switches accounting on: 1 TiB/s. */
const NON_BINDING_BPS = 2 ** 40;

/** What a missing controller's fix is, for messages. */
function fixFor(c: Controller): string {
  return (
    `mount it (v1: mount -t cgroup -o ${c} none /sys/fs/cgroup/${c}) or enable it on cgroup v2 ` +
    `(echo +${c} > /sys/fs/cgroup/cgroup.subtree_control, or Delegate=${c} for a systemd unit)`
  );
}

/** The limit each required controller enforces, as the flag that asks for it. */
const LIMIT_OF: Record<'memory' | 'cpu' | 'pids', { limit: keyof Limits; flag: string }> = {
  memory: { limit: 'memoryBytes', flag: 'the memory limit (--memory)' },
  cpu: { limit: 'cpus', flag: 'the CPU quota (--cpus)' },
  pids: { limit: 'pids', flag: 'the pids limit' },
};

/** Which limits the host's controllers can enforce (a missing controller: not its limit). */
export function enforceableLimits(host: CgroupHost): { cpus: boolean; memoryBytes: boolean; pids: boolean } {
  const has = (c: Controller): boolean => !host.missing.includes(c);
  return { cpus: has('cpu'), memoryBytes: has('memory'), pids: has('pids') };
}

/** One line per limit a missing controller makes unavailable, naming the controller and the fix; [] when none is missing. */
export function unavailableLimits(host: CgroupHost): string[] {
  return host.missing
    .filter((c): c is 'memory' | 'cpu' | 'pids' => c in LIMIT_OF)
    .map((c) => `${LIMIT_OF[c].flag} is unavailable: the ${c} cgroup controller is not offered to tsbench here; ${fixFor(c)}`);
}

/** Why `limits` cannot be enforced on this host (the first limit whose controller is missing), or undefined. */
export function unenforceable(host: CgroupHost, limits: Limits): string | undefined {
  for (const c of host.missing) {
    const l = LIMIT_OF[c as 'memory' | 'cpu' | 'pids'] as { limit: keyof Limits; flag: string } | undefined;
    if (l !== undefined && limits[l.limit] !== undefined)
      return `${l.flag} needs the ${c} cgroup controller, which this host does not offer to tsbench: ${fixFor(c)}`;
  }
  return undefined;
}

/** The limits a probe's trial may ask for here: `wanted` less those a missing controller cannot enforce. */
export function enforceablePart(host: CgroupHost, wanted: Limits): Limits {
  const can = enforceableLimits(host);
  return Object.fromEntries(Object.entries(wanted).filter(([k]) => can[k as keyof typeof can])) as Limits;
}

/**
 * Creates `<hierarchy>/tsbench` everywhere and, on v2, enables our controllers
 * for its children (first in the root's cgroup.subtree_control, which the root
 * may do whatever its processes, then in tsbench's own).
 */
export async function ensureParents(host: CgroupHost): Promise<void> {
  for (const h of host.hierarchies) {
    const parent = parentDir(h.mount, PARENT);
    await mkdir(parent, { recursive: true });
    if (h.version !== 2) continue;
    // In a delegated scope, its own subtree_control (systemd keeps the ones above it).
    for (const dir of [join(h.mount, base), parent]) {
      const file = join(dir, 'cgroup.subtree_control');
      const enabled = new Set((await readFile(file, 'utf8')).trim().split(/\s+/));
      const wanted = h.controllers.filter((c) => !enabled.has(c));
      if (wanted.length > 0) await writeFile(file, wanted.map((c) => `+${c}`).join(' '));
    }
  }
}

/**
 * Removes the `tsbench` parents that are empty, at a driver's teardown; one another tsbench still uses stays (the
 * kernel's EBUSY). What a SIGKILLed run leaves, the ownership sweep removes (drivers/ownership.ts removeIdleParents).
 */
export function removeParentsSync(host: CgroupHost): void {
  for (const h of host.hierarchies) {
    try {
      rmdirSync(parentDir(h.mount, PARENT));
    } catch {
      // Busy (another run's cgroups are in it) or already gone.
    }
  }
}

/** A cgroup directory and the hierarchy it is in. */
export interface CgroupDir {
  hierarchy: Hierarchy;
  path: string;
}
type Dir = CgroupDir;

/** Which counters `readAccounting` may trust in the directories it is given. */
export interface AccountingFiles {
  /** v1 block I/O: a cgroup's own `io_service_bytes`, or `_recursive` for a parent whose children are gone. */
  v1Blkio: 'blkio.throttle.io_service_bytes' | 'blkio.throttle.io_service_bytes_recursive';
  /** Whether v1 `memory.oom_control`'s oom_kill counts for these directories (it is not hierarchical: not for a parent). */
  v1OomKills: boolean;
}

/**
 * What the cgroups counted, one directory per hierarchy; each figure only where
 * a controller gives it (the instance's own cgroups, or a peer runtime's parent).
 */
export async function readAccounting(dirs: readonly CgroupDir[], files: AccountingFiles): Promise<Accounting> {
  const acc: Accounting = {};
  const text = (d: CgroupDir, file: string): Promise<string | undefined> => readFile(join(d.path, file), 'utf8').catch(() => undefined);
  const v1cpuacct = dirs.some((x) => x.hierarchy.version === 1 && x.hierarchy.controllers.includes('cpuacct'));
  await Promise.all(
    dirs.map(async (d) => {
      const has = (c: Controller): boolean => d.hierarchy.controllers.includes(c);
      if (d.hierarchy.version === 1) {
        if (has('memory')) {
          const [peak, oom] = await Promise.all([text(d, 'memory.max_usage_in_bytes'), files.v1OomKills ? text(d, 'memory.oom_control') : undefined]);
          if (peak !== undefined) acc.peakMemoryBytes = Number(peak.trim());
          const kills = oom === undefined ? undefined : keyed(oom, ' ').get('oom_kill');
          if (kills !== undefined) acc.oomKills = kills;
        }
        if (has('cpuacct')) {
          // usage is exact (the scheduler's runtime); usage_user/usage_sys are
          // sampled at timer ticks, which a throttled task can hit more often
          // than its share (+15 % measured under a 0.5 CPU quota). So the
          // total is usage, split in the ratio the ticks saw, as cgroup v2's
          // cpu.stat does.
          const [total, user, sys] = await Promise.all([text(d, 'cpuacct.usage'), text(d, 'cpuacct.usage_user'), text(d, 'cpuacct.usage_sys')]);
          if (total !== undefined) Object.assign(acc, splitCpu(Number(total.trim()), Number(user?.trim()), Number(sys?.trim())));
        }
        if (has('blkio')) {
          const io = await text(d, files.v1Blkio);
          if (io !== undefined) Object.assign(acc, blkioBytes(io));
        }
      } else {
        if (has('memory')) {
          const [peak, events] = await Promise.all([text(d, 'memory.peak'), text(d, 'memory.events')]);
          if (peak !== undefined) acc.peakMemoryBytes = Number(peak.trim());
          const kills = events === undefined ? undefined : keyed(events, ' ').get('oom_kill');
          if (kills !== undefined) acc.oomKills = kills;
        }
        // cpu.stat exists in every v2 cgroup, with or without the cpu controller.
        if (!v1cpuacct) {
          const stat = await text(d, 'cpu.stat');
          if (stat !== undefined) {
            const m = keyed(stat, ' ');
            const user = m.get('user_usec');
            const sys = m.get('system_usec');
            if (user !== undefined) acc.cpuUserMs = user / 1000;
            if (sys !== undefined) acc.cpuSystemMs = sys / 1000;
          }
        }
        if (has('io')) {
          const io = await text(d, 'io.stat');
          if (io !== undefined) Object.assign(acc, ioStatBytes(io));
        }
      }
    }),
  );
  return acc;
}

/** The cgroups of one instance. */
export class InstanceCgroups {
  private readonly dirs: Dir[];
  private created: Dir[] = [];
  private removed = false;

  constructor(
    private readonly host: CgroupHost,
    readonly id: string,
  ) {
    this.dirs = host.hierarchies.map((hierarchy) => ({ hierarchy, path: join(parentDir(hierarchy.mount, PARENT), id) }));
  }

  /** The cgroup mounts they are under, for messages. */
  where(): string {
    return this.host.hierarchies.map((h) => h.mount).join(', ');
  }

  /** `tsbench/<id>` (in a delegated scope: `<base>/tsbench/<id>`), under every hierarchy. */
  relative(): string[] {
    return [join(base, PARENT, this.id)];
  }

  /** Creates the directories and writes the limits; on failure removes what it made and throws. */
  async create(limits: Limits): Promise<void> {
    try {
      for (const d of this.dirs) {
        try {
          await mkdir(d.path);
        } catch (e) {
          // Another tsbench removed the empty parent between our runs (its teardown, or a sweep that read the records
          // before this instance's: drivers/ownership.ts removeIdleParents): make it again.
          if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
          await ensureParents(this.host);
          await mkdir(d.path);
        }
        this.created.push(d);
        await this.writeLimits(d, limits);
      }
    } catch (e) {
      await this.remove();
      throw e;
    }
  }

  private async writeLimits(d: Dir, limits: Limits): Promise<void> {
    const has = (c: Controller): boolean => d.hierarchy.controllers.includes(c);
    const put = (file: string, value: string | number): Promise<void> => writeFile(join(d.path, file), String(value));
    const optional = async (file: string, value: string | number): Promise<void> => {
      if (existsSync(join(d.path, file))) await put(file, value);
    };
    if (d.hierarchy.version === 1) {
      if (has('memory') && limits.memoryBytes !== undefined) {
        await put('memory.limit_in_bytes', limits.memoryBytes);
        // No swap beyond the limit where the kernel accounts swap: the limit is the limit.
        await optional('memory.memsw.limit_in_bytes', limits.memoryBytes);
      }
      if (has('cpu') && limits.cpus !== undefined) {
        await put('cpu.cfs_period_us', CPU_PERIOD_US);
        await put('cpu.cfs_quota_us', cpuQuotaUs(limits.cpus));
      }
      if (has('pids') && limits.pids !== undefined) await put('pids.max', limits.pids);
      if (has('blkio')) {
        for (const disk of this.host.disks) {
          await put('blkio.throttle.read_bps_device', `${disk} ${NON_BINDING_BPS}`);
          await put('blkio.throttle.write_bps_device', `${disk} ${NON_BINDING_BPS}`);
        }
      }
    } else {
      if (has('memory') && limits.memoryBytes !== undefined) {
        await put('memory.max', limits.memoryBytes);
        await optional('memory.swap.max', 0);
      }
      if (has('cpu') && limits.cpus !== undefined) await put('cpu.max', `${cpuQuotaUs(limits.cpus)} ${CPU_PERIOD_US}`);
      if (has('pids') && limits.pids !== undefined) await put('pids.max', limits.pids);
    }
  }

  /** The launcher's options that put the workload into these cgroups. */
  launcherArgs(): string[] {
    const args: string[] = [];
    for (const d of this.dirs) {
      if (d.hierarchy.version === 2) args.push('--cgroup-dir', d.path);
      else args.push('--cgroup-tasks', join(d.path, 'tasks'));
    }
    return args;
  }

  /** Pids in the instance's cgroup now (host pid namespace). */
  pidsSync(): number[] {
    const d = this.dirs.find((x) => x.hierarchy.controllers.includes('memory')) ?? this.dirs[0];
    if (!d) return [];
    try {
      return readFileSync(join(d.path, 'cgroup.procs'), 'utf8')
        .split('\n')
        .filter((l) => l.length > 0)
        .map(Number);
    } catch {
      return [];
    }
  }

  /** What the cgroups counted; each figure only where a controller gives it. */
  read(): Promise<Accounting> {
    return readAccounting(this.dirs, { v1Blkio: 'blkio.throttle.io_service_bytes', v1OomKills: true });
  }

  /**
   * Removes the directories (after the last process is gone). A cgroup whose
   * tasks are still exiting is busy for a moment: retry for up to `waitMs`.
   */
  async remove(waitMs = 2000): Promise<void> {
    const deadline = Date.now() + waitMs;
    for (const d of [...this.created].reverse()) {
      await removeCgroupDir(d.path, deadline);
      this.created = this.created.filter((x) => x !== d);
    }
    this.removed = true;
  }

  /** The same, synchronously, for process 'exit': waits (blocking) for the tasks to go. */
  removeSync(waitMs = 2000): void {
    if (this.removed) return;
    const deadline = Date.now() + waitMs;
    for (const d of [...this.created].reverse()) removeCgroupDirSync(d.path, deadline);
    this.created = [];
    this.removed = true;
  }
}

/**
 * Removes a cgroup directory (gone already is fine). One whose tasks are still
 * exiting is busy for a moment: `onBusy` (e.g. kill what is left), then retry
 * every 5 ms until `deadline` (Date.now() ms), then throw.
 */
export async function removeCgroupDir(dir: string, deadline: number, onBusy?: () => void): Promise<void> {
  for (;;) {
    try {
      await rmdir(dir);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || Date.now() > deadline) throw e;
      onBusy?.();
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

/** The same, synchronously, for process 'exit' and the sweep (blocking naps), giving up quietly: true when the directory is gone. */
export function removeCgroupDirSync(dir: string, deadline: number, onBusy?: () => void): boolean {
  const nap = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try {
      rmdirSync(dir);
      return true;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return true;
      if (code !== 'EBUSY' || Date.now() > deadline) return false;
      onBusy?.();
      Atomics.wait(nap, 0, 0, 5);
    }
  }
}

/** The cgroup directories below `dir`, deepest first (children before their parent); [] when it cannot be read. */
function subCgroupsDeepestFirst(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name);
  } catch {
    return [];
  }
  return names.flatMap((n) => [...subCgroupsDeepestFirst(join(dir, n)), join(dir, n)]);
}

/**
 * Removes a cgroup and every cgroup below it, children first: an engine makes its own inside the
 * parent tsbench gives it (podman's `conmon` and `libpod-<id>`, docker's `<id>`), and a v1 or v2
 * cgroup with children cannot be removed. What is still in one (a monitor exiting) is killed when
 * it is busy. Resolves with the directories it could not remove, each with why: [] when the tree
 * is gone (or was never there).
 */
export async function removeCgroupTree(dir: string, deadline: number): Promise<string[]> {
  const failed: string[] = [];
  for (const d of [...subCgroupsDeepestFirst(dir), dir]) {
    try {
      await removeCgroupDir(d, deadline, () => killCgroupProcs(d));
    } catch (e) {
      failed.push(`${d} (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
    }
  }
  return failed;
}

/** The same, synchronously, for process 'exit' and the sweep. */
export function removeCgroupTreeSync(dir: string, deadline: number): string[] {
  const failed: string[] = [];
  for (const d of [...subCgroupsDeepestFirst(dir), dir]) {
    killCgroupProcs(d);
    if (!removeCgroupDirSync(d, deadline, () => killCgroupProcs(d))) failed.push(d);
  }
  return failed;
}

/** Every cgroup mount (v1 hierarchies of any controller, and cgroup2), where a runtime or tsbench may have made directories. */
export function cgroupMounts(): string[] {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) => l.split(' '))
    .filter((f) => f[2] === 'cgroup' || f[2] === 'cgroup2')
    .map((f) => (f[1] as string).replace(/\\040/g, ' '));
}

/** SIGKILLs every process in a cgroup directory (none, when it cannot be read). */
export function killCgroupProcs(dir: string): void {
  let procs: string;
  try {
    procs = readFileSync(join(dir, 'cgroup.procs'), 'utf8');
  } catch {
    return;
  }
  for (const p of procs.split('\n').filter((l) => l.length > 0)) {
    try {
      process.kill(Number(p), 'SIGKILL');
    } catch {
      // Gone.
    }
  }
}

/** Exact total CPU ns split into user and system ms in the ratio of the sampled figures. */
export function splitCpu(totalNs: number, userNs: number, sysNs: number): { cpuUserMs: number; cpuSystemMs: number } {
  const sampled = userNs + sysNs;
  const userShare = Number.isFinite(sampled) && sampled > 0 ? userNs / sampled : 1;
  return { cpuUserMs: (totalNs * userShare) / 1e6, cpuSystemMs: (totalNs * (1 - userShare)) / 1e6 };
}

/** `key value` lines as numbers. */
function keyed(text: string, sep: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const line of text.split('\n')) {
    const i = line.indexOf(sep);
    if (i <= 0) continue;
    const v = Number(line.slice(i + sep.length).trim());
    if (Number.isFinite(v)) m.set(line.slice(0, i), v);
  }
  return m;
}

/** Sums v1 `blkio.throttle.io_service_bytes` (`MAJ:MIN Read N` … `Total N`) over devices. */
export function blkioBytes(text: string): { ioReadBytes: number; ioWriteBytes: number } {
  let ioReadBytes = 0;
  let ioWriteBytes = 0;
  for (const line of text.split('\n')) {
    const [dev, op, n] = line.trim().split(/\s+/);
    if (!dev?.includes(':') || n === undefined) continue;
    if (op === 'Read') ioReadBytes += Number(n);
    else if (op === 'Write') ioWriteBytes += Number(n);
  }
  return { ioReadBytes, ioWriteBytes };
}

/** Sums v2 `io.stat` (`MAJ:MIN rbytes=N wbytes=N …`) over devices. */
export function ioStatBytes(text: string): { ioReadBytes: number; ioWriteBytes: number } {
  let ioReadBytes = 0;
  let ioWriteBytes = 0;
  for (const line of text.split('\n')) {
    for (const field of line.trim().split(/\s+/).slice(1)) {
      const [k, v] = field.split('=');
      if (k === 'rbytes') ioReadBytes += Number(v);
      else if (k === 'wbytes') ioWriteBytes += Number(v);
    }
  }
  return { ioReadBytes, ioWriteBytes };
}
