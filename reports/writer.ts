/**
 * One signature for every report format, as hyperfine's `Exporter::serialize`:
 * a writer turns loaded results into the text of one file, and knows its format
 * and extension. JSON and CSV hold one result file (the document itself, its
 * rows); HTML and Markdown hold any number, merged (reports/model.ts). The
 * writers are looked up by format in reports/writers.ts.
 */
import type { LoadedResult } from '../core/load.js';
import type { Result } from '../core/schema.js';
import type { HostClaims } from './claims/types.js';
import type { Calibration } from './compare/calibration.js';
import type { Comparison } from './compare/types.js';

export type ReportFormat = 'json' | 'csv' | 'html' | 'md';

/** How a report judges the claims: per host (`tsbench report`), or per file (a reproduction: each run on its own). */
export type ClaimsBy = 'host' | 'file';

/** The settings of a reproduction's comparison: which file is the base and which the head, and compare's options. */
export interface ComparisonSpec {
  base: string;
  head: string;
  alpha: number;
  seed: number;
  /** the threshold of every series no rule or calibration names (compare's --threshold PCT) */
  threshold: number;
  /** compare's --threshold rules naming a metric (`io.randReadIops=10%`), as given */
  thresholdRules?: string[];
  /** compare's --calibration: the file's name and its content, so the page can be verified without it */
  calibration?: { path: string; calibration: Calibration };
}

/** What a report shows besides the results; a format that has no place for an option ignores it. */
export interface ReportOptions {
  /** claim verdicts; computed from the results (as `claimsBy` says) when not given (html, md) */
  claims?: HostClaims[];
  /** how the claims are judged when not given (html, md) @default 'host' */
  claimsBy?: ClaimsBy;
  /** a reproduction: the comparison of its two files (reports/embedded.ts) (html: after the claims; md: at the end) */
  reproduction?: { spec: ComparisonSpec; comparison: Comparison };
  /** the time printed as "generated" (html) @default now */
  generatedAt?: Date;
}

export interface ReportWriter {
  readonly format: ReportFormat;
  /** the file name extension, with its dot */
  readonly extension: string;
  /** how many result files one output holds: `one` (render throws for any other count) or `many` */
  readonly holds: 'one' | 'many';
  /** The text of the file; pure, and synchronous, so the caller may change the results once it returns. */
  render(results: readonly LoadedResult[], options?: ReportOptions): string;
}

/** The result of a writer that holds one: anything but exactly one is the caller's mistake. */
export function onlyResult(results: readonly LoadedResult[], format: ReportFormat): Result {
  const [first] = results;
  if (results.length !== 1 || first === undefined) throw new Error(`the ${format} report holds one result file, not ${results.length}`);
  return first.result;
}
