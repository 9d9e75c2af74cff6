/**
 * VMs restored from a snapshot (issue 34): the restore start modes of the VM targets
 * (`tcg-restore`, `kvm-restore`, … names.ts), their QEMU arguments and the snapshot itself.
 *
 * Once per run and VM size (vCPUs, RAM), the driver boots the VM with the agent's `await` job
 * (drivers/agent/agent.c: ready, then one `job …` line on the console), and once it is ready
 * saves it over QMP: `stop`, then `migrate` to `exec:cat > DIR/state` (QEMU 7.2 has no `file:`
 * URI). Every instance is then a fresh QEMU with the same arguments plus `-incoming defer`:
 * QMP up, the `events` capability on, `migrate-incoming exec:cat DIR/state`; the state loads
 * paused (QEMU keeps the saved VM's run state), `cont` runs it, and the host writes the job line
 * to its console, which
 * the restored agent reads and runs. The console is QEMU's stdio, as in a cold boot, so the
 * agent's connection is the new QEMU's own from the first byte; the guest's clocks are migrated
 * with it and do not jump (the agent keeps no timer while it waits).
 *
 * `template` (Kata's VM templating): the saved VM's RAM is a shared file (`memory-backend-file`,
 * `share=on`) that stays beside the state; with `x-ignore-shared` the state holds no RAM, and
 * every restored VM maps the file privately (`share=off`): copy-on-write, the pages it only
 * reads shared in the host's page cache with every other clone.
 *
 * The directory holding the state (and a template's RAM) is made with `makeOwnedDir`
 * (drivers/ownership.ts): recorded before it exists, swept with its QEMU processes after a
 * SIGKILL, removed at teardown.
 */
import { stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeOwnedDir } from '../ownership.js';
import type { Qmp } from './qmp.js';

/** How a restore target starts its VMs. */
export interface RestoreMode {
  /**
   * The QEMU process is started (and its QMP answering) before the timed window, which begins at
   * `migrate-incoming`, as Firecracker's pre-spawned VMM is before its snapshot load. Otherwise the window
   * begins at the launcher's fork of QEMU, as a cold boot's does. @default false
   */
  prespawned?: boolean;
  /** Guest RAM from a shared template file (x-ignore-shared), mapped copy-on-write by every restored VM. @default false */
  template?: boolean;
}

/** The name of a template's guest RAM file; drivers/qemu/memory.ts takes a mapping of it for guest RAM. */
export const GUEST_RAM_FILE = 'tsbench-guest-ram';

/** How one snapshot was made and where it lies, recorded with every restored VM's result. */
export interface SnapshotFacts {
  /** `migrate exec:cat > FILE` of a stopped VM, and with `x-ignore-shared`, RAM left in a shared file */
  mechanism: 'migrate-exec' | 'migrate-exec+x-ignore-shared';
  /** bytes of the migration stream (device state, and the RAM's non-zero pages unless a template holds them) */
  stateBytes: number;
  /** a template's RAM file: its size and the bytes allocated on disk (the pages the saved guest had touched) */
  ramFileBytes?: number;
  ramFileAllocatedBytes?: number;
  /** from `stop` to the migration's `completed` */
  saveMs: number;
  /** the saved VM's boot to the agent's ready (awaiting its job), launcher clock */
  bootToReadyMs?: number;
  /** where the files lay when the VMs were restored: in the page cache, as the run wrote them (no caches dropped) */
  lay: 'page cache (written by this run, caches not dropped)';
  /** what a restored VM's toReadyMs starts at */
  window: 'launcher fork of qemu' | 'migrate-incoming (qemu pre-spawned)';
}

/** QEMU arguments of a saved VM (`restore` false) or of a restored one (`restore` true), from the cold boot's argv. Pure. */
export function restoreArgs(
  argv: readonly string[],
  opts: { qmpSocket: string; template?: { ramFile: string; memoryMiB: number }; restore: boolean },
): string[] {
  const out = [...argv];
  if (opts.template !== undefined) {
    const m = out.indexOf('-M');
    if (m < 0 || out[m + 1] === undefined) throw new Error('no -M in the QEMU argv');
    out[m + 1] = `${out[m + 1]},memory-backend=ram`;
    // The saved VM writes its RAM into the file (share=on); a restored one maps it copy-on-write (share=off).
    out.push('-object', `memory-backend-file,id=ram,size=${opts.template.memoryMiB}M,mem-path=${opts.template.ramFile},share=${opts.restore ? 'off' : 'on'}`);
  }
  out.push('-qmp', `unix:${opts.qmpSocket},server=on,wait=off`);
  if (opts.restore) out.push('-incoming', 'defer');
  return out;
}

/** The migration capabilities both sides set: events, and for a template x-ignore-shared. */
export function capabilities(template: boolean): { capability: string; state: boolean }[] {
  return [{ capability: 'events', state: true }, ...(template ? [{ capability: 'x-ignore-shared', state: true }] : [])];
}

/** A fresh owned directory for one snapshot (recorded first, drivers/ownership.ts). */
export async function makeSnapshotDir(): Promise<string> {
  return makeOwnedDir(join(tmpdir(), 'tsbench-snapshot-'));
}

/**
 * Saves a running VM whose agent is ready (awaiting its job) into `dir/state`: QMP capabilities,
 * `stop`, `migrate exec:cat > dir/state`, until the migration completed. Returns how long the save took (ms).
 */
export async function saveVm(qmp: Qmp, dir: string, template: boolean, timeoutMs: number): Promise<number> {
  await qmp.execute('migrate-set-capabilities', { capabilities: capabilities(template) });
  const t0 = process.hrtime.bigint();
  await qmp.execute('stop');
  await qmp.execute('migrate', { uri: `exec:cat > ${join(dir, 'state')}` });
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const info = (await qmp.execute('query-migrate')) as { status?: string; 'error-desc'?: string };
    if (info.status === 'completed') break;
    if (info.status === 'failed' || info.status === 'cancelled')
      throw new Error(`saving the VM failed: migrate ${info.status}${info['error-desc'] !== undefined ? `: ${info['error-desc']}` : ''}`);
    if (Date.now() > deadline) throw new Error(`saving the VM took more than ${timeoutMs} ms (migrate ${info.status ?? '?'})`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** The sizes of what a snapshot left in `dir`. */
export async function snapshotSizes(dir: string, template: boolean): Promise<Pick<SnapshotFacts, 'stateBytes' | 'ramFileBytes' | 'ramFileAllocatedBytes'>> {
  const state = await stat(join(dir, 'state'));
  if (!template) return { stateBytes: state.size };
  const ram = await stat(join(dir, GUEST_RAM_FILE));
  return { stateBytes: state.size, ramFileBytes: ram.size, ramFileAllocatedBytes: ram.blocks * 512 };
}
