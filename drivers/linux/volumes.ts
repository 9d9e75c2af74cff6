/** Checks of `--volume HOST:GUEST` shared by every driver that binds host directories. */
import { stat } from 'node:fs/promises';
import { describeError } from '../../core/errors.js';
import type { Volume } from '../types.js';

/** What is wrong with the volumes, as a one-line message naming the fix; undefined when they are fine. */
export async function volumeProblem(volumes: readonly Volume[]): Promise<{ message: string; cause?: unknown } | undefined> {
  for (const v of volumes) {
    if (!v.hostPath.startsWith('/') || !v.guestPath.startsWith('/') || v.hostPath.includes(':') || v.guestPath.includes(':')) {
      return { message: `volume ${v.hostPath}:${v.guestPath}: both paths must be absolute and without ':', e.g. --volume /tmp/data:/data` };
    }
    try {
      await stat(v.hostPath);
    } catch (e) {
      return { message: `volume ${v.hostPath} does not exist on the host (${describeError(e)}): create it or fix --volume`, cause: e };
    }
  }
  return undefined;
}
