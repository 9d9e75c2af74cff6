/**
 * The host's dimensions, recorded with every result so numbers from different
 * machines are never mixed up: CPU, memory, kernel, cgroup layout, QEMU.
 */
import { readFile, access } from 'node:fs/promises';
import { hostname } from 'node:os';
import si from 'systeminformation';
import type { Host } from '../core/schema.js';
import { hostEmulatedBy, qemuVersion, cgroupLayoutOf } from '../drivers/index.js';

export type CgroupLayout = Host['cgroup'];

/** Which cgroup layout this host has (drivers/linux/cgroups.ts `cgroupLayoutOf`). */
export async function cgroupLayout(mounts?: string): Promise<CgroupLayout> {
  return cgroupLayoutOf(mounts ?? (await readFile('/proc/self/mounts', 'utf8')));
}

export async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** Collects the host's dimensions (about 100 ms). */
export async function hostDimensions(): Promise<Host> {
  const [cpu, mem, osInfo, cg, qemu, kernel, emulated] = await Promise.all([
    si.cpu(),
    si.mem(),
    si.osInfo(),
    cgroupLayout(),
    // asked once for this and every VM target's probe (drivers/qemu/version.ts)
    qemuVersion().then((a) => (a.ok ? a.version : undefined)),
    readFile('/proc/sys/kernel/osrelease', 'utf8').then((s) => s.trim()),
    hostEmulatedBy(),
  ]);
  return {
    hostname: hostname(),
    cpuModel: `${cpu.manufacturer} ${cpu.brand}`.trim(),
    cpuCores: cpu.cores,
    memoryBytes: mem.total,
    os: `${osInfo.distro} ${osInfo.release}`.trim(),
    kernel,
    arch: process.arch,
    cgroup: cg,
    node: process.version,
    ...(qemu ? { qemuVersion: qemu } : {}),
    ...(emulated !== undefined ? { nestedUnder: emulated } : {}),
    ...(cpu.virtualization !== undefined ? { virtualization: cpu.virtualization ? 'cpu flag present' : 'cpu flag absent' } : {}),
  };
}
