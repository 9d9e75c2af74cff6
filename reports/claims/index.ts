/**
 * Claim verdicts from results: every claim of catalogue.ts judged per host by
 * the stated rules of rules/ (one file per claim). docs/claims.md is generated from the two
 * (`npm run docs:claims`).
 */
import type { LoadedResult } from '../../core/load.js';
import { groupByHost } from './data.js';
import { RULES } from './rules/index.js';
import type { HostClaims } from './types.js';

export type { ClaimVerdict, ClaimPart, Figure, HostClaims, Verdict } from './types.js';
export { CLAIMS, REFERENCE_POINTS, VERDICTS, referenceLines, type ClaimSpec, type ReferencePoint } from './catalogue.js';
export { namesPairs } from './judge.js';
export { IMAGE_PAIRS_TEXT, PAIR_RULE, RULE_TEXTS, THRESHOLDS, THRESHOLD_SPECS, pairName, ruleText, type RuleText, type ThresholdSpec } from './rules/index.js';

/**
 * Judges every claim for every host found in the results. Files of one host
 * (same hostname and CPU model) are judged together; for each scenario × target
 * the newest file where it completed is used, and `sources` lists the files
 * that some verdict read from. Never throws on missing data:
 * what is absent is "not measured", with the run that would measure it.
 */
export function evaluateClaims(results: readonly LoadedResult[]): HostClaims[] {
  return groupByHost(results).map((h) => {
    const verdicts = RULES.map((rule) => rule(h));
    return { host: h.label, sources: h.used(), verdicts };
  });
}
