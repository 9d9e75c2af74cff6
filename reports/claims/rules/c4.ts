/** C4: container images are small compared with VM images. Judged on each image pair whose image some result records. */
import type { HostData, Interval } from '../data.js';
import { atLeast, fmt, say, type ClaimBuilder, type ClaimRule, type ThresholdDef, type Thresholds } from '../judge.js';
import { LEAN_PAIR, PAIRS, PAIRS_BRIEF, pairLabel, pairRule, type Pair } from '../pairs.js';

export const C4_THRESHOLDS = {
  smallImageFactor: {
    value: 2,
    unit: '×',
    claims: ['C4'],
    meaning: '"small compared with" = a VM must carry at least this many times the container\'s image.',
  },
} as const satisfies Record<string, ThresholdDef>;

type T = Thresholds<keyof typeof C4_THRESHOLDS>;

export const C4: ClaimRule<keyof T> = {
  id: 'C4',
  thresholds: C4_THRESHOLDS,
  text: (t) => ({
    inWords: `Confirmed when what a VM must carry (kernelBytes + rootDiskBytes + initramfsBytes) is at least ${t.smallImageFactor}× the container's root filesystem (rootfsBytes), refuted otherwise; sizes are exact, so there is no inconclusive. For the lean image tsbench packs the same root filesystem for both (the VM gets it as a read-only ext4 root disk, plus a kernel, and for the stock kernel a small initramfs with the modules that mount the disk), so this compares what each must carry for the same workload, not typical distribution images (a full VM disk image of GBs vs a container image of MBs). For the Debian image the container carries Debian's userland (no kernel) and the VM its whole root disk as a cloud image is — userland, kernel, modules and initrd — counted as stored (the sparse file's allocated blocks, not its free space); the kernel and initrd QEMU boots are copies of the disk's own and count once. ${pairRule('whose image some result records (the lean pair also when none does)')}`,
    brief: `VM ≥ **${t.smallImageFactor}×** the container's → confirmed, else refuted (exact sizes, no inconclusive). Debian image: container rootfs vs the root disk as stored (it holds the kernel and initrd).${PAIRS_BRIEF}`,
    why: `"Small compared with" = at most ${say(1 / t.smallImageFactor, 'half')}. For the lean image tsbench packs the **same** root filesystem for both (the VM gets it as a read-only ext4 root disk, plus a kernel and, for the stock kernel, an initramfs with its modules), so this compares what each must carry for the same workload — not a typical distribution VM disk (GBs) vs a container image (MBs). The Debian image is closer to a distribution's: a whole system on the VM's disk.`,
  }),
  judge(c, h, t) {
    // The pairs whose image some result records; the lean pair also when none does.
    const recorded = h.imageNames();
    const pairs = PAIRS.filter((p) => recorded.has(p.image));
    for (const pair of pairs.length > 0 ? pairs : [LEAN_PAIR]) judgePair(c, h, pair, t);
  },
};

/** C4 on one image pair: what its container carries against what its VM is given, from the image's recorded sizes. */
function judgePair(c: ClaimBuilder, h: HostData, pair: Pair, t: T): void {
  const label = pairLabel('container image small vs VM image', pair);
  const img = h.image(undefined, pair.image);
  if (!img) {
    c.missing({ label, image: pair.image }, 'no result file of this host records the workload image', 'startup', ['native', pair.container]);
    return;
  }
  c.useFile(img.source, pair.image === 'lean' ? 'image' : `${pair.image} image`);
  const { rootfsBytes, rootDiskBytes, initramfsBytes, kernelBytes, modulesBytes, packing, kernelRelease } = img.image;
  // lean: since the root disk, a VM carries kernel + root disk + initramfs; before it, kernel + initramfs.
  // Another image: its disk is a whole system (userland, kernel, modules, initrd), as a cloud image is; the
  // kernel and initrd QEMU is given are copies of the disk's own, so the VM image is the disk as stored.
  const stored = img.image.rootDiskAllocatedBytes ?? rootDiskBytes;
  const vmBytes = pair.image === 'lean' || stored === undefined ? kernelBytes + initramfsBytes + (rootDiskBytes ?? 0) : stored;
  const ratio = vmBytes / rootfsBytes;
  const exact = (v: number): Interval => ({ value: v, lo: v, hi: v });
  const verdict = atLeast(exact(ratio), t.smallImageFactor);
  if (pair.image === 'lean') {
    const vmLabel = rootDiskBytes === undefined ? 'VM image (kernel + initramfs)' : 'VM image (kernel + root disk + initramfs)';
    c.fig({ label: 'root filesystem', value: rootfsBytes, unit: 'bytes', target: 'container' });
    c.fig({ label: 'kernel', value: kernelBytes, unit: 'bytes' });
    if (rootDiskBytes !== undefined) c.fig({ label: 'root disk', value: rootDiskBytes, unit: 'bytes' });
    c.fig({ label: 'initramfs', value: initramfsBytes, unit: 'bytes' });
    c.fig({ label: 'kernel modules (in the initramfs)', value: modulesBytes, unit: 'bytes' });
    c.fig({ label: vmLabel, value: vmBytes, unit: 'bytes' });
    c.fig({ label: 'VM image / container image', value: ratio, unit: '×' });
    const parts =
      rootDiskBytes === undefined
        ? `${packing}: ${fmt(initramfsBytes, 'bytes')}`
        : `root disk ${fmt(rootDiskBytes, 'bytes')} + initramfs ${fmt(initramfsBytes, 'bytes')}; ${packing}`;
    c.part({
      label,
      verdict,
      evidence: `the container carries ${fmt(rootfsBytes, 'bytes')}; a VM carries ${fmt(vmBytes, 'bytes')} (kernel ${kernelRelease} ${fmt(kernelBytes, 'bytes')} + ${parts}), ${fmt(ratio, '×')} the container's — the same userland plus a kernel and ${fmt(modulesBytes, 'bytes')} of modules.`,
      image: pair.image,
    });
    return;
  }
  const named = (what: string): string => `${pair.image} image: ${what}`;
  c.fig({ label: named('root filesystem'), value: rootfsBytes, unit: 'bytes', target: pair.container });
  c.fig({ label: named('kernel (on the disk)'), value: kernelBytes, unit: 'bytes' });
  c.fig({ label: named('initrd (on the disk)'), value: initramfsBytes, unit: 'bytes' });
  c.fig({ label: named('kernel modules (on the disk)'), value: modulesBytes, unit: 'bytes' });
  if (rootDiskBytes !== undefined) c.fig({ label: named('root disk (file size)'), value: rootDiskBytes, unit: 'bytes' });
  c.fig({
    label: named(stored === rootDiskBytes ? 'VM image (the root disk)' : 'VM image (the root disk as stored: its allocated blocks)'),
    value: vmBytes,
    unit: 'bytes',
  });
  c.fig({ label: named('VM image / container image'), value: ratio, unit: '×' });
  const free =
    stored !== undefined && rootDiskBytes !== undefined && stored !== rootDiskBytes ? ` (a ${fmt(rootDiskBytes, 'bytes')} sparse file with room to write)` : '';
  c.part({
    label,
    verdict,
    evidence: `${pair.container} carries ${fmt(rootfsBytes, 'bytes')} (the image's userland, no kernel); its VM's disk stores ${fmt(vmBytes, 'bytes')}${free}: the same userland plus kernel ${kernelRelease} ${fmt(kernelBytes, 'bytes')}, ${fmt(modulesBytes, 'bytes')} of modules and its initrd ${fmt(initramfsBytes, 'bytes')} (${packing}), ${fmt(ratio, '×')} the container's.`,
    image: pair.image,
  });
}
