/**
 * What a built workload image is (`Image`) and where its parts come from (the compiled agent and
 * launcher, the images' cache directory): the part that index.ts (the lean image) and debian.ts
 * (the debian image) share, in a module of its own so that neither imports the other's.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cacheDir } from './cache.js';
import type { Kernel } from './kernel.js';
import type { ImageBoot, ImageName } from './names.js';

/** A built, verified image. */
export type Image = {
  /** which image (drivers/image/names.ts) */
  name: ImageName;
  /** how a VM boots it: the agent as init (lean), or the image's systemd up to tsbench-agent.service (debian) */
  boot: ImageBoot;
  /** content hash of all inputs; names the cache entry */
  hash: string;
  /** the cache entry */
  dir: string;
  /** root filesystem directory for containers */
  rootfs: string;
  /** root disk for VMs: rootfs as an ext4 image, attached read-only */
  rootDisk: string;
  /**
   * lean: the tiny initramfs for a kernel with modules (boot it with `kernel.vmlinuz`): loads them, mounts `rootDisk`;
   * debian: the initrd Debian's initramfs-tools made inside the image (a copy of its /boot/initrd.img-*)
   */
  initramfs: string;
  /** lean: the cloud kernel `tsbench kernel fetch` cached; debian: the image's own (a copy of its /boot/vmlinuz-*) */
  kernel: Kernel;
  sizes: {
    /** bytes of the regular files in rootfs/ */
    rootfsBytes: number;
    /** bytes of the root disk file (apparent size; lean: shrunk to its content, debian: with room to write) */
    rootDiskBytes: number;
    /** bytes the root disk's sparse file takes on the host (its blocks), where it keeps free space to write (debian) */
    rootDiskAllocatedBytes?: number;
    /** bytes of the initramfs file as stored (compressed if it is) */
    initramfsBytes: number;
    /** bytes of vmlinuz */
    kernelBytes: number;
    /** lean: bytes of the kernel modules in the initramfs; debian: of /usr/lib/modules/<version> on the root disk */
    modulesBytes: number;
  };
};

/** Absolute path of the compiled agent, dist/bin/tsbench-agent. */
export function agentBinary(): string {
  // This module is dist/drivers/image/image.js once compiled.
  return fileURLToPath(new URL('../../bin/tsbench-agent', import.meta.url));
}

/**
 * tsbench's own workload programs (dist/bin, scripts/build-c.sh), static like the agent, at their path in
 * every image: /sbin, beside the agent (in the Debian image /usr/sbin, the same by merged /usr). Natively the
 * same binaries run from dist/bin (drivers/native.ts).
 */
export const TSBENCH_TOOLS = [{ name: 'tsbench-syscalls', path: '/sbin/tsbench-syscalls' }] as const;

/** Absolute path of one of tsbench's compiled programs, dist/bin/NAME. */
export function toolBinary(name: string): string {
  return fileURLToPath(new URL(`../../bin/${name}`, import.meta.url));
}

/** Absolute path of the compiled launcher, dist/bin/tsbench-launch (the container runtime inside a VM). */
export function launcherBinary(): string {
  return fileURLToPath(new URL('../../bin/tsbench-launch', import.meta.url));
}

export function imagesDir(): string {
  return join(cacheDir(), 'images');
}
