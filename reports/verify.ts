/**
 * `tsbench verify`'s checks. A results file: every stored statistic and ratio
 * against its recomputation from the samples (core/figures.ts). A report page:
 * each embedded file's bytes against the SHA-256 the page states, then every
 * figure, claim verdict and comparison verdict the page shows
 * (`#tsbench-figures`) against the same computed again from the embedded
 * files (reports/embedded.ts `pageFigures`). Bad input — not a tsbench page or
 * result, a newer schema or embedding, embedded data missing or not parseable —
 * is a UsageError (exit 2); a difference is a line of the outcome (exit 1).
 */
import { UsageError, describeError } from '../core/errors.js';
import { sameFigure, seriesName, STATS_FIELDS, STATS_WORDS } from '../core/figures.js';
import { parseResult, sha256Hex, type LoadedResult } from '../core/load.js';
import { EMBED_FORMAT, claimsOf, pageFigures, reproductionComparison, type EmbeddedSource, type PageFigures, type ShownSeries } from './embedded.js';
import type { ClaimsBy, ComparisonSpec } from './writer.js';
import { calibrationOf } from './compare/calibration.js';
import { sourceName } from './model.js';

export interface VerifyOutcome {
  /** what was checked, in words, for the summary line */
  checked: string;
  /** one line per difference, naming the series (target/scenario/metric), the claim or the file */
  differences: string[];
  /** what is worth knowing but does not make the page inconsistent */
  notes: string[];
}

/** A figure in a message: 6 significant digits, all of them when that would hide the difference. */
function num(x: number, other: number): string {
  const short = (v: number): string => String(Number(v.toPrecision(6)));
  return short(x) === short(other) ? String(x) : short(x);
}

/** Verifies the text of a results file: its stored figures against its samples. */
export function verifyResultsText(text: string, path: string): VerifyOutcome {
  const lines: string[] = [];
  const loaded = parseResult(text, path, { warn: (l) => lines.push(l.replace(/; using the samples$/, '')) });
  const series = loaded.result.scenarios.reduce((n, sc) => n + sc.targets.reduce((m, t) => m + Object.keys(t.stats).length, 0), 0);
  return { checked: `${series} series' statistics and ratios recomputed from their samples`, differences: lines, notes: [] };
}

const SCRIPT = (id: string): RegExp => new RegExp(`<script type="application/json" id="${id}">([\\s\\S]*?)</script>`);

/** The JSON of one embedded script element; a UsageError when it is missing or does not parse. */
function embedded(html: string, id: string, path: string): unknown {
  const m = SCRIPT(id).exec(html);
  if (!m) {
    throw new UsageError(
      `${path}: the page embeds no #${id} (made by a tsbench before verify, or cut short); rebuild it with tsbench report RESULTS.json, or verify the results.json`,
    );
  }
  try {
    return JSON.parse(m[1] ?? '');
  } catch (e) {
    throw new UsageError(`${path}: the embedded #${id} is corrupt (${describeError(e)}); rebuild the page with tsbench report RESULTS.json`);
  }
}

function isSource(x: unknown): x is EmbeddedSource {
  const s = x as Partial<EmbeddedSource> | null;
  return typeof s === 'object' && s !== null && typeof s.path === 'string' && typeof s.sha256 === 'string' && typeof s.json === 'string';
}

function isFigures(x: unknown): x is PageFigures {
  const f = x as Partial<PageFigures> | null;
  return typeof f === 'object' && f !== null && typeof f.format === 'number' && Array.isArray(f.series) && Array.isArray(f.claims);
}

function assertTsbenchPage(html: string, path: string): void {
  if (!/<meta name="generator" content="tsbench /.test(html)) {
    throw new UsageError(
      `${path}: not a tsbench report page (no tsbench generator mark); pass a report.html written by tsbench run or tsbench report, or a results.json`,
    );
  }
}

/** The result files a report page embeds; a UsageError when it is no tsbench page or they are missing or corrupt. */
export function pageSources(html: string, path: string): EmbeddedSource[] {
  assertTsbenchPage(html, path);
  const raw = embedded(html, 'tsbench-results', path);
  if (!Array.isArray(raw) || raw.length === 0 || !raw.every(isSource)) {
    throw new UsageError(`${path}: the embedded #tsbench-results is corrupt (not the page's result files); rebuild the page`);
  }
  return raw;
}

/** Verifies a report page's text. */
export function verifyPageText(html: string, path: string): VerifyOutcome {
  assertTsbenchPage(html, path);
  const rawFigures = embedded(html, 'tsbench-figures', path);
  if (!isFigures(rawFigures)) throw new UsageError(`${path}: the embedded #tsbench-figures is corrupt (not the figures of a report); rebuild the page`);
  if (rawFigures.format > EMBED_FORMAT) {
    throw new UsageError(
      `${path}: the page embeds its figures in format ${rawFigures.format} (this tsbench reads format ${EMBED_FORMAT}); verify it with the tsbench version that wrote it`,
    );
  }
  const rawSources = pageSources(html, path);
  const differences: string[] = [];
  const notes: string[] = [];
  const loaded: LoadedResult[] = [];
  for (const src of rawSources) {
    const hash = sha256Hex(src.json);
    if (hash !== src.sha256) {
      differences.push(
        `${src.path}: the page states SHA-256 ${src.sha256.slice(0, 16)}…, its embedded bytes hash to ${hash.slice(0, 16)}…: the data was changed after the page was made`,
      );
    }
    const cache: string[] = [];
    loaded.push(parseResult(src.json, src.path, { warn: (l) => cache.push(l) }));
    notes.push(...cache.map((l) => `${l.replace(/; using the samples$/, '')} (the file's stored cache; the page shows the figures of the samples)`));
  }
  const claimsBy: ClaimsBy = rawFigures.claimsBy === 'file' ? 'file' : 'host';
  const claims = claimsOf(loaded, claimsBy);
  let comparison: { spec: ComparisonSpec; comparison: ReturnType<typeof reproductionComparison> } | undefined;
  if (rawFigures.comparison) {
    const { base, head, alpha, seed, threshold, thresholdRules, calibration } = rawFigures.comparison;
    try {
      const spec: ComparisonSpec = {
        base,
        head,
        alpha,
        seed,
        threshold,
        thresholdRules,
        calibration: calibration && { path: calibration.path, calibration: calibrationOf(calibration.calibration, calibration.path) },
      };
      comparison = { spec, comparison: reproductionComparison(loaded, spec) };
    } catch (e) {
      throw new UsageError(`${path}: the embedded comparison is corrupt (${describeError(e)}); rebuild the page`);
    }
  }
  const expected = pageFigures(loaded, claims, claimsBy, comparison);
  const many = loaded.length > 1;
  differences.push(...seriesDifferences(rawFigures.series, expected.series, many));
  differences.push(...claimDifferences(rawFigures, expected));
  differences.push(...comparisonDifferences(rawFigures, expected));
  const newer = rawFigures.claims.length > 0 ? newerClaims(rawFigures, expected) : [];
  if (newer.length > 0)
    notes.push(
      `claims ${newer.join(', ')} are not on the page: the tsbench that made it did not judge them yet (\`tsbench report\` on its results judges them)`,
    );
  const files = `${loaded.length} result file${loaded.length === 1 ? '' : 's'}`;
  const verdicts = expected.claims.length + (expected.comparison?.series.length ?? 0);
  return {
    checked: `${files} (SHA-256 checked), ${expected.series.length} series' figures and ${verdicts} verdicts recomputed from their samples`,
    differences,
    notes,
  };
}

/** Verifies a report page or a results file, told apart by their first character. */
export function verifyText(text: string, path: string): VerifyOutcome {
  const head = text.replace(/^\uFEFF/, '').trimStart();
  if (head.startsWith('<')) return verifyPageText(text, path);
  if (!head.startsWith('{'))
    throw new UsageError(`${path}: neither a tsbench report page nor a results.json; pass a report.html or results.json written by tsbench`);
  return verifyResultsText(text, path);
}

function seriesLabel(s: Pick<ShownSeries, 'source' | 'scenario' | 'target' | 'metric'>, many: boolean): string {
  return `${seriesName(s.scenario, s.target, s.metric)}${many ? ` (${sourceName(s.source)})` : ''}`;
}

function seriesDifferences(shown: readonly ShownSeries[], computed: readonly ShownSeries[], many: boolean): string[] {
  const key = (s: ShownSeries): string => `${s.source}\u0000${s.scenario}\u0000${s.target}\u0000${s.metric}`;
  const want = new Map(computed.map((s) => [key(s), s]));
  const out: string[] = [];
  const seen = new Set<string>();
  for (const s of shown) {
    const k = key(s);
    seen.add(k);
    const c = want.get(k);
    if (!c) {
      out.push(`${seriesLabel(s, many)}: the page shows median ${num(s.stats.median, s.stats.median)}, its samples give no figure`);
      continue;
    }
    const parts: string[] = [];
    for (const f of STATS_FIELDS) {
      const a = s.stats[f];
      const b = c.stats[f];
      if (typeof a !== 'number' || !sameFigure(a, b)) {
        parts.push(`${STATS_WORDS[f] ?? f} ${typeof a === 'number' ? num(a, b) : 'none'}, its samples give ${num(b, typeof a === 'number' ? a : b)}`);
        break;
      }
    }
    if (s.ratio || c.ratio) {
      const a = s.ratio;
      const b = c.ratio;
      if (!a || !b) parts.push(`ratio to native ${a ? num(a.ratio, a.ratio) : 'none'}, its samples give ${b ? num(b.ratio, b.ratio) : 'none'}`);
      else
        for (const f of ['ratio', 'ciLow', 'ciHigh'] as const) {
          if (!sameFigure(a[f], b[f])) {
            parts.push(`ratio to native${f === 'ratio' ? '' : ` ${STATS_WORDS[f] ?? f}`} ${num(a[f], b[f])}, its samples give ${num(b[f], a[f])}`);
            break;
          }
        }
    }
    if (parts.length > 0) out.push(`${seriesLabel(s, many)}: the page shows ${parts.join('; ')}`);
  }
  for (const c of computed)
    if (!seen.has(key(c))) out.push(`${seriesLabel(c, many)}: the page shows no figure, its samples give median ${num(c.stats.median, c.stats.median)}`);
  return out;
}

function claimDifferences(shown: PageFigures, computed: PageFigures): string[] {
  const key = (c: { host: string; id: string }): string => `${c.host}\u0000${c.id}`;
  const want = new Map(computed.claims.map((c) => [key(c), c]));
  const out: string[] = [];
  const seen = new Set<string>();
  const shownIds = new Set(shown.claims.map((c) => c.id));
  for (const c of shown.claims) {
    const k = key(c);
    seen.add(k);
    const w = want.get(k);
    const name = `claim ${c.id} (host ${c.host})`;
    if (!w) {
      out.push(`${name}: the page shows it ${c.verdict}, its samples judge no such claim`);
      continue;
    }
    if (w.verdict !== c.verdict) out.push(`${name}: the page says ${c.verdict}, its samples give ${w.verdict}`);
    else if (w.evidence !== c.evidence) out.push(`${name}: the page's evidence "${c.evidence}" ≠ "${w.evidence}" from its samples`);
    else {
      for (const p of c.parts) {
        const q = w.parts.find((x) => x.label === p.label);
        if (!q) out.push(`${name}, part "${p.label}": not among the parts its samples give`);
        else if (q.verdict !== p.verdict) out.push(`${name}, part "${p.label}": the page says ${p.verdict}, its samples give ${q.verdict}`);
        else if (q.evidence !== p.evidence) out.push(`${name}, part "${p.label}": the page's evidence "${p.evidence}" ≠ "${q.evidence}" from its samples`);
      }
    }
  }
  for (const c of computed.claims) {
    if (seen.has(key(c))) continue;
    // A claim the page shows on no host at all came after the tsbench that made the page: a published page stays verifiable when the catalogue grows.
    if (shownIds.size > 0 && !shownIds.has(c.id)) continue;
    out.push(`claim ${c.id} (host ${c.host}): the page shows no verdict, its samples give ${c.verdict}`);
  }
  return out;
}

/** The claims this tsbench judges that the page shows on no host: its catalogue did not have them yet. */
function newerClaims(shown: PageFigures, computed: PageFigures): string[] {
  const shownIds = new Set(shown.claims.map((c) => c.id));
  return [...new Set(computed.claims.map((c) => c.id).filter((id) => !shownIds.has(id)))];
}

function comparisonDifferences(shown: PageFigures, computed: PageFigures): string[] {
  const a = shown.comparison?.series ?? [];
  const b = computed.comparison?.series ?? [];
  const key = (s: { scenario: string; target: string; metric: string }): string => seriesName(s.scenario, s.target, s.metric);
  const want = new Map(b.map((s) => [key(s), s]));
  const out: string[] = [];
  for (const s of a) {
    const w = want.get(key(s));
    want.delete(key(s));
    if (!w) out.push(`${key(s)}: the page shows the comparison's verdict ${s.verdict}, its samples give no comparison`);
    else if (w.verdict !== s.verdict) out.push(`${key(s)}: the page says the comparison found ${s.verdict}, its samples give ${w.verdict}`);
    else if ((s.change === undefined) !== (w.change === undefined) || (s.change !== undefined && w.change !== undefined && !sameFigure(s.change, w.change))) {
      out.push(`${key(s)}: the page shows a change of ${String(s.change)}, its samples give ${String(w.change)}`);
    } else if (s.threshold !== undefined && w.threshold !== undefined && !sameFigure(s.threshold, w.threshold)) {
      out.push(`${key(s)}: the page shows a threshold of ${String(s.threshold)}, the comparison's settings give ${String(w.threshold)}`);
    }
  }
  for (const w of want.values()) out.push(`${key(w)}: the page shows no comparison, its samples give ${w.verdict}`);
  return out;
}
