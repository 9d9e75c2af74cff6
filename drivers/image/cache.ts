/**
 * The on-disk cache under `$XDG_CACHE_HOME/tsbench` (default `~/.cache/tsbench`):
 * `kernel/<version>/` and content-addressed `images/<hash>/`.
 *
 * Every entry is built in a temporary sibling directory and renamed into place,
 * so a reader never sees a half-built entry.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';

/**
 * Everything that goes wrong while fetching a kernel or building or loading an image.
 * The message is one line that names the fix; `exitCode` is 2 for usage errors
 * (a bad flag, file or environment variable) and 1 otherwise.
 */
export class ImageError extends Error {
  override name = 'ImageError';
  /** Process exit status the CLI should use. @default 1 */
  readonly exitCode: number;
  constructor(message: string, options?: { cause?: unknown; exitCode?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.exitCode = options?.exitCode ?? 1;
  }
}

/** The tsbench cache root, read from the environment on every call. */
export function cacheDir(): string {
  const xdg = process.env['XDG_CACHE_HOME'];
  return join(xdg !== undefined && xdg !== '' ? xdg : join(homedir(), '.cache'), 'tsbench');
}

/** SHA-256 of a file's content, hex. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

type Memo = Record<string, { key: string; sha256: string }>;

const memoPath = (): string => join(cacheDir(), 'images', '.sha256-memo.json');

async function readMemo(): Promise<Memo> {
  return (await readFile(memoPath(), 'utf8')
    .then((t) => JSON.parse(t) as Memo)
    .catch(() => ({}))) as Memo;
}

async function writeMemo(memo: Memo): Promise<void> {
  const path = memoPath();
  await mkdir(dirname(path), { recursive: true });
  // Unique per write: probes in one process (runc, crun, tcg, container at once) may all miss and write together.
  const tmp = `${path}.${process.pid}-${randomBytes(4).toString('hex')}`;
  await writeFile(tmp, JSON.stringify(memo));
  await rename(tmp, path);
}

/** What a file's memo entry is valid for: any write changes its ctime. */
async function memoKey(path: string): Promise<string> {
  const st = await stat(path, { bigint: true });
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

/**
 * Hashes being computed in this process, by file and memo key: the targets' probes run at once and
 * each plans its image, so on an empty memo (a fresh cache, a new machine) they would all read the
 * same hundreds of MB side by side; one read serves them all.
 */
const inFlight = new Map<string, Promise<string>>();

function hashing(path: string, key: string): Promise<string> {
  const id = `${path}\0${key}`;
  let p = inFlight.get(id);
  if (p === undefined) {
    p = sha256File(path).finally(() => inFlight.delete(id));
    inFlight.set(id, p);
  }
  return p;
}

/**
 * SHA-256 of many input files, remembered by (device, inode, size, mtime, ctime)
 * in `images/.sha256-memo.json`, as git's index does: a cache hit must not
 * re-read 100+ MB of tools and libraries. Any write to a file changes its ctime,
 * so a changed file is always hashed again.
 */
export async function sha256Inputs(paths: string[]): Promise<string[]> {
  const memo = await readMemo();
  let changed = false;
  const sums = await Promise.all(
    paths.map(async (path) => {
      const key = await memoKey(path);
      const hit = memo[path];
      if (hit?.key === key) return hit.sha256;
      changed = true;
      const sha256 = await hashing(path, key);
      memo[path] = { key, sha256 };
      return sha256;
    }),
  );
  if (changed) await writeMemo(memo);
  return sums;
}

/**
 * Records the SHA-256 a build has just computed of a file it installed (at its final path), so that
 * the check right after the build and every cache hit find it in the memo instead of reading the
 * file again (a root disk is hundreds of MB).
 */
export async function rememberSha256(path: string, sha256: string): Promise<void> {
  const memo = await readMemo();
  memo[path] = { key: await memoKey(path), sha256 };
  await writeMemo(memo);
}

/** A fresh temporary directory next to `finalDir`, on the same filesystem so `rename` is atomic. */
export async function tempSibling(finalDir: string): Promise<string> {
  await mkdir(dirname(finalDir), { recursive: true });
  const tmp = join(dirname(finalDir), `.tmp-${basename(finalDir)}-${process.pid}-${randomBytes(4).toString('hex')}`);
  await mkdir(tmp);
  return tmp;
}

/**
 * Moves a finished `tmp` directory to `finalDir`, replacing an old (e.g. corrupt) entry.
 * Returns false if another builder won the race; `tmp` is then removed and theirs is kept.
 */
export async function installDir(tmp: string, finalDir: string, replace: boolean): Promise<boolean> {
  if (replace) await rm(finalDir, { recursive: true, force: true });
  try {
    await rename(tmp, finalDir);
    return true;
  } catch (error) {
    await rm(tmp, { recursive: true, force: true });
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOTEMPTY' || code === 'EEXIST') return false;
    throw error;
  }
}

/**
 * A cache entry checked before a build: `{ hit }` when `dir` exists and `verify` accepts it;
 * otherwise what to build, `replace` being whether an entry is there to replace (`rebuild`, or
 * corrupt: `verify` threw an ImageError, which `log` reports).
 */
export async function checkEntry<T>(
  dir: string,
  verify: () => Promise<T>,
  opts: { rebuild?: boolean; log?: (line: string) => void },
): Promise<{ hit: T } | { hit?: undefined; replace: boolean }> {
  if (opts.rebuild === true) return { replace: true };
  if (!existsSync(dir)) return { replace: false };
  try {
    return { hit: await verify() };
  } catch (error) {
    if (!(error instanceof ImageError)) throw error;
    opts.log?.(`${error.message}; rebuilding`);
    return { replace: true };
  }
}

/**
 * Checks the parts of a cache entry `dir` that a hit reads: the root disk against its SHA-256 (hashed
 * once and remembered by inode and ctime, sha256Inputs: any write to the disk is seen) and the sizes
 * of some rootfs files. Throws `corrupt(what)` for the first that differs.
 */
export async function checkDiskAndRootfs(
  dir: string,
  disk: { file: string; sha256: string },
  rootfsSizes: readonly { path: string; bytes: number }[],
  corrupt: (what: string) => Error,
): Promise<void> {
  const [actual] = await sha256Inputs([join(dir, disk.file)]).catch(() => ['missing']);
  if (actual !== disk.sha256) throw corrupt(`${disk.file} is ${actual === 'missing' ? 'missing' : 'changed'}`);
  for (const { path, bytes } of rootfsSizes) {
    const st = await stat(join(dir, 'rootfs', path)).catch(() => undefined);
    if (st?.size !== bytes) throw corrupt(`rootfs${path} is ${st === undefined ? 'missing' : 'changed'}`);
  }
}

/** A cache entry's manifest.json, parsed by `schema` and naming `hash`; else throws `corrupt(what)`. */
export async function readManifest<T extends { hash: string }>(
  dir: string,
  hash: string,
  schema: { parse: (data: unknown) => T },
  corrupt: (what: string, cause?: unknown) => Error,
): Promise<T> {
  const path = join(dir, 'manifest.json');
  let manifest: T;
  try {
    manifest = schema.parse(JSON.parse(await readFile(path, 'utf8')));
  } catch (error) {
    throw corrupt(existsSync(path) ? 'manifest.json is unreadable' : 'manifest.json is missing', error);
  }
  if (manifest.hash !== hash) throw corrupt(`manifest is for ${manifest.hash}`);
  return manifest;
}
