/**
 * `--threshold` values: a default (`5%`) and per-metric overrides
 * (`metric=10%`, `scenario.metric=10%`, `scenario.target.metric=10%`). Metric,
 * scenario and target names match case-insensitively with `_` and `-` ignored,
 * so `io.randread_iops` names the io scenario's `randReadIops`.
 */
import { UsageError } from '../../core/errors.js';

/** The relative change a regression must exceed when no --threshold is given: 5 %. */
export const DEFAULT_THRESHOLD = 0.05;

export interface ThresholdRule {
  /** The argument as given, for messages. */
  source: string;
  /** Normalized names; undefined parts match anything. */
  scenario?: string;
  target?: string;
  metric: string;
  /** Fraction: 0.1 is 10 %. */
  threshold: number;
}

export interface Thresholds {
  /** Applies to every metric without a more specific rule. */
  fallback: number;
  rules: ThresholdRule[];
}

/** Lower-case with `_` and `-` removed: how names are compared. */
export function normalizeName(name: string): string {
  return name.toLowerCase().replace(/[_-]/g, '');
}

function parsePercent(text: string, source: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(text);
  if (!m) throw new UsageError(`--threshold: '${source}' is not a percentage; write e.g. --threshold 5% or --threshold io.randReadIops=10%`);
  const pct = Number(m[1]);
  if (!(pct < 1000)) throw new UsageError(`--threshold: '${source}' is out of range; pass a percentage below 1000%`);
  return pct / 100;
}

/** Parses every --threshold argument; throws a UsageError naming the bad one. */
export function parseThresholds(args: readonly string[]): Thresholds {
  const out: Thresholds = { fallback: DEFAULT_THRESHOLD, rules: [] };
  for (const arg of args) {
    const eq = arg.indexOf('=');
    if (eq < 0) {
      out.fallback = parsePercent(arg, arg);
      continue;
    }
    const key = arg.slice(0, eq).trim();
    const threshold = parsePercent(arg.slice(eq + 1), arg);
    const parts = key.split('.').map((p) => p.trim());
    if (parts.some((p) => p === '') || parts.length > 3) {
      throw new UsageError(`--threshold: '${arg}' must name metric, scenario.metric or scenario.target.metric, e.g. io.randReadIops=10%`);
    }
    const metric = normalizeName(parts[parts.length - 1] as string);
    const rule: ThresholdRule = { source: arg, metric, threshold };
    if (parts.length >= 2) rule.scenario = normalizeName(parts[0] as string);
    if (parts.length === 3) rule.target = normalizeName(parts[1] as string);
    out.rules.push(rule);
  }
  return out;
}

/** What the two results hold, to check rules against: scenario → its targets and metrics. */
export type Catalogue = Map<string, { targets: Set<string>; metrics: Set<string> }>;

/**
 * Checks that every rule names a scenario, target and metric present in the
 * results; an unknown one is a UsageError naming it and listing the valid names.
 */
export function validateThresholds(t: Thresholds, catalogue: Catalogue): void {
  for (const rule of t.rules) {
    const scenarios = [...catalogue.entries()].filter(([name]) => rule.scenario === undefined || normalizeName(name) === rule.scenario);
    if (scenarios.length === 0) {
      throw new UsageError(`--threshold: '${rule.source}' names an unknown scenario; valid scenarios: ${[...catalogue.keys()].join(', ')}`);
    }
    if (rule.target !== undefined) {
      const targets = new Set(scenarios.flatMap(([, c]) => [...c.targets]));
      if (![...targets].some((x) => normalizeName(x) === rule.target)) {
        throw new UsageError(`--threshold: '${rule.source}' names an unknown target; valid targets: ${[...targets].join(', ')}`);
      }
    }
    const metrics = new Set(scenarios.flatMap(([, c]) => [...c.metrics]));
    if (![...metrics].some((m) => normalizeName(m) === rule.metric)) {
      const where = rule.scenario !== undefined ? ` of ${scenarios.map(([n]) => n).join(', ')}` : '';
      throw new UsageError(`--threshold: '${rule.source}' names an unknown metric; valid metrics${where}: ${[...metrics].join(', ')}`);
    }
  }
}

/** The threshold of one series: the most specific matching rule (scenario.target.metric, then scenario.metric, then metric; the last given wins a tie), else the default. */
export function thresholdFor(t: Thresholds, scenario: string, target: string, metric: string): { threshold: number; source?: string } {
  const s = normalizeName(scenario);
  const tg = normalizeName(target);
  const m = normalizeName(metric);
  let best: ThresholdRule | undefined;
  let bestRank = -1;
  for (const rule of t.rules) {
    if (rule.metric !== m) continue;
    if (rule.scenario !== undefined && rule.scenario !== s) continue;
    if (rule.target !== undefined && rule.target !== tg) continue;
    const rank = (rule.scenario !== undefined ? 1 : 0) + (rule.target !== undefined ? 1 : 0);
    if (rank >= bestRank) {
      best = rule;
      bestRank = rank;
    }
  }
  return best ? { threshold: best.threshold, source: best.source } : { threshold: t.fallback };
}

/** Parses --alpha: a number strictly between 0 and 1. */
export function parseAlpha(text: string): number {
  const a = Number(text);
  if (!/^\d*\.?\d+(e-?\d+)?$/i.test(text) || !(a > 0 && a < 1))
    throw new UsageError(`--alpha must be a number between 0 and 1, e.g. --alpha 0.01 (got '${text}')`);
  return a;
}
