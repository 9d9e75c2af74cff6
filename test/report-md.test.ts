import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import type { HostClaims } from '../reports/claims/types.js';
import { loadResult } from '../core/load.js';
import type { Result } from '../core/schema.js';
import { mdCell, mdCode } from '../reports/markdown-escape.js';
import { renderMarkdown } from '../reports/markdown.js';
import { tsbench } from './helpers/cli.js';

const FIXTURES = fileURLToPath(new URL('../../test/fixtures/report/', import.meta.url));
const MULTI = join(FIXTURES, 'cpu-memory-io-density.json');
const STARTUP = join(FIXTURES, 'startup-tcg.json');

const work = mkdtempSync(join(tmpdir(), 'tsbench-report-md-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** Cells of a Markdown table row: split on pipes that are not escaped. */
function cells(line: string): string[] {
  return line.replace(/^\|\s?|\s?\|$/g, '').split(/(?<!\\)\|/);
}

/** The table that follows a line starting with `header`. */
function tableAfter(md: string, header: string): string[] {
  const lines = md.split('\n');
  const start = lines.findIndex((l) => l.startsWith(header));
  assert.ok(start >= 0, `no table with header ${header}`);
  const out: string[] = [];
  for (let i = start; i < lines.length && lines[i]?.startsWith('|'); i++) out.push(lines[i] ?? '');
  return out;
}

describe('the Markdown summary', () => {
  test('has the host, the claims, a table of medians with CIs and ratios per scenario, in that order', async () => {
    const md = renderMarkdown([await loadResult(STARTUP)]);
    assert.ok(md.startsWith('# tsbench report\n'));
    assert.match(
      md,
      /^\*\*Host vm\*\*: AMD EPYC, 2 cores · 23\.5 GiB · Debian GNU\/Linux 12 · kernel .* · cgroup hybrid · QEMU 7\.2\.22 · KVM unavailable \(/m,
    );
    assert.match(md, /^Run `tsbench run startup --targets native,container,tcg --runs 5 --warmup 1 --out \/tmp\/rep-startup` — started /m);
    assert.ok(md.indexOf('## Claims') < md.indexOf('## startup'));
    const table = tableAfter(md, '| metric | target | n | median |');
    assert.equal(table.length, 2 + 2 * 3, 'header, rule, 2 metrics × 3 targets');
    assert.match(table[2] ?? '', /^\| toReadyMs \| native \| 5 \| 0\.496 ms \| 0\.416 – 1\.49 ms \| 1× \|$/);
    assert.match(table[4] ?? '', /^\| toReadyMs \| tcg \| 5 \| 3,972 ms \| 3,776 – 4,368 ms \| 8,015× \(2,665–9,590\) \|$/);
    for (const row of table) assert.equal(cells(row).length, 6, row);
  });

  test('claims are one row each with the verdict, the numbers, the reference and the accelerator', async () => {
    const claims: HostClaims[] = [
      {
        host: 'vm',
        sources: ['x'],
        verdicts: [
          {
            id: 'C1',
            claim: 'A container starts in well under a second.',
            decidedBy: 'startup',
            verdict: 'confirmed',
            evidence: 'ready in 1.95 ms | fast\nvery fast',
            rule: 'r',
            parts: [{ label: 'VM slower', verdict: 'confirmed', evidence: 'e', bearing: 'context', accelerator: 'tcg' }],
            figures: [{ label: 'time to ready', value: 1.95, unit: 'ms', ciLow: 1.78, ciHigh: 6.55, target: 'container' }],
            reference: 'docker run: 0.2–0.5 s',
            accelerator: 'tcg',
            targets: ['container', 'tcg'],
          },
          { id: 'C4', claim: 'images small', decidedBy: 'image', verdict: 'refuted', evidence: 'no', rule: 'r', parts: [], figures: [], targets: [] },
        ],
      },
    ];
    const md = renderMarkdown([await loadResult(STARTUP)], { claims });
    const table = tableAfter(md, '| id | claim | verdict |');
    assert.equal(table.length, 2 + 2);
    for (const row of table) assert.equal(cells(row).length, 7, row);
    assert.equal(
      table[2],
      '| <a id="claim-c1"></a>C1 | A container starts in well under a second. | **confirmed** | ready in 1.95 ms \\| fast very fast<br>VM slower: confirmed \\[TCG\\] (context) | time to ready: 1.95 ms (1.78 – 6.55 ms) | docker run: 0.2–0.5 s | TCG emulation (not KVM); container, tcg |',
    );
    assert.match(table[3] ?? '', /^\| <a id="claim-c4"><\/a>C4 \| images small \| \*\*refuted\*\* \|/);
  });

  test('text from a result cannot break a table or inject markup', async () => {
    const r = JSON.parse(readFileSync(STARTUP, 'utf8')) as Result;
    r.host.hostname = 'a|b<script>alert(1)</script>';
    const tcg = r.scenarios[0]?.targets.find((t) => t.target === 'tcg');
    assert.ok(tcg);
    tcg.state = 'errored';
    tcg.error = 'boom | line one\nline two <img src=x> *bold*';
    const md = renderMarkdown([{ path: 'x/results.json', result: r }]);
    assert.ok(!md.includes('<script>') && !md.includes('<img'), 'no raw HTML from the result');
    assert.match(md, /^\*\*Host a\\\|b&lt;script&gt;alert\(1\)&lt;\/script&gt;\*\*/m);
    assert.match(
      md,
      /^- tcg: errored: boom \\\| line one line two &lt;img src=x&gt; \\\*bold\\\*$/m,
      'the errored target is listed with its reason on one line',
    );
    for (const row of tableAfter(md, '| metric | target | n | median |')) assert.equal(cells(row).length, 6, row);
  });

  test('cells and code escape what Markdown would read as structure', () => {
    assert.equal(mdCell('a|b\nc\r\nd'), 'a\\|b c d');
    assert.equal(mdCell('<b>&'), '&lt;b&gt;&amp;');
    assert.equal(mdCell('x_y *z* `c` [l]'), 'x\\_y \\*z\\* \\`c\\` \\[l\\]');
    assert.equal(mdCode('run `x`'), '`` run `x` ``');
    assert.equal(mdCode('tsbench run\nstartup'), '`tsbench run startup`');
  });

  test('a multi-scenario result gives one section per scenario', async () => {
    const md = renderMarkdown([await loadResult(MULTI), await loadResult(STARTUP)]);
    for (const s of ['cpu', 'memory', 'io', 'density', 'startup']) assert.match(md, new RegExp(`^## ${s}$`, 'm'));
    assert.match(md, /^2 result files: /m);
  });
});

describe('tsbench report', () => {
  test('--format md prints the summary on stdout, and -o FILE.md writes it', async () => {
    const r = await tsbench(['report', STARTUP, '--format', 'md']);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.ok(r.stdout.startsWith('# tsbench report\n'));
    const out = join(work, 'summary.md');
    const w = await tsbench(['report', STARTUP, '-o', out]);
    assert.equal(w.exitCode, 0, w.stderr);
    assert.equal(readFileSync(out, 'utf8').trimEnd(), r.stdout.trimEnd());
    assert.match(w.stdout, /^report: .*summary\.md$/m);
  });

  test('a directory holding results.json is read, and html is written to -o', async () => {
    const dir = join(work, 'run-dir');
    mkdirSync(dir);
    copyFileSync(STARTUP, join(dir, 'results.json'));
    const out = join(work, 'page.html');
    const r = await tsbench(['report', dir, '-o', out]);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.ok(readFileSync(out, 'utf8').startsWith('<!doctype html>'));
  });

  const errors: [string, () => string[], RegExp][] = [
    ['a missing file', () => ['report', join(work, 'nope.json')], /nope\.json: no such file or directory; pass results\.json files/],
    [
      'a JSON file that is not a tsbench result',
      () => {
        const p = join(work, 'other.json');
        writeFileSync(p, '{"hello": 1}');
        return ['report', p];
      },
      /other\.json: not a tsbench result/,
    ],
    [
      'a file that is not JSON',
      () => {
        const p = join(work, 'text.json');
        writeFileSync(p, 'not json');
        return ['report', p];
      },
      /text\.json: not JSON/,
    ],
    ['an unknown --format', () => ['report', STARTUP, '--format', 'pdf'], /--format: unknown format 'pdf'; valid formats: html, md/],
    ['an unwritable -o', () => ['report', STARTUP, '-o', '/proc/tsbench-nope/report.html'], /-o: cannot write \/proc\/tsbench-nope\/report\.html/],
    ['no result at all', () => ['report'], /missing required argument 'results'/],
  ];
  for (const [what, args, message] of errors) {
    test(`${what} exits with 2 and a one-line message`, async () => {
      const r = await tsbench(args());
      assert.equal(r.exitCode, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.equal(r.stdout, '', 'nothing written on stdout');
    });
  }

  test('a usage error leaves no report file behind', async () => {
    const out = join(work, 'never.html');
    const r = await tsbench(['report', STARTUP, join(work, 'missing.json'), '-o', out]);
    assert.equal(r.exitCode, 2);
    assert.equal(existsSync(out), false);
  });
});
