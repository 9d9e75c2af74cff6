/** The running kernel's version, for features that need a minimum one (overlay options, seccomp rules). */
import { release } from 'node:os';

/** The running kernel's major.minor, from os.release() (`6.1.0-26-cloud-amd64` → [6, 1]). */
export function kernelVersion(): readonly [number, number] {
  const [major = 0, minor = 0] = release()
    .split(/[.-]/)
    .map((x) => Number.parseInt(x, 10));
  return [major, minor];
}

/** Whether `version` is at least `min`, both major.minor. */
export function versionAtLeast(version: readonly [number, number], min: readonly [number, number]): boolean {
  return version[0] > min[0] || (version[0] === min[0] && version[1] >= min[1]);
}
