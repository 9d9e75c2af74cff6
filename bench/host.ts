/**
 * The host's dimensions, recorded with every result so numbers from different
 * machines are never mixed up: CPU, memory, kernel, cgroup layout, QEMU.
 */
import { readFile, access } from 'node:fs/promises';
import { hostname } from 'node:os';
import { execa } from 'execa';
import si from 'systeminformation';
import type { Host } from '../core/schema.js';
import { hostEmulatedBy } from '../drivers/qemu/host.js';

export type CgroupLayout = Host['cgroup'];

/**
 * Which cgroup layout this host has, read from /proc/self/mounts: pure v2 (the
 * unified hierarchy at /sys/fs/cgroup), v1 controllers with a v2 mount at
 * `unified/` (hybrid, systemd's old default and this project's CI machine), or v1.
 */
export async function cgroupLayout(mounts?: string): Promise<CgroupLayout> {
  const text = mounts ?? (await readFile('/proc/self/mounts', 'utf8'));
  let v1 = false;
  let v2 = false;
  let v2Root = false;
  for (const line of text.split('\n')) {
    const [, where, type] = line.split(' ');
    if (type === 'cgroup2') {
      v2 = true;
      if (where === '/sys/fs/cgroup') v2Root = true;
    } else if (type === 'cgroup') v1 = true;
  }
  if (v2Root && !v1) return 'v2';
  if (v1 && v2) return 'hybrid';
  if (v1) return 'v1';
  return v2 ? 'v2' : 'none';
}

export async function qemuVersion(): Promise<string | undefined> {
  try {
    const { stdout } = await execa('qemu-system-x86_64', ['--version'], { timeout: 5000 });
    return /version\s+(\S+)/.exec(stdout)?.[1] ?? stdout.split('\n')[0];
  } catch {
    return undefined;
  }
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
    qemuVersion(),
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
