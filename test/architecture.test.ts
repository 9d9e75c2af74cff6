/**
 * The layers of docs/architecture.md, checked on the source: every relative
 * import points to the same layer or a lower one, never up.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Lowest first; a file may import from its own layer and those before it. */
export const LAYERS = ['core', 'drivers', 'bench', 'reports', 'cli'] as const;

function layerOf(path: string): number {
  const top = path.split('/')[0] ?? '';
  return LAYERS.indexOf(top as (typeof LAYERS)[number]);
}

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => relative(root, join(e.parentPath, e.name)));
}

/** Every relative import of a file, as a repository path of the imported `.ts` file. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  const specs = [...text.matchAll(/(?:from\s+|import\(\s*|^import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm)].map((m) => m[1] ?? '');
  return specs.map((s) => join(dirname(file), s).replace(/\.js$/, '.ts'));
}

test('no file imports from a layer above its own', () => {
  const upward: string[] = [];
  for (const layer of LAYERS) {
    for (const file of sources(layer)) {
      for (const target of importsOf(file)) {
        if (layerOf(target) > layerOf(file)) upward.push(`${file} -> ${target}`);
      }
    }
  }
  assert.deepEqual(upward, []);
});

test('every source file lives in one of the layers', () => {
  const tops = readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts'))
    .map((e) => e.name);
  assert.deepEqual(tops, [], 'TypeScript at the top level belongs in a layer folder');
  for (const layer of LAYERS) assert.ok(sources(layer).length > 0, `${layer}/ holds sources`);
});

test('the import check sees real imports', () => {
  // A guard against a regex that silently matches nothing.
  const seen = importsOf('cli/main.ts');
  assert.ok(seen.includes('bench/runner.ts'), `cli/main.ts imports bench/runner.ts (saw ${seen.join(', ')})`);
});
