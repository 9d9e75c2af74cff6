/**
 * The KVM verdict cache. Whether a guest boots under KVM only changes with the
 * host's boot (modules, nesting), the guest kernel and initramfs, and QEMU, so
 * the verdict of one probe boot is kept in `<tsbench cache>/qemu/kvm-verdict.json`
 * under those keys and reused: `tsbench targets` answers at once the second time.
 * The driver's `reprobeKvm` option (the CLI's `TSBENCH_KVM_REPROBE=1`) ignores the cache.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { cacheDir } from '../image/index.js';

export interface KvmVerdict {
  available: boolean;
  reason?: string;
  /** ISO 8601 time of the probe boot. */
  probedAt: string;
  /** Milliseconds the probe boot took until ready (or until it failed). */
  probeMs: number;
}

interface CacheFile {
  key: string;
  verdict: KvmVerdict;
}

export function verdictPath(): string {
  return join(cacheDir(), 'qemu', 'kvm-verdict.json');
}

/** The cached verdict for `key` (boot id + kernel/initramfs hash + QEMU), if any. */
export async function readVerdict(key: string): Promise<KvmVerdict | undefined> {
  try {
    const file = JSON.parse(await readFile(verdictPath(), 'utf8')) as CacheFile;
    return file.key === key && typeof file.verdict?.available === 'boolean' ? file.verdict : undefined;
  } catch {
    return undefined;
  }
}

export async function writeVerdict(key: string, verdict: KvmVerdict): Promise<void> {
  const path = verdictPath();
  await mkdir(join(cacheDir(), 'qemu'), { recursive: true });
  const tmp = `${path}.${process.pid}`;
  await writeFile(tmp, `${JSON.stringify({ key, verdict } satisfies CacheFile, null, 2)}\n`);
  await rename(tmp, path);
}

/**
 * The verdict of the latest probe boot since this host booted, whatever the
 * image: for the host section of results from runs that did not ask for `kvm`.
 */
export async function latestVerdictThisBoot(bootId: string): Promise<KvmVerdict | undefined> {
  try {
    const file = JSON.parse(await readFile(verdictPath(), 'utf8')) as CacheFile;
    return file.key.startsWith(`${bootId} `) && typeof file.verdict?.available === 'boolean' ? file.verdict : undefined;
  } catch {
    return undefined;
  }
}
