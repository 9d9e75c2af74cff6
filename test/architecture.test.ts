/**
 * The layers of docs/architecture.md, checked on the source: every relative
 * import points to the same layer or a lower one, never up; `bench/`, `reports/`
 * and `cli/` reach drivers only through their public surface, drivers/index.ts;
 * `bench/` never asks which kind of target it runs on (`isolation`), only what
 * the target can do (`capabilities`); and no module imports itself through a
 * circle of imports. Each checker is a pure function of a source tree, so the
 * tests below also run it on a small tree with planted violations.
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Lowest first; a file may import from its own layer and those before it. */
export const LAYERS = ['core', 'drivers', 'bench', 'reports', 'cli'] as const;

/** The layers that may use drivers only through drivers/index.ts. */
const ABOVE_DRIVERS = ['bench', 'reports', 'cli'] as const;
const DRIVERS_SURFACE = 'drivers/index.ts';

function layerOf(path: string): number {
  const top = path.split('/')[0] ?? '';
  return LAYERS.indexOf(top as (typeof LAYERS)[number]);
}

/** Every TypeScript source under `dir` of the tree at `base`, as paths relative to `base`. */
export function sources(base: string, dir: string): string[] {
  return readdirSync(join(base, dir), { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith('.ts') && !e.name.endsWith('.d.ts'))
    .map((e) => relative(base, join(e.parentPath, e.name)))
    .sort();
}

/** Every relative import of a file (type-only and dynamic ones too), as a tree path of the imported `.ts` file. */
export function importsOf(base: string, file: string): string[] {
  const text = readFileSync(join(base, file), 'utf8');
  const specs = [...text.matchAll(/(?:from\s+|import\(\s*|^import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm)].map((m) => m[1] ?? '');
  return specs.map((s) => join(dirname(file), s).replace(/\.js$/, '.ts'));
}

/** `file -> target` for every import that points to a higher layer. */
export function upwardImports(base: string): string[] {
  const upward: string[] = [];
  for (const layer of LAYERS) {
    for (const file of sources(base, layer)) {
      for (const target of importsOf(base, file)) if (layerOf(target) > layerOf(file)) upward.push(`${file} -> ${target}`);
    }
  }
  return upward;
}

/** `file -> target` for every import from bench/, reports/ or cli/ into drivers/ other than drivers/index.ts. */
export function deepDriverImports(base: string): string[] {
  const deep: string[] = [];
  for (const layer of ABOVE_DRIVERS) {
    for (const file of sources(base, layer)) {
      for (const target of importsOf(base, file)) if (target.startsWith('drivers/') && target !== DRIVERS_SURFACE) deep.push(`${file} -> ${target}`);
    }
  }
  return deep;
}

/**
 * `file:line: text` for every line of bench/ that reads a driver's `isolation`: a comparison with it
 * (`isolation ===`, `!==`, `==`, `!=`), a `.isolation` read, or `isolation` handed on as data (`isolation:`,
 * a parameter or type named so). Comments are skipped; the scenario named `isolation` is not a kind.
 */
export function isolationBranches(base: string): string[] {
  const found: string[] = [];
  for (const file of sources(base, 'bench')) {
    const lines = readFileSync(join(base, file), 'utf8').split('\n');
    lines.forEach((line, i) => {
      const code = line.replace(/\/\/.*$/, '');
      if (/^\s*(\*|\/\*)/.test(code) || /\bconst isolation: Scenario\b/.test(code)) return;
      if (/\bisolation\s*[!=]==?|\.isolation\b|\bisolation\s*:|\bIsolation\b|\[['"]isolation['"]\]/.test(code)) found.push(`${file}:${i + 1}: ${line.trim()}`);
    });
  }
  return found;
}

/**
 * Every import circle among the tree's sources, each as its members sorted and joined by ` -> `
 * (Tarjan's strongly connected components; a file importing itself is a circle of one).
 */
export function importCircles(base: string): string[] {
  const files = LAYERS.flatMap((l) => sources(base, l));
  const known = new Set(files);
  const edges = new Map(files.map((f) => [f, importsOf(base, f).filter((t) => known.has(t))]));
  let counter = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const circles: string[] = [];
  const visit = (v: string): void => {
    index.set(v, counter);
    low.set(v, counter++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
    }
    if (low.get(v) !== index.get(v)) return;
    const members: string[] = [];
    let w: string;
    do {
      w = stack.pop() as string;
      onStack.delete(w);
      members.push(w);
    } while (w !== v);
    if (members.length > 1 || (edges.get(v) ?? []).includes(v)) circles.push(members.sort().join(' -> '));
  };
  for (const f of files) if (!index.has(f)) visit(f);
  return circles.sort();
}

describe('the real tree', () => {
  test('no file imports from a layer above its own', () => {
    assert.deepEqual(upwardImports(root), []);
  });

  test('bench/, reports/ and cli/ import drivers only through drivers/index.ts', () => {
    assert.deepEqual(deepDriverImports(root), []);
  });

  test('bench/ never branches on a driver’s isolation, nor passes it on: it reads capabilities', () => {
    assert.deepEqual(isolationBranches(root), []);
  });

  test('no import circles', () => {
    assert.deepEqual(importCircles(root), []);
  });

  test('every source file lives in one of the layers', () => {
    const tops = readdirSync(root, { withFileTypes: true })
      .filter((e) => e.isFile() && e.name.endsWith('.ts'))
      .map((e) => e.name);
    assert.deepEqual(tops, [], 'TypeScript at the top level belongs in a layer folder');
    for (const layer of LAYERS) assert.ok(sources(root, layer).length > 0, `${layer}/ holds sources`);
  });

  test('the import check sees real imports', () => {
    // A guard against a regex that silently matches nothing.
    const seen = importsOf(root, 'cli/main.ts');
    assert.ok(seen.includes('bench/runner.ts'), `cli/main.ts imports bench/runner.ts (saw ${seen.join(', ')})`);
    assert.ok(seen.includes(DRIVERS_SURFACE), `cli/main.ts imports drivers/index.ts (saw ${seen.join(', ')})`);
  });
});

describe('the checks fail on planted violations (a synthetic tree)', () => {
  const base = mkdtempSync(join(tmpdir(), 'tsbench-architecture-'));
  after(() => rmSync(base, { recursive: true, force: true }));
  const write = (path: string, text: string): void => {
    mkdirSync(join(base, dirname(path)), { recursive: true });
    writeFileSync(join(base, path), text);
  };
  // A clean tree: one file per layer, every import down, drivers reached through their surface.
  write('core/units.ts', 'export const MiB = 2 ** 20;\n');
  write('drivers/types.ts', "import { MiB } from '../core/units.js';\nexport const LIMIT = MiB;\n");
  write('drivers/qemu/memory.ts', "import type { LIMIT } from '../types.js';\nexport const SPLIT = 1;\n");
  write('drivers/index.ts', "export { LIMIT } from './types.js';\nexport { SPLIT } from './qemu/memory.js';\n");
  write('bench/scenarios/memory.ts', "import { SPLIT } from '../../drivers/index.js';\nexport const memory = SPLIT;\n");
  write('reports/table.ts', "import type { LIMIT } from '../drivers/index.js';\nexport const table = 1;\n");
  write('cli/main.ts', "import { memory } from '../bench/scenarios/memory.js';\nexport const main = memory;\n");

  test('the clean tree passes every check', () => {
    assert.deepEqual(upwardImports(base), []);
    assert.deepEqual(deepDriverImports(base), []);
    assert.deepEqual(isolationBranches(base), []);
    assert.deepEqual(importCircles(base), []);
  });

  test('a deep import into drivers/ from bench/, reports/ or cli/ is found', () => {
    write('bench/scenarios/density.ts', "import { SPLIT } from '../../drivers/qemu/memory.js';\nexport const density = SPLIT;\n");
    write('cli/env.ts', "import type { LIMIT } from '../drivers/types.js';\nexport const env = 1;\n");
    try {
      assert.deepEqual(deepDriverImports(base), ['bench/scenarios/density.ts -> drivers/qemu/memory.ts', 'cli/env.ts -> drivers/types.ts']);
    } finally {
      rmSync(join(base, 'bench/scenarios/density.ts'));
      rmSync(join(base, 'cli/env.ts'));
    }
  });

  test('an import circle is found, of two files and through three', () => {
    write('bench/a.ts', "import { b } from './b.js';\nexport const a = 1;\n");
    write('bench/b.ts', "import { a } from './a.js';\nexport const b = 2;\n");
    write('reports/x.ts', "import type { Y } from './y.js';\nexport type X = 1;\n");
    write('reports/y.ts', "import type { Z } from './z.js';\nexport type Y = 1;\n");
    write('reports/z.ts', "import type { X } from './x.js';\nexport type Z = 1;\n");
    try {
      const circles = importCircles(base);
      assert.deepEqual(circles, ['bench/a.ts -> bench/b.ts', 'reports/x.ts -> reports/y.ts -> reports/z.ts']);
    } finally {
      for (const f of ['bench/a.ts', 'bench/b.ts', 'reports/x.ts', 'reports/y.ts', 'reports/z.ts']) rmSync(join(base, f));
    }
  });

  test('a scenario that branches on isolation, or passes it on, is found', () => {
    write(
      'bench/scenarios/io.ts',
      [
        '/** Comments may say isolation === vm. */',
        "export const vm = (d: { isolation: string }) => d.isolation === 'vm';",
        'export const kind = (isolation: string) => isolation !== "none";',
        "export const ok = (d: { capabilities: { dataDisk: boolean } }) => d.capabilities.dataDisk; // not d.isolation === 'vm'",
      ].join('\n'),
    );
    try {
      assert.deepEqual(
        isolationBranches(base).map((l) => l.split(':').slice(0, 2).join(':')),
        ['bench/scenarios/io.ts:2', 'bench/scenarios/io.ts:3'],
      );
    } finally {
      rmSync(join(base, 'bench/scenarios/io.ts'));
    }
  });

  test('an upward import is found', () => {
    write('drivers/up.ts', "import { memory } from '../bench/scenarios/memory.js';\nexport const up = memory;\n");
    try {
      assert.deepEqual(upwardImports(base), ['drivers/up.ts -> bench/scenarios/memory.ts']);
    } finally {
      rmSync(join(base, 'drivers/up.ts'));
    }
  });
});
