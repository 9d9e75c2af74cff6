/**
 * Figures follow from samples: a stored block that disagrees with its samples is
 * named and replaced on loading, the report embeds its files with their SHA-256
 * and offers them for download, and `tsbench verify` recomputes a page or a
 * results file (exit 0 consistent, 1 differences, 2 bad input).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { loadResult, sha256Hex } from '../core/load.js';
import type { Result } from '../core/schema.js';
import { evaluateClaims } from '../reports/claims/index.js';
import { toCsv } from '../reports/csv.js';
import { renderHtml } from '../reports/html/index.js';
import { toJson } from '../reports/json.js';
import { launchBrowser, openFile } from './helpers/browser.js';
import { around, craft } from './helpers/claims.js';
import { tsbench } from './helpers/cli.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/', import.meta.url));
const REPORT_FIXTURES = ['report/startup-tcg.json', 'report/cpu-memory-io-density.json', 'claims/startup-native-container-tcg.json'].map((f) =>
  join(FIXTURES, f),
);

const work = mkdtempSync(join(tmpdir(), 'tsbench-verify-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** A cpu run where the container costs what native does: C2's container part and C11 confirmed. */
function cpuRun(): Result {
  return craft({
    scenarios: {
      cpu: {
        native: { workMs: around(1000, 0.005, 30), hostCpuPerEventUs: around(280, 0.005, 30) },
        container: { workMs: around(1000, 0.005, 30), hostCpuPerEventUs: around(280, 0.005, 30) },
      },
    },
  }).result;
}

function write(name: string, text: string): string {
  const p = join(work, name);
  writeFileSync(p, text);
  return p;
}

const verdicts = (r: Awaited<ReturnType<typeof loadResult>>): Map<string, string> =>
  new Map(evaluateClaims([r]).flatMap((h) => h.verdicts.map((v) => [v.id, v.verdict] as const)));

/** The embedded #tsbench-results of a page, and a function to put an edited copy back. */
function embeddedResults(html: string): { sources: { path: string; sha256: string; json: string; csv: string }[]; put: (s: unknown) => string } {
  const re = /(<script type="application\/json" id="tsbench-results">)([\s\S]*?)(<\/script>)/;
  const m = re.exec(html);
  assert.ok(m, 'the page embeds #tsbench-results');
  return {
    sources: JSON.parse(m[2] ?? '') as never,
    put: (s) => html.replace(re, (_all, open: string, _body: string, close: string) => `${open}${JSON.stringify(s).replace(/</g, '\\u003c')}${close}`),
  };
}

describe('figures are recomputed from the samples on loading', () => {
  test('container cpu samples ×1.10 with the stored statistics left alone change the ratio and C2 and C11, and a warning names the series', async () => {
    const original = cpuRun();
    const clean = await loadResult(write('clean.json', toJson(original)), { warn: () => assert.fail('a file tsbench wrote agrees with its samples') });
    const before = verdicts(clean);
    assert.equal(before.get('C11'), 'confirmed');
    assert.equal(clean.result.scenarios[0]?.targets.find((t) => t.target === 'container')?.ratioToNative['workMs']?.ratio, 1);

    const edited = structuredClone(original);
    for (const s of edited.scenarios[0]?.targets.find((t) => t.target === 'container')?.samples ?? [])
      for (const k of Object.keys(s.values)) s.values[k] = (s.values[k] as number) * 1.1;
    const warnings: string[] = [];
    const path = write('tampered.json', JSON.stringify(edited, null, 2));
    const loaded = await loadResult(path, { warn: (l) => warnings.push(l) });

    const ratio = loaded.result.scenarios[0]?.targets.find((t) => t.target === 'container')?.ratioToNative['workMs'];
    assert.ok(ratio && Math.abs(ratio.ratio - 1.1) < 1e-9, `the recomputed ratio is 1.10×, not the stored 1.00× (${ratio?.ratio})`);
    assert.ok(ratio.ciLow > 1.05, 'its interval lies above the 5 % bound');
    const after = verdicts(loaded);
    assert.equal(after.get('C11'), 'refuted');
    const c2 = evaluateClaims([loaded])[0]?.verdicts.find((v) => v.id === 'C2');
    const c2Container = (v: typeof c2) => v?.parts.find((p) => p.targets?.includes('container'))?.verdict;
    assert.equal(c2Container(evaluateClaims([clean])[0]?.verdicts.find((v) => v.id === 'C2')), 'confirmed');
    assert.equal(c2Container(c2), 'refuted');
    assert.equal(c2?.verdict, 'refuted');

    assert.deepEqual(
      warnings.map((w) => w.split(':').slice(0, 2).join(':')),
      [`${path}: container/cpu/workMs`, `${path}: container/cpu/hostCpuPerEventUs`],
      'one warning per disagreeing series, naming it',
    );
    assert.match(warnings[0] ?? '', /stored median 1000 ≠ 1100, ratio to native 1 ≠ 1\.1 from its 30 samples; using the samples$/);
  });

  test('a file whose stored blocks are absent is recomputed without a warning', async () => {
    const r = cpuRun();
    for (const t of r.scenarios[0]?.targets ?? []) {
      t.stats = {};
      t.ratioToNative = {};
    }
    const loaded = await loadResult(write('bare.json', JSON.stringify(r)), { warn: (l) => assert.fail(`unexpected warning: ${l}`) });
    assert.equal(loaded.result.scenarios[0]?.targets[1]?.stats['workMs']?.n, 30);
    assert.equal(loaded.result.scenarios[0]?.targets[1]?.ratioToNative['workMs']?.ratio, 1);
  });

  test('compare reads the recomputed medians, not the stored ones', async () => {
    const base = write('base.json', toJson(cpuRun()));
    const edited = cpuRun();
    for (const s of edited.scenarios[0]?.targets.find((t) => t.target === 'container')?.samples ?? [])
      s.values['workMs'] = (s.values['workMs'] as number) * 1.1;
    const head = write('head.json', JSON.stringify(edited));
    const r = await tsbench(['compare', base, head, '--format', 'json']);
    assert.equal(r.exitCode, 1, r.stderr);
    const series = (JSON.parse(r.stdout) as { series: { target: string; metric: string; verdict: string }[] }).series;
    assert.equal(series.find((s) => s.target === 'container' && s.metric === 'workMs')?.verdict, 'regression');
    assert.match(r.stderr, /head\.json: container\/cpu\/workMs: stored median 1000 ≠ 1100/);
  });
});

describe('tsbench verify', () => {
  test('every report and results file the suite renders from its fixtures is consistent', async () => {
    for (const f of REPORT_FIXTURES) {
      const json = await tsbench(['verify', f]);
      assert.equal(json.exitCode, 0, `${f}: ${json.stdout}${json.stderr}`);
      assert.match(json.stdout, /: consistent: /);
      const page = join(work, 'fixture-report.html');
      assert.equal((await tsbench(['report', f, '-o', page])).exitCode, 0);
      const html = await tsbench(['verify', page]);
      assert.equal(html.exitCode, 0, `${f}: ${html.stdout}${html.stderr}`);
      assert.match(html.stdout, /consistent: 1 result file \(SHA-256 checked\), \d+ series' figures and \d+ verdicts/);
    }
    const all = join(work, 'all.html');
    assert.equal((await tsbench(['report', ...REPORT_FIXTURES, '-o', all])).exitCode, 0);
    const r = await tsbench(['verify', all]);
    assert.equal(r.exitCode, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /consistent: 3 result files/);
  });

  test('the report and results a run writes are consistent, and the page holds the file byte for byte with its SHA-256', async () => {
    const out = join(work, 'run');
    const run = await tsbench(['run', 'startup', '--targets', 'native,container', '--runs', '3', '--warmup', '0', '--out', out]);
    assert.equal(run.exitCode, 0, run.stderr);
    for (const f of ['report.html', 'results.json']) {
      const r = await tsbench(['verify', join(out, f)]);
      assert.equal(r.exitCode, 0, `${f}: ${r.stdout}${r.stderr}`);
    }
    const bytes = readFileSync(join(out, 'results.json'));
    const [src] = embeddedResults(readFileSync(join(out, 'report.html'), 'utf8')).sources;
    assert.equal(src?.json, bytes.toString('utf8'));
    assert.equal(src?.sha256, sha256Hex(bytes));
    assert.ok(readFileSync(join(out, 'report.html'), 'utf8').includes(src.sha256.slice(0, 16)), 'the page shows the hash');
  });

  test('a page with one embedded sample edited exits 1 naming the series and the changed bytes', async () => {
    const page = join(work, 'edit-base.html');
    assert.equal((await tsbench(['report', REPORT_FIXTURES[2] as string, '-o', page])).exitCode, 0);
    const { sources, put } = embeddedResults(readFileSync(page, 'utf8'));
    const doc = JSON.parse(sources[0]?.json ?? '') as Result;
    const s = doc.scenarios[0]?.targets.find((t) => t.target === 'container')?.samples[1];
    assert.ok(s);
    s.values['toExitMs'] = (s.values['toExitMs'] as number) * 5;
    const edited = write('edited.html', put([{ ...sources[0], json: JSON.stringify(doc, null, 2) }]));
    const r = await tsbench(['verify', edited]);
    assert.equal(r.exitCode, 1, r.stdout + r.stderr);
    const lines = r.stdout.trim().split('\n');
    assert.ok(
      lines.some((l) => l.startsWith('container/startup/toExitMs: the page shows ')),
      r.stdout,
    );
    assert.ok(
      lines.some((l) => /SHA-256 .* its embedded bytes hash to .*changed after the page was made/.test(l)),
      r.stdout,
    );
    assert.ok(!lines.some((l) => l.startsWith('native/') || l.includes('toReadyMs')), `only the edited series: ${r.stdout}`);
    assert.match(lines.at(-1) ?? '', /: \d+ differences/);
  });

  test('a claim the page shows on no host (made before the catalogue had it) is a note; a page stripped of every claim differs', async () => {
    const page = join(work, 'older-catalogue.html');
    assert.equal((await tsbench(['report', REPORT_FIXTURES[2] as string, '-o', page])).exitCode, 0);
    const re = /(<script type="application\/json" id="tsbench-figures">)([\s\S]*?)(<\/script>)/;
    const html = readFileSync(page, 'utf8');
    const figures = JSON.parse(re.exec(html)?.[2] ?? '') as { claims: { id: string }[] };
    const withClaims = (claims: { id: string }[]): string =>
      html.replace(
        re,
        (_all, open: string, _body: string, close: string) => `${open}${JSON.stringify({ ...figures, claims }).replace(/</g, '\\u003c')}${close}`,
      );
    const older = await tsbench(['verify', write('older.html', withClaims(figures.claims.filter((c) => c.id !== 'C14')))]);
    assert.equal(older.exitCode, 0, older.stdout + older.stderr);
    assert.match(older.stderr, /claims C14 are not on the page: the tsbench that made it did not judge them yet/);
    const stripped = await tsbench(['verify', write('stripped.html', withClaims([]))]);
    assert.equal(stripped.exitCode, 1, stripped.stdout + stripped.stderr);
    assert.match(stripped.stdout, /claim C1 \(host [^)]+\): the page shows no verdict/);
  });

  test('a results file with one sample edited exits 1 naming its series', async () => {
    const doc = JSON.parse(readFileSync(REPORT_FIXTURES[2] as string, 'utf8')) as Result;
    const s = doc.scenarios[0]?.targets.find((t) => t.target === 'tcg')?.samples[0];
    assert.ok(s);
    s.values['toReadyMs'] = (s.values['toReadyMs'] as number) * 3;
    const r = await tsbench(['verify', write('edited.json', JSON.stringify(doc, null, 2))]);
    assert.equal(r.exitCode, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^.*edited\.json: tcg\/startup\/toReadyMs: stored .* from its 5 samples$/m);
    assert.equal(r.stdout.trim().split('\n').length, 2, 'one difference and the summary');
  });

  test('a page whose embedded data is missing or garbled, another tool’s JSON and a newer schema are one line and exit 2', async () => {
    const page = readFileSync(join(work, 'edit-base.html'), 'utf8');
    const cases: [string, string, RegExp][] = [
      ['missing.html', page.replace(/<script type="application\/json" id="tsbench-results">[\s\S]*?<\/script>/, ''), /embeds no #tsbench-results/],
      ['no-figures.html', page.replace(/<script type="application\/json" id="tsbench-figures">[\s\S]*?<\/script>/, ''), /embeds no #tsbench-figures/],
      ['garbled.html', page.replace(/(id="tsbench-results">)([\s\S]{2000})/, '$1{"garbled'), /#tsbench-results is corrupt/],
      ['other-page.html', '<!doctype html><html><head><title>x</title></head><body></body></html>', /not a tsbench report page/],
      ['hyperfine.json', JSON.stringify({ results: [{ command: 'sleep 0', mean: 0.001 }] }), /not a tsbench result/],
      [
        'newer.json',
        readFileSync(REPORT_FIXTURES[0] as string, 'utf8').replace('"schemaVersion": 1', '"schemaVersion": 99'),
        /schema version 99 is not supported/,
      ],
    ];
    for (const [name, text, message] of cases) {
      const r = await tsbench(['verify', write(name, text)]);
      assert.equal(r.exitCode, 2, `${name}: ${r.stdout}${r.stderr}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, `${name}: one line: ${r.stderr}`);
      assert.match(r.stderr, message, name);
      assert.equal(r.stdout, '', name);
    }
  });
});

describe('the report page offers its data for download', () => {
  test('the JSON and CSV buttons hand the browser the file’s exact bytes and its CSV', async () => {
    const loaded = await loadResult(REPORT_FIXTURES[0] as string);
    const page = write('download.html', renderHtml([loaded]));
    const browser = await launchBrowser();
    try {
      const opened = await openFile(browser, page);
      assert.deepEqual(opened.record.pageErrors, []);
      assert.deepEqual(opened.otherRequests(), [], 'no request');
      const got = await opened.evaluate<{ name: string; text: string; type: string }[]>(`(async () => {
        const blobs = [];
        const names = [];
        URL.createObjectURL = (b) => { blobs.push(b); return 'blob:tsbench-test'; };
        HTMLAnchorElement.prototype.click = function () { names.push(this.download); };
        for (const b of document.querySelectorAll('button.download')) b.click();
        return Promise.all(blobs.map(async (b, i) => ({ name: names[i], type: b.type, text: await b.text() })));
      })()`);
      assert.deepEqual(
        got.map((g) => [g.name, g.type]),
        [
          ['startup-tcg.json', 'application/json'],
          ['startup-tcg.csv', 'text/csv'],
        ],
      );
      assert.equal(got[0]?.text, readFileSync(REPORT_FIXTURES[0] as string, 'utf8'), 'the JSON is the file, byte for byte');
      assert.equal(sha256Hex(got[0]?.text ?? ''), loaded.sha256);
      assert.equal(got[1]?.text, toCsv(loaded.result), 'the CSV is the one tsbench writes');
      await opened.page.close();
    } finally {
      await browser.close();
    }
  });
});
