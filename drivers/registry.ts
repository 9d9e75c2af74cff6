/**
 * Every target tsbench knows, by name. Drivers are created on demand so that a
 * target's module only costs something when it is asked for.
 */
import { UsageError } from '../core/errors.js';
import type { Driver, DriverOptions } from './types.js';
import {
  RESTORE_MODES,
  VM_PROFILES,
  nestedDescription,
  nestedTargetName,
  restoreDescription,
  restoreTargetName,
  vmDescription,
  vmTargetName,
} from './qemu/names.js';
import { DEFAULT_IMAGE, IMAGE_NAMES, splitTarget, targetWithImage } from './image/names.js';

export interface TargetInfo {
  name: string;
  description: string;
  create: (options: DriverOptions) => Promise<Driver>;
}

const targets: readonly TargetInfo[] = [
  {
    name: 'native',
    description: 'plain host process (baseline)',
    create: async () => (await import('./native.js')).default(),
  },
  // The VM targets: the lean microVM (the default VM) and the stock VM, under each accelerator (drivers/qemu).
  ...(['kvm', 'tcg'] as const).flatMap((accel) =>
    VM_PROFILES.map((profile): TargetInfo => ({
      name: vmTargetName(accel, profile),
      description: vmDescription(accel, profile),
      create: async (options) => (await import('./qemu/index.js')).createQemuDriver(accel, profile, options),
    })),
  ),
  // The VM targets started from a snapshot instead of a boot (issue 34, drivers/qemu/snapshot.ts).
  ...(['kvm', 'tcg'] as const).flatMap((accel) =>
    VM_PROFILES.flatMap((profile) =>
      RESTORE_MODES.map(({ mode }): TargetInfo => ({
        name: restoreTargetName(vmTargetName(accel, profile), mode),
        description: restoreDescription(accel, profile, mode),
        create: async (options) => (await import('./qemu/index.js')).createQemuDriver(accel, profile, { ...options, restore: mode }),
      })),
    ),
  ),
  {
    name: 'container',
    description: "namespaces + cgroups + overlay root (tsbench's own runtime)",
    create: async (options) => (await import('./container/index.js')).default(options),
  },
  {
    name: 'container-unconfined',
    description:
      'container without confinement (no seccomp, capabilities, masks or no_new_privs) whatever TSBENCH_CONFINEMENT says: beside container, what confinement costs',
    create: async (options) => (await import('./container/index.js')).createUnconfinedContainerDriver(options),
  },
  // Peer OCI runtimes, measured beside tsbench's own container (drivers/oci).
  ...(['runc', 'crun', 'podman', 'docker'] as const).map((name): TargetInfo => ({
    name,
    description:
      name === 'runc' || name === 'crun'
        ? `${name}: the same image, agent, namespaces and limits as an OCI bundle (peer runtime)`
        : `${name}: the same rootfs imported as an image, run with matching limits (peer engine)`,
    create: async (options) => (await import('./oci/index.js')).createPeerDriver(name, options),
  })),
  // gVisor: the same OCI bundle run by runsc, its Sentry a user-space kernel, on each platform (drivers/oci/runsc.ts).
  ...(['ptrace', 'kvm'] as const).map((platform): TargetInfo => ({
    name: platform === 'ptrace' ? 'runsc' : 'runsc-kvm',
    description: `gVisor (runsc, ${platform} platform): the same OCI bundle in a sandbox with its own user-space kernel`,
    create: async (options) => (await import('./oci/runsc.js')).createRunscDriver(platform, options),
  })),
  // A container restored by CRIU from a checkpoint taken once per run, beside the VMs restored from a snapshot (drivers/oci/criu.ts).
  {
    name: 'runc-restore',
    description:
      "runc restored by CRIU (runc restore) from a checkpoint taken once per run of a container awaiting its job; no network but the driver's lo, no volumes",
    create: async (options) => (await import('./oci/criu.js')).createRuncRestoreDriver(options),
  },
  // tsbench's container inside a VM (claim C10: container-in-VM vs VM alone), in each VM target.
  ...(['kvm', 'tcg'] as const).flatMap((accel) =>
    VM_PROFILES.map((profile): TargetInfo => ({
      name: nestedTargetName(accel, profile),
      description: nestedDescription(accel, profile),
      create: async (options) => (await import('./qemu/nested.js')).createNestedDriver(accel, { ...options, profile }),
    })),
  ),
];

export function listTargets(): readonly TargetInfo[] {
  return targets;
}

/** Targets that run no image: the host's own binaries. */
const IMAGELESS = new Set(['native']);

/**
 * Parses `--targets a,b`: known names, each optionally `@IMAGE` (drivers/image/names.ts; `@lean`
 * is the plain name), no duplicates, in the order given. `image` is the image of the names that
 * name none (`--image`).
 */
export function parseTargets(list: string, image = DEFAULT_IMAGE): string[] {
  const names = list
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((n) => {
      const { base, image: named } = n.includes('@') ? splitTarget(n) : { base: n, image };
      if (!targets.some((t) => t.name === base)) throw new UsageError(`--targets: unknown target '${base}'; valid targets: ${knownNames()}`);
      if (IMAGELESS.has(base)) {
        if (n.includes('@')) throw new UsageError(`--targets: ${base} runs the host's own binaries and has no image; give it as ${base}`);
        return base;
      }
      return targetWithImage(base, named);
    });
  if (names.length === 0) throw new UsageError(`--targets is empty: give one or more of ${knownNames()}`);
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice !== undefined) throw new UsageError(`--targets names ${twice} twice; give each target once, e.g. --targets ${[...new Set(names)].join(',')}`);
  return names;
}

/** Creates the driver of target `name` with the options the CLI gathered from flags and environment. */
export async function createDriver(name: string, options: DriverOptions = {}): Promise<Driver> {
  const { base, image } = splitTarget(name);
  const info = targets.find((t) => t.name === base);
  if (!info || (IMAGELESS.has(base) && image !== DEFAULT_IMAGE)) throw new UsageError(`unknown target '${name}'; valid targets: ${knownNames()}`);
  return info.create(image === DEFAULT_IMAGE ? options : { ...options, image });
}

function knownNames(): string {
  return `${targets.map((t) => t.name).join(', ')} (each but native also as TARGET@IMAGE, images: ${IMAGE_NAMES.join(', ')})`;
}
