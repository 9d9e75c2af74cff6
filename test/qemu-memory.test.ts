/**
 * Splitting a qemu's memory into guest RAM and the VMM's own (drivers/qemu/memory.ts),
 * on test/fixtures/qemu-tcg-smaps.txt: /proc/<pid>/smaps of a real idle VM here
 * (QEMU 7.2, `-accel tcg -M microvm -smp 2 -m 384M`, the image's initramfs),
 * trimmed to 52 of its 346 mappings: the binary, heap and arenas, the -initrd
 * file, guest RAM and its guard page, 4 of the translation buffer's 16 regions
 * (two touched), ROMs, the kernel's copy, one library, [stack] and [vsyscall].
 * No VM needed.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { guestRamMappings, parseSmaps, qemuMemoryFromSmaps, readQemuMemory } from '../drivers/qemu/memory.js';

const FIXTURE = readFileSync(new URL('../../test/fixtures/qemu-tcg-smaps.txt', import.meta.url), 'utf8');
const KiB = 1024;
const MiB = 1024 * KiB;

/** One smaps record, every size in kB as the kernel writes it. */
function record(range: string, perms: string, sizeKb: number, pssKb: number, path = '', inode = 0): string {
  return [
    `${range} ${perms} 00000000 ${inode === 0 ? '00:00' : 'fe:00'} ${inode}                          ${path}`,
    `Size:           ${sizeKb} kB`,
    `Rss:            ${pssKb} kB`,
    `Pss:            ${pssKb} kB`,
    `Anonymous:      ${inode === 0 ? pssKb : 0} kB`,
    'THPeligible:    0',
    'VmFlags: rd wr mr mw me ac sd',
  ].join('\n');
}

describe("a qemu's smaps", () => {
  test('parse into every mapping with its addresses, permissions, file and sizes in bytes', () => {
    const ms = parseSmaps(FIXTURE);
    assert.equal(ms.length, 52);
    const first = ms[0];
    assert.deepEqual(first && { perms: first.perms, path: first.path, size: first.sizeBytes, pss: first.pssBytes }, {
      perms: 'r--p',
      path: '/usr/bin/qemu-system-x86_64',
      size: 4124 * KiB,
      pss: 4124 * KiB,
    });
    // Addresses beyond 2^53 ([vsyscall]) stay exact.
    assert.equal(ms.at(-1)?.start, 0xffffffffff600000n);
    assert.equal(ms.at(-1)?.path, '[vsyscall]');
  });

  test('split a real TCG VM into guest RAM touched and the VMM overhead, which add up to its PSS', () => {
    const m = qemuMemoryFromSmaps(FIXTURE, 384 * MiB);
    assert.equal(m.problem, undefined);
    assert.equal(m.pssBytes, 518996 * KiB);
    // 310 MiB of the 384 MiB guest has been touched (the initramfs, copied in and unpacked, and the kernel).
    assert.equal(m.guestRamPssBytes, 317440 * KiB);
    assert.equal(m.guestRamRssBytes, 317440 * KiB);
    assert.equal(m.vmmOverheadBytes, (518996 - 317440) * KiB);
    assert.equal((m.guestRamPssBytes ?? 0) + (m.vmmOverheadBytes ?? 0), m.pssBytes);
    // The overhead: 42 MiB of translation buffer touched in 256 MiB of regions, 125 MiB of files (mostly the -initrd file), 30 MiB of the rest.
    assert.equal(m.tcgBufferPssBytes, 43008 * KiB);
    assert.equal(m.tcgBufferSizeBytes, 4 * 65532 * KiB);
    assert.equal(m.fileBackedPssBytes, 128224 * KiB);
    assert.equal(m.otherPssBytes, 30324 * KiB);
    assert.equal((m.tcgBufferPssBytes ?? 0) + m.fileBackedPssBytes + m.otherPssBytes, m.vmmOverheadBytes);
  });

  test('take the RAM-sized read-write mapping for guest RAM, not the larger executable translation buffer', () => {
    const text = [
      record('7f0000000000-7f0010000000', 'rw-p', 256 * 1024, 28 * 1024),
      record('7f0010000000-7f0010001000', '---p', 4, 0),
      record('7f0020000000-7f005ffff000', 'rwxp', 1048572, 22 * 1024),
      record('7f0060000000-7f0060a00000', 'r--p', 10240, 10240, '/boot/vmlinuz', 42),
    ].join('\n');
    const m = qemuMemoryFromSmaps(text, 256 * MiB);
    assert.equal(m.guestRamPssBytes, 28 * MiB);
    assert.equal(m.tcgBufferPssBytes, 22 * MiB);
    assert.equal(m.fileBackedPssBytes, 10 * MiB);
    assert.equal(m.vmmOverheadBytes, 32 * MiB);
    assert.match(qemuMemoryFromSmaps(text, 1048572 * KiB).problem ?? '', /no anonymous read-write mapping/, 'the rwx buffer is never guest RAM');
  });

  test('find guest RAM the kernel split into adjacent mappings, but not from pieces that are apart', () => {
    const split = [record('7f0000000000-7f0008000000', 'rw-p', 128 * 1024, 20 * 1024), record('7f0008000000-7f0010000000', 'rw-p', 128 * 1024, 8 * 1024)];
    const found = guestRamMappings(parseSmaps(split.join('\n')), 256 * MiB);
    assert.ok(Array.isArray(found) && found.length === 2);
    assert.equal(qemuMemoryFromSmaps(split.join('\n'), 256 * MiB).guestRamPssBytes, 28 * MiB);
    const apart = [split[0], record('7f0008001000-7f0010001000', 'rw-p', 128 * 1024, 8 * 1024)].join('\n');
    assert.equal(typeof guestRamMappings(parseSmaps(apart), 256 * MiB), 'string');
  });

  test('report no guest RAM and no overhead, with the PSS still summed, when no mapping has the RAM size', () => {
    const m = qemuMemoryFromSmaps(FIXTURE, 512 * MiB);
    assert.match(m.problem ?? '', /no anonymous read-write mapping of 536870912 bytes/);
    assert.equal(m.guestRamPssBytes, undefined);
    assert.equal(m.vmmOverheadBytes, undefined);
    assert.equal(m.pssBytes, 518996 * KiB);
  });

  test('refuse to choose between two mappings of the RAM size', () => {
    const two = [record('7f0000000000-7f0010000000', 'rw-p', 256 * 1024, 1), record('7f0020000000-7f0030000000', 'rw-p', 256 * 1024, 1)].join('\n');
    assert.match(qemuMemoryFromSmaps(two, 256 * MiB).problem ?? '', /cannot tell which is guest RAM/);
  });

  test('are read from /proc for a live process, and give undefined for one that is gone', async () => {
    const self = await readQemuMemory(process.pid, 4096);
    assert.ok(self && self.pssBytes > MiB && self.mappings > 10, 'this node process has mappings');
    assert.equal(await readQemuMemory(2 ** 22 + 1, 4096), undefined);
  });
});
