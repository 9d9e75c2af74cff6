/**
 * Reading a file the user named (a results file, a report page, a calibration file). The file is
 * opened once, without blocking (O_NONBLOCK: a FIFO opens at once instead of waiting for a
 * writer; O_NOCTTY: a terminal never becomes ours), checked on that descriptor (fstat: a regular
 * file, no larger than `MAX_INPUT_BYTES`) and read from it with that bound, so the file checked is
 * the file read: renaming a FIFO or a device into its place between two steps changes nothing.
 * Anything else is a one-line UsageError (exit 2) naming the flag or file and the fix, raised
 * before the command makes anything.
 */
import { constants, type Stats } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { UsageError, describeError } from './errors.js';
import { MiB } from './units.js';

/**
 * The largest file tsbench reads: 256 MiB. Measured: a results file holds about 1.3 KB a sample
 * (a startup run with its phases: 101 KB for 80 samples; the four-scenario fixture
 * test/fixtures/report/cpu-memory-io-density.json is 119 KB), and a report page is about 300 KB of
 * scripts and styles plus the results it embeds (406 KB for those 80 samples). 256 MiB holds some
 * 200,000 samples (5,000 rounds of 40 series), and it stays below V8's longest string (2^29 − 24
 * UTF-16 units, about 512 MiB), which a file's text must fit in to be parsed at all.
 */
export const MAX_INPUT_BYTES = 256 * MiB;

/** How a command names the file it reads, for its one-line messages. */
export interface InputFile {
  /** the flag that named the file (`--calibration`); absent for a command's argument */
  flag?: string;
  /** what to pass instead, e.g. `pass a results.json written by tsbench run` */
  fix: string;
  /** what to pass instead of a directory, e.g. `pass its results.json` @default fix */
  directoryFix?: string;
  /** @default MAX_INPUT_BYTES */
  maxBytes?: number;
}

/** What a file is when it is not a regular file or a directory, for a message. */
export function kindOf(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

function mib(bytes: number): string {
  const n = bytes / MiB;
  return `${Number.isInteger(n) ? n : n.toFixed(1)} MiB`;
}

/**
 * The bytes of the regular file at `path`, at most `maxBytes` of them; anything else is a one-line
 * UsageError: no such file, a directory, a FIFO, a device or a socket, a file over the bound, or
 * one that cannot be read.
 */
export async function readInputFile(path: string, input: InputFile): Promise<Buffer> {
  const maxBytes = input.maxBytes ?? MAX_INPUT_BYTES;
  const problem = (what: string, fix = input.fix, cause?: unknown): UsageError =>
    new UsageError(`${input.flag === undefined ? '' : `${input.flag}: `}${path}: ${what}; ${fix}`, cause === undefined ? undefined : { cause });
  const refuse = (st: Stats): UsageError | undefined => {
    if (st.isDirectory()) return problem('is a directory', input.directoryFix ?? input.fix);
    if (!st.isFile()) return problem(`is ${kindOf(st)}, not a regular file`);
    if (st.size > maxBytes) return problem(`is ${mib(st.size)}, more than the ${mib(maxBytes)} tsbench reads from one file`);
    return undefined;
  };
  const cannot = (e: unknown): UsageError => {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return problem('no such file', input.fix, e);
    if (code === 'EISDIR') return problem('is a directory', input.directoryFix ?? input.fix, e);
    return problem(`cannot read (${describeError(e)})`, input.fix, e);
  };
  // Not the check that counts (the one on the descriptor below is): it spares opening what should
  // not be opened at all, as opening some devices does something (a tape rewinds, a watchdog arms).
  const before = await stat(path).catch((e: unknown) => {
    throw cannot(e);
  });
  const early = refuse(before);
  if (early) throw early;
  let fh: FileHandle;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    throw cannot(e);
  }
  try {
    const st = await fh.stat();
    const refused = refuse(st);
    if (refused) throw refused;
    // st.size is where reading starts, not a promise: a file that grows (or a /proc file, which
    // says 0) is read on only until it passes the bound.
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const buf = Buffer.allocUnsafe(Math.min(Math.max(st.size + 1, 64 * 1024), maxBytes + 1 - total));
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      chunks.push(buf.subarray(0, bytesRead));
      total += bytesRead;
      if (total > maxBytes) throw problem(`is more than the ${mib(maxBytes)} tsbench reads from one file`);
    }
    return Buffer.concat(chunks, total);
  } catch (e) {
    throw e instanceof UsageError ? e : cannot(e);
  } finally {
    await fh.close();
  }
}
