import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parse as parseYaml } from 'yaml';
import { compareResults, judgeSeries, type Comparison } from '../reports/compare/index.js';
import { benjaminiHochberg, mannWhitney, minAttainableP } from '../reports/compare/stats.js';
import { parseThresholds, thresholdFor } from '../reports/compare/thresholds.js';
import { UsageError } from '../core/errors.js';
import type { Result } from '../core/schema.js';
import { CPU, IO, STARTUP, craftResult, type CraftOptions } from './fixtures/compare/craft.js';
import { tsbench } from './helpers/cli.js';

const work = mkdtempSync(join(tmpdir(), 'tsbench-compare-test-'));
after(() => rmSync(work, { recursive: true, force: true }));

function compare(base: Result, head: Result, thresholds: string[] = [], alpha?: number): Comparison {
  return compareResults({ path: 'base.json', result: base }, { path: 'head.json', result: head }, { thresholds: parseThresholds(thresholds), alpha });
}

function verdictOf(c: Comparison, key: string): string | undefined {
  return c.series.find((s) => `${s.scenario}/${s.target}/${s.metric}` === key)?.verdict;
}

function writeResult(name: string, r: unknown): string {
  const p = join(work, name);
  writeFileSync(p, JSON.stringify(r));
  return p;
}

describe('the rank test', () => {
  test('with 3 vs 3 samples the smallest attainable p is 0.1, so it can never reach α = 0.01', () => {
    assert.equal(minAttainableP(3, 3), 0.1);
    const r = mannWhitney([1, 2, 3], [10, 11, 12]);
    assert.equal(r.exact, true);
    assert.equal(r.p, 0.1, 'completely separated groups give exactly the floor');
    assert.equal(r.minP, 0.1);
    assert.equal(r.u, 0);
  });

  test('with 5 vs 5 the floor is 2/252, just below 0.01, and separated groups reach it', () => {
    assert.equal(minAttainableP(5, 5), 2 / 252);
    assert.ok(Math.abs(mannWhitney([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]).p - 2 / 252) < 1e-12);
  });

  test('the exact p-value with ties equals a brute-force enumeration of every split', () => {
    const a = [1, 2, 2, 3, 5];
    const b = [2, 3, 4, 4, 6, 7];
    const pooled = [...a, ...b];
    const rankSum = (idx: number[]): number =>
      idx.reduce((acc, i) => acc + pooled.filter((v) => v < (pooled[i] as number)).length + (pooled.filter((v) => v === pooled[i]).length + 1) / 2, 0);
    const observed = rankSum([0, 1, 2, 3, 4]);
    const mean = (5 * 12) / 2;
    let hits = 0;
    let all = 0;
    const pick = (start: number, chosen: number[]): void => {
      if (chosen.length === 5) {
        all++;
        if (Math.abs(rankSum(chosen) - mean) >= Math.abs(observed - mean) - 1e-9) hits++;
        return;
      }
      for (let i = start; i < pooled.length; i++) pick(i + 1, [...chosen, i]);
    };
    pick(0, []);
    assert.equal(all, 462);
    assert.ok(Math.abs(mannWhitney(a, b).p - hits / all) < 1e-12, `${mannWhitney(a, b).p} vs ${hits}/${all}`);
  });

  test('identical samples give p = 1, and above 100 samples the normal approximation is used', () => {
    assert.equal(mannWhitney([5, 5, 5, 5], [5, 5, 5, 5]).p, 1);
    const big = mannWhitney(
      Array.from({ length: 60 }, (_, i) => i),
      Array.from({ length: 60 }, (_, i) => i + 0.5),
    );
    assert.equal(big.exact, false);
    assert.ok(big.p > 0.8, String(big.p));
    const apart = mannWhitney(
      Array.from({ length: 60 }, (_, i) => i),
      Array.from({ length: 60 }, (_, i) => i + 100),
    );
    assert.ok(apart.p < 1e-15, String(apart.p));
  });

  test('Benjamini–Hochberg q-values match a worked example', () => {
    assert.deepEqual(
      benjaminiHochberg([0.01, 0.04, 0.03, 0.005]).map((q) => Number(q.toFixed(6))),
      [0.02, 0.04, 0.04, 0.02],
    );
  });
});

describe('verdicts on crafted results with a known shift', () => {
  const base = craftResult({ seed: 1, scenarios: [STARTUP, CPU] });

  test('a 10 % slower startup (lower is better) is a regression and exits 1', () => {
    const head = craftResult({ seed: 2, scenarios: [STARTUP, CPU], shift: { 'startup/container/toExitMs': 1.1 } });
    const c = compare(base, head);
    const s = c.series.find((x) => x.scenario === 'startup' && x.target === 'container' && x.metric === 'toExitMs');
    assert.equal(s?.verdict, 'regression', s?.reason);
    assert.ok(s.change && s.change.change > 0.05 && s.change.ciLow > 0, `change ${JSON.stringify(s.change)}`);
    assert.ok(s.q !== undefined && s.q < 0.01 && s.p !== undefined && s.p <= s.q);
    assert.equal(c.exitCode, 1);
    assert.equal(c.counts.regression, 1, JSON.stringify(c.series.filter((x) => x.verdict !== 'unchanged')));
  });

  test('10 % fewer events per second (higher is better) is a regression; 10 % more is an improvement and exits 0', () => {
    const worse = compare(base, craftResult({ seed: 3, scenarios: [STARTUP, CPU], shift: { 'cpu/native/eventsPerS': 0.9 } }));
    assert.equal(verdictOf(worse, 'cpu/native/eventsPerS'), 'regression');
    assert.equal(worse.exitCode, 1);
    const better = compare(base, craftResult({ seed: 3, scenarios: [STARTUP, CPU], shift: { 'cpu/native/eventsPerS': 1.1 } }));
    assert.equal(verdictOf(better, 'cpu/native/eventsPerS'), 'improvement');
    assert.equal(better.exitCode, 0);
  });

  test('a 10 % faster startup (lower is better) is an improvement', () => {
    const c = compare(base, craftResult({ seed: 4, scenarios: [STARTUP, CPU], shift: { 'startup/native/toReadyMs': 0.9 } }));
    assert.equal(verdictOf(c, 'startup/native/toReadyMs'), 'improvement');
    assert.equal(c.exitCode, 0);
  });

  test('a significant 10 % shift under a 15 % threshold for that metric is unchanged', () => {
    const head = craftResult({ seed: 2, scenarios: [STARTUP, CPU], shift: { 'startup/container/toExitMs': 1.1 } });
    const c = compare(base, head, ['startup.toExitMs=15%']);
    const s = c.series.find((x) => x.scenario === 'startup' && x.target === 'container' && x.metric === 'toExitMs');
    assert.equal(s?.verdict, 'unchanged');
    assert.equal(s.threshold, 0.15);
    assert.match(s.reason, /threshold 15%/);
    assert.equal(c.exitCode, 0);
  });

  test('io with 3 samples per side is inconclusive even for a 30 % drop, and says why', () => {
    const ioBase = craftResult({ seed: 5, scenarios: [IO] });
    const c = compare(ioBase, craftResult({ seed: 6, scenarios: [IO], shift: { 'io/native/randReadIops': 0.7 } }));
    const s = c.series.find((x) => x.target === 'native' && x.metric === 'randReadIops');
    assert.equal(s?.verdict, 'inconclusive');
    assert.match(s.reason, /n=3 vs 3: smallest attainable p is 0\.1 ≥ α=0\.01; take more samples/);
    assert.equal(c.exitCode, 0, 'too few samples never fail the gate');
    assert.equal(c.counts.regression, 0);
  });

  test('two runs from the same distribution are not flagged in at least 95 % of 200 seeded trials', (t) => {
    let flagged = 0;
    let seriesFlagged = 0;
    let series = 0;
    for (let trial = 0; trial < 200; trial++) {
      // 10 % noise: twice the default threshold, so medians often differ by more than 5 % and the test must hold the line.
      const opts = (seed: number): CraftOptions => ({ seed, scenarios: [STARTUP], cv: 0.1, stats: false });
      const c = compare(craftResult(opts(1000 + 2 * trial)), craftResult(opts(1001 + 2 * trial)));
      const bad = c.series.filter((s) => s.verdict === 'regression' || s.verdict === 'improvement').length;
      series += c.series.length;
      seriesFlagged += bad;
      if (bad > 0) flagged++;
    }
    const rate = flagged / 200;
    t.diagnostic(`false alarms: ${flagged}/200 trials (${(rate * 100).toFixed(1)}%), ${seriesFlagged}/${series} series`);
    assert.ok(rate <= 0.05, `${flagged} of 200 trials flagged`);
  });
});

describe('the minimum detectable effect', () => {
  test('every unchanged series states the smallest change it could have flagged, never below its threshold, and smaller with more samples', () => {
    const mdeAt = (samples: number, cv: number): number => {
      const sc = { ...STARTUP, samples };
      const c = compare(craftResult({ seed: 31, scenarios: [sc], cv, stats: false }), craftResult({ seed: 32, scenarios: [sc], cv, stats: false }), ['1%']);
      const s = c.series.find((x) => x.target === 'container' && x.metric === 'toReadyMs');
      assert.equal(s?.verdict, 'unchanged');
      assert.ok(s?.mde !== undefined && s.mde >= s.threshold, JSON.stringify(s));
      return s.mde;
    };
    const [m10, m40] = [mdeAt(10, 0.05), mdeAt(40, 0.05)];
    assert.ok(m40 < m10, `${m40} < ${m10}`);
    // 5 % noise: the median's SE is about 1.25 × 5 % / √n per side; √2 for the difference, × (2.576 + 0.842).
    const expected = (n: number): number => (3.418 * Math.SQRT2 * 1.2533 * 0.05) / Math.sqrt(n);
    assert.ok(m40 > expected(40) / 2 && m40 < expected(40) * 2, `${m40} vs ≈${expected(40)}`);
    assert.ok(mdeAt(20, 0.1) > mdeAt(20, 0.05), 'noisier series see less');
  });
});

describe('thresholds', () => {
  test('io.randread_iops names randReadIops: case and _ or - do not matter', () => {
    const t = parseThresholds(['3%', 'io.randread_iops=10%', 'io.container.rand-read-iops=20%', 'toExitMs=8%']);
    assert.equal(t.fallback, 0.03);
    assert.equal(thresholdFor(t, 'io', 'native', 'randReadIops').threshold, 0.1);
    assert.equal(thresholdFor(t, 'io', 'container', 'randReadIops').threshold, 0.2, 'scenario.target.metric is the most specific');
    assert.equal(thresholdFor(t, 'startup', 'kvm', 'toExitMs').threshold, 0.08);
    assert.equal(thresholdFor(t, 'io', 'native', 'seqReadMiBps').threshold, 0.03);
  });

  for (const bad of ['5', 'five%', 'io.=5%', 'a.b.c.d=5%', 'io.randReadIops=ten']) {
    test(`'${bad}' is a usage error naming the argument`, () => {
      assert.throws(
        () => parseThresholds([bad]),
        (e: unknown) => e instanceof UsageError && e.message.includes(`'${bad}'`) && e.message.startsWith('--threshold'),
      );
    });
  }

  test('an unknown metric is a usage error listing the valid ones', () => {
    const r = craftResult({ seed: 1, scenarios: [IO] });
    assert.throws(() => compare(r, r, ['io.randomIops=10%']), /unknown metric; valid metrics of io: randReadIops, seqReadMiBps/);
    assert.throws(() => compare(r, r, ['disk.randReadIops=10%']), /unknown scenario; valid scenarios: io/);
  });
});

describe('environment fingerprint', () => {
  const base = craftResult({ seed: 1, scenarios: [STARTUP] });

  test('a changed kernel and CPU are warnings; the verdicts stand', () => {
    const head = craftResult({
      seed: 2,
      scenarios: [STARTUP],
      host: { kernel: '6.11.0-1000-azure', cpuModel: 'Intel Xeon Platinum 8370C' },
      shift: { 'startup/native/toExitMs': 1.2 },
    });
    const c = compare(base, head);
    assert.deepEqual(
      c.warnings.map((w) => `${w.key}: ${w.base} → ${w.head}`),
      ['cpuModel: AMD EPYC 7763 → Intel Xeon Platinum 8370C', 'kernel: 6.8.0-1017-azure → 6.11.0-1000-azure'],
    );
    assert.deepEqual(c.acceleratorAffected, []);
    assert.equal(verdictOf(c, 'startup/native/toExitMs'), 'regression');
  });

  test("a target's changed probe detail (its confinement) is a warning naming the target", () => {
    const head = craftResult({ seed: 2, scenarios: [STARTUP] });
    const confined = structuredClone(base);
    (confined.targets[1] as { details?: Record<string, string> }).details = { confinement: 'docker-default', upper: 'tmpfs' };
    (head.targets[1] as { details?: Record<string, string> }).details = { confinement: 'unconfined', upper: 'tmpfs' };
    const c = compare(confined, head);
    assert.deepEqual(
      c.warnings.map((w) => `${w.key}: ${w.label}: ${w.base} → ${w.head}`),
      ['target:container:confinement: container confinement: docker-default → unconfined'],
    );
  });

  test('a different KVM verdict makes every VM target inconclusive, and only them', () => {
    const head = craftResult({
      seed: 2,
      scenarios: [STARTUP],
      host: { kvm: { available: false, reason: 'no /dev/kvm' } },
      accelerator: 'tcg',
      shift: { 'startup/kvm/toExitMs': 2, 'startup/native/toExitMs': 1.2 },
    });
    const c = compare(base, head);
    assert.ok(c.warnings.some((w) => w.key === 'kvm' && w.accelerator));
    assert.ok(c.warnings.some((w) => w.key === 'accelerator:kvm' && w.base === 'kvm' && w.head === 'tcg'));
    assert.deepEqual(c.acceleratorAffected, ['kvm']);
    for (const s of c.series.filter((x) => x.target === 'kvm')) {
      assert.equal(s.verdict, 'inconclusive');
      assert.equal(s.reason, 'accelerator differs between the runs');
    }
    assert.equal(verdictOf(c, 'startup/native/toExitMs'), 'regression', 'native does not use the accelerator');
  });

  test('judgeSeries refuses fewer than 2 samples', () => {
    assert.equal(judgeSeries([1], [2, 3], { better: 'lower', alpha: 0.01, threshold: 0.05, seed: 1 }).verdict, 'inconclusive');
  });
});

describe('the compare command', () => {
  const base = writeResult('base.json', craftResult({ seed: 1, scenarios: [STARTUP, IO] }));
  const same = writeResult('same.json', craftResult({ seed: 2, scenarios: [STARTUP, IO] }));
  const slower = writeResult('slower.json', craftResult({ seed: 2, scenarios: [STARTUP, IO], shift: { 'startup/container/toReadyMs': 1.1 } }));
  const newKernel = writeResult('kernel.json', craftResult({ seed: 2, scenarios: [STARTUP, IO], host: { kernel: '6.11.0-1000-azure' } }));

  test('exits 0 when nothing regressed and prints the table, summary and rule', async () => {
    const r = await tsbench(['compare', base, same]);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, /^base: .*base\.json/m);
    assert.match(r.stdout, /startup\s+container\s+toReadyMs\s+.*unchanged/);
    assert.match(r.stdout, /io\s+native\s+randReadIops .*inconclusive\s+—\s+n=3 vs 3: smallest attainable p is 0\.1/);
    assert.match(r.stdout, /startup\s+container\s+toReadyMs\s+.*unchanged\s+±\d+(\.\d+)?%\s+q ≥ α=0\.01/, 'the minimum detectable effect beside unchanged');
    assert.match(r.stdout, /0 regression\(s\).* → exit 0/);
    assert.match(r.stdout, /regression: q < α and \|change\| > threshold/);
    assert.equal(r.stderr, '');
  });

  test('exits 1 on a 10 % regression and marks it', async () => {
    const r = await tsbench(['compare', base, slower, '--threshold', 'io.randread_iops=10%']);
    assert.equal(r.exitCode, 1, r.stderr);
    assert.match(r.stdout, /startup\s+container\s+toReadyMs\s+.*REGRESSION/);
    assert.match(r.stdout, /1 regression\(s\)/);
  });

  test('a changed kernel is a warning at the top of the output', async () => {
    const r = await tsbench(['compare', base, newKernel]);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.stdout.split('\n')[0], 'warning: kernel differs: 6.8.0-1017-azure → 6.11.0-1000-azure');
  });

  test('an accelerator change is a warning at the top and makes the VM target inconclusive', async () => {
    const tcgNight = writeResult(
      'tcg.json',
      craftResult({ seed: 2, scenarios: [STARTUP, IO], host: { kvm: { available: false, reason: 'no /dev/kvm' } }, accelerator: 'tcg' }),
    );
    const r = await tsbench(['compare', base, tcgNight]);
    assert.equal(r.exitCode, 0, r.stderr);
    const lines = r.stdout.split('\n');
    assert.equal(lines[0], 'warning: KVM verdict differs: available → unavailable (VM verdicts inconclusive)');
    assert.equal(lines[1], 'warning: accelerator of kvm differs: kvm → tcg (VM verdicts inconclusive)');
    assert.match(r.stdout, /startup\s+kvm\s+toExitMs .*inconclusive\s+—\s+accelerator differs between the runs/);
    assert.match(r.stdout, /startup\s+native\s+toExitMs .*unchanged/);
  });

  test('-o writes the output to a file and nothing to stdout', async () => {
    const out = join(work, 'compare.md');
    const r = await tsbench(['compare', base, slower, '--format', 'md', '-o', out]);
    assert.equal(r.exitCode, 1, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(readFileSync(out, 'utf8'), /^## tsbench compare/);
  });

  test('--format md and --format json give a Markdown table and parseable JSON', async () => {
    const md = await tsbench(['compare', base, slower, '--format', 'md']);
    assert.equal(md.exitCode, 1);
    assert.match(md.stdout, /^## tsbench compare/);
    assert.match(md.stdout, /\| startup \| container \| toReadyMs \|.*\*\*REGRESSION\*\*/);
    const js = await tsbench(['compare', base, slower, '--format', 'json', '--seed', '7']);
    assert.equal(js.exitCode, 1);
    const doc = JSON.parse(js.stdout) as Comparison & { rule: string[] };
    assert.equal(doc.seed, 7);
    assert.equal(doc.counts.regression, 1);
    assert.ok(doc.rule.length > 0);
  });

  const wrongVersion = writeResult('v99.json', { ...craftResult({ seed: 1 }), schemaVersion: 99 });
  const notOurs = writeResult('package.json', { name: 'something', version: '1.0.0' });
  const cases: [string, string[], RegExp][] = [
    ['a missing file', [join(work, 'nope.json'), base], /nope\.json: no such file; pass a results\.json written by tsbench run/],
    ['a JSON file that is not a tsbench result', [notOurs, base], /package\.json: not a tsbench result/],
    ['a result of another schema version', [base, wrongVersion], /v99\.json: result schema version 99 is not supported \(this tsbench reads version 1\)/],
    ['bad threshold syntax', [base, same, '--threshold', 'lots'], /--threshold: 'lots' is not a percentage; write e\.g\. --threshold 5%/],
    [
      'an unknown metric in --threshold',
      [base, same, '--threshold', 'io.iops=10%'],
      /--threshold: 'io\.iops=10%' names an unknown metric; valid metrics of io: randReadIops, seqReadMiBps/,
    ],
    ['an unknown --format', [base, same, '--format', 'html'], /--format: unknown format 'html'; valid formats: text, md, json/],
    ['an --alpha outside (0, 1)', [base, same, '--alpha', '5'], /--alpha must be a number between 0 and 1/],
    ['a missing HEAD argument', [base], /missing required argument 'head'/],
  ];
  for (const [what, args, message] of cases) {
    test(`${what} exits 2 with one line on stderr and nothing on stdout`, async () => {
      const r = await tsbench(['compare', ...args]);
      assert.equal(r.exitCode, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.equal(r.stdout, '', 'nothing half-printed');
    });
  }
});

describe('the nightly workflow', () => {
  const path = new URL('../../.github/workflows/nightly.yml', import.meta.url);
  const doc = parseYaml(readFileSync(path, 'utf8')) as {
    on: { schedule?: { cron: string }[]; workflow_dispatch?: unknown };
    jobs: Record<string, { 'runs-on': string; container?: { image: string; options?: string }; steps: { name?: string; run?: string; uses?: string }[] }>;
  };

  test('parses as YAML and runs on a schedule and on demand', () => {
    assert.ok(doc.on.schedule && doc.on.schedule.length > 0 && /^[\d*/,\- ]+$/.test(doc.on.schedule[0]?.cron ?? ''));
    assert.ok('workflow_dispatch' in doc.on);
  });

  test('its steps set up, run the suite on kvm, upload, compare, publish and gate', () => {
    const runs = Object.values(doc.jobs).flatMap((j) => j.steps.map((s) => s.run ?? ''));
    const all = runs.join('\n');
    assert.match(all, /\/dev\/kvm/);
    assert.match(all, /scripts\/setup\.sh/);
    assert.match(all, /tsbench run startup cpu memory io net density --targets native,container,kvm,docker/);
    assert.match(all, /tsbench compare/);
    assert.match(all, /tsbench history/);
    const uses = Object.values(doc.jobs).flatMap((j) => j.steps.map((s) => s.uses ?? ''));
    assert.ok(uses.some((u) => u.startsWith('actions/upload-artifact@')));
    assert.ok(uses.some((u) => u.startsWith('actions/deploy-pages@')));
  });

  test('every tsbench invocation in a run step uses a subcommand and flags the real CLI accepts', async () => {
    const invocations: string[][] = [];
    for (const job of Object.values(doc.jobs)) {
      for (const step of job.steps) {
        // Join continued lines, drop comments, then take each `npx tsbench …` up to the end of its command.
        const script = (step.run ?? '').replace(/\\\n\s*/g, ' ').replace(/(^|\s)#.*$/gm, '');
        for (const m of script.matchAll(/(?:npx tsbench|node dist\/bench\/cli\.js)\s+([a-z]+)([^\n;|&)]*)/g)) {
          invocations.push([m[1] as string, ...(m[2] ?? '').trim().split(/\s+/).filter(Boolean)]);
        }
      }
    }
    assert.deepEqual([...new Set(invocations.map((i) => i[0]))].sort(), ['compare', 'history', 'report', 'run', 'targets', 'verify']);
    const root = await tsbench(['--help']);
    const commands = new Set([...root.stdout.matchAll(/^ {2}([a-z]+)\b/gm)].map((m) => m[1] as string));
    const helpCache = new Map<string, Set<string>>();
    for (const [sub, ...args] of invocations) {
      assert.ok(commands.has(sub as string), `tsbench ${sub} is not a command (${[...commands].join(', ')})`);
      let flags = helpCache.get(sub as string);
      if (!flags) {
        const help = await tsbench([sub as string, '--help']);
        assert.equal(help.exitCode, 0, `tsbench ${sub} --help: ${help.stderr}`);
        flags = new Set([...help.stdout.matchAll(/(?:^|[\s,])(--?[a-z][a-z-]*)/gm)].map((m) => m[1] as string));
        helpCache.set(sub as string, flags);
      }
      for (const a of args) {
        const flag = a.split('=')[0] as string;
        if (flag.startsWith('-')) assert.ok(flags.has(flag), `tsbench ${sub}: ${flag} is not a flag (${[...flags].join(' ')})`);
      }
    }
  });
});
