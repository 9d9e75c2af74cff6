/**
 * What a running qemu's host memory is made of, from /proc/<pid>/smaps: the
 * guest's RAM that has entered host memory, and the rest, which is the VMM's own
 * cost (Firecracker's "VMM overhead": the VMM's memory excluding guest memory).
 *
 * How QEMU 7.2 maps a VM with `-m N` (read on this host, `-accel tcg -M microvm`,
 * 384 and 512 MiB, 1 and 2 vCPUs):
 * - guest RAM: one private anonymous `rw-p` mapping of exactly N MiB, 2 MiB
 *   aligned, followed by a one-page `---p` guard (util/mmap-alloc.c reserves
 *   N + alignment, then unmaps all but the aligned block and the guard page);
 * - under TCG, the translation buffer: private anonymous `rwxp`, 1 GiB on a host
 *   this size, larger than the RAM of a small VM — one mapping with one vCPU, 16
 *   regions of 64 MiB with a guard page each with two (MTTCG), so the largest
 *   anonymous mapping is not the guest's RAM;
 * - the `-initrd` file, which QEMU keeps mapped (file-backed, clean: page cache
 *   shared with every other qemu booting it, so PSS divides it among them), and
 *   an anonymous copy of the `-kernel` image;
 * - the binary and its libraries, the heap, malloc arenas, thread stacks, ROMs.
 *
 * The figures are sums over one reading of smaps, so they add up exactly:
 * pssBytes = guestRamPssBytes + vmmOverheadBytes, and the overhead is
 * tcgBufferPssBytes + fileBackedPssBytes + otherPssBytes. Each mapping's PSS is
 * whole KiB there (smaps_rollup sums before rounding), so pssBytes can be below
 * smaps_rollup's Pss by less than 1 KiB per shared mapping.
 */
import { readFile } from 'node:fs/promises';
import type { Footprint } from '../types.js';
import { readPssBytes } from '../linux/measure.js';
import { GUEST_RAM_FILE } from './snapshot.js';

/** One mapping of /proc/<pid>/smaps: its header and the sizes it reports, in bytes. */
export interface SmapsMapping {
  start: bigint;
  end: bigint;
  /** `rw-p`, `rwxp`, `r--s` … */
  perms: string;
  inode: number;
  /** the file, `[heap]`, `[stack]`, …; empty for an anonymous mapping */
  path: string;
  sizeBytes: number;
  rssBytes: number;
  pssBytes: number;
  anonymousBytes: number;
}

/** A qemu process's memory, split by what holds it. */
export interface QemuMemory {
  /** PSS of the whole process: the sum over its mappings */
  pssBytes: number;
  rssBytes: number;
  mappings: number;
  /** the VM's RAM (`-m`), the size the guest RAM mapping was looked for by */
  guestRamBytes: number;
  /** PSS of the guest RAM mapping: the guest memory that has entered host RAM; undefined when it was not found (`problem` says why) */
  guestRamPssBytes?: number;
  guestRamRssBytes?: number;
  /** pssBytes − guestRamPssBytes: what the VMM itself costs; undefined with guestRamPssBytes */
  vmmOverheadBytes?: number;
  /** PSS of the anonymous executable mappings: TCG's translation buffer; undefined when there are none (KVM) */
  tcgBufferPssBytes?: number;
  /** their size (the buffer's reservation, 1 GiB here, mostly never touched) */
  tcgBufferSizeBytes?: number;
  /** PSS of file-backed mappings other than guest RAM: the binary, libraries, the -initrd file */
  fileBackedPssBytes: number;
  /** PSS of everything else: heap, arenas, stacks, the kernel image's copy, ROMs, [vdso] … */
  otherPssBytes: number;
  /** why the guest RAM mapping was not identified */
  problem?: string;
}

const HEADER = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) [0-9a-f]+ \S+ (\d+)\s*(.*)$/;
const FIELD = /^(\w+):\s+(\d+) kB$/;

/** The mappings of /proc/<pid>/smaps text, in address order. Pure. */
export function parseSmaps(text: string): SmapsMapping[] {
  const out: SmapsMapping[] = [];
  let cur: SmapsMapping | undefined;
  for (const line of text.split('\n')) {
    const h = HEADER.exec(line);
    if (h) {
      cur = {
        start: BigInt(`0x${h[1] as string}`),
        end: BigInt(`0x${h[2] as string}`),
        perms: h[3] as string,
        inode: Number(h[4]),
        path: (h[5] ?? '').trim(),
        sizeBytes: 0,
        rssBytes: 0,
        pssBytes: 0,
        anonymousBytes: 0,
      };
      out.push(cur);
      continue;
    }
    const f = FIELD.exec(line);
    if (!f || !cur) continue;
    const bytes = Number(f[2]) * 1024;
    if (f[1] === 'Size') cur.sizeBytes = bytes;
    else if (f[1] === 'Rss') cur.rssBytes = bytes;
    else if (f[1] === 'Pss') cur.pssBytes = bytes;
    else if (f[1] === 'Anonymous') cur.anonymousBytes = bytes;
  }
  return out;
}

/** No file behind it and no kernel-given name ([heap], [stack], [vdso] …). */
const anonymous = (m: SmapsMapping): boolean => m.inode === 0 && m.path === '';
/**
 * What guest RAM looks like: anonymous, readable and writable, not executable; or a private mapping of a restored
 * VM's template RAM file (drivers/qemu/snapshot.ts GUEST_RAM_FILE), copy-on-write.
 */
const ramLike = (m: SmapsMapping): boolean => (anonymous(m) || m.path.endsWith(`/${GUEST_RAM_FILE}`)) && m.perms.startsWith('rw') && m.perms[2] !== 'x';

/**
 * The mappings that back guest RAM of `ramBytes`: the one anonymous `rw-`
 * mapping of exactly that size; failing that, one run of adjacent anonymous
 * `rw-` mappings that together have that size (a mapping the kernel split,
 * e.g. by an madvise over part of it). An error message when there is none, or
 * more than one candidate.
 */
export function guestRamMappings(mappings: readonly SmapsMapping[], ramBytes: number): SmapsMapping[] | string {
  const exact = mappings.filter((m) => ramLike(m) && m.sizeBytes === ramBytes);
  if (exact.length === 1) return exact;
  if (exact.length > 1) return `${exact.length} anonymous mappings of exactly ${ramBytes} bytes: cannot tell which is guest RAM`;
  const runs: SmapsMapping[][] = [];
  for (let i = 0; i < mappings.length; i++) {
    let total = 0;
    for (let j = i; j < mappings.length; j++) {
      const m = mappings[j] as SmapsMapping;
      if (!ramLike(m) || (j > i && m.start !== (mappings[j - 1] as SmapsMapping).end)) break;
      total += m.sizeBytes;
      if (total === ramBytes && j > i) runs.push(mappings.slice(i, j + 1));
      if (total >= ramBytes) break;
    }
  }
  if (runs.length === 1) return runs[0] as SmapsMapping[];
  if (runs.length > 1) return `${runs.length} runs of anonymous mappings add up to ${ramBytes} bytes: cannot tell which is guest RAM`;
  return `no anonymous read-write mapping of ${ramBytes} bytes (the VM's RAM)`;
}

/** A qemu process's memory from its smaps text and the VM's RAM size in bytes (`-m`). Pure. */
export function qemuMemoryFromSmaps(text: string, ramBytes: number): QemuMemory {
  const mappings = parseSmaps(text);
  const sum = (ms: readonly SmapsMapping[], k: 'pssBytes' | 'rssBytes' | 'sizeBytes'): number => ms.reduce((a, m) => a + m[k], 0);
  const ram = guestRamMappings(mappings, ramBytes);
  const guest = new Set(typeof ram === 'string' ? [] : ram);
  const rest = mappings.filter((m) => !guest.has(m));
  // TCG's code buffer is the only anonymous executable memory of a qemu (QEMU 7.2 maps it rwx in one piece, or as per-vCPU regions).
  const tcg = rest.filter((m) => anonymous(m) && m.perms[2] === 'x');
  const file = rest.filter((m) => m.inode !== 0);
  const other = rest.filter((m) => !tcg.includes(m) && !file.includes(m));
  const pssBytes = sum(mappings, 'pssBytes');
  const out: QemuMemory = {
    pssBytes,
    rssBytes: sum(mappings, 'rssBytes'),
    mappings: mappings.length,
    guestRamBytes: ramBytes,
    fileBackedPssBytes: sum(file, 'pssBytes'),
    otherPssBytes: sum(other, 'pssBytes'),
  };
  if (tcg.length > 0) {
    out.tcgBufferPssBytes = sum(tcg, 'pssBytes');
    out.tcgBufferSizeBytes = sum(tcg, 'sizeBytes');
  }
  if (typeof ram === 'string') return { ...out, problem: ram };
  const guestRamPssBytes = sum(ram, 'pssBytes');
  return { ...out, guestRamPssBytes, guestRamRssBytes: sum(ram, 'rssBytes'), vmmOverheadBytes: pssBytes - guestRamPssBytes };
}

/** A running qemu's memory (/proc/<pid>/smaps), given the VM's RAM in bytes; undefined once the process is gone. */
export async function readQemuMemory(pid: number, ramBytes: number): Promise<QemuMemory | undefined> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/smaps`, 'utf8');
  } catch {
    return undefined;
  }
  // An exiting process has no mappings left: that is "gone", not a VM of 0 bytes.
  const m = qemuMemoryFromSmaps(text, ramBytes);
  return m.mappings === 0 ? undefined : m;
}

/**
 * A VM's footprint (`Instance.footprint`): its qemu's memory from one reading of its smaps, so that guest
 * RAM and overhead add up to the PSS, with the rest of the split in `extra.vmMemory`; failing that, its
 * smaps_rollup PSS alone. Undefined once qemu is gone.
 */
export async function qemuFootprint(pid: number | undefined, ramBytes: number): Promise<Footprint | undefined> {
  if (pid === undefined) return undefined;
  const m = await readQemuMemory(pid, ramBytes);
  if (m === undefined) {
    const pss = await readPssBytes(pid);
    return pss === undefined ? undefined : { pssBytes: pss };
  }
  return { pssBytes: m.pssBytes, guestRamTouchedBytes: m.guestRamPssBytes, vmmOverheadBytes: m.vmmOverheadBytes, extra: { vmMemory: vmMemoryExtra(m) } };
}

/** What a sample records of a VM's split beside its metrics (`extra.vmMemory`); JSON drops the fields that are undefined. */
function vmMemoryExtra(m: QemuMemory): Partial<QemuMemory> {
  const { guestRamBytes, guestRamRssBytes, tcgBufferPssBytes, tcgBufferSizeBytes, fileBackedPssBytes, otherPssBytes, rssBytes, mappings, problem } = m;
  return { guestRamBytes, guestRamRssBytes, tcgBufferPssBytes, tcgBufferSizeBytes, fileBackedPssBytes, otherPssBytes, rssBytes, mappings, problem };
}
