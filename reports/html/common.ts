/**
 * What every HTML page tsbench writes needs: escaping of result strings, data
 * embedded in a <script> that cannot end it early, and chart.js inlined from
 * its package, so a page works offline from file:// with no network request.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { targetParts } from '../../drivers/index.js';

const require = createRequire(import.meta.url);

/** Escapes text for HTML element content and double- or single-quoted attributes. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * JSON for a `<script type="application/json">` element: `<` is written as
 * `\u003c`, so no string in the data can close the script element (`</script>`)
 * or open a comment; U+2028/2029 are escaped for old parsers.
 */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** The parts of one self-contained page; `head` lines go after the viewport, `afterTitle` after the title. */
export interface PageParts {
  csp: string;
  title: string;
  head?: string[];
  afterTitle?: string[];
  css: string;
  body: string;
}

/** A whole page: no external resource, a Content-Security-Policy that allows none. */
export function htmlPage(p: PageParts): string {
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${p.csp}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    ...(p.head ?? []),
    `<title>${p.title}</title>`,
    ...(p.afterTitle ?? []),
    `<style>${p.css}</style>`,
    '</head>',
    '<body>',
    p.body,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

let chartJs: string | undefined;

/** The source of chart.js's UMD build (dist/chart.umd.min.js), read once. */
export function chartJsSource(): string {
  if (chartJs === undefined) {
    // The package's exports map hides dist/chart.umd.min.js; it sits beside the main entry.
    const path = join(dirname(require.resolve('chart.js')), 'chart.umd.min.js');
    // A source map comment would make the browser request the map: drop it.
    const source = readFileSync(path, 'utf8').replace(/\n?\/\/# sourceMappingURL=\S+\s*$/, '\n');
    if (/<\/script|<!--/i.test(source)) throw new Error(`${path} contains "</script" or "<!--" and cannot be inlined as is`);
    chartJs = source;
  }
  return chartJs;
}

/** Consistent colours per target, in every chart of every page (Okabe–Ito, colour-blind safe). */
const PALETTE: Record<string, string> = {
  native: '#000000',
  container: '#0072B2',
  runc: '#56B4E9',
  crun: '#009E73',
  podman: '#CC79A7',
  docker: '#F0E442',
  kvm: '#D55E00',
  tcg: '#E69F00',
  // Beyond Okabe–Ito's eight: Paul Tol's muted scheme, also told apart by colour-blind readers.
  'kvm-cloud': '#882255',
  'tcg-cloud': '#CC6677',
  'container-in-kvm': '#332288',
  'container-in-tcg': '#44AA99',
  'container-in-kvm-cloud': '#117733',
  'container-in-tcg-cloud': '#999933',
  runsc: '#AA4499',
};
const SPARE = ['#999999', '#DDCC77', '#88CCEE', '#661100', '#6699CC', '#888888'];

/** The colour of a target; unknown targets get a stable colour from their name, and `TARGET@IMAGE` a darker shade of `TARGET`'s. */
export function targetColor(target: string): string {
  const { base, image } = targetParts(target);
  if (image !== undefined) return darker(targetColor(base));
  const known = PALETTE[target];
  if (known) return known;
  let h = 0;
  for (const c of target) h = (h * 31 + c.charCodeAt(0)) >>> 0;
  return SPARE[h % SPARE.length] ?? '#999999';
}

/** `#rrggbb` 40 % of the way to black: the same hue, told apart from its twin beside it. */
function darker(hex: string): string {
  const channel = (i: number): string =>
    Math.round(parseInt(hex.slice(i, i + 2), 16) * 0.6)
      .toString(16)
      .padStart(2, '0');
  return `#${channel(1)}${channel(3)}${channel(5)}`;
}
