/**
 * The VM's data disk: a sparse raw file formatted ext4 on the host (no mount
 * needed), attached as virtio-blk and mounted by the agent at /data.
 */
import { open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ExecaError } from 'execa';
import { makeOwnedDir } from '../ownership.js';

/** A fresh temporary directory for one driver's disks; its name says tsbench made it; recorded for the sweep (drivers/ownership.ts). */
export async function makeScratchDir(): Promise<string> {
  return makeOwnedDir(join(tmpdir(), 'tsbench-qemu-'));
}

/** Creates `path` as a sparse file of `bytes` and formats it ext4. Throws with mkfs's last line. */
export async function createDataDisk(path: string, bytes: number): Promise<void> {
  const file = await open(path, 'wx');
  try {
    await file.truncate(bytes);
  } finally {
    await file.close();
  }
  try {
    // -F: it is a file, not a block device; no lazy init threads to race with in the guest.
    await execa('mkfs.ext4', ['-F', '-q', '-E', 'lazy_itable_init=0,lazy_journal_init=0', path], { stdin: 'ignore' });
  } catch (e) {
    await rm(path, { force: true });
    const err = e as ExecaError;
    if ((err.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT')
      throw new Error('mkfs.ext4 not found: the data disk needs it (Debian: apt-get install e2fsprogs)', { cause: e });
    const detail =
      String(err.stderr ?? '')
        .trim()
        .split('\n')
        .pop() ?? err.shortMessage;
    throw new Error(`mkfs.ext4 ${path} failed: ${detail}`, { cause: e });
  }
}
