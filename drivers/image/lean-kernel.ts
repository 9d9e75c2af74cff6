/**
 * The lean guest kernel: Debian's linux-source-6.1 built as `make tinyconfig`
 * plus the committed fragment `drivers/image/kernel/lean.config`, everything
 * built in, kept as the uncompressed ELF `vmlinux` that QEMU boots through its
 * PVH entry point (no bzImage setup code, no self-decompression).
 *
 * Cache layout, `$XDG_CACHE_HOME/tsbench/kernel/`:
 *   lean-<key>/vmlinux        the kernel (symbols stripped: see STRIP_ARGS)
 *   lean-<key>/config         the final .config it was built with
 *   lean-<key>/kernel.json    { version, source, sourcePackageVersion, key, configSha256, vmlinuxBytes, builtAt, buildSeconds, … }
 *   .tmp-lean-<key>-build-*   the source tree while a build runs (≈ 1.3 GB); removed on success,
 *                             failure and Ctrl-C, and recorded (drivers/ownership.ts) so that the next
 *                             tsbench command sweeps what a SIGKILLed build left
 *
 * `<key>` covers every input: LEAN_BUILDER_VERSION, the source package's
 * version, the tarball's SHA-256 and the fragment's text. An entry is renamed
 * into place whole, so a half-built kernel is never in the cache.
 */
import { createHash } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { copyFile, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ExecaError } from 'execa';
import { atExit } from '../../core/exit.js';
import { makeOwnedDir } from '../ownership.js';
import { ImageError, installDir, sha256File, sha256Inputs, tempSibling } from './cache.js';
import { kernelCacheDir } from './kernel.js';

/** Bump when the recipe changes in a way that changes the kernel: every cached lean kernel is then rebuilt. */
export const LEAN_BUILDER_VERSION = 1;

/** The Debian package whose tarball is the source. */
export const LINUX_SOURCE_PACKAGE = 'linux-source-6.1';

/** Where Debian's linux-source-6.1 puts its tarball (`TSBENCH_LINUX_SOURCE` names another). */
export const LINUX_SOURCE_TARBALL = '/usr/src/linux-source-6.1.tar.xz';

/** The committed Kconfig fragment (this module is dist/drivers/image/lean-kernel.js once compiled). */
export const LEAN_CONFIG = fileURLToPath(new URL('../../../drivers/image/kernel/lean.config', import.meta.url));

/**
 * How many kbuild step lines (`  CC      kernel/fork.o`, `  LD      vmlinux.o`, `  AR`, `  GEN`, …)
 * `make vmlinux` prints for lean.config over linux-source-6.1 6.1.192-3 (measured: 1399 since ACPI and PCI are off; 1811 before);
 * the building phase's progress counts against it. A fragment or source that prints many more
 * or fewer is logged with the count to put here.
 */
export const EXPECTED_BUILD_STEPS = 1399;

/**
 * objcopy's arguments for the installed vmlinux. tinyconfig has no debug info, so
 * `--strip-debug` removes only 43 KB; `--strip-all` also drops the symbol table
 * (39 k symbols, 1.6 MB of 18.0 MB), which QEMU's ELF loader would otherwise read
 * and sort at every boot for its monitor. The PVH note and the program headers
 * stay, and the stripped kernel boots as the unstripped one does. `config` says
 * how to rebuild the symbols when a debugger wants them.
 */
const STRIP_ARGS = ['--strip-all'];

/** A built lean guest kernel in the cache. */
export type LeanKernel = {
  /** Absolute path of the ELF vmlinux (QEMU's `-kernel` boots it through PVH). */
  vmlinux: string;
  /** `uname -r` of the kernel (include/config/kernel.release), e.g. `6.1.192`. */
  version: string;
  /** The cache entry, `$cache/kernel/lean-<key>`. */
  dir: string;
  /** The final .config it was built with. */
  config: string;
  /** The cache key: a short hex digest of every input. */
  key: string;
};

/** Where the lean kernel's inputs come from: the CLI fills `source` from `TSBENCH_LINUX_SOURCE`; tests pass another fragment. */
export type LeanKernelInputs = {
  /** The linux source tarball. @default LINUX_SOURCE_TARBALL */
  source?: string;
  /** The Kconfig fragment merged over tinyconfig. @default LEAN_CONFIG */
  fragment?: string;
};

export type LeanKernelPhase = 'extracting' | 'configuring' | 'building' | 'installing';

/** What `buildLeanKernel` reports while it works. */
export type LeanKernelProgress = {
  phase: LeanKernelPhase;
  /** building: kbuild step lines seen so far */
  done?: number;
  /** building: the steps a full build is expected to print (EXPECTED_BUILD_STEPS) */
  total?: number;
};

export type LeanKernelBuildOptions = LeanKernelInputs & {
  /** Build even if the cache has this kernel. @default false */
  rebuild?: boolean;
  /** `make -j`. @default the CPUs + 1 */
  jobs?: number;
  log?: (line: string) => void;
  progress?: (p: LeanKernelProgress) => void;
};

/** kernel.json of a lean kernel entry. */
type LeanKernelMeta = {
  version: string;
  source: string;
  sourceTarball: string;
  sourcePackageVersion: string;
  key: string;
  builderVersion: number;
  configSha256: string;
  vmlinuxBytes: number;
  builtAt: string;
  buildSeconds: number;
  jobs: number;
};

const APT_HINT = `apt-get install ${LINUX_SOURCE_PACKAGE} bison flex libelf-dev bc (scripts/setup.sh does)`;

/** A fragment option that the final .config does not have as asked. */
export type DroppedOption = { option: string; wanted: string; got: string };

/** `CONFIG_X=value` and `# CONFIG_X is not set` lines as a map to their value (`n` for not set). */
function configValues(text: string): Map<string, string> {
  const values = new Map<string, string>();
  for (const line of text.split('\n')) {
    const set = /^(CONFIG_\w+)=(.*)$/.exec(line.trim());
    if (set?.[1] !== undefined && set[2] !== undefined) values.set(set[1], set[2]);
    const unset = /^# (CONFIG_\w+) is not set$/.exec(line.trim());
    if (unset?.[1] !== undefined) values.set(unset[1], 'n');
  }
  return values;
}

/**
 * Every option of `fragment` that the final `config` does not have as the fragment
 * asks: Kconfig silently drops an option whose dependencies are not met. `=n` is
 * met by `# CONFIG_X is not set` or by the option's absence (a symbol whose menu
 * is off is not written at all).
 */
export function droppedOptions(fragment: string, config: string): DroppedOption[] {
  const have = configValues(config);
  const dropped: DroppedOption[] = [];
  for (const [option, wanted] of configValues(fragment)) {
    const got = have.get(option);
    if (wanted === 'n' ? got === undefined || got === 'n' : got === wanted) continue;
    dropped.push({ option, wanted, got: got === undefined || got === 'n' ? 'not set' : got });
  }
  return dropped;
}

/** The tarball, checked to exist; a missing one is the user's to install (exit 2). */
function sourceTarball(inputs: LeanKernelInputs): string {
  const source = resolve(inputs.source ?? LINUX_SOURCE_TARBALL);
  if (!existsSync(source)) {
    const which = inputs.source === undefined ? '' : ', or point TSBENCH_LINUX_SOURCE at a linux source tarball';
    throw new ImageError(`linux source ${source} not found: ${APT_HINT}${which}`, { exitCode: 2 });
  }
  return source;
}

/** The installed linux-source-6.1's Debian version, or `unknown` (a tarball placed by hand). */
async function sourcePackageVersion(): Promise<string> {
  try {
    const { stdout } = await execa('dpkg-query', ['-W', '-f=${Version}', LINUX_SOURCE_PACKAGE], { stdin: 'ignore' });
    return stdout.trim() || 'unknown';
  } catch {
    return 'unknown';
  }
}

type KeyInputs = { key: string; source: string; fragmentPath: string; fragment: string; packageVersion: string };

async function keyInputs(inputs: LeanKernelInputs): Promise<KeyInputs> {
  const source = sourceTarball(inputs);
  const fragmentPath = resolve(inputs.fragment ?? LEAN_CONFIG);
  const fragment = await readFile(fragmentPath, 'utf8').catch((error: unknown) => {
    throw new ImageError(`Kconfig fragment ${fragmentPath} is unreadable (${(error as Error).message}): restore drivers/image/kernel/lean.config`, {
      cause: error,
      exitCode: 2,
    });
  });
  // Memoized by inode and times: a cache hit does not read 138 MB again.
  const [sourceSha256] = await sha256Inputs([source]);
  const packageVersion = await sourcePackageVersion();
  const key = createHash('sha256')
    .update(JSON.stringify({ builderVersion: LEAN_BUILDER_VERSION, packageVersion, sourceSha256, fragment }))
    .digest('hex')
    .slice(0, 16);
  return { key, source, fragmentPath, fragment, packageVersion };
}

/** The cache key of the lean kernel these inputs build: 16 hex digits of a SHA-256 over all of them. */
export async function leanKernelKey(inputs: LeanKernelInputs = {}): Promise<string> {
  return (await keyInputs(inputs)).key;
}

function leanDir(key: string): string {
  return join(kernelCacheDir(), `lean-${key}`);
}

/** The kernel in a cache entry, or undefined if it is missing, incomplete or not for `key`. */
async function cachedLeanKernel(dir: string, key: string): Promise<LeanKernel | undefined> {
  try {
    const meta = JSON.parse(await readFile(join(dir, 'kernel.json'), 'utf8')) as Partial<LeanKernelMeta>;
    const vmlinux = join(dir, 'vmlinux');
    const config = join(dir, 'config');
    if (meta.key !== key || typeof meta.version !== 'string') return undefined;
    if ((await stat(vmlinux)).size !== meta.vmlinuxBytes) return undefined;
    await stat(config);
    return { vmlinux, version: meta.version, dir, config, key };
  } catch {
    return undefined;
  }
}

/** The cached lean kernel for the current inputs, without building; an ImageError naming `tsbench kernel build` if there is none. */
export async function resolveLeanKernel(inputs: LeanKernelInputs = {}): Promise<LeanKernel> {
  const { key } = await keyInputs(inputs);
  const found = await cachedLeanKernel(leanDir(key), key);
  if (found === undefined) throw new ImageError('no lean guest kernel for this configuration: run tsbench kernel build');
  return found;
}

/**
 * The lean kernel of a cache entry made elsewhere (`TSBENCH_LEAN_KERNEL`), whatever its key: its
 * kernel.json names the key, and the entry is checked as a cache hit is. An ImageError (exit 2) naming
 * the variable when the directory is no complete entry.
 */
export async function leanKernelAt(dir: string): Promise<LeanKernel> {
  const at = resolve(dir);
  const meta = await readFile(join(at, 'kernel.json'), 'utf8').then(
    (text) => JSON.parse(text) as Partial<LeanKernelMeta>,
    () => undefined,
  );
  const found = typeof meta?.key === 'string' ? await cachedLeanKernel(at, meta.key) : undefined;
  if (found === undefined)
    throw new ImageError(`TSBENCH_LEAN_KERNEL=${dir} is not a lean kernel that tsbench kernel build made (vmlinux, config, kernel.json): fix or unset it`, {
      exitCode: 2,
    });
  return found;
}

/** The first of `names` that is not an executable on PATH. */
function missingTool(names: string[]): string | undefined {
  const dirs = (process.env['PATH'] ?? '').split(delimiter).filter(Boolean);
  return names.find((n) => !dirs.some((d) => existsSync(join(d, n))));
}

/** The host tools a build needs; a missing one is the user's to install (exit 2). */
function checkBuildTools(): void {
  const tool = missingTool(['make', 'gcc', 'bison', 'flex', 'bc', 'tar', 'xz', 'objcopy']);
  if (tool !== undefined) throw new ImageError(`${tool} not found, and building the lean kernel needs it: ${APT_HINT}`, { exitCode: 2 });
  // objtool (x86-64's ORC unwinder) links libelf.
  if (!existsSync('/usr/include/libelf.h') && !existsSync('/usr/include/libelf/libelf.h'))
    throw new ImageError(`libelf.h not found, and building the lean kernel needs it: ${APT_HINT}`, { exitCode: 2 });
}

/** A kbuild step line, e.g. `  CC      kernel/fork.o`, `  LD      vmlinux.o`, `  HOSTCC  scripts/…`. */
const STEP = /^ {2}[A-Z][A-Z0-9_-]* +\S/;

/** How many lines of a failed step's output go into its error. */
const TAIL_LINES = 15;

/**
 * Runs one step of the build in its own process group, so that Ctrl-C or an
 * error kills all of make's children (the `kill` exit hook), not only make.
 * Resolves with nothing; a failure is an ImageError with the last lines of output.
 */
async function step(what: string, file: string, args: string[], cwd: string, onLine: (line: string) => void = () => {}): Promise<void> {
  const tail: string[] = [];
  const sub = execa(file, args, { cwd, all: true, buffer: false, detached: true, stdin: 'ignore', env: { LC_ALL: 'C' } });
  const unkill = atExit(() => {
    if (sub.pid !== undefined) {
      try {
        process.kill(-sub.pid, 'SIGKILL');
      } catch {
        // Gone already.
      }
    }
  }, 'kill');
  try {
    for await (const line of sub.iterable({ from: 'all' })) {
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
      onLine(line);
    }
    await sub;
  } catch (error) {
    const e = error as ExecaError;
    if ((e.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT')
      throw new ImageError(`${file} not found, and ${what} needs it: ${APT_HINT}`, { cause: error, exitCode: 2 });
    const why = e.exitCode !== undefined ? `exit ${e.exitCode}` : (e.signal ?? e.shortMessage);
    throw new ImageError(`${what} failed (${why}); the last lines of its output:\n${tail.join('\n')}`, { cause: error });
  } finally {
    unkill();
  }
}

/**
 * The lean kernel for the current inputs, built into the cache unless it is there
 * already (or `rebuild`). A build extracts the tarball into a temporary directory
 * next to the cache entry, runs `make tinyconfig`, merges the fragment and runs
 * `make olddefconfig`, checks that every option of the fragment took, runs
 * `make vmlinux`, and renames the result into place. The temporary directory is
 * removed on success, failure and SIGINT/SIGTERM (an exit hook).
 */
export async function buildLeanKernel(opts: LeanKernelBuildOptions = {}): Promise<LeanKernel> {
  const log = opts.log ?? (() => {});
  const progress = opts.progress ?? (() => {});
  const started = process.hrtime.bigint();
  const inputs = await keyInputs(opts);
  const { key } = inputs;
  const finalDir = leanDir(key);
  if (opts.rebuild !== true) {
    const cached = await cachedLeanKernel(finalDir, key);
    if (cached !== undefined) return cached;
  }
  checkBuildTools();
  const jobs = opts.jobs ?? availableParallelism() + 1;

  // Recorded before it is made: a SIGKILLed build's tree is swept by the next tsbench command.
  await mkdir(kernelCacheDir(), { recursive: true });
  const work = await makeOwnedDir(join(kernelCacheDir(), `.tmp-lean-${key}-build-`));
  const unclean = atExit(() => rmSync(work, { recursive: true, force: true, maxRetries: 3 }), 'clean');
  let out: string | undefined;
  let uncleanOut = (): void => {};
  try {
    log(`building the lean kernel ${key} from ${inputs.source} in ${work}`);
    progress({ phase: 'extracting' });
    // --strip-components: a tarball named by TSBENCH_LINUX_SOURCE may have another top directory.
    await step(`extracting ${inputs.source}`, 'tar', ['-xf', inputs.source, '--strip-components=1'], work);

    progress({ phase: 'configuring' });
    await step('make tinyconfig', 'make', ['tinyconfig'], work);
    await step('merging the fragment', 'scripts/kconfig/merge_config.sh', ['-m', '.config', inputs.fragmentPath], work);
    await step('make olddefconfig', 'make', ['olddefconfig'], work);
    const config = await readFile(join(work, '.config'), 'utf8');
    const dropped = droppedOptions(inputs.fragment, config);
    if (dropped.length > 0)
      throw new ImageError(
        `Kconfig dropped ${dropped.length} option(s) of ${inputs.fragmentPath}, so a dependency is missing: ` +
          `${dropped.map((d) => `${d.option}=${d.wanted} (got ${d.got})`).join(', ')}: add what they depend on to the fragment`,
      );

    let done = 0;
    progress({ phase: 'building', done, total: EXPECTED_BUILD_STEPS });
    await step(`make -j${jobs} vmlinux`, 'make', [`-j${jobs}`, 'vmlinux'], work, (line) => {
      if (!STEP.test(line)) return;
      done++;
      progress({ phase: 'building', done, total: EXPECTED_BUILD_STEPS });
    });
    // A fragment or source that changes the count by much makes the progress read wrong.
    if (Math.abs(done - EXPECTED_BUILD_STEPS) > EXPECTED_BUILD_STEPS / 10)
      log(`make printed ${done} build steps, not about ${EXPECTED_BUILD_STEPS}: set EXPECTED_BUILD_STEPS in drivers/image/lean-kernel.ts to ${done}`);

    progress({ phase: 'installing' });
    const version = (await readFile(join(work, 'include', 'config', 'kernel.release'), 'utf8')).trim();
    const staging = await tempSibling(finalDir);
    out = staging;
    uncleanOut = atExit(() => rmSync(staging, { recursive: true, force: true }), 'clean');
    await step('stripping vmlinux', 'objcopy', [...STRIP_ARGS, 'vmlinux', join(out, 'vmlinux')], work);
    await copyFile(join(work, '.config'), join(out, 'config'));
    const meta: LeanKernelMeta = {
      version,
      source: LINUX_SOURCE_PACKAGE,
      sourceTarball: inputs.source,
      sourcePackageVersion: inputs.packageVersion,
      key,
      builderVersion: LEAN_BUILDER_VERSION,
      configSha256: await sha256File(join(out, 'config')),
      vmlinuxBytes: (await stat(join(out, 'vmlinux'))).size,
      builtAt: new Date().toISOString(),
      buildSeconds: Math.round(Number(process.hrtime.bigint() - started) / 1e8) / 10,
      jobs,
    };
    await writeFile(join(out, 'kernel.json'), JSON.stringify(meta, null, 2) + '\n');
    // Replaces an entry that was there but failed the check above (or `rebuild`).
    if (!(await installDir(out, finalDir, opts.rebuild === true || existsSync(finalDir)))) log(`another build of ${key} finished first; using it`);
  } finally {
    if (out !== undefined) await rm(out, { recursive: true, force: true });
    uncleanOut();
    await rm(work, { recursive: true, force: true, maxRetries: 3 });
    unclean();
  }
  const built = await cachedLeanKernel(finalDir, key);
  if (built === undefined) throw new ImageError(`lean kernel cache entry ${finalDir} is incomplete: run tsbench kernel build --rebuild`);
  return built;
}
