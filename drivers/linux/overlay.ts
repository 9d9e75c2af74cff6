/**
 * The overlay root of a Linux container, shared by `container` (mounted by the
 * launcher inside the timed clone) and `runc`/`crun` (mounted by tsbench before
 * the runtime starts): the mount options for a throw-away upper layer, and what
 * that upper layer holds (claim C9, `LaunchRequest.measureUpper`).
 */
import { lstat, readdir } from 'node:fs/promises';
import { kernelVersion, versionAtLeast } from './kernel.js';
import { join } from 'node:path';

/**
 * Overlay options for an upper layer thrown away at exit: `volatile` (Linux
 * 5.10+) skips every sync, which makes the unmount at exit 6× cheaper;
 * `uuid=off` (5.11+) skips writing a uuid xattr to the upper layer at mount.
 */
export function overlayOptions(): string[] {
  const kernel = kernelVersion();
  return [...(versionAtLeast(kernel, [5, 10]) ? ['volatile'] : []), ...(versionAtLeast(kernel, [5, 11]) ? ['uuid=off'] : [])];
}

/** What a directory tree holds on disk: allocated bytes (st_blocks × 512, the root included) and entries below the root. */
export async function treeUsage(root: string): Promise<{ bytes: number; entries: number }> {
  let bytes = (await lstat(root)).blocks * 512;
  let entries = 0;
  for (const e of await readdir(root, { withFileTypes: true, recursive: true })) {
    // An entry can vanish while the workload runs: count what is still there.
    const st = await lstat(join(e.parentPath, e.name)).catch(() => undefined);
    if (!st) continue;
    bytes += st.blocks * 512;
    entries++;
  }
  return { bytes, entries };
}
