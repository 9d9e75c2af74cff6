/**
 * Parsers for command-line values. Each throws commander's InvalidArgumentError
 * with the fix, so the CLI prints one line naming the flag and exits with 2.
 */
import { InvalidArgumentError } from 'commander';
import { GiB, KiB, MiB, TiB } from '../core/units.js';
import { parseImageName, type ImageName } from '../drivers/index.js';

export function positiveInt(flag: string, example: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value) || Number(value) < 1) throw new InvalidArgumentError(`${flag} must be a positive integer, e.g. ${flag} ${example}`);
    return Number(value);
  };
}

export function nonNegativeInt(flag: string, example: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`${flag} must be a whole number ≥ 0, e.g. ${flag} ${example}`);
    return Number(value);
  };
}

export function positiveNumber(flag: string, example: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+(\.\d+)?$/.test(value) || !(n > 0)) throw new InvalidArgumentError(`${flag} must be a positive number, e.g. ${flag} ${example}`);
    return n;
  };
}

const UNITS: Record<string, number> = { '': 1, k: KiB, m: MiB, g: GiB, t: TiB };

/** Bytes from `256M`, `1.5G`, `512MiB`, `4096` (binary units, as docker and cgroups use). */
export function parseSize(value: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(value.trim());
  if (!m) return undefined;
  const bytes = Number(m[1]) * (UNITS[(m[2] ?? '').toLowerCase()] ?? NaN);
  return Number.isFinite(bytes) && bytes > 0 ? Math.round(bytes) : undefined;
}

export function size(flag: string, example: string) {
  return (value: string): number => {
    const b = parseSize(value);
    if (b === undefined) throw new InvalidArgumentError(`${flag} must be a size such as ${example} (K, M, G, T are powers of 1024)`);
    return b;
  };
}

/** A size flag's bytes and the text it was given as, so that messages echo `--memory 1k` as `1k`. */
export interface GivenSize {
  bytes: number;
  given: string;
}

export function givenSize(flag: string, example: string) {
  const parse = size(flag, example);
  return (value: string): GivenSize => ({ bytes: parse(value), given: value.trim() });
}

/** An image name (`--image lean|debian`); an unknown one is a UsageError naming the flag and the valid images (drivers/image/names.ts). */
export function imageName(flag: string) {
  return (value: string): ImageName => parseImageName(value, flag);
}
