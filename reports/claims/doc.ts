/**
 * docs/claims.md, generated from the one statement of the claims in code:
 * every claim's text, what decides it, its reference point, its rule in words
 * and every threshold come from catalogue.ts and rules/; only the sections
 * that explain verdicts in general are fixed prose here.
 * `npm run docs:claims` writes the file; test/claims-doc.test.ts fails when
 * the file differs from what this returns.
 */
import { CLAIMS, VERDICTS, referenceLines } from './catalogue.js';
import { IMAGE_PAIRS_TEXT, THRESHOLD_SPECS, ruleText } from './rules/index.js';
import type { Verdict } from './types.js';

/** The command that regenerates docs/claims.md. */
export const CLAIMS_DOC_COMMAND = 'npm run build && npm run docs:claims';

/** A Markdown table cell: one line, pipes escaped. */
const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
/** A threshold's value in its unit: "1000 ms", "1.05×", "0.01 (1 %)". */
const value = (v: number, unit: string): string => (unit === '×' ? `${v}×` : unit === 'fraction' ? `${v} (${v * 100} %)` : `${v} ${unit}`);
const row = (cells: readonly string[]): string => `| ${cells.map(cell).join(' | ')} |`;
const table = (head: readonly string[], rows: readonly (readonly string[])[]): string[] => [
  row(head),
  `|${head.map(() => '---').join('|')}|`,
  ...rows.map(row),
];

/** docs/claims.md as the claims and rules in code state it. */
export function claimsMarkdown(): string {
  const out: string[] = [];
  const p = (...lines: string[]): void => {
    out.push(...lines, '');
  };

  p(
    '<!--',
    '  Generated from reports/claims/catalogue.ts and reports/claims/rules/ by reports/claims/doc.ts.',
    `  Do not edit by hand: change the code, then run \`${CLAIMS_DOC_COMMAND}\``,
    '  (scripts/write-claims-doc.mjs). test/claims-doc.test.ts fails when this file differs from the code.',
    '-->',
  );
  p('# The claims tsbench tests, and how it judges them');
  p(
    'Popular write-ups on containers versus virtual machines make the claims below. A tsbench report takes',
    'each one, names the scenario and metric that decide it, and gives a verdict with the numbers behind it.',
    'Verdicts are computed from the results, never written by hand, and a report says which targets and',
    'accelerator (KVM or TCG emulation) produced them.',
  );
  p(
    'The code is `reports/claims/`: `catalogue.ts` holds each claim as commonly written, what decides it,',
    "the verdicts' meaning and the published reference points; `rules/` one file per claim (`c1.ts` …",
    '`c12.ts`) with its rule, its thresholds and its words, which `rules/index.ts` gathers into',
    '`THRESHOLD_SPECS` and `RULE_TEXTS`. `evaluateClaims(results)` (`index.ts`)',
    'returns, per host, a `ClaimVerdict` for each claim with its verdict, the rule in words, one or two',
    'sentences of evidence with the numbers, the figures (with their 95 % intervals and units), its parts,',
    'the published reference point, the accelerator whose results decided it and the targets used. Tests:',
    '`test/claims.test.ts`.',
  );

  p('## The claims');
  p(
    ...table(
      ['id', 'claim, as commonly written', 'what decides it'],
      CLAIMS.map((c) => [c.id, c.claim, c.decidedBy]),
    ),
  );

  p('## Verdicts');
  p(...(Object.entries(VERDICTS) as [Verdict, string][]).map(([v, meaning]) => `- **${v}** — ${meaning}`));
  p(
    'Intervals: per-target figures use the seeded bootstrap CI of the median that every result carries;',
    "ratios to native use the run's own `ratioToNative` (bootstrap CI of the ratio of medians, same file's",
    'native). Ratios and differences between two non-native targets (C1, C9, C10) are bootstrapped from the raw',
    "samples the same way (`reports/claims/data.ts` with `core/stats.ts`), from the same values the run's",
    'statistics take (`core/samples.ts`: every sample with a finite value, whatever its status), seeded from',
    'the result\'s seed. Differences of two medians taken from the statistics (C3\'s "minus native") use',
    'interval arithmetic, which is conservative.',
  );

  p('## Parts, and how they combine');
  p(
    'Most claims have several parts (C2: container near native; KVM close behind; TCG far slower). Each part',
    'has its own verdict. A part is either **deciding** or **context**: context parts are shown — peer',
    "runtimes (runc, crun, podman, docker), the container's overlay root in C6, a TCG result that could only",
    "flatter the claim — but never change the claim's verdict. The claim's verdict from its deciding parts:",
  );
  p(
    '1. **refuted** if any part is refuted — a claim is a conjunction, one false conjunct falsifies it and',
    '   no missing part can rescue it;',
    '2. **confirmed** only if every part is confirmed;',
    '3. **not measured** if any part is not measured — even when the others are confirmed. A verdicts table',
    '   must never show "confirmed" for a claim that names KVM on a host that never ran KVM; the evidence',
    '   still lists what was measured ("Measured: container near-native — confirmed; …");',
    '4. **inconclusive** otherwise.',
  );
  p(
    "An inconclusive part judged by intervals against bounds (C1, C2, C6, C10, C11 and C12's container parts) says about how",
    'many samples per target would decide it: for each interval that straddles its bound, n × (the half-width on the',
    "bound's side / the estimate's distance to the bound)², the largest of them (`core/stats.ts` samplesToClear) — it",
    'assumes the estimate stays where it is and the interval narrows as 1/√n, so it is a rough guide, not a promise.',
    '`tsbench run … --until-decided` takes rounds until every part its targets can decide is decided or `--max-runs` is',
    'reached.',
  );

  p('## Image pairs');
  p(IMAGE_PAIRS_TEXT);

  p('## TCG is never evidence about KVM');
  p(
    'A TCG VM is slower to boot, slower at I/O and heavier in host memory (its translation cache) than the',
    'same VM under KVM. So where a claim names KVM, only a `kvm` target measures that part; where a claim',
    'speaks of VMs in general, a TCG part **decides only in the direction TCG cannot flatter**, and is',
    'labelled `accelerator: \'tcg\'` with "under TCG" in its evidence. A TCG result that could only flatter',
    'the claim becomes context, and a deciding "VM (kvm): not measured" part is added so the claim waits for',
    'a kvm run. Claim by claim:',
  );
  p(
    ...CLAIMS.flatMap((c) => {
      const tcg = ruleText(c.id).tcg;
      return tcg ? [`- **${c.id}** ${tcg}`] : [];
    }),
  );
  p("A claim's `accelerator` is `kvm` when a measured KVM part decided it, `tcg` when only TCG parts did.");
  p(
    'The same holds for `kvm` on a host that is itself a VM under TCG (results with `host.nestedUnder: "tcg"`,',
    "such as the suite's nested KVM test host, docs/testhost.md): its guests ran the KVM code path at TCG's",
    'speed, so their timing parts (C1, C2, C6, C10) are judged by the TCG rule above, labelled "kvm nested under',
    'TCG", and never stand in for a KVM figure; C2\'s "KVM close behind" is then context and stays not measured.',
    "Memory (C3, C5) is judged as KVM's: the nested qemu runs its guest under KVM, with no translation cache.",
  );

  p('## Several result files and hosts');
  p(
    'Files are grouped by host: by hostname, and by hostname + CPU model when two different machines share a',
    'hostname (the label then reads `ci (AMD EPYC)`). A claim may draw on several files of one host (startup',
    'from one run, cpu from another). For each scenario × target the newest file (by `startedAt`, finished',
    'runs before interrupted ones) where that target **completed** is used; a newer errored run does not',
    'hide an older completed one. When a host has several files, the evidence names the file each scenario',
    'came from, and `HostClaims.sources` lists the files some verdict read (a superseded file is not listed).',
  );

  p('## The rules, and why these thresholds');
  p(
    ...table(
      ['id', 'rule (all bounds on 95 % intervals)', 'why this threshold'],
      CLAIMS.map((c) => {
        const r = ruleText(c.id);
        return [c.id, r.brief, r.why];
      }),
    ),
  );
  p("The thresholds, all in `THRESHOLD_SPECS` of `reports/claims/rules/index.ts`, each from its claim's file:");
  p(
    ...table(
      ['threshold', 'value', 'claims', 'meaning'],
      Object.entries(THRESHOLD_SPECS).map(([name, t]) => [`\`${name}\``, value(t.value, t.unit), t.claims.join(', '), t.meaning]),
    ),
  );

  p('## Each rule as a report states it');
  p('Every verdict carries its claim\'s rule in these words (`ClaimVerdict.rule`, shown under "How it was decided").');
  for (const c of CLAIMS) {
    p(`### ${c.id}. ${c.claim}`);
    p(ruleText(c.id).inWords);
    if (c.reference) p(`Reference point: ${c.reference}.`);
  }

  p('## Reference points from published work');
  p("For the report's context column, not targets to tune to. Each verdict carries its claim's reference", 'point as `reference`.');
  p(...referenceLines().map((l) => `- ${l}.`));
  p("tsbench's own timings of docker, podman and runc beside its container are measurements, not reference points:", 'see [performance.md](performance.md).');

  p('## Verdicts measured');
  p(
    'Verdicts come from results, so they are not in this file. `tsbench report results/<run>` judges a',
    "run's results; [claims-measured.md](claims-measured.md) records the verdicts of one development host.",
  );
  return `${out.join('\n').trimEnd()}\n`;
}
