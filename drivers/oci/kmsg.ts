/**
 * OOM kills of peer-runtime containers, from the kernel log. On cgroup v1 the
 * `oom_kill` counter lives in the cgroup whose limit was hit (the runtime's leaf)
 * and is not added to its parent, and the runtime removes the leaf when the
 * container exits, before tsbench can read it. The kernel also logs every
 * memcg OOM kill to /dev/kmsg as
 *   `oom-kill:constraint=CONSTRAINT_MEMCG,…,oom_memcg=/tsbench-oci/<id>/ct,…`
 * with the cgroup's path from the hierarchy root, so counting those records
 * per path gives the same figure. One reader per driver: it skips what was
 * logged before it opened, then collects records whenever an instance ends
 * (`accountUnder`, which forgets what it counted).
 */
import { closeSync, constants, openSync, readSync } from 'node:fs';
import type { Accounting } from '../types.js';

export class OomLog {
  private fd: number | undefined;
  private readonly kills = new Map<string, number>();
  private readonly buf = Buffer.alloc(8192);

  /** Opens /dev/kmsg and skips the records already there. False when the log cannot be read (then counts are unknown). */
  open(): boolean {
    if (this.fd !== undefined) return true;
    try {
      this.fd = openSync('/dev/kmsg', constants.O_RDONLY | constants.O_NONBLOCK);
    } catch {
      return false;
    }
    this.drain(false);
    return true;
  }

  get available(): boolean {
    return this.fd !== undefined;
  }

  /** Reads every new record; with `count`, tallies memcg OOM kills by cgroup path. */
  private drain(count: boolean): void {
    if (this.fd === undefined) return;
    for (;;) {
      let n: number;
      try {
        n = readSync(this.fd, this.buf, 0, this.buf.length, null);
      } catch (e) {
        // EPIPE: records were overwritten before we read them; the next read goes on with the oldest left.
        if ((e as NodeJS.ErrnoException).code === 'EPIPE') continue;
        return; // EAGAIN: nothing more for now.
      }
      if (n <= 0) return;
      if (!count) continue;
      const record = this.buf.toString('utf8', 0, n);
      const m = /oom-kill:.*\boom_memcg=([^,\s]+)/.exec(record);
      if (m?.[1]) this.kills.set(m[1], (this.kills.get(m[1]) ?? 0) + 1);
    }
  }

  /**
   * OOM kills logged so far in any cgroup under `prefix` (`/tsbench-oci/<name>/`: an engine names its
   * own cgroup inside the parent, `<id>` or `libpod-<id>`), which are then forgotten; undefined when
   * the log is unreadable.
   */
  killsUnder(prefix: string): number | undefined {
    if (this.fd === undefined) return undefined;
    this.drain(true);
    let n = 0;
    for (const [path, kills] of [...this.kills]) {
      if (!path.startsWith(prefix)) continue;
      n += kills;
      this.kills.delete(path);
    }
    return n;
  }

  /**
   * `InstanceSpec.account` of a peer instance whose cgroups are under `prefix`: where the cgroups
   * counted no OOM kill (v1: the leaf whose limit was hit is gone), the kills the log has there.
   */
  accountUnder(prefix: string): (accounting: Accounting) => void {
    return (accounting) => {
      const kills = this.killsUnder(prefix);
      if (kills !== undefined && accounting.oomKills === undefined) accounting.oomKills = kills;
    };
  }

  close(): void {
    if (this.fd === undefined) return;
    try {
      closeSync(this.fd);
    } catch {
      // Already closed.
    }
    this.fd = undefined;
  }
}
