/** The CSV report: one row per scenario × target × metric with its statistics and ratio to native. */
import { stringify } from 'csv-stringify/sync';
import type { Result } from '../core/schema.js';
import { twinOrder } from './targets.js';
import { onlyResult, type ReportWriter } from './writer.js';

export const CSV_COLUMNS = [
  'scenario',
  'target',
  'state',
  'metric',
  'unit',
  'n',
  'min',
  'max',
  'mean',
  'sd',
  'median',
  'p95',
  'p99',
  'ci_low',
  'ci_high',
  'outliers',
  'ratio_to_native',
  'ratio_ci_low',
  'ratio_ci_high',
] as const;

export function toCsv(result: Result): string {
  const rows: (string | number)[][] = [];
  for (const sc of result.scenarios) {
    for (const t of twinOrder(sc.targets, (x) => x.target)) {
      for (const m of sc.metrics) {
        const s = t.stats[m.name];
        if (!s) continue;
        const r = t.ratioToNative[m.name];
        rows.push([
          sc.name,
          t.target,
          t.state,
          m.name,
          m.unit,
          s.n,
          s.min,
          s.max,
          s.mean,
          s.sd,
          s.median,
          s.p95,
          s.p99,
          s.ciLow,
          s.ciHigh,
          s.outliers,
          r?.ratio ?? '',
          r?.ciLow ?? '',
          r?.ciHigh ?? '',
        ]);
      }
    }
  }
  return stringify(rows, { header: true, columns: [...CSV_COLUMNS] });
}

/** results.csv: the rows of the one result it is given. */
export const csvWriter: ReportWriter = {
  format: 'csv',
  extension: '.csv',
  holds: 'one',
  render: (results) => toCsv(onlyResult(results, 'csv')),
};
