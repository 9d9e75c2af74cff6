/** Every scenario tsbench knows, in the order `tsbench scenarios` lists them. */
import { UsageError } from '../../core/errors.js';
import { cpu } from './cpu.js';
import { density } from './density.js';
import { firstwork } from './firstwork.js';
import { io } from './io.js';
import { isolation } from './isolation.js';
import { limits } from './limits.js';
import { memory } from './memory.js';
import { net } from './net.js';
import { startup } from './startup.js';
import { syscall } from './syscall.js';
import type { Scenario } from './types.js';

const scenarios: Scenario[] = [startup, cpu, memory, io, net, density, isolation, limits, syscall, firstwork];

export function listScenarios(): readonly Scenario[] {
  return scenarios;
}

/** Resolves scenario names from the command line, or says which exist. */
export function resolveScenarios(names: readonly string[]): Scenario[] {
  if (names.length === 0) throw new UsageError(`no scenario given; valid scenarios: ${scenarios.map((s) => s.name).join(', ')}`);
  const resolved = names.map((n) => {
    const s = scenarios.find((x) => x.name === n);
    if (!s) throw new UsageError(`unknown scenario '${n}'; valid scenarios: ${scenarios.map((x) => x.name).join(', ')}`);
    return s;
  });
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) throw new UsageError(`scenario ${twice} is given twice; give each scenario once, e.g. tsbench run ${[...new Set(names)].join(' ')}`);
  return resolved;
}
