/**
 * The claims are written once, in code (reports/claims/catalogue.ts and
 * rules/): docs/claims.md is generated from them and must not drift, and the
 * Markdown a user reads links only to files that are in the repository.
 */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { CLAIMS, RULE_TEXTS, THRESHOLD_SPECS, THRESHOLDS } from '../reports/claims/index.js';
import { claimsMarkdown, CLAIMS_DOC_COMMAND } from '../reports/claims/doc.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const markdownFiles = [
  'README.md',
  ...readdirSync(join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];
const read = (file: string): string => readFileSync(join(root, file), 'utf8');

describe('claims written once', () => {
  test('docs/claims.md is what the claim rules generate', () => {
    assert.equal(read('docs/claims.md'), claimsMarkdown(), `docs/claims.md is out of date: run \`${CLAIMS_DOC_COMMAND}\``);
  });

  test('every claim has its rule in words, and every threshold belongs to claims that exist', () => {
    const ids = CLAIMS.map((c) => c.id);
    assert.deepEqual(Object.keys(RULE_TEXTS), ids);
    for (const [name, t] of Object.entries(THRESHOLD_SPECS)) {
      for (const id of t.claims) assert.ok(ids.includes(id), `${name} names ${id}, which is no claim`);
      assert.equal(THRESHOLDS[name as keyof typeof THRESHOLDS], t.value);
    }
  });

  test('the generated doc states every threshold and every reference point', () => {
    const doc = claimsMarkdown();
    for (const name of Object.keys(THRESHOLD_SPECS)) assert.ok(doc.includes(`\`${name}\``), name);
    for (const c of CLAIMS) if (c.reference) assert.ok(doc.includes(c.reference), `${c.id}'s reference`);
  });
});

describe('README.md and docs/*.md point only into the repository', () => {
  test('README.md and every docs/*.md link only to files that exist in the repository', () => {
    const bad: string[] = [];
    for (const file of markdownFiles) {
      const text = read(file);
      if (/\.\.\/shared\b|shared\/CLAIMS/.test(text)) bad.push(`${file}: names shared/, which is not in the repository`);
      for (const m of text.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
        const target = m[1] as string;
        if (/^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith('#')) continue;
        const path = resolve(root, dirname(file), decodeURIComponent(target.replace(/#.*$/, '')));
        const inside = !relative(root, path).startsWith('..');
        if (!inside || !existsSync(path)) bad.push(`${file}: [${target}] ${inside ? 'does not exist' : 'is outside the repository'}`);
      }
    }
    assert.deepEqual(bad, []);
  });

  test('the repository paths that README.md and docs/*.md name in code spans exist', () => {
    const top = /^(?:dist\/)?(?:bench|cli|core|drivers|reports|docs|scripts|test|schema)\/[\w./-]*$/;
    const bad: string[] = [];
    for (const file of markdownFiles) {
      const text = read(file);
      // code spans, and the quoted './dist/…' imports of code blocks
      const spans = [...text.matchAll(/`([^`\n]+)`/g), ...text.matchAll(/['"](\.\/dist\/[\w./-]+)['"]/g)];
      for (const m of spans) {
        const span = (m[1] as string).trim();
        const paths = span.split(/\s+/).filter((w) => top.test(w.replace(/^\.\//, '')));
        for (const w of paths) {
          let p = w.replace(/^\.\//, '').replace(/\/$/, '');
          // a built file stands for its source: dist/cli/main.js is cli/main.ts
          if (p.startsWith('dist/')) p = p.slice('dist/'.length).replace(/\.js$/, '.ts');
          if (!existsSync(join(root, p))) bad.push(`${file}: \`${span}\` names ${w}`);
        }
      }
    }
    assert.deepEqual(bad, []);
  });
});
