/**
 * cgroups of peer-runtime instances. The runtime makes and removes the
 * instance's own cgroup (`linux.cgroupsPath` = `/tsbench-oci/<id>/ct`) and writes
 * the limits there; it also removes it as soon as the container exits, so the
 * accounting would go with it. tsbench therefore makes the parent
 * `/tsbench-oci/<id>` first in every hierarchy it reads, and reads that parent at
 * exit: v1 cpuacct.usage and memory.max_usage_in_bytes and every v2 counter
 * (cpu.stat, memory.peak, memory.events, io.stat) are hierarchical and keep
 * what a removed child used. The v1 OOM counter is not hierarchical: see
 * drivers/oci/kmsg.ts.
 */
import { existsSync, readFileSync, readdirSync, rmdirSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { cgroupMounts, killCgroupProcs, readAccounting, removeCgroupDir, removeCgroupDirSync, type CgroupHost, type Hierarchy } from '../linux/cgroups.js';
import type { Accounting } from '../types.js';

/** The directory under each hierarchy that holds the peer runtimes' cgroups. */
export const OCI_PARENT = 'tsbench-oci';

/** Removes the empty tsbench-oci parents; one another run still uses stays. */
export function removePeerParentsSync(): void {
  for (const m of cgroupMounts()) {
    try {
      rmdirSync(join(m, OCI_PARENT));
    } catch {
      // Busy or gone.
    }
  }
}

export class PeerCgroups {
  /** `linux.cgroupsPath` for the runtime. */
  readonly cgroupsPath: string;
  private readonly parentRel: string;

  constructor(
    private readonly host: CgroupHost,
    readonly id: string,
  ) {
    this.parentRel = join(OCI_PARENT, id);
    this.cgroupsPath = `/${this.parentRel}/ct`;
  }

  private parent(h: Hierarchy): string {
    return join(h.mount, this.parentRel);
  }

  /** The runtime's cgroup (the leaf `ct`) in the hierarchy that holds `controller`. */
  leaf(controller: 'memory' | 'cpu' | 'pids'): string | undefined {
    const h = this.host.hierarchies.find((x) => x.controllers.includes(controller));
    return h ? join(h.mount, this.cgroupsPath) : undefined;
  }

  /** The cgroup mounts tsbench reads them in, for messages. */
  where(): string {
    return this.host.hierarchies.map((h) => h.mount).join(', ');
  }

  /** `tsbench-oci/<id>` (the runtime's leaf `ct` is in it), under every cgroup mount. */
  relative(): string[] {
    return [this.parentRel];
  }

  /** Makes the parents that keep the accounting (the runtime writes the limits in its leaf). */
  async create(): Promise<void> {
    for (const h of this.host.hierarchies) await mkdir(this.parent(h), { recursive: true });
  }

  /** Whether the kernel accounts swap in the memory hierarchy (then `memory.swap` = the limit means no swap, as in `container`). */
  swapAccounting(): boolean {
    const h = this.host.hierarchies.find((x) => x.controllers.includes('memory'));
    if (!h) return false;
    return existsSync(join(this.parent(h), h.version === 1 ? 'memory.memsw.limit_in_bytes' : 'memory.swap.max'));
  }

  /**
   * Pids in the instance's cgroups now: the parent's and its children's (runc
   * and crun make `ct`, docker and podman a directory named by the container
   * id). The runtime's own parent process stays outside, as the launcher does.
   */
  pidsSync(): number[] {
    const h = this.host.hierarchies.find((x) => x.controllers.includes('memory'));
    if (!h) return [];
    const parent = this.parent(h);
    const pids: number[] = [];
    const procsOf = (dir: string): void => {
      try {
        for (const l of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n')) if (l.length > 0) pids.push(Number(l));
      } catch {
        // Gone meanwhile.
      }
    };
    procsOf(parent);
    try {
      for (const e of readdirSync(parent, { withFileTypes: true })) if (e.isDirectory()) procsOf(join(parent, e.name));
    } catch {
      // No parent.
    }
    return pids;
  }

  /** Reads the parents' counters (which include the removed leaf's). */
  read(): Promise<Accounting> {
    const dirs = this.host.hierarchies.map((h) => ({ hierarchy: h, path: this.parent(h) }));
    return readAccounting(dirs, { v1Blkio: 'blkio.throttle.io_service_bytes_recursive', v1OomKills: false });
  }

  /**
   * Removes the leaf (left behind when the runtime was killed) and the parent in
   * every cgroup mount: the runtime makes them in hierarchies tsbench does not
   * read too (cpuset, devices, freezer, name=systemd, the unified one). Processes
   * still in a leaf are killed first. Retries a cgroup whose tasks are still exiting.
   */
  async remove(waitMs = 2000): Promise<void> {
    const deadline = Date.now() + waitMs;
    for (const m of cgroupMounts()) {
      for (const dir of [join(m, this.cgroupsPath), join(m, this.parentRel)]) await removeCgroupDir(dir, deadline, () => killCgroupProcs(dir));
    }
  }

  /** The same, synchronously, for process 'exit'. */
  removeSync(waitMs = 2000): void {
    const deadline = Date.now() + waitMs;
    for (const m of cgroupMounts()) {
      for (const dir of [join(m, this.cgroupsPath), join(m, this.parentRel)]) {
        if (existsSync(dir)) removeCgroupDirSync(dir, deadline, () => killCgroupProcs(dir));
      }
    }
  }
}
