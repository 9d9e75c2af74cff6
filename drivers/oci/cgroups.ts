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
import { execa } from 'execa';
import { join } from 'node:path';
import {
  cgroupBase,
  cgroupMounts,
  parentDir,
  readAccounting,
  removeCgroupTree,
  removeCgroupTreeSync,
  type CgroupHost,
  type Hierarchy,
} from '../linux/cgroups.js';
import type { Accounting } from '../types.js';

/** The directory under each hierarchy that holds the peer runtimes' cgroups. */
export const OCI_PARENT = 'tsbench-oci';

/** The parent of a peer instance's cgroups, relative to every cgroup mount: `<base>/tsbench-oci/<id>`. */
export function peerParent(id: string): string {
  return join(cgroupBase(), OCI_PARENT, id);
}

/**
 * Removes the empty tsbench-oci parents at a driver's teardown (a cgroup another run still has in one keeps it:
 * the kernel's EBUSY). What a SIGKILLed run leaves, the ownership sweep removes (drivers/ownership.ts removeIdleParents).
 */
export function removePeerParentsSync(): void {
  for (const m of cgroupMounts()) {
    try {
      rmdirSync(parentDir(m, OCI_PARENT));
    } catch {
      // Busy or gone.
    }
  }
}

/** The pids in cgroup `dir` and in its child cgroups that `child` accepts (by name), now; none of a cgroup gone meanwhile. */
function procsInAndBelow(dir: string, child: (name: string) => boolean = () => true): number[] {
  const pids: number[] = [];
  const procsOf = (d: string): void => {
    try {
      for (const l of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n')) if (l.length > 0) pids.push(Number(l));
    } catch {
      // Gone meanwhile.
    }
  };
  procsOf(dir);
  try {
    for (const e of readdirSync(dir, { withFileTypes: true })) if (e.isDirectory() && child(e.name)) procsOf(join(dir, e.name));
  } catch {
    // Not made yet, or gone.
  }
  return pids;
}

export class PeerCgroups {
  /** `linux.cgroupsPath` for the runtime. */
  readonly cgroupsPath: string;
  private readonly parentRel: string;

  constructor(
    private readonly host: CgroupHost,
    readonly id: string,
  ) {
    this.parentRel = peerParent(id);
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
    for (const h of this.host.hierarchies) {
      try {
        await mkdir(this.parent(h), { recursive: true });
      } catch (e) {
        // Another command's sweep removed the empty `tsbench-oci` between the two levels (it had read the records before
        // this instance's; drivers/ownership.ts removeIdleParents): make both again.
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
        await mkdir(this.parent(h), { recursive: true });
      }
    }
  }

  /** Whether the kernel accounts swap in the memory hierarchy (then `memory.swap` = the limit means no swap, as in `container`). */
  swapAccounting(): boolean {
    const h = this.host.hierarchies.find((x) => x.controllers.includes('memory'));
    if (!h) return false;
    return existsSync(join(this.parent(h), h.version === 1 ? 'memory.memsw.limit_in_bytes' : 'memory.swap.max'));
  }

  /**
   * Pids in the instance's cgroups now: the parent's and its children's (runc
   * and crun make `ct`, docker a directory named by the container id, podman
   * `libpod-<id>`). The runtime's own parent process stays outside, as the
   * launcher does, and so does podman's `conmon` cgroup beside the container's.
   */
  pidsSync(): number[] {
    const h = this.host.hierarchies.find((x) => x.controllers.includes('memory'));
    if (!h) return [];
    // podman's monitor (conmon) has a cgroup of its own there: it is the engine's, as docker's shim is the daemon's.
    return procsInAndBelow(this.parent(h), (child) => child !== 'conmon');
  }

  /** Reads the parents' counters (which include the removed leaf's). */
  read(): Promise<Accounting> {
    const dirs = this.host.hierarchies.map((h) => ({ hierarchy: h, path: this.parent(h) }));
    return readAccounting(dirs, { v1Blkio: 'blkio.throttle.io_service_bytes_recursive', v1OomKills: false });
  }

  /**
   * Removes the parent and everything below it in every cgroup mount, children first: the runtime's
   * leaf (left behind when the runtime was killed), and what an engine makes inside the parent
   * (podman's `conmon` and `libpod-<id>`, docker's `<id>`), in hierarchies tsbench does not read
   * too (cpuset, devices, freezer, name=systemd, the unified one). Processes still in a cgroup are
   * killed; one whose tasks are still exiting is retried until `waitMs`. Throws naming every cgroup
   * it could not remove: none is left silently.
   */
  async remove(waitMs = 2000): Promise<void> {
    const deadline = Date.now() + waitMs;
    const failed: string[] = [];
    for (const m of cgroupMounts()) failed.push(...(await removeCgroupTree(join(m, this.parentRel), deadline)));
    if (failed.length > 0) throw new Error(`cannot remove ${failed.length === 1 ? 'the cgroup' : `${failed.length} cgroups`} ${failed.join(', ')}`);
  }

  /** The same, synchronously, for process 'exit' (what it cannot remove, the ownership sweep tries again and reports). */
  removeSync(waitMs = 2000): void {
    const deadline = Date.now() + waitMs;
    for (const m of cgroupMounts()) removeCgroupTreeSync(join(m, this.parentRel), deadline);
  }
}

/** The slice every engine slice is in: tsbench's own (drivers/linux/delegation.ts makes its scope there). */
const TSBENCH_SLICE = 'tsbench.slice';

/**
 * The cgroup of an engine instance on systemd's cgroup driver (docker's default on a pure v2 host
 * run by systemd: the daemon refuses a cgroupfs path as --cgroup-parent, only a slice). Each
 * instance gets a transient slice of its own, `tsbench-<engine>_<pid>_<n>.slice` inside
 * `tsbench.slice` (systemd makes both when the runtime asks for the container's scope in it, and
 * keeps the slice when the scope goes): its v2 counters are hierarchical and keep what the removed
 * scope used, as the cgroupfs parent does. tsbench never writes there; it reads, then asks systemd
 * to stop the slice (`systemctl stop`), which kills what is left in it and removes the cgroup.
 */
export class SliceCgroups {
  /** The unit, for --cgroup-parent, `systemctl stop` and the ownership record. */
  readonly slice: string;
  private readonly dir: string;

  constructor(
    private readonly v2: Hierarchy,
    /** The instance's name, `tsbench-<engine>-<pid>-<n>`. */
    id: string,
  ) {
    // '-' in a slice's name means nesting: the instance's parts are joined by '_' so the slice sits in tsbench.slice.
    this.slice = `tsbench-${id.replace(/^tsbench-/, '').replace(/-/g, '_')}.slice`;
    this.dir = join(v2.mount, TSBENCH_SLICE, this.slice);
  }

  /** The unit the lifecycle records (drivers/linux/lifecycle.ts `CgroupSet.unit`): the slice. */
  get unit(): string {
    return this.slice;
  }

  /** None under tsbench's cgroup directories: systemd makes the slice. */
  relative(): string[] {
    return [];
  }

  /** Nothing to make: systemd makes the slice when the runtime asks for the container's scope in it. */
  async create(): Promise<void> {}

  /** Where its cgroup is: the directory read at exit. */
  where(): string {
    return this.dir;
  }

  /** Pids in the slice and its units (the container's scope) now. */
  pidsSync(): number[] {
    return procsInAndBelow(this.dir);
  }

  /** The slice's counters (which include the removed scope's). */
  read(): Promise<Accounting> {
    return readAccounting([{ hierarchy: this.v2, path: this.dir }], { v1Blkio: 'blkio.throttle.io_service_bytes_recursive', v1OomKills: false });
  }

  /** Stops the slice: systemd kills what is left in it and removes its cgroup. Throws with systemctl's words when it cannot. */
  async remove(): Promise<void> {
    const r = await execa('systemctl', ['stop', this.slice], { reject: false, stdin: 'ignore' });
    // 5: "Unit … not loaded" — the container never started, so systemd never made the slice.
    if (r.exitCode !== 0 && r.exitCode !== 5) throw new Error(`systemctl stop ${this.slice}: ${String(r.stderr || r.shortMessage).trim()}`);
  }

  /** On process 'exit': nothing; the ownership sweep stops the recorded unit after the exit hooks. */
  removeSync(): void {}
}
