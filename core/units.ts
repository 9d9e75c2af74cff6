/**
 * Units, named once: durations are milliseconds as floats (`Ms`), sizes are
 * bytes, and these are the binary multiples tsbench prints and parses.
 */

/** Milliseconds, as a float. */
export type Ms = number;

/** Bytes in a kibibyte, mebibyte, gibibyte, tebibyte. */
export const KiB = 2 ** 10;
export const MiB = 2 ** 20;
export const GiB = 2 ** 30;
export const TiB = 2 ** 40;

/** `512 MiB` for whole mebibytes, else `N bytes`: for help texts and descriptions. */
export function describeBytes(bytes: number): string {
  return bytes % MiB === 0 ? `${bytes / MiB} MiB` : `${bytes} bytes`;
}

/** A CLOCK_MONOTONIC difference in nanoseconds as milliseconds. */
export function nsToMs(ns: bigint): Ms {
  return Number(ns) / 1e6;
}
