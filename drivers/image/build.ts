/**
 * Builds the one workload image every target runs:
 *   rootfs/     the container's root: busybox, the agent, tsbench-syscalls, fio, sysbench, stress-ng,
 *               iperf3 and sockperf with exactly the shared libraries they load, and
 *               an /etc/os-release naming the image
 *   root.ext4   the same rootfs as an ext4 filesystem image: a VM's root disk, attached
 *               read-only, so that only the pages a workload touches enter guest RAM
 *   initramfs   tiny: the agent as /init and the kernel modules Debian's cloud kernel
 *               needs to mount the root disk (the lean kernel boots without it), and
 *               those only a container or a NIC needs, loaded only then
 *
 * An image is named by the hash of everything that goes into it, so it is rebuilt
 * exactly when an input changes.
 */
import { createHash } from 'node:crypto';
import { chmod, copyFile, lstat, mkdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { execa } from 'execa';
import { ImageError, sha256Inputs } from './cache.js';
import { TSBENCH_TOOLS, toolBinary } from './image.js';
import { selectModules, type Kernel, type ModuleSet } from './kernel.js';

/** Bump when the layout of an image changes, so that old cache entries are not reused. */
export const BUILDER_VERSION = 2;

/** The benchmark tools, at their usual paths on the host and in the image. */
export const TOOLS = [
  { path: '/usr/bin/fio', debianPackage: 'fio' },
  { path: '/usr/bin/sysbench', debianPackage: 'sysbench' },
  { path: '/usr/bin/stress-ng', debianPackage: 'stress-ng' },
  { path: '/usr/bin/iperf3', debianPackage: 'iperf3' },
  { path: '/usr/bin/sockperf', debianPackage: 'sockperf' },
] as const;

/** Static busybox (Debian's busybox-static) and the applets linked to it in /bin. */
export const BUSYBOX = '/bin/busybox';
export const BUSYBOX_APPLETS = ['sh', 'cat', 'echo', 'ls', 'mkdir', 'mount', 'umount', 'sleep', 'sync', 'true', 'false', 'dd', 'uname'];

/**
 * How the initramfs is compressed. Measured boot-to-ready under TCG (docs/image.md):
 * the guest's decompression is emulated and costs more than QEMU loading a larger
 * file from the host page cache, so the fastest is no compression.
 */
export type Compression = 'none' | 'gzip' | 'zstd';
export const COMPRESSION: Compression = 'none';
const COMPRESSORS: Record<Compression, { suffix: string; argv: string[] | undefined }> = {
  none: { suffix: '', argv: undefined },
  gzip: { suffix: '.gz', argv: ['gzip', '-6', '-n', '-c'] },
  zstd: { suffix: '.zst', argv: ['zstd', '-q', '-3', '-T0', '-c'] },
};

/**
 * The image's /etc/os-release (os-release(5)): what `tsbench exec -- cat /etc/os-release`
 * prints in every instance. IMAGE_VERSION is the image's own hash, i.e. its cache entry.
 */
export function osRelease(hash: string): string {
  return [
    'NAME="tsbench"',
    'ID=tsbench',
    `PRETTY_NAME="tsbench workload image ${hash.slice(0, 12)}"`,
    'IMAGE_ID=tsbench-workload',
    `IMAGE_VERSION=${hash}`,
    '',
  ].join('\n');
}

/** One thing in the image, at an absolute path inside it. */
export type Entry =
  | { kind: 'dir'; path: string }
  | { kind: 'file'; path: string; src: string; mode: number }
  | { kind: 'text'; path: string; content: string }
  | { kind: 'symlink'; path: string; target: string }
  | { kind: 'chardev'; path: string; major: number; minor: number };

/** What to build, and the hash that names it. */
export type Plan = {
  hash: string;
  /** rootfs entries: the container's root, and the VM's root disk */
  rootfs: Entry[];
  /** the initramfs: the agent as /init, the kernel modules and their load order */
  initramfs: Entry[];
  /** the kernel module entries of `initramfs` */
  modules: Entry[];
  /** content hash of every file entry, by image path */
  sha256: Record<string, string>;
  kernel: Kernel;
};

/** Dir where the guest finds its modules. */
const guestModulesDir = (kernel: Kernel): string => `/lib/modules/${kernel.version}`;

/** Shared libraries of a dynamic executable, with the loader, from the host's ldd. */
export async function sharedLibraries(binary: string): Promise<string[]> {
  const { stdout, exitCode } = await execa('ldd', [binary], { reject: false });
  if (exitCode !== 0) return []; // "not a dynamic executable": static, needs nothing
  const libs: string[] = [];
  for (const line of stdout.split('\n')) {
    // "libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x...)" or "/lib64/ld-linux-x86-64.so.2 (0x...)"
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line);
    if (m?.[1] !== undefined) libs.push(m[1]);
    else if (line.includes('not found')) throw new ImageError(`${binary} needs a library the host lacks (${line.trim()}): reinstall its Debian package`);
  }
  return libs;
}

export async function fileEntry(path: string, src: string): Promise<Entry> {
  const st = await stat(src); // follows symlinks: the image gets the real content at the path the loader asks for
  return { kind: 'file', path, src, mode: st.mode & 0o7777 };
}

/**
 * Lists the image's content and hashes every input. `launcher` (tsbench-launch,
 * whose container runtime makes the container inside a VM: drivers/qemu/nested.ts)
 * goes to /sbin/tsbench-launch when given.
 */
export async function planImage(kernel: Kernel, agent: string, launcher?: string): Promise<Plan> {
  if (!existsSync(agent)) throw new ImageError(`agent binary ${agent} is missing: run npm run build`);
  if (launcher !== undefined && !existsSync(launcher)) throw new ImageError(`launcher binary ${launcher} is missing: run npm run build`);
  if (!existsSync(BUSYBOX)) throw new ImageError(`${BUSYBOX} is missing: apt-get install busybox-static`);
  const rootfs: Entry[] = ['/proc', '/sys', '/dev', '/tmp', '/data', '/bin', '/sbin', '/etc'].map((path) => ({ kind: 'dir', path }));
  rootfs.push({ kind: 'chardev', path: '/dev/console', major: 5, minor: 1 });
  rootfs.push(await fileEntry('/sbin/tsbench-agent', agent));
  rootfs.push({ kind: 'symlink', path: '/init', target: 'sbin/tsbench-agent' });
  // The first init the kernel tries on a root disk: the lean VM needs no init= (every byte of its command line counts).
  rootfs.push({ kind: 'symlink', path: '/sbin/init', target: 'tsbench-agent' });
  if (launcher !== undefined) rootfs.push(await fileEntry('/sbin/tsbench-launch', launcher));
  for (const tool of TSBENCH_TOOLS) {
    const binary = toolBinary(tool.name);
    if (!existsSync(binary)) throw new ImageError(`${binary} is missing: run npm run build`);
    rootfs.push(await fileEntry(tool.path, binary));
  }
  rootfs.push(await fileEntry('/bin/busybox', BUSYBOX));
  for (const applet of BUSYBOX_APPLETS) rootfs.push({ kind: 'symlink', path: `/bin/${applet}`, target: 'busybox' });

  for (const tool of TOOLS) {
    if (!existsSync(tool.path)) throw new ImageError(`${tool.path} is missing: apt-get install ${tool.debianPackage}`);
    rootfs.push(await fileEntry(tool.path, tool.path));
  }
  const libs = new Set((await Promise.all(TOOLS.map((tool) => sharedLibraries(tool.path)))).flat());
  for (const lib of [...libs].sort()) rootfs.push(await fileEntry(lib, lib));

  // The initramfs of a kernel with modules: /init (the agent, which loads them and mounts the root disk),
  // the modules every boot loads, those only a container inside the VM loads (overlay), and those only a
  // VM with a NIC loads (virtio_net): each list of /etc/tsbench is loaded in its order (agent.c switch_root).
  const initramfs: Entry[] = ['/proc', '/sys', '/dev', '/etc/tsbench', '/sbin'].map((path) => ({ kind: 'dir', path }));
  initramfs.push({ kind: 'chardev', path: '/dev/console', major: 5, minor: 1 });
  initramfs.push(await fileEntry('/sbin/tsbench-agent', agent));
  initramfs.push({ kind: 'symlink', path: '/init', target: 'sbin/tsbench-agent' });
  const modules: Entry[] = [];
  const lists: { file: string; set?: ModuleSet; order: string[] }[] = [
    { file: '/etc/tsbench/modules', order: [] },
    { file: '/etc/tsbench/modules.container', set: 'container', order: [] },
    { file: '/etc/tsbench/modules.net', set: 'net', order: [] },
  ];
  if (kernel.modulesDir !== undefined) {
    for (const list of lists) {
      if (list.set === 'container' && launcher === undefined) continue; // no container runtime in the image
      for (const rel of await selectModules(kernel.modulesDir, list.set !== undefined ? { set: list.set } : {})) {
        const path = posix.join(guestModulesDir(kernel), rel);
        // A module two sets share is in the image once; both lists name it (a second load is EEXIST, which the agent takes).
        if (!modules.some((m) => m.path === path)) modules.push(await fileEntry(path, join(kernel.modulesDir, rel)));
        list.order.push(path);
      }
    }
  }
  initramfs.push(...modules);
  for (const list of lists) initramfs.push({ kind: 'text', path: list.file, content: list.order.map((p) => `${p}\n`).join('') });

  // Every input by content: entries (with file hashes), kernel, builder version.
  const files = [...rootfs, ...initramfs].filter((e): e is Extract<Entry, { kind: 'file' }> => e.kind === 'file');
  const [vmlinuzSum, ...sums] = await sha256Inputs([kernel.vmlinuz, ...files.map((e) => e.src)]);
  const sha256: Record<string, string> = {};
  files.forEach((e, i) => (sha256[e.path] = sums[i] ?? ''));
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ builder: BUILDER_VERSION, compression: COMPRESSION, rootDisk: MKFS_ARGS, kernel: kernel.version, vmlinuz: vmlinuzSum }));
  for (const e of [...rootfs, ...initramfs]) {
    const { src: _src, ...stable } = e as Entry & { src?: string }; // where it came from does not matter, its content does
    hash.update(JSON.stringify({ ...stable, sha256: sha256[e.path] }) + '\n');
  }
  // /etc/os-release names the image by this hash, so it cannot be an input of it; its template is.
  hash.update(JSON.stringify({ osRelease: osRelease('') }) + '\n');
  const name = hash.digest('hex').slice(0, 32);
  rootfs.push({ kind: 'text', path: '/etc/os-release', content: osRelease(name) });
  return { hash: name, rootfs, initramfs, modules, sha256, kernel };
}

/** Creates the entries under `root`. Needs root for /dev/console (mknod). */
export async function materialize(root: string, entries: Entry[]): Promise<void> {
  for (const e of entries) {
    const at = join(root, e.path);
    await mkdir(e.kind === 'dir' ? at : dirname(at), { recursive: true });
    switch (e.kind) {
      case 'dir':
        break;
      case 'file':
        await copyFile(e.src, at);
        await chmod(at, e.mode);
        break;
      case 'text':
        await writeFile(at, e.content);
        break;
      case 'symlink':
        await symlink(e.target, at);
        break;
      case 'chardev':
        // Node has no mknod(2). The kernel opens /dev/console as init's stdio before /dev is mounted.
        await execa('mknod', ['-m', '600', at, 'c', String(e.major), String(e.minor)]).catch((error: unknown) => {
          throw new ImageError(`cannot create ${e.path} in the image (mknod needs root): run tsbench image build as root`, { cause: error });
        });
        break;
    }
  }
}

/** Appends a newc cpio of everything under `root` (names relative to it) to `out`. */
export async function appendCpio(root: string, out: string): Promise<void> {
  const { stdout } = await execa('find', ['.', '-mindepth', '1'], { cwd: root });
  const names = stdout.split('\n').filter(Boolean).sort().join('\n') + '\n';
  // buffer: false, or execa keeps a copy of the (100+ MB) output in memory as well.
  await execa('cpio', ['-o', '-H', 'newc', '--quiet', '--reproducible', '-R', '0:0'], {
    cwd: root,
    input: names,
    stdout: { file: out, append: true },
    buffer: false,
  });
}

/** Total bytes of the regular files under `root`. */
export async function treeBytes(entries: Entry[], root: string): Promise<number> {
  let total = 0;
  for (const e of entries) if (e.kind === 'file' || e.kind === 'text') total += (await lstat(join(root, e.path))).size;
  return total;
}

export type Built = { initramfs: string; cpioBytes: number; compression: Compression; rootDisk: string };

/**
 * mkfs.ext4 for the root disk: no journal (it is mounted read-only; a journal is
 * only blocks to skip), no reserved blocks, no resize inode, and 4 KiB blocks.
 */
export const MKFS_ARGS = ['-q', '-t', 'ext4', '-b', '4096', '-m', '0', '-O', '^has_journal,^resize_inode', '-E', 'root_owner=0:0', '-L', 'tsbench-root'];

/** Bytes of a tree (its files, directories and links) as `du --apparent-size` counts them. */
export async function apparentBytes(root: string): Promise<number> {
  const { stdout } = await execa('du', ['-s', '--block-size=1', '--apparent-size', root]);
  return Number(stdout.split('\t')[0]);
}

/** Builds `out`, an ext4 image of the tree at `root`, shrunk to its content (resize2fs -M). */
async function makeRootDisk(root: string, out: string): Promise<void> {
  const content = await apparentBytes(root);
  // Room for the inode tables and metadata; the file stays sparse, and resize2fs -M trims it after.
  const bytes = Math.ceil((content * 1.3 + 32 * 2 ** 20) / 2 ** 20) * 2 ** 20;
  await execa('truncate', ['-s', String(bytes), out]);
  try {
    await execa('mkfs.ext4', [...MKFS_ARGS, '-d', root, out]);
    await execa('e2fsck', ['-f', '-y', out], { reject: false });
    await execa('resize2fs', ['-M', out]);
  } catch (error) {
    const e = error as { stderr?: string; code?: string; shortMessage?: string };
    if (e.code === 'ENOENT') throw new ImageError('mkfs.ext4 not found: apt-get install e2fsprogs', { cause: error });
    throw new ImageError(`making the root disk failed: ${(e.stderr ?? e.shortMessage ?? '').trim().split('\n').pop() ?? ''}`, { cause: error });
  }
}

/**
 * Builds rootfs/, root.ext4 (the same tree) and the initramfs into `dir` (a fresh temp dir).
 */
export async function buildInto(dir: string, plan: Plan, compression: Compression = COMPRESSION): Promise<Built> {
  const rootfs = join(dir, 'rootfs');
  await materialize(rootfs, plan.rootfs);
  const rootDisk = join(dir, 'root.ext4');
  await makeRootDisk(rootfs, rootDisk);
  const initRoot = join(dir, '.initramfs');
  await materialize(initRoot, plan.initramfs);
  const cpio = join(dir, 'initramfs.cpio');
  await appendCpio(initRoot, cpio);
  await rm(initRoot, { recursive: true, force: true });
  const cpioBytes = (await stat(cpio)).size;
  const { suffix, argv } = COMPRESSORS[compression];
  if (argv === undefined) return { initramfs: cpio, cpioBytes, compression, rootDisk };
  const [file, ...args] = argv as [string, ...string[]];
  const initramfs = cpio + suffix;
  await execa(file, [...args, cpio], { stdout: { file: initramfs }, buffer: false });
  await rm(cpio, { force: true });
  return { initramfs, cpioBytes, compression, rootDisk };
}
