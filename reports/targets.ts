/**
 * Targets as reports see them: `TARGET@IMAGE` (drivers/image/names.ts) is the
 * target `TARGET` running another image than the lean one, shown as its own
 * series right after its lean twin, in a shade of the twin's colour.
 */
import { targetParts } from '../drivers/index.js';

/**
 * The items in their order, except that each `TARGET@IMAGE` moves right after the last
 * `TARGET` of its group (its lean twin; a group is e.g. a host), where there is one.
 */
export function twinOrder<T>(items: readonly T[], target: (x: T) => string, group: (x: T) => string = () => ''): T[] {
  const key = (g: string, t: string): string => `${g}\u0000${t}`;
  const present = new Set(items.map((x) => key(group(x), target(x))));
  const twinOf = (x: T): string | undefined => {
    const { base, image } = targetParts(target(x));
    return image !== undefined && present.has(key(group(x), base)) ? key(group(x), base) : undefined;
  };
  const lastOf = new Map<string, number>();
  items.forEach((x, i) => lastOf.set(key(group(x), target(x)), i));
  const out: T[] = [];
  items.forEach((x, i) => {
    if (twinOf(x) !== undefined) return;
    out.push(x);
    const k = key(group(x), target(x));
    if (lastOf.get(k) === i) out.push(...items.filter((y) => twinOf(y) === k));
  });
  return out;
}
