/** The terminal summary: median, p95, the median's 95 % CI and the ratio to native, per metric and target. */
import Table from 'cli-table3';
import type { Result } from '../core/schema.js';
import { twinOrder } from './targets.js';

/** Rounds to 3 significant digits, keeping integers whole. */
export function fmt(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 1000) return Math.round(x).toLocaleString('en-US');
  if (a === 0) return '0';
  return Number(x.toPrecision(3)).toString();
}

export function toTable(result: Result): string {
  const out: string[] = [];
  for (const sc of result.scenarios) {
    const table = new Table({
      head: ['target', 'metric', 'median', 'p95', '95% CI of median', 'ratio to native', 'n'],
      style: { head: [], border: [] },
    });
    for (const t of twinOrder(sc.targets, (x) => x.target)) {
      for (const m of sc.metrics) {
        const s = t.stats[m.name];
        if (!s) continue;
        const r = t.ratioToNative[m.name];
        table.push([
          t.target,
          `${m.name}`,
          `${fmt(s.median)} ${m.unit}`,
          `${fmt(s.p95)} ${m.unit}`,
          `${fmt(s.ciLow)} – ${fmt(s.ciHigh)}`,
          r ? `${fmt(r.ratio)}× (${fmt(r.ciLow)}–${fmt(r.ciHigh)})` : t.target === 'native' ? '1×' : '',
          String(s.n),
        ]);
      }
    }
    out.push(`${sc.name}: ${sc.description}`);
    out.push(table.toString());
    for (const t of sc.targets) {
      if (t.state === 'skipped') out.push(`  ${t.target}: skipped — ${t.error ?? 'unavailable'}`);
      else if (t.state === 'errored') out.push(`  ${t.target}: FAILED — ${t.error ?? 'unknown error'}`);
      else if (t.state === 'cancelled') out.push(`  ${t.target}: cancelled after ${t.samples.length} samples`);
    }
  }
  return out.join('\n');
}
