/**
 * `memory`: what one instance costs in host memory, and how fast its workload
 * moves memory (claim C3). Every sample has two parts, on two fresh instances,
 * both with the matched limits (`--cpus`/`--memory`, default 1 CPU, 256 MiB):
 *
 * Footprint: an idle instance (the agent's `sleep` job) is launched, reports
 * ready, settles for 200 ms, and its host-side cost is read before it is
 * stopped, as the instance reports it (`Instance.footprint()`, each driver its
 * own way): the PSS (/proc/<pid>/smaps_rollup) of its host processes — the agent
 * natively; the processes in the instance's cgroup for a container (its launcher
 * outside the cgroup is left out), plus the cgroup's own usage
 * (memory.usage_in_bytes on v1, memory.current on v2, page cache included); the
 * qemu process for a VM, whose PSS includes the guest RAM it has touched. For a
 * VM that PSS is read from /proc/<pid>/smaps and split (drivers/qemu/memory.ts):
 * guestRamTouchedBytes, the PSS of the guest RAM mapping (the guest memory that
 * has entered host RAM), and vmmOverheadBytes, the rest (QEMU itself: binary,
 * libraries, heap, the kernel and initramfs it loaded, under TCG its translation
 * buffer) — Firecracker's "VMM overhead"; the two add up to footprintPssBytes.
 * VMs also report the guest's MemTotal and MemAvailable from the agent, and
 * guestUsedBytes = MemTotal − MemAvailable. What the isolation layer adds is
 * each figure minus native's; the report computes it.
 *
 * Bandwidth: `sysbench memory --memory-oper=write --memory-block-size=B
 * --memory-total-size=S --threads=1 run` writes S bytes through one buffer of
 * B bytes (64 MiB by default, larger than the CPU caches, so it measures RAM,
 * not cache), and reports MiB/s, which is converted to MB/s (10^6 bytes).
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Footprint } from '../../drivers/index.js';
import { TargetError } from '../../core/errors.js';
import { intOption } from './cpu.js';
import { ParseError, parseSysbenchMemory } from './parsers/sysbench.js';
import { MATCHED_LIMITS, matchedLimits, sampleFrom, type Scenario } from './types.js';
import { MiB } from '../../core/units.js';

/** MiB in the buffer sysbench writes over and over. @default 64 */
export const DEFAULT_MEMORY_BLOCK_MIB = 64;
/** MiB sysbench writes in all. @default 4096 */
export const DEFAULT_MEMORY_TOTAL_MIB = 4096;
/** How long an idle instance settles between ready and the footprint reading. */
export const SETTLE_MS = 200;

const SYSBENCH = '/usr/bin/sysbench';
/** MiB/s → MB/s. */
const MB_PER_MIB = MiB / 1e6;

export const memory: Scenario = {
  name: 'memory',
  description:
    'host memory of one idle instance (PSS, cgroup usage; VM: qemu PSS split into guest RAM touched and VMM overhead, guest memory in use), and write bandwidth of sysbench memory through a 64 MiB buffer',
  metrics: [
    {
      name: 'footprintPssBytes',
      headline: true,
      unit: 'bytes',
      better: 'lower',
      description:
        "PSS of an idle instance's host processes 200 ms after ready: the agent natively, the cgroup's processes for a container (/proc/<pid>/smaps_rollup), qemu for a VM (/proc/<pid>/smaps, summed over its mappings)",
    },
    {
      name: 'cgroupUsageBytes',
      unit: 'bytes',
      better: 'lower',
      description: "containers only: the idle instance's cgroup memory usage (memory.usage_in_bytes v1 / memory.current v2), page cache included",
    },
    {
      name: 'guestRamTouchedBytes',
      unit: 'bytes',
      better: 'lower',
      description:
        "VMs only: PSS of the guest RAM mapping in qemu's /proc/<pid>/smaps (the anonymous read-write mapping of exactly the VM's RAM): the guest memory that has entered host RAM",
    },
    {
      name: 'vmmOverheadBytes',
      unit: 'bytes',
      better: 'lower',
      description:
        'VMs only: footprintPssBytes − guestRamTouchedBytes, the VMM\'s own memory (binary, libraries, heap, the kernel and initramfs it loaded; under TCG its translation buffer): Firecracker\'s "VMM overhead"',
    },
    {
      name: 'guestUsedBytes',
      unit: 'bytes',
      better: 'lower',
      description: 'VMs only: MemTotal − MemAvailable inside the idle guest, as its agent reported: the memory its guest has in use',
    },
    { name: 'guestAvailableBytes', unit: 'bytes', better: 'higher', description: 'VMs only: MemAvailable inside the idle guest, as its agent reported' },
    { name: 'guestTotalBytes', unit: 'bytes', better: 'higher', description: 'VMs only: MemTotal inside the idle guest, as its agent reported' },
    {
      name: 'bandwidthMBps',
      unit: 'MB/s',
      better: 'higher',
      description:
        'sysbench memory: sequential writes through one buffer (by default 64 MiB, 4096 MiB in all; see parameters), one thread; 10^6 bytes per second',
    },
  ],
  defaults: { runs: 5, warmup: 1 },
  parameters: (options) => ({
    footprint: { job: 'sleep', settleMs: SETTLE_MS },
    bandwidth: {
      tool: 'sysbench memory --memory-oper=write --threads=1',
      blockMiB: intOption(options, 'memoryBlockMiB', DEFAULT_MEMORY_BLOCK_MIB),
      totalMiB: intOption(options, 'memoryTotalMiB', DEFAULT_MEMORY_TOTAL_MIB),
    },
    limits: MATCHED_LIMITS,
  }),
  async sample(driver, ctx) {
    const limits = matchedLimits(ctx.limits);
    const blockMiB = intOption(ctx.options, 'memoryBlockMiB', DEFAULT_MEMORY_BLOCK_MIB);
    const totalMiB = intOption(ctx.options, 'memoryTotalMiB', DEFAULT_MEMORY_TOTAL_MIB);
    const values: Record<string, number> = {};
    let footprint: Footprint | undefined;

    // Footprint of an idle instance.
    const idle = await driver.launch({ job: { kind: 'sleep' }, limits, signal: ctx.signal });
    try {
      await idle.ready;
      await delay(SETTLE_MS, undefined, { signal: ctx.signal });
      footprint = await idle.footprint();
      if (footprint !== undefined) {
        values['footprintPssBytes'] = footprint.pssBytes;
        if (footprint.cgroupUsageBytes !== undefined) values['cgroupUsageBytes'] = footprint.cgroupUsageBytes;
        if (footprint.guestRamTouchedBytes !== undefined && footprint.vmmOverheadBytes !== undefined) {
          values['guestRamTouchedBytes'] = footprint.guestRamTouchedBytes;
          values['vmmOverheadBytes'] = footprint.vmmOverheadBytes;
        }
      }
    } catch (e) {
      await idle.kill();
      const r = await idle.result;
      throw new TargetError(driver.name, 'memory', `the idle instance: ${r.reason ?? (e as Error).message}`, { cause: e, tail: r.tail });
    }
    await idle.stop();
    const r = await idle.result;
    if (r.status !== 'ok') throw new TargetError(driver.name, 'memory', `the idle instance: ${r.reason ?? r.status}`, { tail: r.tail });
    if (values['footprintPssBytes'] === undefined)
      throw new TargetError(driver.name, 'memory', "could not read the idle instance's PSS (/proc/<pid>/smaps_rollup, a VM's /proc/<pid>/smaps)");
    // A guest's own view of its memory, where the agent runs on a kernel of its own (the host's MemTotal is no instance's).
    if (driver.capabilities.memoryLimit === 'ram' && r.guestMemory) {
      values['guestAvailableBytes'] = r.guestMemory.availableKb * 1024;
      values['guestTotalBytes'] = r.guestMemory.totalKb * 1024;
      values['guestUsedBytes'] = (r.guestMemory.totalKb - r.guestMemory.availableKb) * 1024;
    }

    // Write bandwidth.
    const argv = [
      SYSBENCH,
      'memory',
      '--memory-oper=write',
      `--memory-block-size=${blockMiB}M`,
      `--memory-total-size=${totalMiB}M`,
      '--time=0',
      '--threads=1',
      'run',
    ];
    const bw = await driver.launch({ job: { kind: 'exec', argv }, limits, signal: ctx.signal });
    const b = await bw.result;
    if (b.status !== 'ok')
      throw new TargetError(driver.name, 'memory', `sysbench memory: ${b.reason ?? b.status}`, { tail: [...b.stderr, ...b.tail].slice(-20) });
    try {
      values['bandwidthMBps'] = parseSysbenchMemory(b.stdout).mibPerS * MB_PER_MIB;
    } catch (e) {
      if (!(e instanceof ParseError)) throw e;
      throw new TargetError(driver.name, 'memory', e.message, { cause: e, tail: [...b.stdout, ...b.stderr].slice(-20) });
    }

    const s = sampleFrom(r, values);
    return {
      ...s,
      extra: {
        ...s.extra,
        // What explains the footprint: the rest of a VM's split (`vmMemory`), and why guest RAM was not found if it was not.
        ...footprint?.extra,
        bandwidth: { timeline: b.timeline, accounting: b.accounting, stdout: b.stdout.filter((l) => /MiB transferred|total time/.test(l)) },
      },
    };
  },
};
