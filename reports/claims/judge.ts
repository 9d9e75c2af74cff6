/**
 * Turning intervals into verdicts, parts into a claim's verdict, and numbers
 * (thresholds included: `pct`, `say`) into the words of the evidence and the
 * rules; the shapes every claim's file (rules/c*.ts) shares: ClaimBuilder with
 * its one "not measured" part (`missing`), a part judged on ratios to native,
 * the TCG rules, and ClaimRule. The combination rule is stated in
 * docs/claims.md; keep the two in step.
 */
import type { ImageName } from '../../drivers/index.js';
import type { ClaimSpec } from './catalogue.js';
import type { Found, HostData, Interval, MetricFound } from './data.js';
import type { ClaimPart, ClaimVerdict, Figure, Margin, Verdict } from './types.js';
import { samplesToClear } from '../../core/stats.js';

/** "x ≤ bound": confirmed when the whole interval is at or below it, refuted when it is wholly above. */
export function atMost(iv: Interval, bound: number): Verdict {
  if (iv.hi <= bound) return 'confirmed';
  if (iv.lo > bound) return 'refuted';
  return 'inconclusive';
}

/** "x ≥ bound": confirmed when the whole interval is at or above it, refuted when it is wholly below. */
export function atLeast(iv: Interval, bound: number): Verdict {
  if (iv.lo >= bound) return 'confirmed';
  if (iv.hi < bound) return 'refuted';
  return 'inconclusive';
}

/** An interval judged against a bound, with the samples per target behind it: the fewest of `found`'s. */
export function margin(iv: Interval, bound: number, ...found: readonly MetricFound[]): Margin {
  return { value: iv.value, lo: iv.lo, hi: iv.hi, bound, n: Math.min(...found.map((f) => f.stats.n)) };
}

/**
 * About how many samples per target an inconclusive part needs: for each of its intervals that
 * straddles its bound, n × (the half-width towards the bound / the distance to it)² (core/stats.ts
 * samplesToClear), the largest of them. Undefined when an estimate sits on its bound.
 */
export function samplesNeeded(margins: readonly Margin[]): number | undefined {
  let most = 0;
  for (const m of margins) {
    if (m.hi < m.bound || m.lo > m.bound || (m.hi === m.bound && m.value < m.bound) || (m.lo === m.bound && m.value > m.bound)) continue;
    const n = samplesToClear(m, m.bound, m.n);
    if (n === undefined) return undefined;
    most = Math.max(most, n);
  }
  return most > 0 ? most : undefined;
}

/** All of several verdicts: any refuted → refuted, any not measured → not measured, any inconclusive → inconclusive. */
export function all(verdicts: readonly Verdict[]): Verdict {
  if (verdicts.length === 0) return 'not measured';
  for (const v of ['refuted', 'not measured', 'inconclusive'] as const) if (verdicts.includes(v)) return v;
  return 'confirmed';
}

/**
 * A claim's verdict from its deciding parts (context parts never count):
 * refuted if any part is refuted (one false conjunct falsifies the claim, and
 * a missing part cannot rescue it); confirmed only if every part is confirmed;
 * not measured if any part is not measured (a target the claim names is
 * missing, even when the other parts are confirmed); inconclusive otherwise.
 */
export function combine(parts: readonly ClaimPart[]): Verdict {
  return all(parts.filter((p) => (p.bearing ?? 'decides') === 'decides').map((p) => p.verdict));
}

/** Whether a verdict's parts judged more than one image pair, or another than the lean one: reports then name each part's pair. */
export function namesPairs(c: ClaimVerdict): boolean {
  const images = new Set(c.parts.flatMap((p) => (p.image ? [p.image] : [])));
  return images.size > 1 || [...images].some((i) => i !== 'lean');
}

// ---- words and numbers -------------------------------------------------------

function sig(x: number, digits = 3): string {
  if (x === 0 || !Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 10 ** digits) return Math.round(x).toLocaleString('en-US');
  return Number(x.toPrecision(digits)).toLocaleString('en-US', { maximumFractionDigits: 6 });
}

/** A number in its unit, readable: bytes as KiB/MiB/GiB, ms as ms or s. */
export function fmt(x: number, unit: string): string {
  switch (unit) {
    case 'bytes': {
      const a = Math.abs(x);
      if (a >= 2 ** 30) return `${sig(x / 2 ** 30)} GiB`;
      if (a >= 2 ** 20) return `${sig(x / 2 ** 20)} MiB`;
      if (a >= 2 ** 10) return `${sig(x / 2 ** 10)} KiB`;
      return `${sig(x)} B`;
    }
    case 'ms':
      return Math.abs(x) >= 1000 ? `${sig(x / 1000)} s` : `${sig(x)} ms`;
    case '×':
      return Math.abs(x) < 10 ? `${x.toFixed(2)}×` : `${sig(x)}×`;
    case '%':
      return `${sig(x)} %`;
    default:
      return `${sig(x)} ${unit}`;
  }
}

/** "12 ms (95 % CI 11–13 ms)". */
export function fmtIv(iv: Interval, unit: string): string {
  if (iv.lo === iv.hi && iv.lo === iv.value) return fmt(iv.value, unit);
  return `${fmt(iv.value, unit)} (95 % CI ${fmt(iv.lo, unit)} – ${fmt(iv.hi, unit)})`;
}

/** A figure from an interval. */
export function figure(label: string, iv: Interval, unit: string, target?: string): Figure {
  return { label, value: iv.value, unit, ciLow: iv.lo, ciHigh: iv.hi, target };
}

/** A ratio's distance from 1 as a percentage: 1.05 and 0.95 are both "5 %". */
export function pct(ratio: number): string {
  return `${Math.round(Math.abs(ratio - 1) * 100)} %`;
}

/** The numbers rule texts say in words, and the unit each is in (`say`). */
const NUMBER_WORDS = {
  twice: { means: 2, unit: '×' },
  double: { means: 2, unit: '×' },
  'an order of magnitude': { means: 10, unit: '×' },
  half: { means: 0.5, unit: 'fraction' },
  'a second': { means: 1000, unit: 'ms' },
  second: { means: 1000, unit: 'ms' },
} as const;

/**
 * A threshold as the prose says it: `word` ("twice", "an order of magnitude") when the value is
 * what that word means, else the value in figures (2.5×, 1/3, 1.5 s). Rule texts never write a
 * threshold's number by hand; this keeps their words true when a threshold changes.
 */
export function say(value: number, word: keyof typeof NUMBER_WORDS): string {
  const w = NUMBER_WORDS[word];
  if (Math.abs(value - w.means) < 1e-9 * w.means) return word;
  if (w.unit === 'fraction') return `1/${sig(1 / value)}`;
  return fmt(value, w.unit);
}

/** "run `tsbench run io --targets native,container`". */
export function runHint(scenario: string, targets: readonly string[]): string {
  return `run \`tsbench run ${scenario} --targets ${targets.join(',')}\``;
}

// ---- one claim being judged --------------------------------------------------

/** How a kvm part measured on a host nested under TCG is labelled. */
export const NESTED_KVM = 'kvm nested under TCG';

/** Collects a claim's parts, figures, targets and source files, then states its verdict. */
export class ClaimBuilder {
  readonly parts: ClaimPart[] = [];
  readonly figures: Figure[] = [];
  private readonly targets = new Set<string>();
  /** file → scenarios read from it */
  private readonly sources = new Map<string, Set<string>>();
  /** a shorter evidence text for a confirmed claim of many alike parts */
  confirmedSummary?: string;

  constructor(
    readonly spec: ClaimSpec,
    readonly rule: string,
    readonly host: HostData,
  ) {}

  /** Records that a scenario × target of a file was read. */
  use(...found: Found[]): void {
    for (const f of found) {
      this.targets.add(f.target.target);
      this.host.markUsed(f.source);
      const s = this.sources.get(f.source) ?? new Set<string>();
      s.add(f.scenario.name);
      this.sources.set(f.source, s);
    }
  }

  /** Records a file read for something other than a scenario (the image). */
  useFile(source: string, what: string): void {
    this.host.markUsed(source);
    const s = this.sources.get(source) ?? new Set<string>();
    s.add(what);
    this.sources.set(source, s);
  }

  /**
   * Adds a part. On a host nested under TCG a measured kvm part is labelled so ("VM takes much longer
   * (kvm nested under TCG)"): its rule judged it as TCG (`ruleAccel` below), and readers must see why.
   */
  part(p: ClaimPart): void {
    if (p.verdict === 'inconclusive' && p.margins && p.margins.length > 0) {
      const need = samplesNeeded(p.margins);
      const n = Math.min(...p.margins.map((m) => m.n));
      p = {
        ...p,
        evidence:
          need !== undefined
            ? `${p.evidence} At this spread about ${need} samples per target (now ${n}) would decide it.`
            : `${p.evidence} An estimate sits on its bound: no number of samples decides it.`,
        samplesNeeded: need,
      };
    }
    if (p.accelerator === 'kvm' && p.verdict !== 'not measured' && this.host.nestedUnderTcg()) {
      const label = p.label.includes('(kvm') ? p.label.replace('(kvm', `(${NESTED_KVM}`) : `${p.label} (${NESTED_KVM})`;
      this.parts.push({ ...p, label });
      return;
    }
    this.parts.push(p);
  }

  fig(f: Figure): void {
    this.figures.push(f);
  }

  /**
   * Adds a part that could not be measured: `reason`, and the run of `scenario` on `run`'s targets
   * that would measure it (naming why kvm is unavailable here, when the run needs it).
   */
  missing(p: Omit<ClaimPart, 'verdict' | 'evidence'>, reason: string, scenario: string, run: readonly string[]): void {
    let text = `${reason}; ${runHint(scenario, run)}`;
    const kvmWhy = run.some((t) => t.includes('kvm')) ? this.host.kvmUnavailable() : undefined;
    if (kvmWhy) text += ` on a host where kvm works (here kvm is unavailable: ${shorten(kvmWhy)})`;
    this.part({ ...p, verdict: 'not measured', evidence: `${text}.` });
  }

  finish(): ClaimVerdict {
    const deciding = this.parts.filter((p) => (p.bearing ?? 'decides') === 'decides');
    const verdict = combine(this.parts);
    const pick = (v: Verdict): ClaimPart[] => deciding.filter((p) => p.verdict === v);
    // Parts that share their evidence (e.g. five probes of one missing scenario) are stated once.
    const sentence = (ps: readonly ClaimPart[]): string => {
      const byText = new Map<string, string[]>();
      for (const p of ps) byText.set(p.evidence, [...(byText.get(p.evidence) ?? []), p.label]);
      return [...byText].map(([text, labels]) => `${labels.join('; ')}: ${text}`).join(' ');
    };
    let evidence: string;
    if (verdict === 'confirmed') evidence = this.confirmedSummary ?? sentence(deciding);
    else if (verdict === 'refuted') evidence = sentence(pick('refuted'));
    else if (verdict === 'inconclusive') evidence = sentence(pick('inconclusive'));
    else {
      const measured = this.parts.filter((p) => p.verdict !== 'not measured');
      evidence = sentence(pick('not measured'));
      const tag = (p: ClaimPart): string => (p.bearing === 'context' ? ' (context)' : '');
      if (measured.length > 0) evidence += ` Measured: ${measured.map((p) => `${p.label} — ${p.verdict}${tag(p)}`).join('; ')}.`;
    }
    if (this.host.files.length > 1 && this.sources.size > 0) {
      evidence += ` Data: ${[...this.sources].map(([file, what]) => `${[...what].join(', ')} from ${file}`).join('; ')}.`;
    }
    const measuredAccels = deciding.filter((p) => p.verdict !== 'not measured' && p.accelerator).map((p) => p.accelerator);
    // The pairs whose deciding parts carry the claim's verdict: what decided it.
    const pairs = [...new Set(deciding.filter((p) => p.verdict === verdict && p.image).map((p) => p.image as ImageName))];
    const accelerator = measuredAccels.includes('kvm') ? 'kvm' : measuredAccels.includes('tcg') ? 'tcg' : undefined;
    return {
      id: this.spec.id,
      claim: this.spec.claim,
      decidedBy: this.spec.decidedBy,
      verdict,
      evidence,
      rule: this.rule,
      parts: this.parts,
      figures: this.figures,
      reference: this.spec.reference,
      accelerator,
      pairs: pairs.length > 0 ? pairs : undefined,
      targets: [...this.targets],
      vmProfiles: vmProfilesOf(this.host, [...this.targets]),
    };
  }
}

/** Which VM each VM target of a verdict was (lean microVM, stock VM), when any took part. */
function vmProfilesOf(host: HostData, targets: readonly string[]): Record<string, string> | undefined {
  const entries = targets.flatMap((t) => {
    const p = host.vmProfile(t);
    return p === undefined ? [] : [[t, p] as const];
  });
  return entries.length > 0 ? Object.fromEntries(entries) : undefined;
}

/** The first clause of a long reason (the kvm probe's reason runs to several). */
function shorten(reason: string): string {
  const cut = reason.indexOf(' (');
  const s = cut > 20 ? reason.slice(0, cut) : reason;
  return s.length > 160 ? `${s.slice(0, 157)}…` : s;
}

/** One ratio to native that a part bounds: at least (`atLeast`) or at most (`atMost`) `bound`. */
export interface RatioBound {
  metric: string;
  bound: number;
  side: 'atLeast' | 'atMost';
}

/**
 * A part judged on several ratios to native of one target (C6's I/O, C12's network), each against
 * its bound: refuted when any is, confirmed when all are, not measured when one is missing. `asks`
 * ends the evidence: what the rule asks, in words.
 */
export function ratiosPart(
  c: ClaimBuilder,
  o: { scenario: string; target: string; label: string; bearing: 'decides' | 'context'; ratios: readonly RatioBound[]; asks: string },
): void {
  const verdicts: Verdict[] = [];
  const words: string[] = [];
  const margins: Margin[] = [];
  for (const { metric, bound, side } of o.ratios) {
    const r = c.host.ratioToNative(o.scenario, o.target, metric);
    if (!r.ok) {
      c.missing({ label: o.label, bearing: o.bearing, targets: [o.target] }, r.reason, o.scenario, ['native', o.target]);
      return;
    }
    c.use(r.found);
    c.fig(figure(`${metric} / native`, r.found.ratio, '×', o.target));
    verdicts.push(side === 'atLeast' ? atLeast(r.found.ratio, bound) : atMost(r.found.ratio, bound));
    margins.push(margin(r.found.ratio, bound, r.found));
    words.push(`${metric} ${fmtIv(r.found.ratio, '×')}`);
  }
  c.part({
    label: o.label,
    verdict: verdicts.includes('refuted') ? 'refuted' : all(verdicts),
    evidence: `ratios to native: ${words.join(', ')}; the rule asks ${o.asks}.`,
    bearing: o.bearing,
    targets: ['native', o.target],
    margins,
  });
}

// ---- VMs, and TCG --------------------------------------------------------------

/** The VM accelerators, each a part of its own where a claim is about VMs. */
export const ACCELS = ['kvm', 'tcg'] as const;
export type Accel = (typeof ACCELS)[number];

/** The peer runtimes: judged beside tsbench's container as context, never deciding. */
export const PEERS = ['runc', 'crun', 'podman', 'docker'] as const;

/**
 * A VM part measured under TCG decides only when its verdict is not the one
 * TCG's bias could produce on its own (`flatters`); otherwise it is context.
 */
export function tcgBearing(accel: Accel, verdict: Verdict, flatters: Verdict | null): 'decides' | 'context' {
  return accel === 'tcg' && verdict === flatters ? 'context' : 'decides';
}

/**
 * The accelerator whose rule a VM part follows: its own, except kvm on a host that is itself a VM under
 * TCG (HostData.nestedUnderTcg, the nested KVM test host), whose guests run the KVM code path at TCG's
 * speed — a timing there is never KVM evidence, so it is judged as TCG's (and labelled, ClaimBuilder.part).
 */
export function ruleAccel(h: HostData, accel: Accel): Accel {
  return accel === 'kvm' && h.nestedUnderTcg() ? 'tcg' : accel;
}

/** What a kvm part's evidence says on such a host. */
export const NESTED_WORDS = `nested under TCG (a KVM guest on a host whose CPU TCG emulates: the KVM code path, at TCG's speed)`;

/**
 * What a VM part's evidence adds for its accelerator: `tcg` (" under TCG") for a TCG VM, `lead` and
 * NESTED_WORDS for kvm nested under TCG, nothing for KVM; then `context`, why TCG's bias says nothing
 * about KVM, when that made the part context.
 */
export function underNote(h: HostData, accel: Accel, bearing: 'decides' | 'context', o: { tcg: string; lead: string; context: string }): string {
  const under = accel === 'tcg' ? o.tcg : ruleAccel(h, accel) === 'tcg' ? `${o.lead}${NESTED_WORDS}` : '';
  return under !== '' && bearing === 'context' ? `${under}${o.context}` : under;
}

// ---- a claim's rule, thresholds and words ---------------------------------------

/** A threshold: its value, unit, the claims that use it and what it means. */
export interface ThresholdSpec {
  value: number;
  /** ms, ×, fraction */
  unit: string;
  claims: readonly string[];
  meaning: string;
}

/** A threshold as a claim's file states it: its meaning may name its value, rendered from it. */
export interface ThresholdDef extends Omit<ThresholdSpec, 'meaning'> {
  meaning: string | ((value: number) => string);
}

/** A threshold as THRESHOLD_SPECS states it: the meaning rendered from the value. */
export function thresholdSpec(t: ThresholdDef): ThresholdSpec {
  return { value: t.value, unit: t.unit, claims: t.claims, meaning: typeof t.meaning === 'string' ? t.meaning : t.meaning(t.value) };
}

/** The values of thresholds by name: what a rule and its words read. */
export type Thresholds<K extends string> = { readonly [N in K]: number };

/** A claim's rule in words. */
export interface RuleText {
  /** the rule as every verdict states it (ClaimVerdict.rule, shown in reports) */
  inWords: string;
  /** the rule in brief, every bound on a 95 % interval (the table of docs/claims.md) */
  brief: string;
  /** why these thresholds */
  why: string;
  /** how a TCG result bears on the claim, where it is about VMs */
  tcg?: string;
}

/**
 * One claim (reports/claims/rules/cN.ts): its thresholds, and its words and its rule, both
 * rendered from the thresholds' values `t` — the names in K, its own and any it refers to.
 */
export interface ClaimRule<K extends string> {
  id: string;
  /** the thresholds this claim owns (THRESHOLD_SPECS is assembled from every claim's) */
  thresholds: Readonly<Record<string, ThresholdDef>>;
  text(t: Thresholds<K>): RuleText;
  /** adds the claim's parts and figures to `c` */
  judge(c: ClaimBuilder, h: HostData, t: Thresholds<K>): void;
}

/** A claim's verdict on a host's results, judged with thresholds `t`. */
export function judgeClaim<K extends string>(rule: ClaimRule<K>, spec: ClaimSpec, h: HostData, t: Thresholds<K>): ClaimVerdict {
  const c = new ClaimBuilder(spec, rule.text(t).inWords, h);
  rule.judge(c, h, t);
  return c.finish();
}
