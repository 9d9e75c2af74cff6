/**
 * What an instance on this host reports of itself (the contract's measurements, drivers/types.ts),
 * read from /proc and the cgroup files: the PSS of its host processes, a Linux container's cgroup
 * memory usage (its `Footprint`) and the CPU meter its `workloadCpu` is read with. The drivers call
 * these; scenarios only see `Instance.footprint()` and `InstanceResult.workloadCpu`.
 */
import { readFile } from 'node:fs/promises';
import type { Accounting, Footprint } from '../types.js';
import { detectCgroups } from './cgroups.js';

/** USER_HZ: the unit of /proc/<pid>/stat's times on every Linux architecture tsbench runs on. */
const CLOCK_TICKS_PER_S = 100;

/** Proportional set size of a process in bytes, from /proc/<pid>/smaps_rollup; undefined once it is gone. */
export async function readPssBytes(pid: number): Promise<number | undefined> {
  try {
    const text = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8');
    const kb = /^Pss:\s+(\d+) kB/m.exec(text)?.[1];
    return kb === undefined ? undefined : Number(kb) * 1024;
  } catch {
    return undefined;
  }
}

/** CPU time of a process (all its threads) and of the children it has reaped, in ms (10 ms ticks); undefined once it is gone. */
export async function processCpuMs(pid: number): Promise<number | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command's closing parenthesis: state is [0], utime [11], stime [12], cutime [13], cstime [14].
    const f = stat.slice(stat.lastIndexOf(') ') + 2).split(' ');
    const ticks = [11, 12, 13, 14].map((i) => Number(f[i]));
    if (ticks.some((t) => !Number.isFinite(t))) return undefined;
    return (ticks.reduce((a, b) => a + b, 0) * 1000) / CLOCK_TICKS_PER_S;
  } catch {
    return undefined;
  }
}

/**
 * The PSS of these processes, summed (each pid once; one already gone counts 0); undefined when
 * there are none, or none could be read.
 */
export async function processesFootprint(pids: readonly number[]): Promise<Footprint | undefined> {
  const each = await Promise.all([...new Set(pids)].map(readPssBytes));
  if (!each.some((b) => b !== undefined)) return undefined;
  return { pssBytes: each.reduce<number>((sum, b) => sum + (b ?? 0), 0) };
}

/**
 * The memory usage in bytes of the cgroup a process is in, found from its pid: /proc/<pid>/cgroup
 * names its cgroup in each hierarchy, detectCgroups() where the memory controller is mounted
 * (memory.usage_in_bytes on v1, memory.current on v2, page cache included). Undefined when it cannot be read.
 */
export async function cgroupMemoryUsageBytes(pid: number): Promise<number | undefined> {
  const host = detectCgroups();
  const text = await readFile(`/proc/${pid}/cgroup`, 'utf8').catch(() => undefined);
  if (text === undefined) return undefined;
  const memory = host.hierarchies.find((h) => h.controllers.includes('memory'));
  if (!memory) return undefined;
  for (const line of text.split('\n')) {
    const [, controllers, path] = line.split(':');
    if (path === undefined || controllers === undefined) continue;
    const v1 = memory.version === 1 && controllers.split(',').includes('memory');
    const v2 = memory.version === 2 && controllers === '' && line.startsWith('0:');
    if (!v1 && !v2) continue;
    const file = `${memory.mount}${path}/${memory.version === 1 ? 'memory.usage_in_bytes' : 'memory.current'}`;
    const value = Number((await readFile(file, 'utf8').catch(() => '')).trim());
    return value > 0 ? value : undefined;
  }
  return undefined;
}

/** A Linux container's footprint: the PSS of the processes in its cgroups, and the cgroup's memory usage beside it. */
export async function containerFootprint(pids: readonly number[]): Promise<Footprint | undefined> {
  const [first] = pids;
  const [pss, usage] = await Promise.all([processesFootprint(pids), first === undefined ? undefined : cgroupMemoryUsageBytes(first)]);
  return pss === undefined ? undefined : { ...pss, cgroupUsageBytes: usage };
}

/** A host-side CPU reading of an instance, in ms of CPU time so far; undefined when it cannot say. */
export type CpuMeter = () => Promise<number | undefined>;

/** A container's CPU meter: its cgroups' user + system time (cpuacct on v1, cpu.stat on v2). */
export function cgroupCpuMeter(cgroups: { read(): Promise<Accounting> }): CpuMeter {
  return async () => {
    const a = await cgroups.read().catch(() => undefined);
    return a?.cpuUserMs !== undefined && a.cpuSystemMs !== undefined ? a.cpuUserMs + a.cpuSystemMs : undefined;
  };
}
