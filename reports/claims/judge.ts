/**
 * Turning intervals into verdicts, parts into a claim's verdict, and numbers
 * into the words of the evidence. The combination rule is stated in
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
  return { label, value: iv.value, unit, ciLow: iv.lo, ciHigh: iv.hi, ...(target ? { target } : {}) };
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
   * (kvm nested under TCG)"): its rule judged it as TCG (rules.ts `ruleAccel`), and readers must see why.
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
        ...(need !== undefined ? { samplesNeeded: need } : {}),
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

  /** The text for a part that could not be measured: the reason and the run that would measure it. */
  notMeasured(reason: string, scenario: string, targets: readonly string[]): string {
    let text = `${reason}; ${runHint(scenario, targets)}`;
    const kvmWhy = targets.some((t) => t.includes('kvm')) ? this.host.kvmUnavailable() : undefined;
    if (kvmWhy) text += ` on a host where kvm works (here kvm is unavailable: ${shorten(kvmWhy)})`;
    return `${text}.`;
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
      ...(this.spec.reference ? { reference: this.spec.reference } : {}),
      ...(accelerator ? { accelerator } : {}),
      ...(pairs.length > 0 ? { pairs } : {}),
      targets: [...this.targets],
      ...vmProfilesOf(this.host, [...this.targets]),
    };
  }
}

/** Which VM each VM target of a verdict was (lean microVM, stock VM), when any took part. */
function vmProfilesOf(host: HostData, targets: readonly string[]): { vmProfiles?: Record<string, string> } {
  const entries = targets.flatMap((t) => {
    const p = host.vmProfile(t);
    return p === undefined ? [] : [[t, p] as const];
  });
  return entries.length > 0 ? { vmProfiles: Object.fromEntries(entries) } : {};
}

/** The first clause of a long reason (the kvm probe's reason runs to several). */
function shorten(reason: string): string {
  const cut = reason.indexOf(' (');
  const s = cut > 20 ? reason.slice(0, cut) : reason;
  return s.length > 160 ? `${s.slice(0, 157)}…` : s;
}
