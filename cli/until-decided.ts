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
 * --until-decided's judge: the claims (reports/claims) of the scenario being sampled alone, every
 * target with samples read as completed (a failed one with the samples it took). Of the parts still
 * inconclusive whose targets are all in the scenario: pending when every one of them still takes
 * samples, blocked when one failed — no round can decide those. Decided when neither is left; stop
 * when nothing is pending (more rounds would not help).
 */
export function claimsDecided(result: Result, sc: ScenarioResult): Decision {
  const view: Result = {
    ...result,
    scenarios: [{ ...sc, targets: sc.targets.map((t) => (t.samples.length > 0 ? { ...t, state: 'completed' as const } : t)) }],
  };
  const state = new Map(sc.targets.map((t) => [t.target, t]));
  const live = (t: string): boolean => state.get(t)?.state === 'running' || state.get(t)?.state === 'completed';
  const pending: string[] = [];
  const blocked: string[] = [];
  for (const h of evaluateClaims([{ path: 'this run', result: view }])) {
    for (const v of h.verdicts) {
      for (const p of v.parts) {
        const targets = p.targets ?? [];
        if (p.verdict !== 'inconclusive' || targets.length === 0 || !targets.every((t) => state.has(t))) continue;
        const failed = targets.find((t) => !live(t));
        if (failed !== undefined) {
          const t = state.get(failed);
          blocked.push(`${v.id} ${p.label}: cannot be decided in this run, ${failed} ${t?.state ?? 'failed'}${t?.error ? `: ${t.error}` : ''}`);
        } else {
          pending.push(`${v.id} ${p.label}${p.samplesNeeded !== undefined ? `: about ${p.samplesNeeded} samples per target would decide it` : ''}`);
        }
      }
    }
  }
  return { decided: pending.length === 0 && blocked.length === 0, pending: [...pending, ...blocked], stop: pending.length === 0 };
}

/** What --until-decided did in each scenario, one line each. */
export function untilDecidedLines(result: Result): string[] {
  return result.scenarios.flatMap((sc) => {
    const u = sc.untilDecided;
    if (!u) return [];
    const head = `until decided: ${sc.name} took ${u.rounds} measured round(s) of at most ${u.maxRuns} (${u.looks} look(s) at the claims)`;
    return u.decided ? [`${head}: every claim part its targets can decide is decided`] : [`${head}: not decided —`, ...u.pending.map((p) => `  ${p}`)];
  });
}
