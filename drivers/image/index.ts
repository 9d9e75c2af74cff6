/**
 * One workload image for every target: the same static agent and tool binaries
 * run natively, as PID 1 of a container (`rootfs`) and as PID 1 of a VM (`rootDisk`,
 * the same tree as a read-only ext4 disk; Debian's cloud kernel first boots the tiny
 * `initramfs` whose /init loads the disk's modules and mounts it).
 *
 * Images live in `$XDG_CACHE_HOME/tsbench/images/<hash>/` with `rootfs/`, `root.ext4`,
 * `initramfs.cpio[.gz|.zst]` and `manifest.json`; `<hash>` covers every input.
 */
import { readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { BUILDER_VERSION, buildInto, planImage, treeBytes, type Plan } from './build.js';
import { ImageError, checkDiskAndRootfs, checkEntry, readManifest, installDir, rememberSha256, sha256File, tempSibling } from './cache.js';
import { resolveKernel } from './kernel.js';
import type { KernelChoice } from '../types.js';
import { DEFAULT_IMAGE, IMAGE_BOOT, type ImageName } from './names.js';
import { agentBinary, imagesDir, launcherBinary, type Image } from './image.js';

export { ImageError, cacheDir } from './cache.js';
export { TSBENCH_TOOLS, agentBinary, imagesDir, launcherBinary, toolBinary, type Image } from './image.js';
export * from './names.js';
export { fetchKernel, resolveKernel, type Kernel, type KernelOptions } from './kernel.js';
export {
  LEAN_CONFIG,
  buildLeanKernel,
  droppedOptions,
  leanKernelKey,
  resolveLeanKernel,
  type LeanKernel,
  type LeanKernelInputs,
  type LeanKernelProgress,
} from './lean-kernel.js';

const Sizes = z.object({ rootfsBytes: z.number(), rootDiskBytes: z.number(), initramfsBytes: z.number(), kernelBytes: z.number(), modulesBytes: z.number() });

/** manifest.json of an image. */
const Manifest = z.object({
  builderVersion: z.number(),
  hash: z.string(),
  createdAt: z.string(),
  kernel: z.object({ vmlinuz: z.string(), version: z.string(), modulesDir: z.string().optional() }),
  initramfs: z.object({ file: z.string(), compression: z.string(), sha256: z.string(), bytes: z.number(), cpioBytes: z.number() }),
  rootDisk: z.object({ file: z.string(), fs: z.literal('ext4'), sha256: z.string(), bytes: z.number() }),
  sizes: Sizes,
  /** every input: image path, kind, and for files their source, size and sha256 */
  inputs: z.array(
    z.object({
      path: z.string(),
      kind: z.string(),
      in: z.enum(['rootfs', 'initramfs']),
      src: z.string().optional(),
      bytes: z.number().optional(),
      sha256: z.string().optional(),
    }),
  ),
});
type Manifest = z.infer<typeof Manifest>;

/** The kernel cmdline encoding of a job: base64url (no padding) of argv joined by NUL bytes. */
export function encodeJob(argv: string[]): string {
  if (argv.length === 0 || argv.some((a) => a.includes('\0'))) throw new ImageError('a job needs at least one argument and no NUL bytes', { exitCode: 2 });
  return Buffer.from(argv.join('\0')).toString('base64url');
}

/**
 * Kernel command line for booting the image's root disk with the agent as init.
 * - `quiet loglevel=1` keeps kernel messages off the console the agent talks on.
 * - `panic=-1` reboots at once if init dies, which ends QEMU when run with -no-reboot.
 * - `reboot=t`: the agent powers a VM with ACPI off (the stock VM); the lean microVM has
 *   no ACPI, and its agent reboots instead: a triple fault, which ends QEMU (-no-reboot),
 *   the one way out on a machine with no keyboard controller and no ACPI reset.
 * - `tsc_early_khz=<host> tsc=reliable`: under TCG the guest TSC ticks at the host's
 *   rate, but the kernel's PIT calibration of it fails when the host is busy; the TSC
 *   is then dropped, the guest clock falls back to 4 ms jiffies, and the BogoMIPS loop
 *   that follows took over 25 s under TCG (we saw boots hang at "tsc: Marking TSC
 *   unstable"). Naming the rate makes every boot take the fast path. The rate is the
 *   caller's (drivers/qemu/host.ts `hostTscKhz`); without one, none is named.
 * - the root: `root=DEV ro` when the kernel mounts it itself (everything built in; it
 *   runs /sbin/init, the agent), `tsbench.root=DEV` when the initramfs's agent loads the
 *   modules and mounts it (drivers/agent/agent.c `switch_root`). x86 keeps 2048 bytes of
 *   command line and the job rides in it, so nothing here is longer than it must be.
 * - `tsbench.net=ADDRESS/PREFIX,GATEWAY` (a VM with a NIC): the agent gives the first
 *   non-loopback interface that address and a default route via GATEWAY before the job
 *   (drivers/agent/agent.c `setup_net`); the stock kernel's agent loads virtio_net for it.
 */
export function kernelCmdline(opts: {
  job: string[];
  root: { device: string; by: 'kernel' | 'initramfs' };
  disk?: string;
  /** the guest's IPv4 address with its prefix length (`198.18.3.2/30`) and its default gateway */
  net?: { address: string; gateway: string };
  tscKhz?: number;
  extra?: string[];
}): string {
  const parts = ['console=ttyS0', 'quiet', 'loglevel=1', 'panic=-1', 'reboot=t'];
  if (opts.tscKhz !== undefined && opts.tscKhz > 0) parts.push(`tsc_early_khz=${opts.tscKhz}`, 'tsc=reliable');
  if (opts.root.by === 'kernel') parts.push(`root=${opts.root.device}`, 'ro');
  else parts.push(`tsbench.root=${opts.root.device}`);
  parts.push(`tsbench.job=${encodeJob(opts.job)}`);
  if (opts.disk !== undefined) parts.push(`tsbench.disk=${opts.disk}`);
  if (opts.net !== undefined) parts.push(`tsbench.net=${opts.net.address},${opts.net.gateway}`);
  return [...parts, ...(opts.extra ?? [])].join(' ');
}

/** Checks a cache entry against its manifest; throws an ImageError saying what is wrong. */
async function verify(dir: string, hash: string): Promise<Image> {
  const corrupt = (what: string, cause?: unknown): ImageError =>
    new ImageError(`image ${dir} is corrupt (${what}): run tsbench image build to rebuild it`, { cause });
  const manifest = await readManifest(dir, hash, Manifest, corrupt);
  const initramfs = join(dir, manifest.initramfs.file);
  const actual = await sha256File(initramfs).catch(() => 'missing');
  if (actual !== manifest.initramfs.sha256) throw corrupt(`${manifest.initramfs.file} is ${actual === 'missing' ? 'missing' : 'changed'}`);
  const rootDisk = join(dir, manifest.rootDisk.file);
  const rootfsSizes = manifest.inputs.flatMap((i) => (i.in === 'rootfs' && i.bytes !== undefined ? [{ path: i.path, bytes: i.bytes }] : []));
  await checkDiskAndRootfs(dir, manifest.rootDisk, rootfsSizes, corrupt);
  return {
    name: 'lean',
    boot: IMAGE_BOOT.lean,
    hash,
    dir,
    rootfs: join(dir, 'rootfs'),
    rootDisk,
    initramfs,
    kernel: manifest.kernel,
    sizes: manifest.sizes,
  };
}

async function currentPlan(kernel: KernelChoice = {}): Promise<Plan> {
  return planImage(await resolveKernel(kernel), agentBinary(), launcherBinary());
}

/** Which image, and for the lean one the guest kernel it is built for (`TSBENCH_KERNEL`; the Debian image boots its own). */
export interface ImageChoice extends KernelChoice {
  /** @default 'lean' */
  image?: ImageName;
}

/**
 * The image for the current inputs (agent, tools, kernel), without building.
 * Throws an ImageError telling the user to run `tsbench image build` if it is
 * missing or corrupt.
 */
export async function loadImage(choice: ImageChoice = {}): Promise<Image> {
  const { image = DEFAULT_IMAGE, ...kernel } = choice;
  if (image === 'debian') return (await import('./debian.js')).loadDebianImage();
  const plan = await currentPlan(kernel);
  const dir = join(imagesDir(), plan.hash);
  if (!existsSync(dir)) throw new ImageError(`no image for the current agent, tools and kernel: run tsbench image build`);
  return verify(dir, plan.hash);
}

/**
 * The image for the current inputs, built if it is missing, corrupt, or `rebuild` is set.
 * A cache hit only hashes the inputs and checks the entry.
 */
export async function ensureImage(opts: { rebuild?: boolean; log?: (line: string) => void; kernel?: KernelChoice; image?: ImageName } = {}): Promise<Image> {
  if (opts.image === 'debian') return (await import('./debian.js')).ensureDebianImage(opts);
  const log = opts.log ?? (() => {});
  const plan = await currentPlan(opts.kernel);
  const dir = join(imagesDir(), plan.hash);
  const entry = await checkEntry(dir, () => verify(dir, plan.hash), { ...opts, log });
  if (entry.hit) return entry.hit;
  const { replace } = entry;
  log(`building image ${plan.hash}`);
  const tmp = await tempSibling(dir);
  try {
    const built = await buildInto(tmp, plan);
    const fileBytes = async (path: string): Promise<number> => (await stat(path)).size;
    const sizes = {
      rootfsBytes: await treeBytes(plan.rootfs, join(tmp, 'rootfs')),
      rootDiskBytes: await fileBytes(built.rootDisk),
      initramfsBytes: await fileBytes(built.initramfs),
      kernelBytes: await fileBytes(plan.kernel.vmlinuz),
      modulesBytes: (await Promise.all(plan.modules.map((m) => (m.kind === 'file' ? fileBytes(m.src) : 0)))).reduce((a, b) => a + b, 0),
    };
    const inputs = await Promise.all(
      [...plan.rootfs.map((e) => ({ e, in: 'rootfs' as const })), ...plan.initramfs.map((e) => ({ e, in: 'initramfs' as const }))].map(
        async ({ e, in: where }) => ({
          path: e.path,
          kind: e.kind,
          in: where,
          ...(e.kind === 'file' ? { src: e.src, bytes: await fileBytes(e.src), sha256: plan.sha256[e.path] } : {}),
          ...(e.kind === 'text' ? { bytes: Buffer.byteLength(e.content) } : {}),
        }),
      ),
    );
    const manifest: Manifest = {
      builderVersion: BUILDER_VERSION,
      hash: plan.hash,
      createdAt: new Date().toISOString(),
      kernel: plan.kernel,
      initramfs: {
        file: built.initramfs.slice(tmp.length + 1),
        compression: built.compression,
        sha256: await sha256File(built.initramfs),
        bytes: sizes.initramfsBytes,
        cpioBytes: built.cpioBytes,
      },
      rootDisk: { file: 'root.ext4', fs: 'ext4', sha256: await sha256File(built.rootDisk), bytes: sizes.rootDiskBytes },
      sizes,
      inputs,
    };
    await writeFile(join(tmp, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
    if (await installDir(tmp, dir, replace)) await rememberSha256(join(dir, manifest.rootDisk.file), manifest.rootDisk.sha256);
    else log(`another build of ${plan.hash} finished first; using it`);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return verify(dir, plan.hash);
}

/**
 * Removes cached images (never the kernels, nor the Debian image's apt cache `debs/`):
 * every one, or only those of one image, told apart by their manifest's `name` (a lean
 * manifest has none). Returns how many were removed.
 */
export async function cleanImages(image?: ImageName): Promise<number> {
  const names = await readdir(imagesDir()).catch(() => []);
  if (image === undefined) {
    await rm(imagesDir(), { recursive: true, force: true });
    return names.filter((n) => !n.startsWith('.')).length;
  }
  let removed = 0;
  for (const name of names.filter((n) => !n.startsWith('.'))) {
    const manifest = await readFile(join(imagesDir(), name, 'manifest.json'), 'utf8')
      .then((t) => JSON.parse(t) as { name?: unknown })
      .catch(() => undefined);
    if (manifest === undefined || (manifest.name ?? 'lean') !== image) continue; // an entry with no readable manifest goes with `clean` alone
    await rm(join(imagesDir(), name), { recursive: true, force: true });
    removed++;
  }
  return removed;
}
