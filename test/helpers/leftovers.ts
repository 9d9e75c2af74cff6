/**
 * What a tsbench process may leave on the host, for every kind of target, in one
 * place: the driver contract suite and the per-driver tests ask the same
 * question the same way.
 *
 * The traces, by the names tsbench gives them (each tagged with the owner's pid):
 * - `container`: instance directories `tsbench-ct-<pid>-<n>-*` in the temp dir, cgroups
 *   `tsbench/<pid>-<n>` in every hierarchy, their overlay mounts, and processes whose
 *   root is such a directory or whose command line names `tsbench-<pid>-<n>` (the hostname).
 * - `runc`/`crun`/`runsc`/`runsc-kvm` (and `podman`/`docker`: their cgroups, containers named so, their clients; runsc's
 *   Sentry and gofer name the bundle in their command lines): instance cgroups `tsbench-oci/tsbench-<runtime>-<pid>-<n>`, bundles and
 *   runtime state of that id in the driver's directory, the instance's overlay root mounted in
 *   the driver's private mount namespace, the runtime's processes; and, as driver state, the
 *   driver's directory `tsbench-oci-<runtime>-<pid>-*` and the idle process holding the namespace.
 * - VMs: `qemu-system-*` processes. They carry no tag, so the caller names the process
 *   groups it launched (`groups`) and the helper also looks at the owner's descendants;
 *   a driver's scratch directory `tsbench-qemu-*` is untagged too: give a `baseline`.
 * - any target: a process left in one of the launched process groups (`groups`).
 * - the net scenario: its network namespaces `tsbench-<pid>-<start>-<n>-p`/`-i` in /run/netns (with them go
 *   their veth pairs, bridges, taps and nftables rules).
 * - `container`, as driver state: its compiled seccomp filter's directory `tsbench-seccomp-*` (untagged: give a `baseline`).
 * - the io scenario: its scratch directories `tsbench-io-*` (untagged: give a `baseline`).
 * - any process: its ownership state directory `<stateRoot>/<pid>-<starttime>` (drivers/ownership.ts),
 *   once the owner is gone (a live owner keeps it until it exits), and any process still carrying
 *   its `TSBENCH_OWNER` mark.
 * - no one's: the parents every run shares, `tsbench` and `tsbench-oci` at the root of every cgroup
 *   mount, once empty and no live owner has anything recorded below them (`strayParents`); and, for a
 *   test that may say nothing else runs, every `tsbench*` directory in any cgroup hierarchy
 *   (`cgroupTraces`, as `find /sys/fs/cgroup -name 'tsbench*'`).
 */
import { existsSync, readFileSync, readdirSync, readlinkSync, type Dirent } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DIR_PREFIX } from '../../drivers/container/index.js';
import { PARENT, detectCgroups } from '../../drivers/linux/cgroups.js';
import { cgroupMounts } from '../../drivers/linux/cgroups.js';
import { OCI_PARENT } from '../../drivers/oci/cgroups.js';
import { OCI_DIR_PREFIX } from '../../drivers/oci/runtime.js';
import { OWNER_ENV, PARENT_CGROUPS, ownerAlive, stateRoot, type Owner } from '../../drivers/ownership.js';

export interface LeftoverOptions {
  /**
   * Also report what a prepared driver keeps until its teardown (a peer runtime's directory
   * and mount-namespace holder). @default true: after a teardown, or once the owner is gone,
   * nothing at all may be left.
   */
  driverState?: boolean;
  /** Process groups the caller saw its instances run in (see `groupsOf`); any live member is a leftover. */
  groups?: readonly number[];
  /** `tsbench-*` names in the temp dir before the test began (`tempEntries()`); a new untagged one is a leftover. */
  baseline?: ReadonlySet<string>;
}

/** Live processes: pid, parent, process group, command line, state. */
interface Proc {
  pid: number;
  ppid: number;
  pgrp: number;
  cmdline: string;
}

function processes(): Proc[] {
  const out: Proc[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const [state, ppid, pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (state === 'Z' || state === 'X') continue; // exited, only not yet reaped
      out.push({ pid: Number(p), ppid: Number(ppid), pgrp: Number(pgrp), cmdline: readFileSync(`/proc/${p}/cmdline`, 'utf8').replace(/\0/g, ' ').trim() });
    } catch {
      // Gone meanwhile, or a kernel thread.
    }
  }
  return out;
}

/** Pids of every live descendant of `root`. */
export function descendants(root: number, all: Proc[] = processes()): number[] {
  const found: number[] = [];
  const walk = (pid: number): void => {
    for (const p of all) {
      if (p.ppid !== pid) continue;
      found.push(p.pid);
      walk(p.pid);
    }
  };
  walk(root);
  return found;
}

/** The process groups of these pids and of the owner's descendants (the launcher leads one per instance), the owner's own group excepted. */
export function groupsOf(pids: readonly number[], owner = process.pid): number[] {
  const all = processes();
  const ownGroup = all.find((p) => p.pid === owner)?.pgrp;
  const wanted = new Set([...pids, ...descendants(owner, all)]);
  return [...new Set(all.filter((p) => wanted.has(p.pid)).map((p) => p.pgrp))].filter((g) => g !== ownGroup);
}

/** The `tsbench-*` entries of the temp dir now, as a baseline for `leftovers`. */
export function tempEntries(): Set<string> {
  return new Set(readdirSync(tmpdir()).filter((n) => n.startsWith('tsbench-')));
}

/** Every trace of a tsbench process (by pid) found on the host, one line each; [] when it left nothing. */
export function leftovers(ownerPid: number, options: LeftoverOptions = {}): string[] {
  const driverState = options.driverState ?? true;
  const found: string[] = [];
  const tmp = tmpdir();
  const ct = `${DIR_PREFIX}${ownerPid}-`;
  const ociInstance = new RegExp(`tsbench-(runc|crun|podman|docker|runsc|runsc-kvm)-${ownerPid}-\\d+`);
  const ociDriverDir = (name: string): boolean => name.startsWith(OCI_DIR_PREFIX) && name.includes(`-${ownerPid}-`);

  // Temp directories: the container's, the peer drivers' (and the bundles inside), VM scratch dirs.
  for (const name of readdirSync(tmp)) {
    if (name.startsWith(ct)) found.push(`dir ${join(tmp, name)}`);
    else if (ociDriverDir(name)) {
      if (driverState) found.push(`dir ${join(tmp, name)}`);
      for (const sub of ['', 'state']) {
        for (const e of safeReaddir(join(tmp, name, sub))) if (ociInstance.test(e)) found.push(`dir ${join(tmp, name, sub, e)}`);
      }
    } else if (/^tsbench-(qemu|io)-/.test(name) && options.baseline !== undefined && !options.baseline.has(name)) found.push(`dir ${join(tmp, name)}`);
    // A prepared container driver's compiled seccomp filter: driver state, removed at teardown.
    else if (name.startsWith('tsbench-seccomp-') && driverState && options.baseline !== undefined && !options.baseline.has(name))
      found.push(`dir ${join(tmp, name)}`);
  }

  // Its ownership state, once it is gone (a live owner keeps its directory until it exits).
  const owners = safeReaddir(stateRoot()).filter((id) => id.startsWith(`${ownerPid}-`));
  if (driverState && !isRunning(ownerPid)) for (const id of owners) found.push(`state ${join(stateRoot(), id)}`);

  // Network namespaces (drivers/linux/network.ts): `tsbench-<pid>-<start>-<n>…` under /run/netns, the devices and rules inside them.
  for (const name of safeReaddir('/run/netns')) if (name.startsWith(`tsbench-${ownerPid}-`)) found.push(`netns ${name}`);

  // cgroups: the container's `tsbench/<pid>-<n>`, the peers' `tsbench-oci/tsbench-<runtime>-<pid>-<n>`.
  for (const h of detectCgroups().hierarchies) {
    for (const name of safeReaddir(join(h.mount, PARENT))) if (name.startsWith(`${ownerPid}-`)) found.push(`cgroup ${join(h.mount, PARENT, name)}`);
  }
  for (const m of cgroupMounts()) {
    for (const name of safeReaddir(join(m, OCI_PARENT))) if (ociInstance.test(name)) found.push(`cgroup ${join(m, OCI_PARENT, name)}`);
  }

  // Mounts, in the host's table and in every other mount namespace (a peer driver's private one).
  const all = processes();
  const seenNs = new Set<string>([safeReadlink('/proc/self/ns/mnt') ?? '']);
  const mountTables: [string, string][] = [['host', safeRead('/proc/self/mounts') ?? '']];
  for (const p of all) {
    const ns = safeReadlink(`/proc/${p.pid}/ns/mnt`);
    if (ns === undefined || seenNs.has(ns)) continue;
    seenNs.add(ns);
    mountTables.push([`mount namespace of ${p.pid} (${p.cmdline})`, safeRead(`/proc/${p.pid}/mounts`) ?? '']);
  }
  for (const [where, table] of mountTables) {
    for (const line of table.split('\n')) {
      if (line.includes(ct) || ociInstance.test(line)) found.push(`mount in ${where}: ${line}`);
    }
  }

  // Processes: named after an instance, rooted in one, in a launched group, or a peer namespace holder.
  const groups = new Set(options.groups ?? []);
  const owned = new Set(descendants(ownerPid, all));
  const mark = `\0${OWNER_ENV}=${ownerPid}-`;
  const ownerGone = !isRunning(ownerPid);
  for (const p of all) {
    if (p.pid === process.pid) continue;
    const marked = ownerGone && `\0${safeRead(`/proc/${p.pid}/environ`) ?? ''}`.includes(mark);
    const root = safeReadlink(`/proc/${p.pid}/root`) ?? '';
    const why =
      p.cmdline.includes(`tsbench-${ownerPid}-`) || root.includes(ct) || ociInstance.test(p.cmdline)
        ? 'an instance'
        : groups.has(p.pgrp)
          ? `launched group ${p.pgrp}`
          : owned.has(p.pid) && /(^|\/)(tsbench-launch|tsbench-agent|qemu-system-\S+|runc|crun|runsc|nsenter) /.test(`${p.cmdline} `)
            ? 'a child of the owner'
            : driverState && holdsPeerMounts(p.pid, ownerPid)
              ? "a peer driver's mount namespace holder"
              : marked
                ? `marked ${OWNER_ENV} by the gone owner`
                : undefined;
    if (why !== undefined) found.push(`process ${p.pid} (${why}): ${p.cmdline}`);
  }
  return found;
}

/** The cgroup paths (relative to every cgroup mount) that live owners have recorded, but `except`'s (by pid). */
export function liveCgroupRecords(except?: number): string[] {
  const paths: string[] = [];
  for (const id of safeReaddir(stateRoot())) {
    let owner: Owner;
    try {
      owner = JSON.parse(readFileSync(join(stateRoot(), id, 'owner'), 'utf8')) as Owner;
    } catch {
      continue;
    }
    if (owner.pid === except || !ownerAlive(owner)) continue;
    for (const line of (safeRead(join(stateRoot(), id, 'resources')) ?? '').split('\n')) {
      try {
        const r = JSON.parse(line) as { kind: string; path?: string };
        if (r.kind === 'cgroup' && r.path !== undefined) paths.push(r.path);
      } catch {
        // Empty, or cut short.
      }
    }
  }
  return paths;
}

/** Whether a cgroup path (relative to its mount) is one of these records, inside one, or above one. */
function accounted(relative: string, records: readonly string[]): boolean {
  return records.some((r) => r === relative || relative.startsWith(`${r}/`) || r.startsWith(`${relative}/`));
}

/**
 * tsbench's parent cgroups (`tsbench`, `tsbench-oci` at the root of every cgroup mount) that nothing keeps: no child
 * cgroup in them (another run's, or a dead owner's, which `leftovers` names) and no live owner's record below them,
 * `except`'s (a pid) not counted. One line each; [] when the sweeps did their part.
 */
export function strayParents(except?: number): string[] {
  const records = liveCgroupRecords(except);
  const found: string[] = [];
  for (const m of cgroupMounts()) {
    for (const name of PARENT_CGROUPS) {
      const dir = join(m, name);
      if (!existsSync(dir) || accounted(name, records)) continue;
      const children = safeDirents(dir).filter((e) => e.isDirectory());
      if (children.length === 0) found.push(`cgroup parent ${dir}`);
    }
  }
  return found;
}

/**
 * Every `tsbench*` directory in any cgroup hierarchy, at any depth (`find /sys/fs/cgroup -name 'tsbench*'`), but
 * those a live owner has recorded (or is inside or above: its instance's own leaf, its parent) and, where systemd
 * runs, its `tsbench.slice` (systemd's, with its own rules: docker's slices, tsbench's delegated scopes). One line
 * each; for a test that may say no other tsbench has anything there.
 */
export function cgroupTraces(except?: number): string[] {
  const records = liveCgroupRecords(except);
  const systemd = existsSync('/run/systemd/system');
  const found: string[] = [];
  const walk = (mount: string, relative: string, depth: number): void => {
    if (depth > 6) return;
    for (const e of safeDirents(join(mount, relative))) {
      if (!e.isDirectory()) continue;
      const rel = relative === '' ? e.name : join(relative, e.name);
      if (e.name.startsWith('tsbench') && !(systemd && rel === 'tsbench.slice') && !accounted(rel, records)) found.push(`cgroup ${join(mount, rel)}`);
      walk(mount, rel, depth + 1);
    }
  };
  for (const m of cgroupMounts()) walk(m, '', 0);
  return found;
}

/** Polls `strayParents` (or another such check) until it is empty or `ms` have passed; returns the last answer. */
export async function settled(check: () => string[], ms = 2000): Promise<string[]> {
  const deadline = Date.now() + ms;
  let found = check();
  while (found.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    found = check();
  }
  return found;
}

/** Whether a process sits in a mount namespace holding a peer driver's tmpfs of that owner (the `unshare … sleep infinity` holder). */
function holdsPeerMounts(pid: number, ownerPid: number): boolean {
  if (!(safeReadlink(`/proc/${pid}/exe`) ?? '').endsWith('/sleep')) return false;
  const mounts = safeRead(`/proc/${pid}/mounts`) ?? '';
  return mounts.split('\n').some((l) => l.includes(OCI_DIR_PREFIX) && l.includes(`-${ownerPid}-`));
}

/** Polls `leftovers` until it is empty or `ms` have passed (a killed process takes a moment to be reaped); returns the last answer. */
export async function settledLeftovers(ownerPid: number, options: LeftoverOptions = {}, ms = 2000): Promise<string[]> {
  const deadline = Date.now() + ms;
  let found = leftovers(ownerPid, options);
  while (found.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    found = leftovers(ownerPid, options);
  }
  return found;
}

/** Whether a process runs (a zombie does not). */
function isRunning(pid: number): boolean {
  const stat = safeRead(`/proc/${pid}/stat`);
  if (stat === undefined) return false;
  const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
  return state !== 'Z' && state !== 'X';
}

/** The names in `dir`, or none where it is missing or unreadable. */
export function safeReaddir(dir: string): string[] {
  try {
    return existsSync(dir) ? readdirSync(dir) : [];
  } catch {
    return [];
  }
}

function safeDirents(dir: string): Dirent[] {
  try {
    return readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
}

function safeRead(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function safeReadlink(path: string): string | undefined {
  try {
    return readlinkSync(path);
  } catch {
    return undefined;
  }
}
