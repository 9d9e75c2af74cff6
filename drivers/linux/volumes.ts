/**
 * Checks of `--volume HOST:GUEST`, the one place both sides use: `tsbench exec` before it makes
 * anything (a UsageError, exit 2) and every driver that binds host paths when it launches (a
 * TargetError), so the CLI and the drivers never disagree about a volume.
 */
import { stat } from 'node:fs/promises';
import { posix } from 'node:path';
import { describeError } from '../../core/errors.js';
import type { Volume } from '../types.js';

/**
 * The trees of an instance that the kernel provides and the launcher mounts itself (procfs, sysfs,
 * the /dev it populates): no volume goes on one of them or anywhere below. runc's rule
 * (libcontainer's `checkProcMount`) refuses a mount on /proc unless it is a procfs, and anything
 * inside /proc but for a few files lxcfs emulates, because a mount there can hide or replace what
 * the confinement masks or makes read-only (/proc/sys, /proc/kcore). tsbench binds host paths
 * only, has no lxcfs, and reads its figures through these trees (/proc/self, the cgroup under
 * /sys/fs/cgroup, /dev/shm's tmpfs), so it applies the same rule to all three, subpaths included:
 * a volume at /proc/meminfo would make the workload's view of memory a lie, one below /sys would
 * be a writable hole in a read-only sysfs, one at /dev/shm would swap the instance's tmpfs for a
 * host directory.
 */
export const KERNEL_TREES = ['/proc', '/sys', '/dev'] as const;

/**
 * Why `guestPath`, an absolute path, is no place for a volume, or undefined when it is fine. The path is judged as the
 * instance's kernel would walk it, lexically (`/./proc`, `/dev/..//proc` and `/proc/` are `/proc`);
 * the image has no symbolic links into these trees.
 */
export function destinationProblem(guestPath: string): string | undefined {
  const dest = posix.normalize(guestPath).replace(/(.)\/+$/, '$1');
  if (dest === '/') return `/ is not a valid mount destination: it would hide the whole image, ${KERNEL_TREES.join(', ')} with it`;
  for (const tree of KERNEL_TREES) {
    if (dest === tree) return `${dest} is not a valid mount destination: it would hide the instance's own ${tree}`;
    if (dest.startsWith(`${tree}/`)) return `${dest} is not a valid mount destination: nothing is mounted inside ${tree}, which the kernel provides`;
  }
  return undefined;
}

/** What is wrong with the volumes, as a one-line message naming the fix; undefined when they are fine. */
export async function volumeProblem(volumes: readonly Volume[]): Promise<{ message: string; cause?: unknown } | undefined> {
  for (const v of volumes) {
    if (!v.hostPath.startsWith('/') || !v.guestPath.startsWith('/') || v.hostPath.includes(':') || v.guestPath.includes(':')) {
      return { message: `volume ${v.hostPath}:${v.guestPath}: both paths must be absolute and without ':', e.g. --volume /tmp/data:/data` };
    }
    const dest = destinationProblem(v.guestPath);
    if (dest !== undefined) {
      return {
        message: `volume ${v.hostPath}:${v.guestPath}: ${dest}; mount it elsewhere, e.g. --volume ${v.hostPath}:/data`,
      };
    }
    try {
      await stat(v.hostPath);
    } catch (e) {
      return { message: `volume ${v.hostPath} does not exist on the host (${describeError(e)}): create it or fix --volume`, cause: e };
    }
  }
  return undefined;
}
