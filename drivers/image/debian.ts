/**
 * The Debian image (drivers/image/names.ts `debian`): Debian bookworm built by
 * mmdebstrap from the host's apt sources. Placeholder until its builder lands.
 */
import { ImageError } from './cache.js';
import type { Image } from './index.js';

export async function loadDebianImage(): Promise<Image> {
  throw new ImageError('no Debian image: run tsbench image build --image debian');
}

export async function ensureDebianImage(_opts: { rebuild?: boolean; log?: (line: string) => void } = {}): Promise<Image> {
  throw new ImageError('the Debian image builder is not written yet');
}
