/**
 * Results of two workload images: the schema records which image produced what
 * and still reads files from before images had names; one report holds both
 * images side by side, each TARGET@IMAGE right after its lean twin in a shade
 * of its colour; compare warns per image.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { loadResult, resultImages, type NamedImage } from '../core/load.js';
import { ImageNameSchema, ResultSchema } from '../core/schema.js';
import { IMAGE_NAMES } from '../drivers/image/names.js';
import { evaluateClaims } from '../reports/claims/index.js';
import { CLAIMS } from '../reports/claims/catalogue.js';
import { fingerprintDiffs, isVmTarget } from '../reports/compare/fingerprint.js';
import { toCsv } from '../reports/csv.js';
import { targetColor } from '../reports/html/common.js';
import { buildReportModel } from '../reports/model.js';
import { renderHtml } from '../reports/html/index.js';
import { renderMarkdown } from '../reports/markdown.js';
import { toTable } from '../reports/table.js';
import { twinOrder } from '../reports/targets.js';
import { IMAGE, around, craft } from './helpers/claims.js';
import { jsonSchemaErrors } from './helpers/schema.js';

const fixture = (name: string): string => new URL(`../../test/fixtures/report/${name}`, import.meta.url).pathname;
const DEBIAN: NamedImage = { ...IMAGE, name: 'debian', boot: 'systemd', hash: 'd', rootfsBytes: 200e6, rootDiskBytes: 330e6 };

describe('the result schema names images', () => {
  test("its image names are the drivers' image names", () => {
    assert.deepEqual(ImageNameSchema.options, [...IMAGE_NAMES]);
  });

  test('a result of both images, with each target’s image, validates against the JSON Schema file', () => {
    const f = craft({
      scenarios: { startup: { native: { toReadyMs: around(0.5) }, container: { toReadyMs: around(2) }, 'container@debian': { toReadyMs: around(3) } } },
      image: { ...IMAGE, name: 'lean' },
      images: [{ ...IMAGE, name: 'lean', boot: 'agent' }, DEBIAN],
      targets: [
        { name: 'native', available: true },
        { name: 'container', image: 'lean', available: true },
        { name: 'container@debian', image: 'debian', available: true },
      ],
    });
    assert.equal(jsonSchemaErrors(JSON.parse(JSON.stringify(f.result))), '');
    assert.equal(f.result.scenarios[0]?.targets.find((t) => t.target === 'container@debian')?.image, 'debian');
    assert.deepEqual(
      resultImages(f.result).map((i) => i.name),
      ['lean', 'debian'],
    );
  });

  test('an image name the schema does not know is refused', () => {
    const f = craft({ scenarios: {}, images: [DEBIAN] });
    const doc = JSON.parse(JSON.stringify(f.result)) as { images: { name: string }[] };
    (doc.images[0] as { name: string }).name = 'alpine';
    assert.equal(ResultSchema.safeParse(doc).success, false);
    assert.notEqual(jsonSchemaErrors(doc), '');
  });

  test('a file from before images had names still loads, reports and is judged, its one image read as the lean one', async () => {
    for (const name of ['cpu-memory-io-density.json', 'startup-tcg.json']) {
      const raw = JSON.parse(readFileSync(fixture(name), 'utf8')) as Record<string, unknown>;
      assert.equal(raw['images'], undefined, `${name} is from before images had names`);
      assert.equal(jsonSchemaErrors(raw), '', name);
      const loaded = await loadResult(fixture(name));
      assert.ok(renderMarkdown([loaded]).includes('## Claims'));
      assert.ok(renderHtml([loaded]).includes('<section id="claims">'));
      assert.equal(evaluateClaims([loaded])[0]?.verdicts.length, CLAIMS.length, 'every claim of the catalogue');
    }
    const old = await loadResult(fixture('startup-tcg.json'));
    assert.ok(old.result.image && old.result.image.name === undefined);
    assert.deepEqual(
      resultImages(old.result).map((i) => [i.name, i.hash]),
      [['lean', old.result.image.hash]],
    );
    const c4 = evaluateClaims([old])[0]?.verdicts.find((v) => v.id === 'C4');
    assert.deepEqual(
      c4?.parts.map((p) => [p.label, p.image]),
      [['container image small vs VM image', 'lean']],
    );
  });
});

describe('one report holds both images side by side', () => {
  const startup = (targets: string[], path = 'run/results.json') =>
    craft({ path, scenarios: { startup: Object.fromEntries(targets.map((t, i) => [t, { toReadyMs: around(1 + i) }])) } });

  test('TARGET@IMAGE comes right after its lean twin; one without a twin keeps its place', () => {
    const order = twinOrder(['native', 'container@debian', 'kvm', 'kvm-cloud@debian', 'container', 'runc@debian', 'runc'], (t) => t);
    assert.deepEqual(order, ['native', 'kvm', 'kvm-cloud@debian', 'container', 'container@debian', 'runc', 'runc@debian']);
  });

  test('the table, the CSV and the report model list container@debian right after container', () => {
    const f = startup(['native', 'container@debian', 'tcg', 'container']);
    const tableOrder = [...toTable(f.result).matchAll(/^│ (\S+)\s+│ toReadyMs/gm)].map((m) => m[1]);
    assert.deepEqual(tableOrder, ['native', 'tcg', 'container', 'container@debian']);
    const csvOrder = toCsv(f.result)
      .trim()
      .split('\n')
      .slice(1)
      .map((l) => l.split(',')[1]);
    assert.deepEqual(csvOrder, ['native', 'tcg', 'container', 'container@debian']);
    assert.deepEqual(
      buildReportModel([f]).scenarios[0]?.series.map((s) => s.label),
      ['native', 'tcg', 'container', 'container@debian'],
    );
  });

  test('a lean run and a Debian run of one host merge with each Debian series after its twin, and both images on the host card', () => {
    const lean = craft({
      path: 'lean/results.json',
      scenarios: { startup: { native: { toReadyMs: around(0.5) }, container: { toReadyMs: around(2) } } },
      images: [{ ...IMAGE, name: 'lean' }],
      startedAt: '2026-01-01T00:00:00.000Z',
    });
    const debian = craft({
      path: 'debian/results.json',
      scenarios: { startup: { 'container@debian': { toReadyMs: around(3) } } },
      images: [DEBIAN],
      startedAt: '2026-01-02T00:00:00.000Z',
    });
    const model = buildReportModel([lean, debian]);
    assert.deepEqual(
      model.scenarios[0]?.series.map((s) => [s.label, s.image]),
      [
        ['native', undefined],
        ['container', undefined],
        ['container@debian', 'debian'],
      ],
    );
    assert.deepEqual(
      model.hosts[0]?.images.map((i) => i.name),
      ['lean', 'debian'],
    );
    const html = renderHtml([lean, debian]);
    assert.match(html, /container root filesystem \(debian\)<\/th><td>191 MiB/);
    assert.match(html, /container root filesystem \(lean\)<\/th><td>95\.4 MiB/);
  });

  test('a target of another image is a darker shade of its twin’s colour, the same in every chart', () => {
    assert.equal(targetColor('container'), '#0072B2');
    assert.equal(targetColor('container@debian'), '#00446b');
    assert.equal(targetColor('kvm-cloud@debian'), targetColor('kvm-cloud@debian'));
    assert.notEqual(targetColor('kvm-cloud@debian'), targetColor('kvm-cloud'));
  });
});

describe('compare across images', () => {
  const run = (images: NamedImage[] | undefined, legacy?: typeof IMAGE) => craft({ scenarios: {}, images, image: legacy }).result;

  test('a Debian image beside an unchanged lean one is one warning, and the lean image keeps its key', () => {
    const diffs = fingerprintDiffs(run(undefined, IMAGE), run([{ ...IMAGE, name: 'lean' }, DEBIAN]));
    assert.deepEqual(
      diffs.filter((d) => d.key.startsWith('image')).map((d) => [d.key, d.label, d.base, d.head]),
      [['image:debian', 'workload image (debian)', 'none', 'd']],
    );
    const rebuilt = fingerprintDiffs(run([{ ...IMAGE, name: 'lean' }]), run([{ ...IMAGE, name: 'lean', hash: 'h2' }]));
    assert.deepEqual(
      rebuilt.filter((d) => d.key.startsWith('image')).map((d) => d.key),
      ['image'],
    );
  });

  test('a Debian VM target counts as a VM by its name', () => {
    const r = run(undefined);
    for (const t of ['kvm-cloud@debian', 'tcg-cloud@debian', 'tcg@debian', 'container-in-kvm@debian']) assert.equal(isVmTarget(r, t), true, t);
    for (const t of ['container@debian', 'runc@debian', 'native']) assert.equal(isVmTarget(r, t), false, t);
  });
});
