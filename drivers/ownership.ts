/**
 * Who owns what tsbench leaves on the host, on disk, so that a tsbench killed
 * with SIGKILL (no exit hook runs) still has its resources removed by the next
 * tsbench command.
 *
 * Every tsbench process that makes something on the host gets one state
 * directory, `<STATE_ROOT>/<pid>-<starttime>/`:
 * - `owner`: `{"pid":…,"start":…,"boot":…}` — the process, its start time
 *   (/proc/<pid>/stat field 22, clock ticks since boot, so a reused pid is not
 *   taken for the owner) and the kernel's boot id (a record from an earlier boot
 *   belongs to a dead owner whatever its pid);
 * - `resources`: one JSON object a line, appended (O_APPEND, one write each)
 *   *before* the resource is made, so a SIGKILL in between leaves a record of
 *   something that may not exist, never something that exists without one.
 *   Kinds: `dir` (removed recursively), `cgroup` (a path relative to the cgroup
 *   mounts: removed, children first, in every v1 hierarchy and in v2, after
 *   killing what is in it), `mount` (lazily unmounted), `link` (`ip link del`),
 *   `netns` (`ip netns del`), `shm` (`ipcrm -m`), `pgroup` (SIGKILLed), `image` (a peer
 *   engine's imported image: `<engine> image rm -f`, unless a later line says the owner removed it).
 * - processes are not recorded one by one: the owner puts `TSBENCH_OWNER=<id>`
 *   in its environment before it starts any, every child inherits it, and the
 *   sweep kills the process groups of the processes that carry a dead owner's id
 *   (the launchers, runtimes, qemu, mount-namespace holders and their children).
 *
 * Recording is one appendFileSync of ~100 bytes on a tmpfs, made before the
 * launcher is started: never inside the timed window (launcher fork → agent
 * ready/exit).
 *
 * `sweep()` (every tsbench command runs it at start; `tsbench clean` on demand)
 * removes what dead owners left, then their state directories; a live owner's
 * directory is never touched. Then tsbench's parent cgroups (`tsbench`,
 * `tsbench-oci`), which every run shares and none records, where they are empty
 * and no live owner has recorded anything below them (`removeIdleParents`). At a
 * normal exit the owner sweeps its own records (after the drivers' exit hooks),
 * the parents as the sweep does, and removes its directory.
 *
 * STATE_ROOT is /run/tsbench for root: /run is a tmpfs emptied at boot, as are
 * the resources (cgroups, mounts, links, processes, and on Debian /tmp), so
 * records never outlive what they describe; it is root-only and not cleaned by
 * tmpfiles' age rules like /tmp. Others use `<tmpdir>/tsbench-state-<uid>`.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { atExit } from '../core/exit.js';
import { PARENT, cgroupMounts, removeCgroupTreeSync } from './linux/cgroups.js';
import { OCI_PARENT } from './oci/cgroups.js';

/** The environment variable every child of an owner carries: `<pid>-<starttime>`. */
export const OWNER_ENV = 'TSBENCH_OWNER';

/** Where the state directories are. */
export function stateRoot(): string {
  return process.getuid?.() === 0 ? '/run/tsbench' : join(tmpdir(), `tsbench-state-${process.getuid?.() ?? 'user'}`);
}

export type Resource =
  | { kind: 'dir'; path: string }
  | { kind: 'cgroup'; path: string }
  /** a transient systemd unit (an engine instance's slice on systemd's cgroup driver), stopped by systemctl */
  | { kind: 'unit'; name: string }
  | { kind: 'mount'; path: string }
  | { kind: 'link'; name: string }
  | { kind: 'netns'; name: string }
  | { kind: 'shm'; id: number }
  | { kind: 'pgroup'; pgid: number }
  /**
   * an image imported into docker or podman: `engine` is the command with its global flags (docker's `-H`), run with
   * `image rm -f tag`; `removed: true`, appended by the owner once it removed the image, ends the record (the engine's
   * store is not a file to look at, and asking the engine costs a CLI start at every exit)
   */
  | { kind: 'image'; engine: string[]; tag: string; removed?: true };

export interface Owner {
  pid: number;
  /** /proc/<pid>/stat field 22. */
  start: string;
  boot: string;
}

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** Fields 22 (starttime), 3 (state), 4 (ppid) and 5 (pgrp) of /proc/<pid>/stat; undefined when there is no such process. */
export function procStat(pid: number): { start: string; state: string; ppid: number; pgrp: number } | undefined {
  const stat = readText(`/proc/${pid}/stat`);
  if (stat === undefined) return undefined;
  // Fields after the command (which may hold spaces and parentheses) start at field 3.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const start = f[22 - 3];
  if (start === undefined || f[0] === undefined) return undefined;
  return { start, state: f[0], ppid: Number(f[4 - 3]), pgrp: Number(f[5 - 3]) };
}

function bootId(): string {
  return (readText('/proc/sys/kernel/random/boot_id') ?? '').trim();
}

/** Whether the process of a record is the one that made it, and still running (a zombie is dead). */
export function ownerAlive(owner: Owner, boot = bootId()): boolean {
  if (owner.boot !== boot) return false;
  const s = procStat(owner.pid);
  return s !== undefined && s.start === owner.start && s.state !== 'Z' && s.state !== 'X';
}

let own: { dir: string; id: string } | undefined;

/** This process's state directory, made (with its `owner` file) on first use; sets TSBENCH_OWNER for every child. */
export function ownState(): { dir: string; id: string } {
  if (own) return own;
  const s = procStat(process.pid);
  const owner: Owner = { pid: process.pid, start: s?.start ?? '0', boot: bootId() };
  const id = `${owner.pid}-${owner.start}`;
  const dir = join(stateRoot(), id);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, 'owner'), `${JSON.stringify(owner)}\n`);
  process.env[OWNER_ENV] = id;
  own = { dir, id };
  // After the drivers' own exit hooks: whatever they could not remove goes now, then the directory.
  atExit(() => {
    if (!own) return;
    try {
      const left = sweepRecords(own.dir, { processes: false });
      // The parents this run made, unless another live run has cgroups in them (it removes them at its own exit).
      removeIdleParents({ except: own.id });
      if (left.failed.length === 0) {
        rmSync(own.dir, { recursive: true, force: true });
        own = undefined;
      }
    } catch {
      // Kept for the next sweep.
    }
  }, 'last');
  return own;
}

/** The environment entry that marks a child as this owner's (made before the first child). */
export function ownerEnv(): Record<string, string> {
  return { [OWNER_ENV]: ownState().id };
}

/** Records a resource this process is about to make. Synchronous and cheap; call it before making it. */
export function record(r: Resource): void {
  appendFileSync(join(ownState().dir, 'resources'), `${JSON.stringify(r)}\n`);
}

/**
 * Makes a fresh directory named `<prefix><random>` (like mkdtemp, which cannot
 * say its name before making it), recorded first.
 */
export async function makeOwnedDir(prefix: string): Promise<string> {
  for (let i = 0; ; i++) {
    const path = `${prefix}${randomBytes(6).toString('base64url')}`;
    record({ kind: 'dir', path });
    try {
      await mkdir(path, { mode: 0o700 });
      return path;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || i > 10) throw e;
    }
  }
}

/** Records `path` and makes it (a fixed name, its parent existing). */
export async function makeRecordedDir(path: string): Promise<string> {
  record({ kind: 'dir', path });
  await mkdir(path);
  return path;
}

function readRecords(dir: string): Resource[] {
  const out: Resource[] = [];
  for (const line of (readText(join(dir, 'resources')) ?? '').split('\n')) {
    if (line.length === 0) continue;
    try {
      out.push(JSON.parse(line) as Resource);
    } catch {
      // A line cut short by a SIGKILL: what it named was not made yet.
    }
  }
  return out;
}

function mountPoints(): Set<string> {
  return new Set(
    (readText('/proc/self/mounts') ?? '')
      .split('\n')
      .map((l) => l.split(' ')[1])
      .filter((m): m is string => m !== undefined)
      .map((m) => m.replace(/\\040/g, ' ')),
  );
}

/** Sends a signal to a pid, or to a process group as `-pgid` (`process.kill`'s signature; tests pass one that fails). */
export type SendSignal = (target: number, signal: NodeJS.Signals) => void;

/** SIGKILLs a pid (or `-pgid`): `killed`, `gone` (no such process: nothing to remove) or `refused` (it still runs). */
function kill(target: number, send: SendSignal): 'killed' | 'gone' | 'refused' {
  try {
    send(target, 'SIGKILL');
    return 'killed';
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH' ? 'gone' : 'refused';
  }
}

/** Removes a cgroup directory and its children, killing what is in them; true when it is gone. */
function removeCgroupTree(path: string, deadlineMs: number): boolean {
  return removeCgroupTreeSync(path, deadlineMs).length === 0;
}

function run(argv: string[]): boolean {
  const r = spawnSync(argv[0] as string, argv.slice(1), { stdio: 'ignore', timeout: 10_000 });
  return r.status === 0;
}

/** Whether systemd (running here) has the unit loaded: `systemctl show -p LoadState` says `loaded`. */
function unitLoaded(name: string): boolean {
  if (!existsSync('/run/systemd/system')) return false;
  const r = spawnSync('systemctl', ['show', '-p', 'LoadState', '-p', 'ActiveState', name], { encoding: 'utf8', timeout: 10_000 });
  const props = new Map((r.stdout ?? '').split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as const));
  return r.status === 0 && props.get('LoadState') === 'loaded' && props.get('ActiveState') !== 'inactive';
}

/** This process and its ancestors: never killed by a sweep. */
function protectedPids(): Set<number> {
  const keep = new Set<number>();
  for (let pid = process.pid; pid > 1;) {
    keep.add(pid);
    const ppid = procStat(pid)?.ppid;
    if (ppid === undefined || !Number.isFinite(ppid)) break;
    pid = ppid;
  }
  return keep;
}

/** Processes whose environment carries `TSBENCH_OWNER=<id>`. */
function processesOf(id: string): number[] {
  const needle = `\0${OWNER_ENV}=${id}\0`;
  const found: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const env = readText(`/proc/${p}/environ`);
    if (env !== undefined && `\0${env}`.includes(needle)) found.push(Number(p));
  }
  return found;
}

export interface SweepOutcome {
  /** What was removed, one line each (`cgroup /sys/fs/cgroup/memory/tsbench/123-1`…). */
  removed: string[];
  /** What could not be removed (kept for a later sweep). */
  failed: string[];
}

/** Removes what one state directory's records name (the owner must be dead, or be this process at exit). */
function sweepRecords(dir: string, opts: { processes: boolean; id?: string; liveOwners?: Set<number>; send?: SendSignal }): SweepOutcome {
  const removed: string[] = [];
  const failed: string[] = [];
  const records = readRecords(dir);
  const keep = protectedPids();
  for (const p of opts.liveOwners ?? []) keep.add(p);
  const send = opts.send ?? ((target: number, signal: NodeJS.Signals) => process.kill(target, signal));
  // What a kill did, said as it is: a process that was gone already is not one the sweep removed.
  const tell = (outcome: ReturnType<typeof kill>, what: string): void => {
    if (outcome === 'killed') removed.push(what);
    else if (outcome === 'refused') failed.push(what);
  };

  // 1. Processes: the groups of what carries the owner's id, and recorded groups.
  if (opts.processes && opts.id !== undefined) {
    const groups = new Set<number>();
    const marked = processesOf(opts.id);
    for (const pid of marked) {
      if (keep.has(pid)) continue;
      const s = procStat(pid);
      if (s === undefined || s.state === 'Z') continue;
      const cmd = (readText(`/proc/${pid}/cmdline`) ?? '').replace(/\0/g, ' ').trim();
      // A group is killed whole only when its leader is the owner's too (a launcher leads one per instance).
      if (marked.includes(s.pgrp) && !keep.has(s.pgrp)) groups.add(s.pgrp);
      tell(kill(pid, send), `process ${pid} (${cmd})`);
    }
    // Each marked member was listed above; the group's kill reaches what the owner started without its mark.
    for (const g of groups) if (kill(-g, send) === 'refused') failed.push(`process group ${g}`);
  }
  for (const r of records) if (r.kind === 'pgroup' && !keep.has(r.pgid)) tell(kill(-r.pgid, send), `process group ${r.pgid}`);

  // 2. Mounts, innermost (last made) first.
  const mounted = mountPoints();
  for (const r of [...records].reverse()) {
    if (r.kind !== 'mount' || !mounted.has(r.path)) continue;
    if (run(['umount', '-l', r.path])) removed.push(`mount ${r.path}`);
    else failed.push(`mount ${r.path}`);
  }

  // 3. systemd units (systemd kills what is in them and removes their cgroups), then cgroups, in every hierarchy
  // (a runtime makes them in hierarchies tsbench does not read too).
  for (const r of records) {
    if (r.kind !== 'unit' || !unitLoaded(r.name)) continue;
    if (run(['systemctl', 'stop', r.name])) removed.push(`unit ${r.name}`);
    else failed.push(`unit ${r.name}`);
  }
  const cgroupRecords = records.filter((r): r is Extract<Resource, { kind: 'cgroup' }> => r.kind === 'cgroup');
  if (cgroupRecords.length > 0) {
    const deadline = Date.now() + 3000;
    const mounts = cgroupMounts();
    for (const r of cgroupRecords) {
      for (const m of mounts) {
        const path = join(m, r.path);
        if (!existsSync(path)) continue;
        if (removeCgroupTree(path, deadline)) removed.push(`cgroup ${path}`);
        else failed.push(`cgroup ${path}`);
      }
    }
    // tsbench's parents (`tsbench`, `tsbench-oci`) are no one's record: removeIdleParents, after every owner's records.
  }

  // 4. Network links and namespaces, shared memory.
  for (const r of records) {
    if (r.kind === 'link' && existsSync(`/sys/class/net/${r.name}`)) {
      if (run(['ip', 'link', 'del', r.name])) removed.push(`link ${r.name}`);
      else failed.push(`link ${r.name}`);
    } else if (r.kind === 'netns' && existsSync(`/run/netns/${r.name}`)) {
      if (run(['ip', 'netns', 'del', r.name])) removed.push(`netns ${r.name}`);
      else failed.push(`netns ${r.name}`);
    } else if (r.kind === 'shm' && (readText('/proc/sysvipc/shm') ?? '').split('\n').some((l) => l.trim().split(/\s+/)[1] === String(r.id))) {
      if (run(['ipcrm', '-m', String(r.id)])) removed.push(`shm ${r.id}`);
      else failed.push(`shm ${r.id}`);
    }
  }

  // 5. Images imported into an engine, unless the owner removed them. DOCKER_HOST is left out: the record's
  // command names the daemon the owner used (its -H), or the CLI's default as the owner had it.
  const images = new Map<string, Extract<Resource, { kind: 'image' }>>();
  for (const r of records) {
    if (r.kind !== 'image') continue;
    const key = JSON.stringify([r.engine, r.tag]);
    if (r.removed) images.delete(key);
    else images.set(key, r);
  }
  for (const r of images.values()) {
    const [cmd, ...global] = r.engine;
    if (cmd === undefined) continue;
    const env = { ...process.env };
    delete env['DOCKER_HOST'];
    const rm = spawnSync(cmd, [...global, 'image', 'rm', '-f', r.tag], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'], timeout: 30_000, env });
    const missing = (rm.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';
    if (rm.status === 0) removed.push(`image ${r.tag} (${cmd})`);
    // gone already, or the engine is no longer installed: nothing to remove
    else if (!missing && !/no such image|image not known/i.test(rm.stderr ?? '')) failed.push(`image ${r.tag} (${cmd})`);
  }

  // 6. Directories, last made first (a bundle before the driver directory that holds it).
  for (const r of [...records].reverse()) {
    if (r.kind !== 'dir' || !existsSync(r.path)) continue;
    try {
      rmSync(r.path, { recursive: true, force: true });
      removed.push(`dir ${r.path}`);
    } catch {
      failed.push(`dir ${r.path}`);
    }
  }
  return { removed, failed };
}

/** The state directories under the root by id, each with its owner (from the `owner` file, or from the id when it was cut short); none when there is no root. */
function stateDirs(root: string, boot: string): Map<string, Owner | undefined> {
  const owners = new Map<string, Owner | undefined>();
  let ids: string[];
  try {
    ids = readdirSync(root);
  } catch {
    return owners;
  }
  for (const id of ids) {
    let owner: Owner | undefined;
    try {
      owner = JSON.parse(readText(join(root, id, 'owner')) ?? '') as Owner;
    } catch {
      // An owner killed while writing its first line: its pid and start time are in the name.
      const [pid, start] = id.split('-');
      owner = pid !== undefined && start !== undefined ? { pid: Number(pid), start, boot } : undefined;
    }
    owners.set(id, owner);
  }
  return owners;
}

/** Whether the owner of a state directory lives: this process's own directory always does. */
function lives(id: string, owner: Owner | undefined, boot: string): boolean {
  return id === own?.id || (owner !== undefined && ownerAlive(owner, boot));
}

/**
 * The parents tsbench makes at the root of every cgroup mount (in a delegated scope on a pure v2 host run by
 * systemd, drivers/linux/delegation.ts, which systemd removes with the scope): the container's instances are in
 * `tsbench`, the peer runtimes' and engines' in `tsbench-oci`. Shared by every run on the host, so no run records
 * them as its own.
 */
export const PARENT_CGROUPS: readonly string[] = [PARENT, OCI_PARENT];

/** Whether a cgroup directory has a child cgroup; undefined when it is not there (or cannot be read). */
function hasChildCgroup(dir: string): boolean | undefined {
  try {
    return readdirSync(dir, { withFileTypes: true }).some((e) => e.isDirectory());
  } catch {
    return undefined;
  }
}

/** The cgroup paths (relative to the cgroup mounts) that live owners have recorded, `except`'s not. */
function liveCgroupPaths(except: string | undefined): string[] {
  const root = stateRoot();
  const boot = bootId();
  const paths: string[] = [];
  for (const [id, owner] of stateDirs(root, boot)) {
    if (id === except || !lives(id, owner, boot)) continue;
    for (const r of readRecords(join(root, id))) if (r.kind === 'cgroup') paths.push(r.path);
  }
  return paths;
}

/**
 * Removes tsbench's parent cgroups (PARENT_CGROUPS, at the root of every cgroup mount: each v1 hierarchy and v2)
 * that are empty and that no live owner (a live tsbench process with a state directory; `except` left out, the
 * owner itself at its exit) has recorded anything below. Empty is the kernel's word: rmdir(2) fails with EBUSY on a
 * cgroup that has tasks or child cgroups, so nothing is killed for this, and a cgroup another run makes in it
 * between the check and the rmdir keeps it. A live run's parent is never taken: it records each instance's cgroup
 * below it before making it, and keeps those records until it exits (a parent it made at prepare, before its first
 * record, that a sweep took, it makes again: drivers/linux/cgroups.ts `InstanceCgroups.create`, drivers/oci/cgroups.ts
 * `PeerCgroups.create`). Returns one line per parent removed (`cgroup parent /sys/fs/cgroup/cpu/tsbench-oci`).
 * `names` stands in for PARENT_CGROUPS in tests.
 */
export function removeIdleParents(opts: { except?: string; names?: readonly string[] } = {}): string[] {
  const names = opts.names ?? PARENT_CGROUPS;
  const removed: string[] = [];
  let mounts: string[];
  try {
    mounts = cgroupMounts();
  } catch {
    return removed;
  }
  // Read once, and only when a parent is empty: a long run's records are one line per instance.
  let live: string[] | undefined;
  for (const m of mounts) {
    for (const name of names) {
      const dir = join(m, name);
      // Not there, or a child cgroup in it (the kernel would refuse): nothing to try.
      if (hasChildCgroup(dir) !== false) continue;
      live ??= liveCgroupPaths(opts.except);
      if (live.some((p) => p === name || p.startsWith(`${name}/`))) continue;
      try {
        rmdirSync(dir);
        removed.push(`cgroup parent ${dir}`);
      } catch {
        // EBUSY: tasks in it, or a child made meanwhile; ENOENT: another sweep was first; EPERM: not ours to remove.
      }
    }
  }
  return removed;
}

/**
 * Removes what every dead owner left, then its state directory; leaves a live
 * owner's alone. Then the parents no live owner uses (removeIdleParents): the
 * last cgroup of a dead owner in a parent may have gone before the owner was
 * killed (between two instances), or while another run still had cgroups there.
 * Synchronous (it runs before a command does anything else).
 * `send` sends the SIGKILLs (process.kill; a test's stands in for one that fails).
 */
export function sweep(opts: { send?: SendSignal } = {}): SweepOutcome {
  const root = stateRoot();
  const outcome: SweepOutcome = { removed: [], failed: [] };
  const boot = bootId();
  const owners = stateDirs(root, boot);
  const liveOwners = new Set<number>();
  for (const [id, owner] of owners) if (lives(id, owner, boot)) liveOwners.add(owner?.pid ?? -1);
  for (const [id, owner] of owners) {
    if (owner === undefined || lives(id, owner, boot)) continue;
    const dir = join(root, id);
    const r = sweepRecords(dir, { processes: true, id, liveOwners, send: opts.send });
    outcome.removed.push(...r.removed);
    outcome.failed.push(...r.failed);
    if (r.failed.length === 0) {
      rmSync(dir, { recursive: true, force: true });
      outcome.removed.push(`state ${dir}`);
    }
  }
  outcome.removed.push(...removeIdleParents());
  return outcome;
}
