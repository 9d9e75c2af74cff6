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

/** The binary units messages use, largest first. */
const BINARY_UNITS = [
  [TiB, 'TiB'],
  [GiB, 'GiB'],
  [MiB, 'MiB'],
  [KiB, 'KiB'],
] as const;

/**
 * Exact, in the largest binary unit that divides it: `2 GiB`, `512 MiB`, `1 KiB`, else `N bytes`.
 * Never rounds (a 1 KiB limit is not "0 MiB"): for help texts, descriptions and limits in messages.
 */
export function describeBytes(bytes: number): string {
  for (const [unit, name] of BINARY_UNITS) {
    if (bytes !== 0 && bytes % unit === 0) return `${bytes / unit} ${name}`;
  }
  return `${bytes} bytes`;
}

/** About how much, one decimal in the largest unit it reaches: `71.2 GiB`, `3.5 MiB`, `900 bytes`. For free space and such. */
export function approxBytes(bytes: number): string {
  for (const [unit, name] of BINARY_UNITS) {
    if (Math.abs(bytes) >= unit) return `${(Math.floor((bytes / unit) * 10) / 10).toFixed(1)} ${name}`;
  }
  return `${bytes} bytes`;
}

/**
 * A size flag's value that is at most `bytes`, rounded down to whole G from 10 GiB, else whole M, else whole K:
 * what to pass (`--io-size 64G`) when `bytes` is the most that fits. `0` when not even 1 KiB fits.
 */
export function sizeFlagAtMost(bytes: number): string {
  if (bytes >= 10 * GiB) return `${Math.floor(bytes / GiB)}G`;
  if (bytes >= MiB) return `${Math.floor(bytes / MiB)}M`;
  if (bytes >= KiB) return `${Math.floor(bytes / KiB)}K`;
  return '0';
}

/** A size flag's value that is at least `bytes`, rounded up to whole M (or K below 1 MiB): the least to pass. */
export function sizeFlagAtLeast(bytes: number): string {
  return bytes >= MiB || bytes === 0 ? `${Math.ceil(bytes / MiB)}M` : `${Math.ceil(bytes / KiB)}K`;
}

/** A CLOCK_MONOTONIC difference in nanoseconds as milliseconds. */
export function nsToMs(ns: bigint): Ms {
  return Number(ns) / 1e6;
}
