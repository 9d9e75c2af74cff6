/**
 * A claim's thresholds are data that its rule and its words both read (reports/claims/rules/c*.ts):
 * no sentence writes a threshold's number by hand. Checked by rendering every rule text, threshold
 * meaning, part label and part evidence with other threshold values: what a changed threshold does
 * not change was written by hand, and only the few numbers that are no threshold may be.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { groupByHost } from '../reports/claims/data.js';
import { fmt, pct } from '../reports/claims/judge.js';
import { CLAIM_RULES, judgeWith, ruleTexts, thresholdSpecs, THRESHOLDS, type ThresholdName } from '../reports/claims/rules/index.js';
import { IMAGE, around, constant, craft } from './helpers/claims.js';

type Values = Record<ThresholdName, number>;
const NAMES = Object.keys(THRESHOLDS) as ThresholdName[];
const SPECS = thresholdSpecs();

/** Every threshold scaled by an odd factor of its own: no rendering of it, or of two of them, looks like a real one. */
const SENTINEL = Object.fromEntries(NAMES.map((n, i) => [n, THRESHOLDS[n] * (7.77 + 1.36 * i)])) as Values;

/** The numbers of a text, each with its unit: "5 %" → "5%", "1.05×", "4 KiB" → "4KiB"; a digit inside a word (C1, p50, ext4) is none. */
function numbers(text: string): Set<string> {
  const out = new Set<string>();
  for (const m of text.matchAll(/(?<![\p{L}\p{N}_.])(\d[\d,.]*\d|\d)(?:\s?(%|×|µs|ms|MiB|KiB|GiB|s)(?!\p{L}))?/gu)) out.add(`${m[1]}${m[2] ?? ''}`);
  return out;
}

/** Numbers in words that stand for a threshold's value: they must come from the data too (judge.ts `say`). */
const NUMBER_WORDS = /\b(twice|double|half|order of magnitude|a second|second)\b/;

/** Numbers the words may write that are no threshold, with why. */
const NOT_THRESHOLDS: Readonly<Record<string, readonly string[]>> = {
  // the level of every interval; "1/x" and a probe's "1 = seen"
  all: ['95%', '1'],
  C3: ['5MiB'], // Firecracker's published VMM overhead
  C5: ['4'], // the density scenario's default number of VMs
  C6: ['4KiB'], // fio's random I/O block
  C7: ['2×'], // the limits scenario's hog: twice the limit (c7.ts HOG_TIMES_LIMIT)
  C9: ['100%'], // a whole copy of the image
  C10: ['125ms'], // Firecracker's published boot bound
  C12: ['30µs'], // Felter et al.'s round trip
  C13: ['2×'], // "closer to one than the other": twice runsc's extra against the sum of the two
};
const allowed = (id: string): Set<string> => new Set([...(NOT_THRESHOLDS['all'] ?? []), ...(NOT_THRESHOLDS[id] ?? [])]);

/** A claim's words with thresholds `t`: its rule text and the meanings of the thresholds it uses. */
function words(id: string, t: Values): string {
  const text = ruleTexts(t)[id];
  assert.ok(text, id);
  const meanings = Object.values(thresholdSpecs(t))
    .filter((s) => s.claims.includes(id))
    .map((s) => s.meaning);
  return [text.inWords, text.brief, text.why, text.tcg ?? '', ...meanings].join('\n');
}

/** A host with every scenario every claim reads, at values that render like no threshold. */
function everything() {
  const v = (x: number) => around(x, 0.02);
  const net = (scale: number) =>
    Object.fromEntries(
      ['nat', 'host', 'veth', 'bridge', 'tap'].flatMap((n) => [
        [`${n}RxGbps`, v(7.3 * scale)],
        [`${n}TxGbps`, v(6.7 * scale)],
        [`${n}Tps`, v(31_700 * scale)],
        [`${n}RttP50Us`, v(43.7 / scale)],
      ]),
    );
  const io = (scale: number) =>
    Object.fromEntries(
      [
        'seqReadMiBps',
        'seqWriteMiBps',
        'randReadIops',
        'randWriteIops',
        'overlaySeqReadMiBps',
        'overlaySeqWriteMiBps',
        'overlayRandReadIops',
        'overlayRandWriteIops',
      ].map((m, i) => [m, v((1370 + 37 * i) * scale)]),
    );
  const memory = (pss: number) => ({
    footprintPssBytes: v(pss),
    guestTotalBytes: v(233e6),
    guestAvailableBytes: v(171e6),
    guestRamTouchedBytes: v(pss * 0.73),
    vmmOverheadBytes: v(pss * 0.27),
    cgroupUsageBytes: v(pss * 0.63),
  });
  return groupByHost([
    craft({
      image: IMAGE,
      scenarios: {
        startup: Object.fromEntries(
          [
            ['native', 0.37],
            ['container', 3.7],
            ['container@debian', 4.3],
            ['runc', 47.3],
            ['runsc', 313],
            ['kvm', 237],
            ['tcg', 1730],
            ['container-in-kvm', 273],
            ['container-in-tcg', 1930],
          ].map(([t, ms]) => [t, { toReadyMs: v(ms as number), toExitMs: v((ms as number) * 1.3) }]),
        ),
        cpu: Object.fromEntries(
          [
            ['native', 1.0],
            ['container', 1.03],
            ['kvm', 1.23],
            ['tcg', 7.3],
            ['container-in-kvm', 1.5],
            ['container-in-tcg', 9.7],
          ].map(([t, f]) => [t, { workMs: v(317 * (f as number)), hostCpuPerEventUs: v(37 * (f as number)), hostCpuMsWork: v(337 * (f as number)) }]),
        ),
        memory: { native: memory(3.3e6), container: memory(3.7e6), runsc: memory(27.3e6), kvm: memory(173e6), tcg: memory(237e6) },
        syscall: Object.fromEntries(
          [
            ['native', 1],
            ['container', 1.37],
            ['runsc', 37.3],
          ].map(([t, f]) => [
            t,
            {
              getppidNs: v(73 * (f as number)),
              openReadCloseNs: v(1730 * (f as number)),
              mmapTouchNs: v(937 * (f as number)),
              pipeRoundTripNs: v(3730 * (f as number)),
            },
          ]),
        ),
        density: Object.fromEntries(
          [
            ['container', 3.3e6],
            ['kvm', 173e6],
            ['tcg', 237e6],
          ].map(([t, b]) => [t, { pssPerInstanceBytes: v(b as number), vmmOverheadPerInstanceBytes: v((b as number) * 0.27), instances: constant(3) }]),
        ),
        io: { native: io(1), container: io(0.97), kvm: io(0.37), tcg: io(0.13) },
        limits: Object.fromEntries(
          ['container', 'runc'].map((t) => [
            t,
            { memLimitHeld: constant(1), memLimitBytes: constant(257e6), cpuQuotaDeliveredCpus: v(0.53), cpuQuotaCpus: constant(0.5) },
          ]),
        ),
        isolation: {
          native: { seesHostPids: constant(1), seesHostNet: constant(1), seesHostMounts: constant(1), seesHostIpc: constant(1), seesHostHostname: constant(1) },
          container: {
            seesHostPids: constant(0),
            seesHostNet: constant(0),
            seesHostMounts: constant(0),
            seesHostIpc: constant(0),
            seesHostHostname: constant(0),
            upperBytesAtStart: v(37_300),
          },
          runsc: { seesHostPids: constant(0), seesHostNet: constant(0), seesHostMounts: constant(0), seesHostIpc: constant(0), seesHostHostname: constant(0) },
        },
        net: { native: net(1), container: net(0.83), kvm: net(0.73), tcg: net(0.33) },
      },
    }),
  ]);
}

describe('no threshold is written by hand in a sentence', () => {
  test('changing one threshold changes the words of every claim that uses it', () => {
    for (const name of NAMES) {
      const changed = { ...THRESHOLDS, [name]: THRESHOLDS[name] * 7.77 } as Values;
      for (const id of SPECS[name].claims) {
        const [before, after] = [ruleTexts()[id], ruleTexts(changed)[id]];
        assert.notEqual(after?.inWords, before?.inWords, `${id}'s rule in words does not follow ${name}`);
        assert.notEqual(after?.brief, before?.brief, `${id}'s brief rule does not follow ${name}`);
      }
      assert.notEqual(thresholdSpecs(changed)[name].value, SPECS[name].value);
    }
  });

  test('the rule texts and threshold meanings write no number that stays when the thresholds change', () => {
    for (const { id } of CLAIM_RULES) {
      const [real, other] = [words(id, THRESHOLDS), words(id, SENTINEL)];
      const kept = [...numbers(other)].filter((n) => numbers(real).has(n) && !allowed(id).has(n));
      assert.deepEqual(kept, [], `${id} writes numbers by hand:\n${other}`);
      assert.doesNotMatch(other, NUMBER_WORDS, `${id} says a threshold in words by hand`);
    }
  });

  test("the parts' labels and evidence state thresholds from the data", () => {
    const host = everything();
    // Every way a threshold is written: N, N×, in its unit, as a percentage off 1 or of 1, and its inverse.
    const real = new Set(
      NAMES.flatMap((n) => {
        const x = THRESHOLDS[n];
        return [...numbers([`${x}`, `${x}×`, `${x} ms`, fmt(x, SPECS[n].unit), pct(x), `${x * 100} %`, fmt(1 / x, '×')].join(' '))];
      }),
    );
    let parts = 0;
    for (const rule of CLAIM_RULES) {
      const h = host[0];
      assert.ok(h);
      const v = judgeWith(rule, h, SENTINEL);
      for (const p of v.parts) {
        parts++;
        const text = `${p.label}\n${p.evidence}`;
        const kept = [...numbers(text)].filter((n) => real.has(n) && !allowed(v.id).has(n));
        assert.deepEqual(kept, [], `${v.id} "${p.label}" states a threshold by hand:\n${p.evidence}`);
        assert.doesNotMatch(text, NUMBER_WORDS, `${v.id} "${p.label}" says a threshold in words by hand`);
      }
    }
    assert.ok(parts > 40, `every claim's parts were judged (${parts})`);
  });
});
