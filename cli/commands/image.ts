/**
 * CLI: `tsbench image build|info|clean [--image lean|debian|all]` and `tsbench kernel fetch|build|info`.
 * Errors are one line naming the fix; usage errors (UsageError) exit 2, other failures 1.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import {
  type KernelChoice,
  IMAGE_NAMES,
  ImageError,
  buildLeanKernel,
  cacheDir,
  cleanImages,
  ensureImage,
  fetchKernel,
  loadImage,
  resolveKernel,
  parseImageName,
  resolveLeanKernel,
  type Image,
  type ImageName,
} from '../../drivers/index.js';
import { driverOptionsFromEnv } from '../env.js';
import { positiveInt } from '../options.js';
import { buildProgressPrinter, formatDuration } from '../progress.js';
import { UsageError } from '../../core/errors.js';
import { withInterrupts } from '../../core/exit.js';

const log = (line: string): void => void process.stderr.write(`tsbench: ${line}\n`);

/** The kernel TSBENCH_KERNEL names, if it names one. */
function guestKernel(): { kernel?: KernelChoice } {
  const chosen = driverOptionsFromEnv().guestKernel;
  return chosen ? { kernel: chosen } : {};
}

/** The linux source tarball TSBENCH_LINUX_SOURCE names, if it names one. */
function linuxSource(): { source?: string } {
  const source = driverOptionsFromEnv().linuxSource;
  return source !== undefined ? { source } : {};
}

/**
 * Runs a command body. An ImageError that is the user's to fix (exitCode 2) becomes
 * the CLI's UsageError; every other error goes up as it is. The CLI's main prints
 * either as one line and exits 2 or 1.
 */
function action<A extends unknown[]>(body: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await body(...args);
    } catch (error) {
      if (error instanceof ImageError && error.exitCode === 2) throw new UsageError(error.message, { cause: error });
      throw error;
    }
  };
}

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1).padStart(7)} MB`;

/** `kernel info`: one guest kernel's version, path and size, or why there is none. */
async function kernelLines(label: string, find: () => Promise<{ path: string; version: string; extra?: string }>): Promise<string> {
  try {
    const k = await find();
    return `${label} ${k.version}${k.extra ?? ''}\n  ${k.path}  ${mb((await stat(k.path)).size).trim()}`;
  } catch (error) {
    if (!(error instanceof ImageError)) throw error;
    return `${label}: none (${error.message})`;
  }
}

/** `--image`: the images a command is about, in build order; `all` (the default) is every one. */
export function imagesFlag(value: string | undefined): ImageName[] {
  if (value === undefined || value === 'all') return [...IMAGE_NAMES];
  try {
    return [parseImageName(value)];
  } catch (error) {
    if (error instanceof UsageError) throw new UsageError(`${error.message}, or all`, { cause: error });
    throw error;
  }
}

/** Human-readable sizes for `image info`: the figures behind "container images are small compared with VM images". */
export function formatImageInfo(image: Image): string {
  const vm = image.sizes.kernelBytes + image.sizes.rootDiskBytes + image.sizes.initramfsBytes;
  const disk = image.rootDisk.split('/').pop();
  const initrd = image.initramfs.split('/').pop();
  const rows: [string, number][] =
    image.name === 'debian'
      ? [
          ['rootfs (container image: the tree minus the kernel)', image.sizes.rootfsBytes],
          [`root disk (${disk}, ext4, the whole tree)`, image.sizes.rootDiskBytes],
          ...(image.sizes.rootDiskAllocatedBytes !== undefined
            ? ([['  stored (allocated; the rest is free space)', image.sizes.rootDiskAllocatedBytes]] as [string, number][])
            : []),
          [`  of which kernel modules (/usr/lib/modules)`, image.sizes.modulesBytes],
          [`  of which initrd (a copy: ${initrd}, made by initramfs-tools)`, image.sizes.initramfsBytes],
          [`  of which kernel ${image.kernel.version} (a copy: vmlinuz)`, image.sizes.kernelBytes],
          ['VM image (the disk as stored; claim C4)', image.sizes.rootDiskAllocatedBytes ?? image.sizes.rootDiskBytes],
        ]
      : [
          ['rootfs (container image)', image.sizes.rootfsBytes],
          [`root disk (${disk}, ext4, read-only)`, image.sizes.rootDiskBytes],
          [`initramfs (${initrd})`, image.sizes.initramfsBytes],
          [`  of which kernel modules`, image.sizes.modulesBytes],
          [`stock kernel ${image.kernel.version}`, image.sizes.kernelBytes],
          ['stock VM image (kernel + disk + initramfs)', vm],
        ];
  const width = Math.max(44, ...rows.map(([label]) => label.length + 2));
  return [`${image.name} image ${image.hash}`, `  ${image.dir}`, ...rows.map(([label, bytes]) => `  ${label.padEnd(width)}${mb(bytes)}`)].join('\n');
}

/** The last lines of a failed mmdebstrap, which its ImageError carries in its cause (drivers/image/mmdebstrap.ts). */
function failureTail(error: unknown): string[] | undefined {
  if (!(error instanceof ImageError) || error.exitCode !== 1) return undefined;
  const tail = (error.cause as { tail?: unknown } | undefined)?.tail;
  return Array.isArray(tail) ? tail.map(String) : undefined;
}

export function registerImageCommands(program: Command, setExit: (code: number) => void): void {
  const image = program.command('image').description('the workload images (lean, debian) shared by all targets');
  const imageOption = '--image <name>';
  const imageHelp = 'lean, debian or all (default: all)';
  image
    .command('build')
    .description('build the images (rootfs for containers, root disk, kernel and initramfs for VMs) unless they are cached')
    .option(imageOption, imageHelp)
    .option('--rebuild', 'build even if a cached image matches (the Debian image then takes the current packages)')
    .action(
      action(async (opts: { image?: string; rebuild?: boolean }) => {
        for (const name of imagesFlag(opts.image)) {
          const started = process.hrtime.bigint();
          // The first Ctrl-C exits at once: the exit hooks kill mmdebstrap's process group and remove the temporary tree.
          const built = await withInterrupts(
            () => ensureImage({ image: name, rebuild: opts.rebuild === true, log, ...(name === 'lean' ? guestKernel() : {}) }),
            {
              first: 'exit',
            },
          ).catch((error: unknown) => {
            // A failed mmdebstrap: its one line, then the last lines of its output (kept nowhere else).
            const tail = failureTail(error);
            if (tail === undefined) throw error;
            process.stderr.write(`tsbench: ${(error as Error).message}\n${tail.map((l) => `  ${l}\n`).join('')}`);
            return undefined;
          });
          if (built === undefined) return setExit(1);
          const ms = Number(process.hrtime.bigint() - started) / 1e6;
          process.stdout.write(`${formatImageInfo(built)}\n  (${ms.toFixed(0)} ms)\n`);
        }
      }),
    );
  image
    .command('info')
    .description('print the sizes of each image: container rootfs, VM disk, kernel and initrd')
    .option(imageOption, imageHelp)
    .option('--json', 'print the Image object as JSON (for all images: an object by name, null for one not built)')
    .action(
      action(async (opts: { image?: string; json?: boolean }) => {
        const names = imagesFlag(opts.image);
        if (names.length === 1) {
          const loaded = await loadImage({ image: names[0], ...guestKernel().kernel });
          process.stdout.write(opts.json === true ? `${JSON.stringify(loaded, null, 2)}\n` : `${formatImageInfo(loaded)}\n`);
          return;
        }
        const found: Partial<Record<ImageName, Image | null>> = {};
        const text: string[] = [];
        for (const name of names) {
          try {
            const loaded = await loadImage({ image: name, ...guestKernel().kernel });
            found[name] = loaded;
            text.push(formatImageInfo(loaded));
          } catch (error) {
            if (!(error instanceof ImageError)) throw error;
            found[name] = null;
            // Not built yet says how to build it; anything else (corrupt, mmdebstrap missing) says itself.
            text.push(`${name} image: ${error.message.startsWith('no ') ? `none (run tsbench image build --image ${name})` : error.message}`);
          }
        }
        process.stdout.write(opts.json === true ? `${JSON.stringify(found, null, 2)}\n` : `${text.join('\n')}\n`);
      }),
    );
  image
    .command('clean')
    .description("remove cached images (the kernels stay, and so does the Debian image's apt cache)")
    .option(imageOption, imageHelp)
    .action(
      action(async (opts: { image?: string }) => {
        const names = imagesFlag(opts.image);
        const one = names.length === 1 ? names[0] : undefined;
        const removed = await cleanImages(one);
        process.stdout.write(
          `removed ${removed} ${one ?? ''}${one ? ' ' : ''}image(s) from ${cacheDir()}/images; the apt cache ${join(cacheDir(), 'debs')} stays\n`,
        );
      }),
    );

  const kernel = program.command('kernel').description('the guest kernel');
  kernel
    .command('fetch')
    .description("download Debian's linux-image-cloud-amd64 into the cache, or import --kernel PATH")
    .option('--kernel <path>', 'use this bzImage/vmlinuz instead of downloading one')
    .option('--modules <dir>', 'modules dir (with modules.dep) for --kernel')
    .action(
      action(async (opts: { kernel?: string; modules?: string }) => {
        if (opts.modules !== undefined && opts.kernel === undefined)
          throw new ImageError('--modules needs --kernel: pass both, or neither to fetch the Debian kernel', { exitCode: 2 });
        const k = await fetchKernel({ ...opts, log });
        process.stdout.write(`kernel ${k.version}\n  ${k.vmlinuz}\n${k.modulesDir !== undefined ? `  modules ${k.modulesDir}\n` : ''}`);
      }),
    );
  kernel
    .command('build')
    .description("build the lean guest kernel (tinyconfig + drivers/image/kernel/lean.config, from Debian's linux-source-6.1) unless it is cached")
    .option('--rebuild', 'build even if the cached lean kernel matches')
    .option('--jobs <n>', 'parallel make jobs (default: CPUs + 1)', positiveInt('--jobs', '3'))
    .action(
      action(async (opts: { rebuild?: boolean; jobs?: number }) => {
        const printer = buildProgressPrinter(process.stderr);
        const started = process.hrtime.bigint();
        let built = false;
        // The first Ctrl-C exits at once: the exit hooks kill make's process group and remove the source tree.
        const k = await withInterrupts(
          () =>
            buildLeanKernel({
              ...linuxSource(),
              rebuild: opts.rebuild === true,
              jobs: opts.jobs,
              log: (line) => {
                printer.clear();
                log(line);
              },
              progress: (p) => {
                built = true;
                printer.update(p);
              },
            }),
          { first: 'exit' },
        )
          .catch((error: unknown) => {
            // A failed step's message ends with the last lines of its output, which the CLI's one-line error would cut off.
            if (!(error instanceof ImageError) || error.exitCode !== 1 || !error.message.includes('\n')) throw error;
            printer.clear();
            const [first, ...rest] = error.message.split('\n');
            process.stderr.write(`tsbench: ${first}\n${rest.map((l) => `  ${l}\n`).join('')}`);
            return undefined;
          })
          .finally(() => printer.clear());
        if (k === undefined) return setExit(1);
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        const size = mb((await stat(k.vmlinux)).size).trim();
        process.stdout.write(
          `lean kernel ${k.version} ${built ? `(built in ${formatDuration(seconds)})` : '(cached)'}\n  ${k.vmlinux}  ${size}\n  key ${k.key}\n`,
        );
      }),
    );
  kernel
    .command('info')
    .description('print both guest kernels, the fetched one and the lean one, if present')
    .action(
      action(async () => {
        const cloud = await kernelLines('kernel', async () => {
          const k = await resolveKernel(guestKernel().kernel);
          return { path: k.vmlinuz, version: k.version };
        });
        const lean = await kernelLines('lean kernel', async () => {
          const k = await resolveLeanKernel(linuxSource());
          return { path: k.vmlinux, version: k.version, extra: ` (key ${k.key})` };
        });
        process.stdout.write(`${cloud}\n${lean}\n`);
      }),
    );
}
