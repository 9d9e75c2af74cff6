/**
 * One rule per claim of catalogue.ts, one file each (c1.ts … c13.ts): the claim's thresholds as data,
 * its words and its rule, both rendered from the thresholds' values. Each rule reads a host's results,
 * judges every part of the claim from intervals (never from a median alone) and never throws on
 * missing data: a missing target or metric makes its part "not measured", with the run that would
 * measure it (ClaimBuilder.missing). THRESHOLD_SPECS and RULE_TEXTS, assembled here from the claims'
 * files, are the only statement of the thresholds and rules: reports show RULE_TEXTS, and
 * docs/claims.md is generated from them (`npm run docs:claims`, see doc.ts).
 *
 * TCG and KVM: a TCG result is never evidence about KVM. Where a claim speaks
 * of VMs in general, a TCG part decides only in the direction TCG cannot
 * flatter; a TCG result that could only flatter the claim is shown as context
 * and the VM half stays "not measured" until a kvm target runs.
 */
import { CLAIMS, type ClaimSpec } from '../catalogue.js';
import type { HostData } from '../data.js';
import { judgeClaim, thresholdSpec, type ClaimRule, type RuleText, type ThresholdSpec, type Thresholds } from '../judge.js';
import type { ClaimVerdict } from '../types.js';
import { C1, C1_THRESHOLDS } from './c1.js';
import { C2, C2_THRESHOLDS } from './c2.js';
import { C3, C3_THRESHOLDS } from './c3.js';
import { C4, C4_THRESHOLDS } from './c4.js';
import { C5, C5_THRESHOLDS } from './c5.js';
import { C6, C6_THRESHOLDS } from './c6.js';
import { C7, C7_THRESHOLDS } from './c7.js';
import { C8 } from './c8.js';
import { C9, C9_THRESHOLDS } from './c9.js';
import { C10, C10_THRESHOLDS } from './c10.js';
import { C11 } from './c11.js';
import { C12, C12_THRESHOLDS } from './c12.js';
import { C13, C13_THRESHOLDS } from './c13.js';
import { C14, C14_THRESHOLDS } from './c14.js';

export { IMAGE_PAIRS_TEXT, PAIR_RULE, pairName } from '../pairs.js';
export type { RuleText, ThresholdSpec } from '../judge.js';

/** Every claim's thresholds, in claim order, as each claim's file states them. */
const DEFS = {
  ...C1_THRESHOLDS,
  ...C2_THRESHOLDS,
  ...C3_THRESHOLDS,
  ...C4_THRESHOLDS,
  ...C5_THRESHOLDS,
  ...C6_THRESHOLDS,
  ...C7_THRESHOLDS,
  ...C9_THRESHOLDS,
  ...C10_THRESHOLDS,
  ...C12_THRESHOLDS,
  ...C13_THRESHOLDS,
  ...C14_THRESHOLDS,
};

/** A threshold's name. */
export type ThresholdName = keyof typeof DEFS;

/** The thresholds' values (THRESHOLD_SPECS says what each means). */
export const THRESHOLDS = Object.fromEntries(Object.entries(DEFS).map(([k, d]) => [k, d.value])) as {
  readonly [K in ThresholdName]: (typeof DEFS)[K]['value'];
};

/** The thresholds with values `t`, each with what it means (its words rendered from its value). */
export function thresholdSpecs(t: Thresholds<ThresholdName> = THRESHOLDS): Readonly<Record<ThresholdName, ThresholdSpec>> {
  return Object.fromEntries(Object.entries(DEFS).map(([k, d]) => [k, thresholdSpec({ ...d, value: t[k as ThresholdName] })])) as Record<
    ThresholdName,
    ThresholdSpec
  >;
}

/** The thresholds every rule uses, in one place, with what each means. */
export const THRESHOLD_SPECS = thresholdSpecs() as {
  readonly [K in ThresholdName]: ThresholdSpec & { readonly value: (typeof DEFS)[K]['value'] };
};

/** Every claim's rule, in claim order. */
export const CLAIM_RULES: readonly ClaimRule<ThresholdName>[] = [C1, C2, C3, C4, C5, C6, C7, C8, C9, C10, C11, C12, C13, C14];

/** Every claim's rule in words with thresholds `t`, by claim id. */
export function ruleTexts(t: Thresholds<ThresholdName> = THRESHOLDS): Readonly<Record<string, RuleText>> {
  return Object.fromEntries(CLAIM_RULES.map((r) => [r.id, r.text(t)]));
}

/** Every claim's rule in words, by claim id. */
export const RULE_TEXTS = ruleTexts();

/** A claim's rule in words; throws for a claim without one. */
export function ruleText(id: string): RuleText {
  const r = RULE_TEXTS[id];
  if (!r) throw new Error(`RULE_TEXTS lacks ${id}`);
  return r;
}

function spec(id: string): ClaimSpec {
  const s = CLAIMS.find((c) => c.id === id);
  if (!s) throw new Error(`claims catalogue lacks ${id}`);
  return s;
}

/** A claim's verdict on a host's results with thresholds `t` (tests judge with others). */
export function judgeWith(rule: ClaimRule<ThresholdName>, h: HostData, t: Thresholds<ThresholdName> = THRESHOLDS): ClaimVerdict {
  return judgeClaim(rule, spec(rule.id), h, t);
}

/** Every rule, in claim order. */
export const RULES: readonly ((h: HostData) => ClaimVerdict)[] = CLAIM_RULES.map((r) => (h: HostData) => judgeWith(r, h));
