/**
 * Opens a page tsbench wrote in real headless Chromium (Debian's `chromium`,
 * installed by scripts/setup.sh) and records what a reader's browser would do
 * with it: console errors, page errors, dialogs, every request it makes, and how
 * many pixels each canvas drew. Shared by the report and history page tests.
 *
 * Page code runs through `page.evaluate(string)`: the project compiles without
 * the DOM library, so browser-side code is written as expressions in strings.
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

/** Debian's chromium, or TSBENCH_CHROMIUM when set. */
export const CHROMIUM = process.env['TSBENCH_CHROMIUM'] ?? '/usr/bin/chromium';

/** Launches headless Chromium; fails with the fix when it is not installed. */
export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: run scripts/setup.sh (installs Debian's chromium) or set TSBENCH_CHROMIUM`);
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    // --no-sandbox: the tests run as root, where Chromium's sandbox refuses to start.
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--no-default-browser-check'],
  });
}

/** What a page did while it loaded and drew. */
export interface PageRecord {
  /** the file:// URL opened */
  url: string;
  /** console messages of type error, as text */
  consoleErrors: string[];
  /** uncaught exceptions thrown by page scripts */
  pageErrors: string[];
  /** alert/confirm/prompt dialogs opened (each is dismissed) */
  dialogs: string[];
  /** every request the page made, its own document included */
  requests: string[];
}

/** One canvas and the number of its pixels that are not fully transparent. */
export interface CanvasPixels {
  id: string;
  width: number;
  height: number;
  drawnPixels: number;
}

export interface OpenedPage {
  page: Page;
  record: PageRecord;
  /** requests other than the page's own document */
  otherRequests(): string[];
  /** evaluates a browser-side expression (a string: see the module comment) */
  evaluate<T>(expression: string): Promise<T>;
  canvases(): Promise<CanvasPixels[]>;
  /** writes a full-page PNG, creating its directory; returns the absolute path */
  screenshot(path: string): Promise<string>;
  close(): Promise<void>;
}

/**
 * Opens a local file and waits until it has loaded and two animation frames
 * have passed (charts built on load are drawn by then).
 */
export async function openFile(browser: Browser, path: string, opts: { width?: number; height?: number } = {}): Promise<OpenedPage> {
  const page = await browser.newPage();
  await page.setViewport({ width: opts.width ?? 1280, height: opts.height ?? 900 });
  const url = pathToFileURL(resolve(path)).href;
  const record: PageRecord = { url, consoleErrors: [], pageErrors: [], dialogs: [], requests: [] };
  page.on('console', (m) => {
    if (m.type() === 'error') record.consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => record.pageErrors.push(e instanceof Error ? e.message : String(e)));
  page.on('request', (r) => record.requests.push(r.url()));
  page.on('dialog', (d) => {
    record.dialogs.push(`${d.type()}: ${d.message()}`);
    void d.dismiss().catch(() => {});
  });
  await page.goto(url, { waitUntil: 'load' });
  await page.evaluate('new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))');
  return {
    page,
    record,
    otherRequests: () => record.requests.filter((u) => u !== url),
    evaluate: <T>(expression: string) => page.evaluate(expression) as Promise<T>,
    canvases: () =>
      page.evaluate(`[...document.querySelectorAll('canvas')].map((c, i) => {
        const ctx = c.getContext('2d');
        let drawn = 0;
        if (ctx && c.width > 0 && c.height > 0) {
          const px = ctx.getImageData(0, 0, c.width, c.height).data;
          for (let k = 3; k < px.length; k += 4) if (px[k] !== 0) drawn++;
        }
        return { id: c.id || '#' + i, width: c.width, height: c.height, drawnPixels: drawn };
      })`) as Promise<CanvasPixels[]>,
    screenshot: async (file: string) => {
      const abs = resolve(file);
      await mkdir(dirname(abs), { recursive: true });
      await page.screenshot({ path: abs as `${string}.png`, fullPage: true });
      return abs;
    },
    close: () => page.close(),
  };
}
