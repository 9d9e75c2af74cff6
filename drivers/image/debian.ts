/**
 * The Debian image (drivers/image/names.ts `debian`): Debian bookworm, built by
 * mmdebstrap (`--variant=minbase` plus DEBIAN_PACKAGES) from the host's own apt
 * sources, with tsbench's agent as a systemd unit. One tree, two forms:
 *   root.ext4   the whole tree (kernel, modules and initrd included, as a cloud
 *               VM's disk holds them), ext4 with a journal and room to write: a
 *               VM mounts it read-write through a QEMU snapshot overlay
 *   vmlinuz, initrd.img   copies of the tree's /boot/vmlinuz-* and /boot/initrd.img-*
 *               (made inside the image by initramfs-tools), which QEMU boots directly
 *   rootfs/     the container's root: the same tree minus the kernel, its initrd and
 *               its modules (KERNEL_FILES), which a container has no use for
 *   manifest.json   what it was built from (mmdebstrap, sources, packages with
 *               versions) and what it holds (hashes and sizes), checked on every hit
 *
 * The entry is `images/<hash>/`, built in a temporary sibling recorded with
 * drivers/ownership.ts (a killed build's tree is swept) and renamed into place.
 * `<hash>` covers the recipe (packages, hooks, mmdebstrap's version, the sources
 * files, the agent, the files in drivers/image/debian/), not the package versions
 * the mirror has today: the same inputs reuse the image, and
 * `tsbench image build --image debian --rebuild` takes the current packages.
 */
import { createHash } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { chmod, copyFile, lstat, mkdir, readFile, readdir, readlink, rm, stat, truncate, unlink, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ExecaError } from 'execa';
import { z } from 'zod';
import { atExit } from '../../core/exit.js';
import { makeOwnedDir } from '../ownership.js';
import { ImageError, cacheDir, checkDiskAndRootfs, checkEntry, readManifest, installDir, rememberSha256, sha256File, sha256Inputs } from './cache.js';
import { apparentBytes } from './build.js';
import { TSBENCH_TOOLS, agentBinary, imagesDir, toolBinary, type Image } from './image.js';
import { hostSources, mmdebstrapVersion, runMmdebstrap } from './mmdebstrap.js';
import { IMAGE_BOOT } from './names.js';

/** Bump when the recipe or the layout of the entry changes, so that old entries are not reused. */
export const DEBIAN_BUILDER_VERSION = 1;

export const DEBIAN_SUITE = 'bookworm';

/** Essential packages, apt, and nothing else: the smallest Debian that apt can extend. */
export const DEBIAN_VARIANT = 'minbase';

/** What the image asks for over minbase (apt adds their dependencies; manifest.json lists them all, with versions). */
export const DEBIAN_PACKAGES: readonly string[] = [
  'systemd-sysv', // the init: /sbin/init → systemd, which a VM boots up to tsbench-agent.service
  'udev', // the device manager systemd expects: /dev/vd* and /dev/ttyS0 events, module autoloading
  'busybox', // /bin/busybox: the isolation and limits scenarios run `/bin/busybox sh` probes, as in the lean image
  'e2fsprogs', // fsck of the root file system at boot (fstab's pass 1), as a cloud image does
  'fio', // the io scenario's workload tool
  'sysbench', // the cpu and memory scenarios' workload tool
  'stress-ng', // the stress scenarios' workload tool
  'iperf3', // the net scenario's throughput server (its debconf question, a daemon at boot, defaults to no)
  'sockperf', // the net scenario's latency server
  'initramfs-tools', // makes the VM's initrd inside the image (MODULES=most), with tsbench's marks in it
  'linux-image-cloud-amd64', // the VM's kernel: Debian's cloud kernel and its modules
];

/** The committed files the hooks put into the image (drivers/image/debian/). */
export const DEBIAN_FILES_DIR = fileURLToPath(new URL('../../../drivers/image/debian/', import.meta.url));
const DEBIAN_FILES = ['initrd-start', 'initrd-end', 'tsbench-agent.service'] as const;

/** mkfs.ext4 for the root disk: a journal, as a cloud image has (a VM writes to it through a snapshot overlay). */
export const ROOT_DISK_MKFS = ['-q', '-t', 'ext4', '-b', '4096', '-L', 'tsbench-debian'];

/** Free space left on the root disk: a fifth of it, and at least this. */
export const ROOT_DISK_MIN_FREE = 128 * 2 ** 20;

/** The kernel's files that root.ext4 keeps and rootfs/ drops (with the tree's symlinks to them: /vmlinuz, /initrd.img and their .old). */
export function kernelFiles(version: string): string[] {
  return [...['vmlinuz', 'initrd.img', 'System.map', 'config'].map((f) => `/boot/${f}-${version}`), `/usr/lib/modules/${version}`];
}

/** Files of rootfs/ whose sizes a cache hit checks (the whole tree is 14,000 files). */
const SPOT_CHECKS = [
  '/usr/lib/systemd/systemd',
  '/usr/bin/fio',
  '/usr/bin/sysbench',
  '/usr/bin/stress-ng',
  '/usr/bin/iperf3',
  '/usr/bin/sockperf',
  '/bin/busybox',
  '/usr/sbin/tsbench-agent',
  ...TSBENCH_TOOLS.map((t) => `/usr${t.path}`),
];

/** Single-quotes a word for sh (mmdebstrap runs a hook string as `sh -c`, and splits a special hook's words as a shell would). */
const q = (word: string): string => `'${word.replace(/'/g, `'\\''`)}'`;

/**
 * mmdebstrap's options beside the hooks. dpkg without an fsync per file: the
 * tree is a temporary directory until the build succeeds, and a crash throws it
 * away, so the syncs would only cost time (a fifth of the package install, measured).
 */
export const BUILD_OPTIONS = ['--dpkgopt=force-unsafe-io'];

/** The extract hook's own progress line: the step a package that apt cannot find fails at. */
const CHECK_STEP = 'checking that apt finds every package asked for';

/**
 * mmdebstrap's hook arguments. Paths and the hash are parameters, so that the
 * cache key hashes these commands with placeholders (where the checkout and the
 * cache live does not change the image; what the hooks do does).
 */
export function hookArgs(at: { debs: string; files: string; agent: string; tools: readonly string[]; hash: string }): string[] {
  const file = (name: string): string => q(join(at.files, name));
  return [
    // The warm apt cache is tsbench's own ($cacheDir/debs), never the host's /var/cache/apt: copied in before
    // apt runs (--skip=download/empty keeps it there, so apt downloads only what is missing) and back out after.
    `--setup-hook=mkdir -p "$1"/var/cache/apt/archives/`,
    `--setup-hook=sync-in ${q(at.debs)} /var/cache/apt/archives/`,
    // Right after apt-get update and the essential packages' extraction, apt resolves what is asked for, so that a
    // name it cannot find fails here, not after the essential packages are installed (sooner by about half).
    `--extract-hook=echo 'I: ${CHECK_STEP}' && APT_CONFIG="$MMDEBSTRAP_APT_CONFIG" apt-get install --simulate --quiet=2 $(printf %s "$MMDEBSTRAP_INCLUDE" | tr , ' ') >/dev/null`,
    // After the essential packages, before the rest: the kernel's postinst runs update-initramfs, which
    // takes every script of /etc/initramfs-tools/scripts into the initrd, so the marks must be there first.
    `--essential-hook=install -D -m 755 ${file('initrd-start')} "$1"/etc/initramfs-tools/scripts/init-top/tsbench-mark`,
    `--essential-hook=install -D -m 755 ${file('initrd-end')} "$1"/etc/initramfs-tools/scripts/init-bottom/tsbench-mark`,
    // First of the customize hooks, so that what was downloaded stays even if a later hook fails.
    `--customize-hook=sync-out /var/cache/apt/archives ${q(at.debs)}`,
    // --dpkgopt=force-unsafe-io is for the build only (a killed build is thrown away whole): not in the image.
    `--customize-hook=rm "$1"/etc/dpkg/dpkg.cfg.d/99mmdebstrap`,
    // Merged /usr: /sbin/tsbench-agent (what a container runs) is this file.
    `--customize-hook=install -m 755 ${q(at.agent)} "$1"/usr/sbin/tsbench-agent`,
    // tsbench's own workload programs (drivers/image/image.ts), each at its image path under merged /usr.
    ...TSBENCH_TOOLS.map((t, i) => `--customize-hook=install -m 755 ${q(at.tools[i] ?? '')} "$1"/usr${t.path}`),
    `--customize-hook=install -m 644 ${file('tsbench-agent.service')} "$1"/etc/systemd/system/tsbench-agent.service`,
    // `systemctl enable` as a symlink: the unit's [Install] WantedBy=multi-user.target.
    `--customize-hook=mkdir -p "$1"/etc/systemd/system/multi-user.target.wants && ln -sf /etc/systemd/system/tsbench-agent.service "$1"/etc/systemd/system/multi-user.target.wants/`,
    // The serial console is tsbench's channel (the agent's lines out, "stop" in): no login prompt on it.
    `--customize-hook=ln -sf /dev/null "$1"/etc/systemd/system/serial-getty@ttyS0.service`,
    `--customize-hook=printf '%s\\n' '/dev/vda / ext4 rw,errors=remount-ro 0 1' >"$1"/etc/fstab`,
    `--customize-hook=printf '%s\\n' tsbench-debian >"$1"/etc/hostname`,
    // The VM's data disk (io scenario) is mounted here, as in the lean image.
    `--customize-hook=mkdir -p "$1"/data`,
    // os-release(5) has fields for exactly this: which image, which build. Debian's own fields stay.
    `--customize-hook=printf '%s\\n' IMAGE_ID=tsbench-debian IMAGE_VERSION=${at.hash} >>"$1"/usr/lib/os-release`,
    // mmdebstrap copies the host's resolv.conf in for apt and leaves it: the host's resolver is none of a
    // published image's business (an engine gives a container one at run time; a VM's NIC, when it has one, is
    // configured by the agent from tsbench.net=, with no resolver: the net scenario uses addresses only).
    `--customize-hook=rm -f "$1"/etc/resolv.conf`,
  ];
}

/**
 * The image's /etc/machine-id, fixed and derived from its hash. With an empty one
 * (what mmdebstrap leaves, machine-id(5)'s advice for images) every boot would be
 * systemd's first boot: a new id, `systemctl preset-all`, the first-boot units.
 * A fixed id makes every boot the steady-state boot that a benchmark should time.
 */
export function machineId(hash: string): string {
  return createHash('sha256').update(`tsbench-debian machine-id ${hash}`).digest('hex').slice(0, 32);
}

/** Test-only inputs (documented in docs/image.md as such): more packages, other sources files. */
export interface DebianTestOptions {
  /** packages asked for beside DEBIAN_PACKAGES (a test asks for one that does not exist) */
  extraPackages?: string[];
  /** sources files instead of the host's (a test names an unreachable one) */
  sources?: string[];
}

type Inputs = { hash: string; packages: string[]; sources: { path: string; sha256: string }[]; mmdebstrap: string; agent: string; tools: string[] };

/** Everything the image is built from, and the hash that names it. */
async function debianInputs(opts: DebianTestOptions = {}): Promise<Inputs> {
  const agent = agentBinary();
  if (!existsSync(agent)) throw new ImageError(`agent binary ${agent} is missing: run npm run build`);
  const tools = TSBENCH_TOOLS.map((t) => toolBinary(t.name));
  for (const tool of tools) if (!existsSync(tool)) throw new ImageError(`${tool} is missing: run npm run build`);
  const sourcePaths = opts.sources ?? hostSources();
  const sources = await Promise.all(
    sourcePaths.map(async (path) => {
      const text = await readFile(path).catch((error: unknown) => {
        throw new ImageError(`apt sources file ${path} is unreadable (${(error as Error).message})`, { cause: error, exitCode: 2 });
      });
      return { path, sha256: createHash('sha256').update(text).digest('hex'), format: path.endsWith('.sources') ? 'deb822' : 'one-line' };
    }),
  );
  const files = await Promise.all(
    DEBIAN_FILES.map(async (name) => ({
      name,
      text: await readFile(join(DEBIAN_FILES_DIR, name), 'utf8').catch((error: unknown) => {
        throw new ImageError(`${join(DEBIAN_FILES_DIR, name)} is unreadable (${(error as Error).message}): restore drivers/image/debian/`, { cause: error });
      }),
    })),
  );
  const [mmdebstrap, [agentSha256, ...toolsSha256]] = await Promise.all([mmdebstrapVersion(), sha256Inputs([agent, ...tools])]);
  const packages = [...DEBIAN_PACKAGES, ...(opts.extraPackages ?? [])];
  const key = {
    builder: DEBIAN_BUILDER_VERSION,
    suite: DEBIAN_SUITE,
    variant: DEBIAN_VARIANT,
    packages: [...packages].sort(),
    options: BUILD_OPTIONS,
    hooks: hookArgs({ debs: '$DEBS', files: '$FILES', agent: '$AGENT', tools: TSBENCH_TOOLS.map((t) => `$${t.name}`), hash: '$HASH' }),
    rootDisk: { mkfs: ROOT_DISK_MKFS, minFree: ROOT_DISK_MIN_FREE },
    rootfsWithout: kernelFiles('$VERSION'),
    mmdebstrap,
    // By content and format, not by path: the same sources elsewhere are the same sources.
    sources: sources.map(({ sha256, format }) => ({ sha256, format })),
    agent: agentSha256,
    tools: toolsSha256,
    files,
  };
  const hash = createHash('sha256').update(JSON.stringify(key)).digest('hex').slice(0, 32);
  return { hash, packages, sources: sources.map(({ path, sha256 }) => ({ path, sha256 })), mmdebstrap, agent, tools };
}

const Manifest = z.object({
  name: z.literal('debian'),
  builderVersion: z.number(),
  hash: z.string(),
  createdAt: z.string(),
  buildSeconds: z.number(),
  mmdebstrap: z.object({ version: z.string() }),
  suite: z.string(),
  variant: z.string(),
  /** the packages asked for (DEBIAN_PACKAGES) */
  packages: z.array(z.string()),
  /** every installed package and its version, from the image's dpkg database */
  installed: z.array(z.object({ package: z.string(), version: z.string() })),
  /** the apt sources files it was built from */
  sources: z.array(z.object({ path: z.string(), sha256: z.string() })),
  kernel: z.object({ vmlinuz: z.string(), version: z.string(), sha256: z.string(), bytes: z.number() }),
  initramfs: z.object({ file: z.string(), sha256: z.string(), bytes: z.number() }),
  rootDisk: z.object({ file: z.string(), fs: z.literal('ext4'), sha256: z.string(), bytes: z.number(), allocatedBytes: z.number(), freeBytes: z.number() }),
  /** the paths that root.ext4 has and rootfs/ does not: the kernel, its initrd and modules */
  rootfsWithout: z.array(z.string()),
  /** sizes of a few rootfs files, checked on every cache hit */
  spotChecks: z.array(z.object({ path: z.string(), bytes: z.number() })),
  sizes: z.object({ rootfsBytes: z.number(), rootDiskBytes: z.number(), initramfsBytes: z.number(), kernelBytes: z.number(), modulesBytes: z.number() }),
});
type Manifest = z.infer<typeof Manifest>;

/** Checks a cache entry against its manifest (≪ 1 s: two small hashes, root.ext4's remembered by inode and ctime, a few stats). */
async function verify(dir: string, hash: string): Promise<Image> {
  const corrupt = (what: string, cause?: unknown): ImageError =>
    new ImageError(`image ${dir} is corrupt (${what}): run tsbench image build --image debian`, { cause });
  const manifest = await readManifest(dir, hash, Manifest, corrupt);
  for (const [file, sha256] of [
    [manifest.initramfs.file, manifest.initramfs.sha256],
    [manifest.kernel.vmlinuz, manifest.kernel.sha256],
  ] as const) {
    const actual = await sha256File(join(dir, file)).catch(() => 'missing');
    if (actual !== sha256) throw corrupt(`${file} is ${actual === 'missing' ? 'missing' : 'changed'}`);
  }
  const rootDisk = join(dir, manifest.rootDisk.file);
  await checkDiskAndRootfs(dir, manifest.rootDisk, manifest.spotChecks, corrupt);
  return {
    name: 'debian',
    boot: IMAGE_BOOT.debian,
    hash,
    dir,
    rootfs: join(dir, 'rootfs'),
    rootDisk,
    initramfs: join(dir, manifest.initramfs.file),
    kernel: { vmlinuz: join(dir, manifest.kernel.vmlinuz), version: manifest.kernel.version },
    sizes: { ...manifest.sizes, rootDiskAllocatedBytes: manifest.rootDisk.allocatedBytes },
  };
}

/**
 * The Debian image for the current inputs, without building; an ImageError
 * naming `tsbench image build --image debian` when it is missing or corrupt.
 */
export async function loadDebianImage(opts: DebianTestOptions = {}): Promise<Image> {
  const inputs = await debianInputs(opts);
  const dir = join(imagesDir(), inputs.hash);
  if (!existsSync(dir)) throw new ImageError('no Debian image for the current packages, apt sources and agent: run tsbench image build --image debian');
  return verify(dir, inputs.hash);
}

/** Runs a host tool for a build step; a failure is an ImageError naming the step and the tool's last line. */
async function tool(what: string, file: string, args: string[]): Promise<string> {
  try {
    return (await execa(file, args, { env: { LC_ALL: 'C' } })).stdout;
  } catch (error) {
    const e = error as ExecaError;
    if (e.code === 'ENOENT')
      throw new ImageError(`${file} not found, and ${what} needs it: apt-get install e2fsprogs coreutils dpkg`, { cause: error, exitCode: 2 });
    const last =
      String(e.stderr ?? '')
        .trim()
        .split('\n')
        .pop() ?? '';
    throw new ImageError(`${what} failed (${file}: ${last || e.shortMessage})`, { cause: error });
  }
}

/**
 * root.ext4 from the whole tree: sized to leave a fifth of it (at least
 * ROOT_DISK_MIN_FREE) free plus room for metadata and the journal, sparse (truncate,
 * then mkfs.ext4 -d writes only the blocks in use), and checked with e2fsck.
 */
async function makeRootDisk(tree: string, out: string): Promise<{ freeBytes: number }> {
  const content = await apparentBytes(tree);
  const MiB = 2 ** 20;
  const bytes = Math.ceil((Math.max(content / 0.8, content + ROOT_DISK_MIN_FREE) + 64 * MiB) / MiB) * MiB;
  await writeFile(out, '');
  await truncate(out, bytes);
  await tool('making the root disk', 'mkfs.ext4', [...ROOT_DISK_MKFS, '-d', tree, out]);
  await tool('checking the root disk', 'e2fsck', ['-f', '-n', out]);
  const header = await tool('reading the root disk', 'dumpe2fs', ['-h', out]);
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(header)?.[1] ?? NaN);
  return { freeBytes: field('Free blocks') * field('Block size') };
}

/** The kernel version of the tree's /boot/vmlinuz-<version>; exactly one, with its initrd. */
async function treeKernel(tree: string): Promise<string> {
  const names = await readdir(join(tree, 'boot')).catch(() => [] as string[]);
  const versions = names.filter((n) => n.startsWith('vmlinuz-')).map((n) => n.slice('vmlinuz-'.length));
  if (versions.length !== 1)
    throw new ImageError(`the Debian image has ${versions.length} kernels in /boot (${names.join(' ') || 'none'}), not one: check DEBIAN_PACKAGES`);
  const version = versions[0] as string;
  if (!names.includes(`initrd.img-${version}`)) throw new ImageError(`the Debian image has no /boot/initrd.img-${version}: initramfs-tools did not make it`);
  return version;
}

/** Removes the kernel from the container's tree: KERNEL_FILES and the top-level symlinks to them. */
async function dropKernel(tree: string, version: string): Promise<string[]> {
  const removed = kernelFiles(version);
  for (const path of removed) await rm(join(tree, path), { recursive: true, force: true });
  for (const link of ['vmlinuz', 'vmlinuz.old', 'initrd.img', 'initrd.img.old']) {
    const target = await readlink(join(tree, link)).catch(() => undefined);
    if (target !== undefined && removed.some((p) => p.endsWith(`/${basename(target)}`))) {
      await unlink(join(tree, link));
      removed.push(`/${link}`);
    }
  }
  return removed;
}

/** Builds the entry into `tmp` (fresh, empty): the tree, root.ext4, the kernel and initrd, rootfs/, manifest.json. Returns root.ext4's SHA-256. */
async function buildInto(tmp: string, inputs: Inputs, opts: { debs: string; log: (line: string) => void }): Promise<string> {
  const started = process.hrtime.bigint();
  const seconds = (): string => (Number(process.hrtime.bigint() - started) / 1e9).toFixed(1);
  const step = (text: string): void => opts.log(`[debian ${seconds()} s] ${text}`);
  const tree = join(tmp, 'rootfs');
  const args = [
    '--mode=root',
    `--variant=${DEBIAN_VARIANT}`,
    `--include=${inputs.packages.join(',')}`,
    '--skip=download/empty',
    ...BUILD_OPTIONS,
    ...hookArgs({ debs: opts.debs, files: DEBIAN_FILES_DIR, agent: inputs.agent, tools: inputs.tools, hash: inputs.hash }),
    DEBIAN_SUITE,
    tree,
    ...inputs.sources.map((s) => s.path),
  ];
  const paths = inputs.sources.map((s) => s.path);
  step(`mmdebstrap ${DEBIAN_SUITE} (${DEBIAN_VARIANT} + ${inputs.packages.length} packages) from ${paths.join(', ')}`);
  await runMmdebstrap(args, paths, (line, s) => opts.log(`[debian ${s.toFixed(1)} s] ${line}`));
  // After mmdebstrap, whose clean-up empties /etc/machine-id.
  await writeFile(join(tree, 'etc', 'machine-id'), `${machineId(inputs.hash)}\n`);

  const version = await treeKernel(tree);
  const modulesBytes = await apparentBytes(join(tree, 'usr', 'lib', 'modules', version));
  step(`kernel ${version}: copying vmlinuz and initrd.img`);
  await copyFile(join(tree, 'boot', `vmlinuz-${version}`), join(tmp, 'vmlinuz'));
  await copyFile(join(tree, 'boot', `initrd.img-${version}`), join(tmp, 'initrd.img'));
  step('making the root disk (mkfs.ext4 -d of the whole tree)');
  const rootDisk = join(tmp, 'root.ext4');
  const { freeBytes } = await makeRootDisk(tree, rootDisk);
  step('removing the kernel from the container rootfs');
  const rootfsWithout = await dropKernel(tree, version);
  const dpkg = await tool('listing the installed packages', 'dpkg-query', [
    '-W',
    `--admindir=${join(tree, 'var', 'lib', 'dpkg')}`,
    '-f',
    '${Package} ${Version}\n',
  ]);
  const installed = dpkg
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [pkg = '', version = ''] = line.split(' ');
      return { package: pkg, version };
    });
  step('hashing');
  const sizeOf = async (path: string): Promise<number> => (await stat(path)).size;
  const disk = await stat(rootDisk);
  const [kernelSha, initrdSha, diskSha] = await Promise.all(['vmlinuz', 'initrd.img', 'root.ext4'].map((f) => sha256File(join(tmp, f))));
  const sizes = {
    rootfsBytes: await apparentBytes(tree),
    rootDiskBytes: disk.size,
    initramfsBytes: await sizeOf(join(tmp, 'initrd.img')),
    kernelBytes: await sizeOf(join(tmp, 'vmlinuz')),
    modulesBytes,
  };
  const spotChecks = await Promise.all(SPOT_CHECKS.map(async (path) => ({ path, bytes: (await lstat(join(tree, path))).size })));
  const manifest: Manifest = {
    name: 'debian',
    builderVersion: DEBIAN_BUILDER_VERSION,
    hash: inputs.hash,
    createdAt: new Date().toISOString(),
    buildSeconds: Number(seconds()),
    mmdebstrap: { version: inputs.mmdebstrap },
    suite: DEBIAN_SUITE,
    variant: DEBIAN_VARIANT,
    packages: inputs.packages,
    installed,
    sources: inputs.sources,
    kernel: { vmlinuz: 'vmlinuz', version, sha256: kernelSha as string, bytes: sizes.kernelBytes },
    initramfs: { file: 'initrd.img', sha256: initrdSha as string, bytes: sizes.initramfsBytes },
    rootDisk: { file: 'root.ext4', fs: 'ext4', sha256: diskSha as string, bytes: disk.size, allocatedBytes: disk.blocks * 512, freeBytes },
    rootfsWithout,
    spotChecks,
    sizes,
  };
  await writeFile(join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  step(`built: rootfs ${(sizes.rootfsBytes / 1e6).toFixed(0)} MB, root.ext4 ${(disk.size / 1e6).toFixed(0)} MB (${(freeBytes / 1e6).toFixed(0)} MB free)`);
  return manifest.rootDisk.sha256;
}

/**
 * The Debian image for the current inputs, built if it is missing, corrupt, or
 * `rebuild` is set. Needs root (mmdebstrap --mode=root, mkfs of a root-owned tree).
 * `extraPackages` and `sources` are for tests only (DebianTestOptions).
 */
export async function ensureDebianImage(opts: { rebuild?: boolean; log?: (line: string) => void } & DebianTestOptions = {}): Promise<Image> {
  const log = opts.log ?? (() => {});
  const inputs = await debianInputs(opts);
  const dir = join(imagesDir(), inputs.hash);
  const entry = await checkEntry(dir, () => verify(dir, inputs.hash), { ...opts, log });
  if (entry.hit) return entry.hit;
  const { replace } = entry;
  if (process.getuid?.() !== 0)
    throw new ImageError('building the Debian image needs root (mmdebstrap --mode=root): run tsbench image build as root', { exitCode: 2 });
  const debs = join(cacheDir(), 'debs');
  await mkdir(debs, { recursive: true });
  await mkdir(imagesDir(), { recursive: true });
  log(`building the Debian image ${inputs.hash} (apt cache ${debs})`);
  // Recorded before it is made: a SIGKILLed build's tree is swept by the next tsbench command.
  const tmp = await makeOwnedDir(join(imagesDir(), `.tmp-${inputs.hash}-${process.pid}-`));
  const unclean = atExit(() => rmSync(tmp, { recursive: true, force: true, maxRetries: 3 }), 'clean');
  try {
    const diskSha256 = await buildInto(tmp, inputs, { debs, log });
    await chmod(tmp, 0o755);
    if (await installDir(tmp, dir, replace)) await rememberSha256(join(dir, 'root.ext4'), diskSha256);
    else log(`another build of ${inputs.hash} finished first; using it`);
  } finally {
    await rm(tmp, { recursive: true, force: true, maxRetries: 3 });
    unclean();
  }
  return verify(dir, inputs.hash);
}
