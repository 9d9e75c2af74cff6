/**
 * The workload images by name, apart from the image builders so that the target
 * registry and the CLI can parse `--targets container@debian` without loading them.
 *
 * - `lean`: tsbench's hand-picked image (busybox, the agent, the workload tools and
 *   exactly their libraries); a VM runs the agent as its init. The default.
 * - `debian`: Debian bookworm built by mmdebstrap (minbase, systemd-sysv, the same
 *   tools from Debian's packages, the agent); a container runs the job directly, as
 *   `docker run debian …` does, and a VM boots Debian's cloud kernel, the initrd
 *   initramfs-tools made inside the image, and systemd up to `tsbench-agent.service`.
 *
 * A target runs the lean image unless its name says otherwise: `TARGET@IMAGE`
 * (`container@debian`, `tcg-cloud@debian`). The lean image's targets keep their
 * plain names, so results from before images had names read the same.
 */
import { UsageError } from '../../core/errors.js';

export type ImageName = 'lean' | 'debian';

export const IMAGE_NAMES: readonly ImageName[] = ['lean', 'debian'];

/** The image a target runs when its name names none. */
export const DEFAULT_IMAGE: ImageName = 'lean';

/** How a VM boots an image: its own agent as init, or systemd up to the agent's unit. */
export type ImageBoot = 'agent' | 'systemd';

export const IMAGE_BOOT: Record<ImageName, ImageBoot> = { lean: 'agent', debian: 'systemd' };

/** The image in a few words, as targets, probes and reports name it. */
export function imageWords(image: ImageName): string {
  return image === 'lean' ? "tsbench's lean image" : 'Debian bookworm image with systemd';
}

/** Parses an image name (`--image`), or throws a UsageError naming the flag. */
export function parseImageName(value: string, flag = '--image'): ImageName {
  if ((IMAGE_NAMES as readonly string[]).includes(value)) return value as ImageName;
  throw new UsageError(`${flag}: unknown image '${value}'; valid images: ${IMAGE_NAMES.join(', ')}`);
}

/** A target's name for an image: the base name for the lean image, `base@image` otherwise. */
export function targetWithImage(base: string, image: ImageName = DEFAULT_IMAGE): string {
  return image === DEFAULT_IMAGE ? base : `${base}@${image}`;
}

/**
 * A target's base name and the image its name gives, unchecked (undefined: named without `@`):
 * what reports read from results files, which may name images this tsbench does not know.
 */
export function targetParts(name: string): { base: string; image?: string } {
  const at = name.indexOf('@');
  return at < 0 ? { base: name } : { base: name.slice(0, at), image: name.slice(at + 1) };
}

/** Splits `container@debian` into its base target and image (`@lean` is the plain name). Throws a UsageError for an unknown image. */
export function splitTarget(name: string): { base: string; image: ImageName } {
  const { base, image } = targetParts(name);
  return { base, image: image === undefined ? DEFAULT_IMAGE : parseImageName(image, `target ${name}`) };
}

/** The command that builds an image, for messages. */
export function imageBuildCommand(image: ImageName = DEFAULT_IMAGE): string {
  return image === DEFAULT_IMAGE ? 'tsbench image build' : `tsbench image build --image ${image}`;
}
