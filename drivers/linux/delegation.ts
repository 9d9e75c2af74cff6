/**
 * On a host run by systemd with a pure cgroup v2 hierarchy (current Debian, Ubuntu, Fedora, GitHub's
 * runners), the tree belongs to systemd: a process may make cgroups only in a subtree delegated to it
 * (systemd's "Control Group APIs and Delegation"). tsbench asks for one, as container managers do: a
 * transient scope `tsbench-<pid>.scope` in `tsbench.slice` with `Delegate=yes`, holding one small
 * process that ends when tsbench does (`tail --pid=<tsbench> -f /dev/null`, started through
 * `systemd-run --scope`). The holder moves into a leaf `supervisor` of the scope (cgroup v2 lets a
 * cgroup have processes or enabled controllers, not both); tsbench then enables its controllers in
 * the scope and makes its parents (`tsbench`, `tsbench-oci`) inside it. When tsbench exits (or is
 * killed: `tail` sees it go within a second) the scope empties and systemd removes it with everything
 * below. On other hosts (v1, hybrid, v2 without systemd) tsbench's parents stay at the root of each
 * hierarchy, where no manager claims the tree.
 */
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { atExit } from '../../core/exit.js';
import { describeError } from '../../core/errors.js';
import { record } from '../ownership.js';
import { cgroupBase, cgroupLayoutOf, setCgroupBase } from './cgroups.js';

/** The slice tsbench's scopes are made in. */
export const SLICE = 'tsbench.slice';

/** How tsbench's cgroups are placed on this host: what `tsbench targets` says. */
export interface Delegation {
  /** `root`: parents at each hierarchy's root; `systemd-scope`: in a scope systemd delegated to this process. */
  mode: 'root' | 'systemd-scope';
  /** The directory tsbench's parents are made in, e.g. /sys/fs/cgroup/tsbench.slice/tsbench-123.scope. */
  where: string;
  /** Why the root: no systemd, not pure v2, or the scope could not be had (with systemd-run's words). */
  why: string;
}

/** Whether systemd runs this host (sd_booted(): /run/systemd/system exists). */
export function systemdBooted(): boolean {
  return existsSync('/run/systemd/system');
}

/** Whether the cgroup mount at /sys/fs/cgroup is the v2 hierarchy and no v1 hierarchy is mounted. */
export function pureV2(mounts: string = readFileSync('/proc/self/mounts', 'utf8')): boolean {
  return cgroupLayoutOf(mounts) === 'v2';
}

let decided: Promise<Delegation> | undefined;

/**
 * Where this process's cgroups go, decided once per process: on a pure v2 host booted by systemd, a
 * delegated scope (made on the first call, before any cgroup of tsbench's); elsewhere the root.
 */
export function delegation(mount = '/sys/fs/cgroup'): Promise<Delegation> {
  decided ??= decide(mount);
  return decided;
}

async function decide(mount: string): Promise<Delegation> {
  const root = (why: string): Delegation => ({ mode: 'root', where: mount, why });
  if (!pureV2()) return root('not a pure cgroup v2 host: tsbench makes its parents at the root of each hierarchy');
  if (!systemdBooted()) return root('no systemd manages this cgroup v2 tree: tsbench makes its parents at its root');
  const scope = `tsbench-${process.pid}.scope`;
  const relative = join(SLICE, scope);
  const dir = join(mount, relative);
  // The holder: in the scope from its first instruction (systemd-run --scope execs it there), gone within
  // a second of tsbench; in a process group of its own, recorded so that a sweep ends it too.
  const holder = execa(
    'systemd-run',
    [
      '--scope',
      '--quiet',
      '--collect',
      `--unit=${scope}`,
      `--slice=${SLICE}`,
      '--property=Delegate=yes',
      '--',
      'tail',
      `--pid=${process.pid}`,
      '-f',
      '/dev/null',
    ],
    { detached: true, stdin: 'ignore', stdout: 'ignore', stderr: 'pipe', reject: false },
  );
  const pid = holder.pid;
  if (pid === undefined) {
    const r = await holder;
    return root(`systemd-run could not start (${r.shortMessage}), so no delegated scope: tsbench makes its parents at the root`);
  }
  record({ kind: 'pgroup', pgid: pid });
  const kill = (): void => {
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // Gone.
    }
  };
  atExit(kill, 'last');
  let stderr = '';
  holder.stderr?.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  let ended = false;
  void holder.then(() => (ended = true));
  const deadline = Date.now() + 20_000;
  for (;;) {
    const at = procFile(pid, 'cgroup');
    if (at.includes(`0::/${relative}\n`) && /\btail\b/.test(procFile(pid, 'cmdline'))) break;
    if (ended || Date.now() > deadline) {
      kill();
      return root(
        `systemd did not give tsbench a delegated scope (systemd-run: ${stderr.trim() || (ended ? 'exited' : 'no answer in 20 s')}): tsbench makes its parents at the root`,
      );
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  try {
    await mkdir(join(dir, 'supervisor'));
    await writeFile(join(dir, 'supervisor', 'cgroup.procs'), String(pid));
  } catch (e) {
    kill();
    return root(`cannot move the scope's holder into its leaf (${describeError(e)}): tsbench makes its parents at the root`);
  }
  // The holder lives on alone: tsbench does not wait for it (its exit hook and tail --pid end it).
  holder.stderr?.destroy();
  holder.unref();
  setCgroupBase(relative);
  return {
    mode: 'systemd-scope',
    where: dir,
    why: `systemd runs this cgroup v2 host: a transient scope with Delegate=yes in ${SLICE}, removed by systemd when tsbench ends`,
  };
}

function procFile(pid: number, name: string): string {
  try {
    return readFileSync(`/proc/${pid}/${name}`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

/** One line for probes: where tsbench's cgroups are and why. */
export function describeDelegation(d: Delegation): string {
  return d.mode === 'systemd-scope' ? `${d.where} (${d.why})` : `${join(d.where, cgroupBase())} (${d.why})`;
}
