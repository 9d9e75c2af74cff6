/**
 * What a report page embeds so that anyone can check it (`tsbench verify`) and
 * take its data away: every result file it was built from, byte for byte, with
 * its SHA-256 and its CSV (`#tsbench-results`), and every figure and verdict the
 * page shows (`#tsbench-figures`). Both are JSON script elements
 * (html/common.ts jsonForScript). `pageFigures` computes the shown figures from
 * loaded results; the page embeds its output, and verify calls it again on the
 * embedded files and compares the two.
 */
import { basename } from 'node:path';
import { sha256Hex, type LoadedResult } from '../core/load.js';
import { evaluateClaims } from './claims/index.js';
import type { HostClaims } from './claims/types.js';
import { compareResults, type Comparison, type CompareOptions } from './compare/index.js';
import { parseThresholds } from './compare/thresholds.js';
import { toCsv } from './csv.js';
import { buildReportModel, sourceName } from './model.js';
import { toJson } from './json.js';
import type { ClaimsBy, ComparisonSpec } from './writer.js';
import type { Ratio, Stats } from '../core/stats.js';

/** Version of the embedded blocks' layout; verify refuses a page of a newer one. */
export const EMBED_FORMAT = 1;

/** One result file as the page embeds it. */
export interface EmbeddedSource {
  /** the path the page was built from */
  path: string;
  /** SHA-256 of `json`'s bytes (UTF-8), hex: the file's hash as read */
  sha256: string;
  /** the file's text, exactly */
  json: string;
  /** its CSV (reports/csv.ts), from the recomputed figures */
  csv: string;
  /** download names */
  jsonName: string;
  csvName: string;
}

/** One figure row the page shows: a series' statistics and its ratio to native. */
export interface ShownSeries {
  source: string;
  scenario: string;
  target: string;
  metric: string;
  stats: Stats;
  ratio?: Ratio;
}

/** One claim verdict the page shows, with the words that carry its numbers. */
export interface ShownClaim {
  host: string;
  id: string;
  verdict: string;
  evidence: string;
  parts: { label: string; verdict: string; evidence: string }[];
}

/** One series of the reproduction's comparison as the page shows it. */
export interface ShownComparison {
  scenario: string;
  target: string;
  metric: string;
  verdict: string;
  change?: number;
  q?: number;
  /** the series' threshold (absent on pages made before it was shown) */
  threshold?: number;
}

export interface PageFigures {
  format: number;
  claimsBy: ClaimsBy;
  series: ShownSeries[];
  claims: ShownClaim[];
  comparison?: ComparisonSpec & { series: ShownComparison[] };
}

/** The embedded form of loaded results: their text as read (or as tsbench writes it, for a result made in memory). */
export function embeddedSources(results: readonly LoadedResult[]): EmbeddedSource[] {
  const many = results.length > 1;
  return results.map((r) => {
    const json = r.text ?? toJson(r.result);
    const stem = many ? `${sourceName(r.path).replace(/\.json$/i, '')}-` : '';
    const base = basename(r.path).replace(/\.json$/i, '') || 'results';
    return {
      path: r.path,
      sha256: r.text !== undefined && r.sha256 !== undefined ? r.sha256 : sha256Hex(json),
      json,
      csv: toCsv(r.result),
      jsonName: `${stem}${base}.json`,
      csvName: `${stem}${base}.csv`,
    };
  });
}

/** The claims judged per file, each labelled `host (file)`: a reproduction's two runs side by side, even of one host. */
export function claimsPerFile(results: readonly LoadedResult[]): HostClaims[] {
  return results.flatMap((r) => evaluateClaims([r]).map((h) => ({ ...h, host: `${h.host} (${sourceName(r.path)})` })));
}

/** The claims as a page judges them. */
export function claimsOf(results: readonly LoadedResult[], by: ClaimsBy): HostClaims[] {
  return by === 'file' ? claimsPerFile(results) : evaluateClaims(results);
}

/** The comparison of a reproduction: the two files by path, with compare's default thresholds. */
export function reproductionComparison(results: readonly LoadedResult[], spec: ComparisonSpec): Comparison {
  const find = (path: string): LoadedResult => {
    const r = results.find((x) => x.path === path);
    if (!r) throw new Error(`the comparison names ${path}, which the page does not hold`);
    return r;
  };
  const opts: CompareOptions = {
    thresholds: { fallback: spec.threshold, rules: parseThresholds(spec.thresholdRules ?? []).rules },
    alpha: spec.alpha,
    seed: spec.seed,
    calibration: spec.calibration,
  };
  return compareResults(find(spec.base), find(spec.head), opts);
}

/** Every figure and verdict a page built from `results` shows. */
export function pageFigures(
  results: readonly LoadedResult[],
  claims: readonly HostClaims[],
  claimsBy: ClaimsBy,
  comparison?: { spec: ComparisonSpec; comparison: Comparison },
): PageFigures {
  const model = buildReportModel(results);
  const series: ShownSeries[] = [];
  for (const sc of model.scenarios) {
    for (const s of sc.series) {
      for (const m of sc.metrics) {
        const stats = s.stats[m.name];
        if (!stats) continue;
        const ratio = s.ratioToNative[m.name];
        series.push({ source: s.source, scenario: sc.name, target: s.target, metric: m.name, stats, ratio });
      }
    }
  }
  const shownClaims: ShownClaim[] = claims.flatMap((h) =>
    h.verdicts.map((v) => ({
      host: h.host,
      id: v.id,
      verdict: v.verdict,
      evidence: v.evidence,
      parts: v.parts.map((p) => ({ label: p.label, verdict: p.verdict, evidence: p.evidence })),
    })),
  );
  return {
    format: EMBED_FORMAT,
    claimsBy,
    series,
    claims: shownClaims,
    comparison: comparison && {
      ...comparison.spec,
      series: comparison.comparison.series.map((s) => ({
        scenario: s.scenario,
        target: s.target,
        metric: s.metric,
        verdict: s.verdict,
        change: s.change?.change,
        q: s.q,
        threshold: s.threshold,
      })),
    },
  };
}
