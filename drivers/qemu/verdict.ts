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

/** The file: one verdict per key (boot id, kernel/initramfs, QEMU, machine) of this host boot. */
interface CacheFile {
  verdicts: Record<string, KvmVerdict>;
}

/** A file from before several keys were kept held one `{ key, verdict }`. */
type OldCacheFile = { key: string; verdict: KvmVerdict };

export function verdictPath(): string {
  return join(cacheDir(), 'qemu', 'kvm-verdict.json');
}

async function readFileVerdicts(): Promise<Record<string, KvmVerdict>> {
  try {
    const file = JSON.parse(await readFile(verdictPath(), 'utf8')) as Partial<CacheFile & OldCacheFile>;
    if (file.verdicts !== undefined && typeof file.verdicts === 'object') return file.verdicts;
    if (typeof file.key === 'string' && file.verdict !== undefined) return { [file.key]: file.verdict };
  } catch {
    // no file, or an unreadable one: no verdicts
  }
  return {};
}

const valid = (v: KvmVerdict | undefined): v is KvmVerdict => typeof v?.available === 'boolean';

/** The cached verdict for `key` (boot id + kernel/initramfs hash + QEMU + machine), if any. */
export async function readVerdict(key: string): Promise<KvmVerdict | undefined> {
  const v = (await readFileVerdicts())[key];
  return valid(v) ? v : undefined;
}

/**
 * Keeps `verdict` under `key` beside the other VMs' verdicts of this host boot (the lean microVM and the
 * stock VM boot different kernels, so each has its own), dropping those of earlier boots.
 */
export async function writeVerdict(key: string, verdict: KvmVerdict): Promise<void> {
  const path = verdictPath();
  const boot = key.split(' ')[0] ?? '';
  const kept = Object.fromEntries(Object.entries(await readFileVerdicts()).filter(([k]) => k.startsWith(`${boot} `) && k !== key));
  await mkdir(join(cacheDir(), 'qemu'), { recursive: true });
  const tmp = `${path}.${process.pid}`;
  await writeFile(tmp, `${JSON.stringify({ verdicts: { ...kept, [key]: verdict } } satisfies CacheFile, null, 2)}\n`);
  await rename(tmp, path);
}

/**
 * The verdict of the latest probe boot since this host booted, whatever the
 * image: for the host section of results from runs that did not ask for `kvm`.
 */
export async function latestVerdictThisBoot(bootId: string): Promise<KvmVerdict | undefined> {
  const mine = Object.entries(await readFileVerdicts())
    .filter(([k, v]) => k.startsWith(`${bootId} `) && valid(v))
    .map(([, v]) => v)
    .sort((a, b) => Date.parse(b.probedAt) - Date.parse(a.probedAt));
  return mine[0];
}
