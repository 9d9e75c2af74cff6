import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { jsonForScript } from '../reports/html/common.js';
import type { EmbeddedSource } from '../reports/embedded.js';
import { verifyText } from '../reports/verify.js';
import { tsbench } from './helpers/cli.js';

/**
 * docs/results/: the published comparisons (scripts/publish.sh), each a directory with report.html, summary.md and its
 * results: one results.json (the example), or one runs/<scenario>/results.json a scenario (a publication).
 */
const RESULTS = fileURLToPath(new URL('../../docs/results/', import.meta.url));
const published = existsSync(RESULTS)
  ? readdirSync(RESULTS, { withFileTypes: true })
      .filter((d) => d.isDirectory() && existsSync(join(RESULTS, d.name, 'report.html')))
      .map((d) => join(RESULTS, d.name))
  : [];

/** A published directory's results files, relative to it: results.json, or every runs/<scenario>/results.json. */
function resultsOf(dir: string): string[] {
  if (existsSync(join(dir, 'results.json'))) return ['results.json'];
  const runs = join(dir, 'runs');
  if (!existsSync(runs)) return [];
  return readdirSync(runs)
    .map((s) => join('runs', s, 'results.json'))
    .filter((f) => existsSync(join(dir, f)));
}

const work = mkdtempSync(join(tmpdir(), 'tsbench-published-'));
after(() => rmSync(work, { recursive: true, force: true }));

const SOURCES = /(<script type="application\/json" id="tsbench-results">)([\s\S]*?)(<\/script>)/;

/** The page with one sample value of its first embedded file changed, the page's stated SHA-256 left as it was. */
function editOneSample(html: string): string {
  const m = SOURCES.exec(html);
  assert.ok(m, 'the page embeds its results');
  const sources = JSON.parse(m[2] ?? '') as EmbeddedSource[];
  const src = sources[0];
  assert.ok(src);
  const edited = src.json.replace(/("values":\s*\{\s*"[A-Za-z]+":\s*)(\d+(?:\.\d+)?)/, (_, head: string, v: string) => `${head}${Number(v) * 3 + 1}`);
  assert.notEqual(edited, src.json, 'a sample value was found to edit');
  sources[0] = { ...src, json: edited };
  return html.replace(SOURCES, (_, open: string, _body: string, close: string) => `${open}${jsonForScript(sources)}${close}`);
}

describe('the published comparisons in docs/results', () => {
  test('every published directory holds report.html, summary.md and its results', () => {
    assert.ok(published.length > 0, 'docs/results/ holds at least the committed example');
    for (const dir of published) {
      for (const f of ['report.html', 'summary.md']) assert.ok(existsSync(join(dir, f)), `${dir} has no ${f}`);
      assert.ok(resultsOf(dir).length > 0, `${dir} has no results.json and no runs/<scenario>/results.json`);
    }
  });

  for (const dir of published) {
    test(`${dir.slice(RESULTS.length)}: tsbench verify finds its page and its results consistent with their samples`, () => {
      for (const f of ['report.html', ...resultsOf(dir)]) {
        const path = join(dir, f);
        const outcome = verifyText(readFileSync(path, 'utf8'), path);
        assert.deepEqual(outcome.differences, [], `${path} disagrees with its samples; rebuild it: tsbench report results.json -o report.html`);
      }
    });
  }

  test('a committed page with one sample edited makes tsbench verify exit 1, naming the changed file', async () => {
    const dir = published[0];
    assert.ok(dir);
    const page = join(work, 'edited.html');
    writeFileSync(page, editOneSample(readFileSync(join(dir, 'report.html'), 'utf8')));
    const r = await tsbench(['verify', page]);
    assert.equal(r.exitCode, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /the data was changed after the page was made/);
    assert.match(r.stdout, /difference/);
  });

  test('a committed results.json with one sample edited makes tsbench verify exit 1', async () => {
    const dir = published[0];
    assert.ok(dir);
    const text = readFileSync(join(dir, 'results.json'), 'utf8');
    const edited = text.replace(/("values":\s*\{\s*"[A-Za-z]+":\s*)(\d+(?:\.\d+)?)/, (_, head: string, v: string) => `${head}${Number(v) * 3 + 1}`);
    assert.notEqual(edited, text);
    const path = join(work, 'results.json');
    writeFileSync(path, edited);
    const r = await tsbench(['verify', path]);
    assert.equal(r.exitCode, 1, r.stdout + r.stderr);
  });
});
