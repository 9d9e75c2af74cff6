/**
 * Claim verdicts: each claim of catalogue.ts judged from measured results by
 * a stated rule. Computed, never written by hand (reports/claims/index.ts).
 */
import type { ImageName } from '../../drivers/index.js';

export type Verdict = 'confirmed' | 'refuted' | 'inconclusive' | 'not measured';

/** One number behind a verdict, with its interval where it has one. */
export interface Figure {
  label: string;
  value: number;
  unit: string;
  ciLow?: number;
  ciHigh?: number;
  /** the target it was measured on, where it is one target's figure */
  target?: string;
}

/** One interval a part was judged by, against its bound, and the samples per target behind it. */
export interface Margin {
  value: number;
  lo: number;
  hi: number;
  bound: number;
  /** samples per target (the fewer of the targets compared) */
  n: number;
}

/** A claim's part with a verdict of its own (e.g. C2: container near native; KVM close; TCG far slower). */
export interface ClaimPart {
  label: string;
  verdict: Verdict;
  /** one sentence with the numbers that decided this part */
  evidence: string;
  /**
   * Whether this part enters the claim's overall verdict: `decides` (the default
   * when absent) or `context` — shown beside it but never deciding, e.g. a peer
   * runtime, or a TCG result that could only flatter the claim (docs/claims.md).
   */
  bearing?: 'decides' | 'context';
  /** the VM accelerator this part was measured with, when it is about a VM */
  accelerator?: 'kvm' | 'tcg';
  /** the targets this part used */
  targets?: string[];
  /**
   * the image pair this part judged (pairs.ts PAIRS): `lean`, tsbench's lean image (container vs
   * tcg/kvm), or `debian`, the Debian image (container@debian vs tcg-cloud@debian/kvm-cloud@debian);
   * absent for a part of no pair
   */
  image?: ImageName;
  /** the intervals the part was judged by against their bounds, where it is judged so (judge.ts `margin`) */
  margins?: Margin[];
  /**
   * an inconclusive part with margins: about how many samples per target would decide it
   * (core/stats.ts samplesToClear, the largest over its undecided intervals); absent when none would
   */
  samplesNeeded?: number;
}

export interface ClaimVerdict {
  /** C1 … C12 */
  id: string;
  /** the claim as commonly written */
  claim: string;
  /** scenario and metric that decide it */
  decidedBy: string;
  verdict: Verdict;
  /** one or two sentences with the numbers that decided it, or why it was not measured */
  evidence: string;
  /** the rule that turns the numbers into the verdict, stated for the reader */
  rule: string;
  parts: ClaimPart[];
  figures: Figure[];
  /** the published reference point, for context (catalogue.ts REFERENCE_POINTS) */
  reference?: string;
  /** which VM accelerator's results decided it, when VMs took part; TCG never stands in for KVM */
  accelerator?: 'kvm' | 'tcg';
  /** the targets whose results were used */
  targets: string[];
  /**
   * the image pairs that decided the verdict: those of the deciding parts whose verdict is the
   * claim's (both pairs for a claim every pair confirms; the refuting pair for a refuted one);
   * absent when no pair took part
   */
  pairs?: ImageName[];
  /** which VM each VM target among them was, in words (e.g. tcg: "lean microVM"), from the results' target details */
  vmProfiles?: Record<string, string>;
}

/** The verdicts for one host (several result files of the same host are judged together). */
export interface HostClaims {
  /** the host label shown in reports (hostname, and CPU model when hostnames clash) */
  host: string;
  /** the result files used */
  sources: string[];
  verdicts: ClaimVerdict[];
}
