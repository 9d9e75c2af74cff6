/**
 * Claim verdicts on results of two workload images: C1, C3, C4 and C5 judged on
 * the lean pair (container vs tcg/kvm) and the Debian pair (container@debian vs
 * tcg-cloud@debian/kvm-cloud@debian), every pair deciding; C9's "startup
 * independent of image size" deciding once both images' containers ran; the
 * claims tables naming the pairs. Results are crafted as in claims.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { NamedImage } from '../core/load.js';
import { namesPairs } from '../reports/claims/index.js';
import { renderMarkdown } from '../reports/markdown.js';
import { renderHtml } from '../reports/html/index.js';
import { IMAGE, around, claim, constant, craft, one, part } from './helpers/claims.js';

const DEBIAN_VM_KVM = 'VM takes much longer (kvm; Debian pair: container@debian vs kvm-cloud@debian)';

const LEAN: NamedImage = { ...IMAGE, name: 'lean', rootfsBytes: 20e6, rootDiskBytes: 24e6, initramfsBytes: 1.5e6 };
const DEBIAN: NamedImage = {
  name: 'debian',
  boot: 'systemd',
  hash: 'd',
  packing: "ext4 root disk booted writable through a QEMU snapshot overlay; Debian's initrd (initramfs-tools); systemd",
  rootfsBytes: 200e6,
  rootDiskBytes: 330e6,
  rootDiskAllocatedBytes: 300e6,
  initramfsBytes: 30e6,
  kernelBytes: 8e6,
  modulesBytes: 40e6,
  kernelRelease: '6.1.0-debian',
};

/** A startup result: each target's median time to ready in ms. */
const startup = (ready: Record<string, number>) =>
  one({ startup: { native: { toReadyMs: around(0.5) }, ...Object.fromEntries(Object.entries(ready).map(([t, ms]) => [t, { toReadyMs: around(ms) }])) } });

describe('C1 on two image pairs', () => {
  test('both pairs confirm it on KVM: each pair has its own parts, and the verdict names both pairs', () => {
    const v = claim('C1', startup({ container: 2, kvm: 300, 'container@debian': 3, 'kvm-cloud@debian': 2000 }));
    assert.equal(v.verdict, 'confirmed', v.evidence);
    const debian = part(v, DEBIAN_VM_KVM);
    assert.equal(debian.verdict, 'confirmed');
    assert.equal(debian.image, 'debian');
    assert.deepEqual(debian.targets, ['kvm-cloud@debian', 'container@debian']);
    assert.equal(part(v, 'VM takes much longer (kvm)').image, 'lean');
    assert.equal(part(v, 'container@debian ready in < 1 s (Debian pair: container@debian vs tcg-cloud@debian / kvm-cloud@debian)').verdict, 'confirmed');
    assert.deepEqual(v.pairs, ['lean', 'debian']);
    assert.ok(v.figures.some((f) => f.label === 'kvm-cloud@debian / container@debian time to ready' && f.target === 'kvm-cloud@debian'));
  });

  test('a Debian VM only 4× its container refutes it, and the Debian pair alone decided that', () => {
    const v = claim('C1', startup({ container: 2, kvm: 300, 'container@debian': 50, 'kvm-cloud@debian': 200 }));
    assert.equal(v.verdict, 'refuted');
    assert.equal(part(v, 'VM takes much longer (kvm)').verdict, 'confirmed', 'the lean pair confirms it');
    assert.equal(part(v, DEBIAN_VM_KVM).verdict, 'refuted');
    assert.deepEqual(v.pairs, ['debian']);
    assert.match(v.evidence, /kvm-cloud@debian VM is ready in 200 ms/);
  });

  test('a Debian pair measured under TCG alone waits for kvm-cloud@debian, as the lean pair waits for kvm', () => {
    const v = claim('C1', startup({ container: 2, kvm: 300, 'container@debian': 3, 'tcg-cloud@debian': 5000 }));
    const tcg = part(v, 'VM takes much longer (tcg; Debian pair: container@debian vs tcg-cloud@debian)');
    assert.equal(tcg.verdict, 'confirmed');
    assert.equal(tcg.bearing, 'context');
    assert.equal(part(v, DEBIAN_VM_KVM).verdict, 'not measured');
    assert.equal(v.verdict, 'not measured');
    assert.match(v.evidence, /--targets native,container@debian,kvm-cloud@debian/);
  });

  test('results without a Debian target keep the lean parts as they were, naming no pair', () => {
    const v = claim('C1', startup({ container: 2, kvm: 300 }));
    assert.deepEqual(
      v.parts.map((p) => p.label),
      ['container ready in < 1 s', 'VM takes much longer (kvm)'],
    );
    assert.equal(namesPairs(v), false);
  });

  test('results of the Debian pair alone are judged on it alone', () => {
    const v = claim('C1', startup({ 'container@debian': 3, 'kvm-cloud@debian': 2000 }));
    assert.equal(v.verdict, 'confirmed', v.evidence);
    assert.ok(
      v.parts.every((p) => p.image === 'debian'),
      v.parts.map((p) => p.label).join(' | '),
    );
    assert.deepEqual(v.pairs, ['debian']);
  });
});

describe('C3 and C5 on two image pairs', () => {
  const memory = (debianContainer: number, debianVm: number) =>
    one({
      memory: {
        native: { footprintPssBytes: around(1e6) },
        container: { footprintPssBytes: around(1.1e6) },
        kvm: { footprintPssBytes: around(200e6) },
        'container@debian': { footprintPssBytes: around(debianContainer) },
        'kvm-cloud@debian': { footprintPssBytes: around(debianVm) },
      },
    });

  test('a Debian container 200 KB over native against a 300 MB Debian VM confirms C3 on both pairs', () => {
    const v = claim('C3', memory(1.2e6, 300e6));
    assert.equal(v.verdict, 'confirmed', v.evidence);
    assert.equal(part(v, 'container uses much less memory than a VM (kvm; Debian pair: container@debian vs kvm-cloud@debian)').verdict, 'confirmed');
    assert.ok(v.figures.some((f) => f.label === 'extra over native' && f.target === 'container@debian'));
    assert.deepEqual(v.pairs, ['lean', 'debian']);
  });

  test('a Debian container needing half its VM refutes C3, decided by the Debian pair', () => {
    const v = claim('C3', memory(50e6, 100e6));
    assert.equal(v.verdict, 'refuted');
    assert.deepEqual(v.pairs, ['debian']);
  });

  test('a missing Debian container leaves C3 not measured, naming the run that measures it', () => {
    const f = one({
      memory: {
        native: { footprintPssBytes: around(1e6) },
        container: { footprintPssBytes: around(1.1e6) },
        kvm: { footprintPssBytes: around(200e6) },
        'kvm-cloud@debian': { footprintPssBytes: around(300e6) },
      },
    });
    const v = claim('C3', f);
    assert.equal(v.verdict, 'not measured');
    assert.equal(part(v, 'container vs VM memory (Debian pair: container@debian vs tcg-cloud@debian / kvm-cloud@debian)').verdict, 'not measured');
    assert.match(v.evidence, /--targets native,container@debian,kvm-cloud@debian/);
  });

  test("C5's Debian pair under TCG is confirmed on its own VM's guest memory in use", () => {
    const f = one({
      density: {
        container: { pssPerInstanceBytes: around(150e3) },
        kvm: { pssPerInstanceBytes: around(100e6) },
        'container@debian': { pssPerInstanceBytes: around(200e3) },
        'tcg-cloud@debian': { pssPerInstanceBytes: around(600e6) },
      },
      memory: { 'tcg-cloud@debian': { footprintPssBytes: around(650e6), guestTotalBytes: constant(490e6), guestAvailableBytes: around(300e6) } },
    });
    const v = claim('C5', f);
    assert.equal(v.verdict, 'confirmed', v.evidence);
    const debian = part(v, 'more containers than VMs fit (tcg; Debian pair: container@debian vs tcg-cloud@debian)');
    assert.equal(debian.verdict, 'confirmed');
    assert.equal(debian.accelerator, 'tcg');
    assert.match(debian.evidence, /judged under TCG: its guest alone has 181 MiB/);
    assert.ok(v.figures.some((f) => f.label.startsWith('guest memory in use') && f.target === 'tcg-cloud@debian'));
  });
});

describe('C4 on two images', () => {
  test("the Debian image's VM, its whole root disk as stored (kernel and initrd inside it, free space not counted), is judged against its container's root filesystem", () => {
    const v = claim('C4', one({}, { images: [{ ...LEAN, rootfsBytes: 10e6 }, DEBIAN] }));
    assert.equal(part(v, 'container image small vs VM image').verdict, 'confirmed', 'the lean pair: 39.5 MB against 10 MB');
    const debian = part(v, 'container image small vs VM image (Debian pair: container@debian vs tcg-cloud@debian / kvm-cloud@debian)');
    assert.equal(debian.verdict, 'refuted', '300 MB stored against 200 MB is under 2×');
    assert.equal(debian.image, 'debian');
    assert.match(
      debian.evidence,
      /^container@debian carries 191 MiB .*disk stores 286 MiB \(a 315 MiB sparse file with room to write\): the same userland plus kernel 6\.1\.0-debian .* 1\.50× the container's/,
    );
    assert.ok(v.figures.some((f) => f.label === 'debian image: VM image (the root disk as stored: its allocated blocks)' && f.value === 300e6));
    assert.ok(v.figures.some((f) => f.label === 'debian image: root filesystem' && f.target === 'container@debian'));
    assert.equal(v.verdict, 'refuted');
    assert.deepEqual(v.pairs, ['debian']);
    const small = claim(
      'C4',
      one(
        {},
        {
          images: [
            { ...LEAN, rootfsBytes: 10e6 },
            { ...DEBIAN, rootfsBytes: 100e6 },
          ],
        },
      ),
    );
    assert.equal(small.verdict, 'confirmed', 'a 100 MB container beside a disk that stores 300 MB: 3×');
  });

  test('a file from before images had names counts as the lean image beside a Debian run', () => {
    const old = craft({ path: 'old/results.json', scenarios: {}, image: IMAGE, startedAt: '2026-01-01T00:00:00.000Z' });
    const debian = craft({ path: 'debian/results.json', scenarios: {}, images: [DEBIAN], startedAt: '2026-01-02T00:00:00.000Z' });
    const v = claim('C4', old, debian);
    assert.equal(part(v, 'container image small vs VM image').image, 'lean');
    assert.match(part(v, 'container image small vs VM image').evidence, /a VM carries 110 MiB \(kernel 6\.1\.0-test/);
    assert.equal(v.parts.length, 2);
    assert.match(v.evidence, /image from old\/results\.json; debian image from debian\/results\.json/);
  });
});

describe('C9: startup independent of image size', () => {
  const withImages = (lean: number[], debian: number[]) =>
    one(
      {
        startup: { container: { toReadyMs: lean }, 'container@debian': { toReadyMs: debian } },
        isolation: { container: { upperBytesAtStart: around(8192, 0.01, 3) } },
      },
      { images: [{ ...LEAN, rootfsBytes: 100e6 }, DEBIAN], image: { ...LEAN, rootfsBytes: 100e6 } },
    );
  const LABEL = 'startup independent of image size';

  test('the same time to ready from a 100 MB and a 200 MB image confirms it, and it decides', () => {
    const v = claim('C9', withImages(around(20, 0.01, 9), around(20.5, 0.01, 9)));
    const p = part(v, LABEL);
    assert.equal(p.verdict, 'confirmed', p.evidence);
    assert.equal(p.bearing, undefined, 'a deciding part');
    assert.equal(v.verdict, 'confirmed', v.evidence);
    assert.match(p.evidence, /root filesystem 191 MiB.*\(95\.4 MiB\)/);
    assert.ok(v.figures.some((f) => f.label === 'image root filesystem' && f.target === 'container@debian' && f.value === 200e6));
    const ratio = v.figures.find((f) => f.label === 'container@debian / container time to ready');
    assert.ok(ratio && ratio.value > 1 && ratio.value < 1.05, JSON.stringify(ratio));
  });

  test('a Debian container 50 % slower to ready refutes it, and with it C9', () => {
    const v = claim('C9', withImages(around(20, 0.01, 9), around(30, 0.01, 9)));
    assert.equal(part(v, LABEL).verdict, 'refuted');
    assert.equal(v.verdict, 'refuted');
  });

  test('a Debian container twice as fast refutes it too: independent means either way', () => {
    const v = claim('C9', withImages(around(20, 0.01, 9), around(10, 0.01, 9)));
    assert.equal(part(v, LABEL).verdict, 'refuted');
  });

  test('a ratio whose interval straddles 1.1× is inconclusive', () => {
    const v = claim('C9', withImages(constant(20, 9), around(22, 0.1, 9)));
    const ratio = v.figures.find((f) => f.label === 'container@debian / container time to ready');
    assert.ok(ratio?.ciLow !== undefined && ratio.ciHigh !== undefined);
    assert.ok(ratio.ciLow < 1.1 && ratio.ciHigh > 1.1, `[${ratio.ciLow}, ${ratio.ciHigh}] straddles 1.1`);
    assert.equal(part(v, LABEL).verdict, 'inconclusive');
  });

  test('with the lean image only it stays context, not measured, naming the run that measures it', () => {
    const v = claim(
      'C9',
      one({ startup: { container: { toReadyMs: around(20) } }, isolation: { container: { upperBytesAtStart: around(8192) } } }, { image: IMAGE }),
    );
    const p = part(v, LABEL);
    assert.equal(p.verdict, 'not measured');
    assert.equal(p.bearing, 'context');
    assert.match(p.evidence, /--targets native,container,container@debian/);
    assert.equal(v.verdict, 'confirmed', 'the thin layer decides alone');
  });
});

describe('the claims tables name the pairs', () => {
  const both = startup({ container: 2, kvm: 300, 'container@debian': 50, 'kvm-cloud@debian': 200 });

  test('Markdown tags each part with its pair and says which pair decided', () => {
    const md = renderMarkdown([both]);
    const row = md.split('\n').find((l) => l.startsWith('| <a id="claim-c1"></a>C1 |')) ?? '';
    // Markdown cells escape brackets.
    assert.match(row, /VM takes much longer \(kvm\): confirmed \\\[lean pair\\\]/);
    assert.match(row, /Debian pair: container@debian vs kvm-cloud@debian\): refuted \\\[Debian pair\\\]/);
    assert.match(row, /decided by the Debian pair/);
    assert.match(row, /container@debian time to ready: 50 ms .*; kvm-cloud@debian time to ready: 200 ms/, 'each figure names its target');
  });

  test('the HTML page badges each part with its pair and says which pair decided', () => {
    const html = renderHtml([both]);
    const row = /<tr class="claim"[^>]* data-claim="C1"[\s\S]*?<\/tr>/.exec(html)?.[0] ?? '';
    assert.match(row, /<span class="pair"[^>]*>Debian pair<\/span>/);
    assert.match(row, /<span class="pair"[^>]*>lean pair<\/span>/);
    assert.match(row, /decided by the Debian pair/);
    assert.match(row, /<\/span>container@debian time to ready: <b>50 ms<\/b>/, 'each figure names its target');
  });

  test('a verdict of the lean pair alone shows no pair', () => {
    const md = renderMarkdown([startup({ container: 2, kvm: 300 })]);
    assert.doesNotMatch(md, /lean pair|Debian pair|decided by/);
    assert.match(md, /\| time to ready: 2 ms/, 'figures name no target, as before pairs');
  });
});
