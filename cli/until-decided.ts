/**
 * `tsbench run --until-decided`: the judge the runner calls after each look
 * (bench/ knows no claims, so the command line hands it this one) and the
 * lines that say what it did.
 */
import type { Decision } from '../bench/runner.js';
import type { Result, ScenarioResult } from '../core/schema.js';
import { evaluateClaims } from '../reports/claims/index.js';

/** --until-decided's cap on measured rounds per scenario when --max-runs is not given (never below the scenario's runs). */
export const DEFAULT_MAX_RUNS = 100;

/**
 * --until-decided's judge: the claims (reports/claims) of the scenario being sampled alone, its
 * running targets read as completed; decided when no claim part that its targets can decide (every
 * target the part names is in the scenario) is still inconclusive.
 */
export function claimsDecided(result: Result, sc: ScenarioResult): Decision {
  const view: Result = {
    ...result,
    scenarios: [{ ...sc, targets: sc.targets.map((t) => (t.state === 'running' ? { ...t, state: 'completed' as const } : t)) }],
  };
  const live = new Set(sc.targets.filter((t) => t.state === 'running' || t.state === 'completed').map((t) => t.target));
  const pending = evaluateClaims([{ path: 'this run', result: view }]).flatMap((h) =>
    h.verdicts.flatMap((v) =>
      v.parts
        .filter((p) => p.verdict === 'inconclusive' && p.targets !== undefined && p.targets.length > 0 && p.targets.every((t) => live.has(t)))
        .map((p) => `${v.id} ${p.label}${p.samplesNeeded !== undefined ? `: about ${p.samplesNeeded} samples per target would decide it` : ''}`),
    ),
  );
  return { decided: pending.length === 0, pending };
}

/** What --until-decided did in each scenario, one line each. */
export function untilDecidedLines(result: Result): string[] {
  return result.scenarios.flatMap((sc) => {
    const u = sc.untilDecided;
    if (!u) return [];
    const head = `until decided: ${sc.name} took ${u.rounds} measured round(s) of at most ${u.maxRuns} (${u.looks} look(s) at the claims)`;
    return u.decided ? [`${head}: every claim part its targets can decide is decided`] : [`${head}: still inconclusive —`, ...u.pending.map((p) => `  ${p}`)];
  });
}
