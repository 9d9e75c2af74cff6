/**
 * Claim verdicts (bench/claims) on crafted results: every claim confirmed,
 * refuted and not measured, the inconclusive boundary of "near-native", TCG
 * never standing in for KVM, several files and several hosts. Crafted results
 * are built from samples, their statistics computed by the runner's own
 * computeStats, and validated against the result schema.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { evaluateClaims, type ClaimVerdict } from '../reports/claims/index.js';
import type { LoadedResult } from '../core/load.js';
import { ResultSchema } from '../core/schema.js';
import { IMAGE, around, claim, constant, craft, one, part, type CraftOptions } from './helpers/claims.js';

// ---- the claims ------------------------------------------------------------------

describe('claim verdicts', () => {
  test('every claim gets a verdict, and nothing measured means not measured for all thirteen', () => {
    const hosts = evaluateClaims([one({})]);
    assert.deepEqual(
      hosts[0]?.verdicts.map((v) => v.id),
      ['C1', 'C2', 'C3', 'C4', 'C5', 'C6', 'C7', 'C8', 'C9', 'C10', 'C11', 'C12', 'C13', 'C14'],
    );
    for (const v of hosts[0]?.verdicts ?? []) {
      assert.equal(v.verdict, 'not measured', `${v.id}: ${v.evidence}`);
      assert.match(v.evidence, /tsbench run \w+ --targets/, `${v.id} names the run that would measure it`);
      assert.ok(v.rule.length > 40, `${v.id} states its rule`);
    }
  });

  describe('C1 startup', () => {
    const startup = (container: number, vm: Record<string, number>) =>
      one({
        startup: {
          native: { toReadyMs: around(0.5), toExitMs: around(0.6) },
          container: { toReadyMs: around(container), toExitMs: around(container * 1.1) },
          ...Object.fromEntries(Object.entries(vm).map(([t, ms]) => [t, { toReadyMs: around(ms), toExitMs: around(ms) }])),
        },
      });

    test('a 2 ms container and a 300 ms KVM boot confirm it, decided by KVM', () => {
      const v = claim('C1', startup(2, { kvm: 300 }));
      assert.equal(v.verdict, 'confirmed', v.evidence);
      assert.equal(v.accelerator, 'kvm');
      assert.ok(v.figures.some((f) => f.target === 'container' && f.unit === 'ms' && f.ciLow !== undefined));
      assert.ok(v.reference?.includes('docker run'));
      assert.doesNotMatch(v.reference ?? '', /tsbench/, "tsbench's own timings are measurements, not a published reference");
    });

    test('a container that needs 1.5 s refutes it', () => {
      const v = claim('C1', startup(1500, { kvm: 20000 }));
      assert.equal(v.verdict, 'refuted');
      assert.equal(part(v, 'container ready in < 1 s').verdict, 'refuted');
    });

    test('a KVM boot only 5× the container refutes "much longer"', () => {
      const v = claim('C1', startup(2, { kvm: 10 }));
      assert.equal(v.verdict, 'refuted');
      assert.equal(part(v, 'VM takes much longer (kvm)').verdict, 'refuted');
    });

    test('a long TCG boot is context only: the KVM part stays not measured', () => {
      const v = claim('C1', startup(2, { tcg: 3500 }));
      assert.equal(v.verdict, 'not measured');
      const tcg = part(v, 'VM takes much longer (tcg)');
      assert.equal(tcg.verdict, 'confirmed');
      assert.equal(tcg.bearing, 'context');
      assert.equal(part(v, 'VM takes much longer (kvm)').verdict, 'not measured');
      assert.match(v.evidence, /--targets native,container,kvm/);
    });

    test('a TCG VM that is not much slower than the container refutes it, labelled tcg', () => {
      const v = claim('C1', startup(2, { tcg: 8 }));
      assert.equal(v.verdict, 'refuted');
      assert.equal(v.accelerator, 'tcg');
      assert.match(v.evidence, /TCG/);
    });

    test('peer runtimes are context parts that do not change the verdict', () => {
      const f = one({
        startup: {
          native: { toReadyMs: around(0.5) },
          container: { toReadyMs: around(2) },
          kvm: { toReadyMs: around(300) },
          runc: { toReadyMs: around(1500) },
        },
      });
      const v = claim('C1', f);
      assert.equal(v.verdict, 'confirmed');
      const runc = part(v, 'runc ready in < 1 s');
      assert.equal(runc.verdict, 'refuted');
      assert.equal(runc.bearing, 'context');
    });

    test('an errored container target is not measured, with its error as the reason', () => {
      const v = claim('C1', one({ startup: { native: { toReadyMs: around(0.5) }, container: { state: 'errored', error: 'overlay mount failed: EPERM' } } }));
      assert.equal(v.verdict, 'not measured');
      assert.match(part(v, 'container ready in < 1 s').evidence, /container errored .*overlay mount failed: EPERM/);
    });
  });

  describe('C2 cpu', () => {
    const cpu = (ratios: Record<string, number[]>) =>
      one({
        cpu: { native: { workMs: constant(500) }, ...Object.fromEntries(Object.entries(ratios).map(([t, rs]) => [t, { workMs: rs.map((r) => 500 * r) }])) },
      });

    test('a container within 5 %, KVM within 10 % and TCG 6× slower confirm it', () => {
      const v = claim('C2', cpu({ container: around(1.01, 0.005), kvm: around(1.05, 0.01), tcg: around(6, 0.02) }));
      assert.equal(v.verdict, 'confirmed', v.evidence);
      assert.equal(v.accelerator, 'kvm');
      assert.equal(part(v, 'TCG far slower').accelerator, 'tcg');
    });

    test('a container 20 % slower than native refutes it', () => {
      const v = claim('C2', cpu({ container: around(1.2, 0.01), kvm: around(1.05, 0.01), tcg: around(6) }));
      assert.equal(v.verdict, 'refuted');
      assert.equal(part(v, 'container near-native').verdict, 'refuted');
    });

    test('a ratio interval straddling 5 % is inconclusive', () => {
      const v = claim('C2', cpu({ container: [1.0, 1.01, 1.03, 1.08, 1.1], kvm: around(1.05, 0.01), tcg: around(6) }));
      const ratio = v.figures.find((f) => f.target === 'container' && f.unit === '×');
      assert.ok(ratio?.ciLow !== undefined && ratio.ciHigh !== undefined);
      assert.ok(ratio.value <= 1.05 && ratio.ciLow < 1.05 && ratio.ciHigh > 1.05, `ratio ${ratio.value} [${ratio.ciLow}, ${ratio.ciHigh}] straddles 1.05`);
      assert.equal(part(v, 'container near-native').verdict, 'inconclusive');
      assert.equal(v.verdict, 'inconclusive');
    });

    test('TCG-only data never yields a KVM verdict other than not measured', () => {
      const v = claim('C2', cpu({ container: around(1.0, 0.005), tcg: around(1.02, 0.005) }));
      const kvm = part(v, 'KVM close behind');
      assert.equal(kvm.verdict, 'not measured');
      assert.equal(part(v, 'TCG far slower').verdict, 'refuted', 'the TCG part is judged on its own');
      assert.equal(v.verdict, 'refuted');
      assert.notEqual(v.accelerator, 'kvm');
    });

    test('a missing kvm target leaves the claim not measured even when the other parts are confirmed', () => {
      const v = claim('C2', cpu({ container: around(1.0, 0.005), tcg: around(6) }));
      assert.equal(v.verdict, 'not measured');
      assert.match(v.evidence, /--targets native,kvm/);
      assert.match(v.evidence, /Measured: .*container near-native — confirmed/);
    });
  });

  describe('C3 memory', () => {
    const mem = (container: number, vms: Record<string, Record<string, number[]>>) =>
      one({
        memory: { native: { footprintPssBytes: around(1e6) }, container: { footprintPssBytes: around(container), cgroupUsageBytes: around(0.5e6) }, ...vms },
      });

    test('a container 100 KB over native against a 200 MB KVM VM confirms it', () => {
      const v = claim('C3', mem(1.1e6, { kvm: { footprintPssBytes: around(200e6) } }));
      assert.equal(v.verdict, 'confirmed', v.evidence);
      assert.equal(v.accelerator, 'kvm');
    });

    test('a container needing half of what the VM needs refutes it', () => {
      const v = claim('C3', mem(50e6, { kvm: { footprintPssBytes: around(100e6) } }));
      assert.equal(v.verdict, 'refuted');
    });

    test('under TCG it is confirmed only on the guest memory in use, and labelled tcg', () => {
      const v = claim('C3', mem(1.1e6, { tcg: { footprintPssBytes: around(500e6), guestTotalBytes: constant(490e6), guestAvailableBytes: around(350e6) } }));
      assert.equal(v.verdict, 'confirmed', v.evidence);
      assert.equal(v.accelerator, 'tcg');
      assert.match(v.evidence, /under TCG/);
      assert.ok(v.figures.some((f) => f.label.startsWith('guest memory in use') && Math.abs(f.value - 140e6) < 5e6));
    });

    test('a TCG PSS alone, without guest figures, cannot confirm it', () => {
      const v = claim('C3', mem(1.1e6, { tcg: { footprintPssBytes: around(500e6) } }));
      assert.equal(v.verdict, 'inconclusive');
    });

    test('no memory scenario is not measured', () => {
      assert.equal(claim('C3', one({ cpu: { native: { workMs: around(5) } } })).verdict, 'not measured');
    });

    /** A VM's memory samples whose PSS is its guest RAM touched plus its VMM overhead, sample by sample. */
    const split = (guest: number, overhead: number) => ({
      footprintPssBytes: around(guest + overhead),
      guestRamTouchedBytes: around(guest),
      vmmOverheadBytes: around(overhead),
    });

    test('a KVM VM is judged on its total, and the evidence splits it into guest RAM touched and VMM overhead', () => {
      const v = claim('C3', mem(1.1e6, { kvm: split(190e6, 10e6) }));
      assert.equal(v.verdict, 'confirmed', v.evidence);
      assert.match(v.evidence, /a KVM VM 190 MiB .*, \d[\d,]*× the container's/, 'the total and its ratio to the container');
      assert.match(
        v.evidence,
        /Of the VM's 191 MiB PSS \(95 % of it guest RAM\), 181 MiB .* is guest RAM its guest has touched and 9\.54 MiB .* the VMM's own overhead/,
      );
      const overhead = v.figures.find((f) => f.label === 'VMM overhead (PSS − guest RAM)' && f.target === 'kvm');
      assert.ok(overhead && Math.abs(overhead.value - 10e6) < 0.2e6, JSON.stringify(overhead));
      assert.ok(v.figures.some((f) => f.label === 'guest RAM touched' && Math.abs(f.value - 190e6) < 2e6));
      const alone = part(v, 'container uses much less memory than the VMM alone (kvm)');
      assert.equal(alone.bearing, 'context');
      assert.equal(alone.verdict, 'confirmed', '10× the container’s 0.1 MB extra is under the 10 MB overhead');
    });

    test('a VMM overhead under ten times the container’s extra refutes the context part, never the claim', () => {
      // Firecracker-like: ≤ 5 MB of VMM, the rest the guest's memory.
      const v = claim('C3', mem(3e6, { kvm: split(195e6, 5e6) }));
      assert.equal(v.verdict, 'confirmed', v.evidence);
      assert.equal(part(v, 'container uses much less memory than the VMM alone (kvm)').verdict, 'refuted');
      assert.match(v.evidence, /the container's extra is over 1\/10 of the overhead alone \(context\)/);
    });

    test('under TCG the split is shown with the translation buffer named, and the verdict still rests on the guest memory in use', () => {
      const tcg = { ...split(330e6, 200e6), guestTotalBytes: constant(490e6), guestAvailableBytes: around(350e6) };
      const v = claim('C3', mem(1.1e6, { tcg }));
      assert.equal(v.verdict, 'confirmed', v.evidence);
      assert.match(v.evidence, /TCG's translation buffer included/);
      assert.equal(part(v, 'container uses much less memory than the VMM alone (tcg)').bearing, 'context');
    });

    test('results without the split keep their verdict, their evidence and their parts', () => {
      const v = claim('C3', mem(1.1e6, { kvm: { footprintPssBytes: around(200e6) } }));
      assert.equal(v.verdict, 'confirmed');
      assert.doesNotMatch(v.evidence, /overhead|guest RAM/);
      assert.deepEqual(
        v.parts.map((p) => p.label),
        ['container uses much less memory than a VM (kvm)'],
      );
    });
  });

  describe('C4 image sizes', () => {
    test('a VM carrying the same root filesystem plus a kernel refutes "small compared with"', () => {
      const v = claim('C4', one({}, { image: IMAGE }));
      assert.equal(v.verdict, 'refuted');
      assert.match(v.evidence, /initramfs/);
      assert.ok(v.figures.some((f) => f.label === 'VM image (kernel + initramfs)' && f.value === 115e6));
    });

    test('a small root filesystem beside a large VM image confirms it', () => {
      const v = claim('C4', one({}, { image: { ...IMAGE, rootfsBytes: 10e6, initramfsBytes: 30e6 } }));
      assert.equal(v.verdict, 'confirmed');
    });

    test('no image in any result is not measured', () => {
      assert.equal(claim('C4', one({})).verdict, 'not measured');
    });
  });

  describe('C5 density', () => {
    const density = (container: number, vms: Record<string, Record<string, number[]>>, extra: CraftOptions['scenarios'] = {}) =>
      one({ density: { container: { pssPerInstanceBytes: around(container), startupP50Ms: around(2), instances: constant(50) }, ...vms }, ...extra });

    test('150 KB per container against 100 MB per KVM VM confirms it', () => {
      const v = claim('C5', density(150e3, { kvm: { pssPerInstanceBytes: around(100e6) } }));
      assert.equal(v.verdict, 'confirmed');
    });

    test('a VM needing less than twice a container refutes it', () => {
      const v = claim('C5', density(100e6, { kvm: { pssPerInstanceBytes: around(150e6) } }));
      assert.equal(v.verdict, 'refuted');
    });

    test('under TCG it is confirmed on the guest memory in use from the memory scenario', () => {
      const withMem = density(
        150e3,
        { tcg: { pssPerInstanceBytes: around(440e6) } },
        { memory: { tcg: { footprintPssBytes: around(500e6), guestTotalBytes: constant(490e6), guestAvailableBytes: around(350e6) } } },
      );
      const v = claim('C5', withMem);
      assert.equal(v.verdict, 'confirmed');
      assert.equal(v.accelerator, 'tcg');
      const without = claim('C5', density(150e3, { tcg: { pssPerInstanceBytes: around(440e6) } }));
      assert.equal(without.verdict, 'inconclusive', 'TCG PSS alone includes the translation cache');
    });

    test('no density scenario is not measured', () => {
      assert.equal(claim('C5', one({})).verdict, 'not measured');
    });

    test('the VMM overhead per instance is stated beside the total and judged alone as context', () => {
      const v = claim('C5', density(150e3, { kvm: { pssPerInstanceBytes: around(100e6), vmmOverheadPerInstanceBytes: around(12e6) } }));
      assert.equal(v.verdict, 'confirmed');
      assert.match(v.evidence, /Of the VM's, 11\.4 MiB .* is the VMM's own overhead: at least 2× a container on its own \(context\)/);
      const alone = part(v, 'counting only the VMM, more containers than VMs fit (kvm)');
      assert.equal(alone.verdict, 'confirmed');
      assert.equal(alone.bearing, 'context');
      assert.ok(v.figures.some((f) => f.label === 'VMM overhead per instance (PSS − guest RAM)' && f.target === 'kvm'));
    });

    test('a VMM overhead below twice a container refutes only the context part', () => {
      const v = claim('C5', density(4e6, { kvm: { pssPerInstanceBytes: around(100e6), vmmOverheadPerInstanceBytes: around(5e6) } }));
      assert.equal(v.verdict, 'confirmed', 'the total decides');
      assert.equal(part(v, 'counting only the VMM, more containers than VMs fit (kvm)').verdict, 'refuted');
    });

    test('density results without the overhead keep their parts', () => {
      const v = claim('C5', density(150e3, { kvm: { pssPerInstanceBytes: around(100e6) } }));
      assert.deepEqual(
        v.parts.map((p) => p.label),
        ['more containers than VMs fit (kvm)'],
      );
      assert.doesNotMatch(v.evidence, /overhead/);
    });
  });

  describe('C6 io', () => {
    const io = (container: number, containerRandRead: number, vms: Record<string, number>) => {
      const native = {
        seqReadMiBps: around(1000),
        seqWriteMiBps: around(1000),
        randReadIops: around(100e3),
        randWriteIops: around(80e3),
        overlaySeqReadMiBps: around(1000),
        overlaySeqWriteMiBps: around(1000),
        overlayRandReadIops: around(100e3),
        overlayRandWriteIops: around(80e3),
      };
      const scale = (o: Record<string, number[]>, r: number) => Object.fromEntries(Object.entries(o).map(([k, xs]) => [k, xs.map((x) => x * r)]));
      const ct = { ...scale(native, container), randReadIops: around(100e3 * containerRandRead) };
      const vmTargets = Object.fromEntries(
        Object.entries(vms).map(([t, r]) => [
          t,
          scale(
            { seqReadMiBps: native.seqReadMiBps, seqWriteMiBps: native.seqWriteMiBps, randReadIops: native.randReadIops, randWriteIops: native.randWriteIops },
            r,
          ),
        ]),
      );
      return one({ io: { native, container: ct, ...vmTargets } });
    };

    test('a container at native speed and a KVM VM at 40 % of native IOPS confirm it', () => {
      const v = claim('C6', io(1.0, 1.0, { kvm: 0.4 }));
      assert.equal(v.verdict, 'confirmed', v.evidence);
      assert.equal(part(v, 'container overlay root: little I/O overhead').bearing, 'context');
    });

    test('a container losing half its random-read IOPS refutes it', () => {
      const v = claim('C6', io(1.0, 0.5, { kvm: 0.4 }));
      assert.equal(v.verdict, 'refuted');
    });

    test('a slow TCG disk is context: the VM part waits for kvm', () => {
      const v = claim('C6', io(1.0, 1.0, { tcg: 0.05 }));
      assert.equal(v.verdict, 'not measured');
      assert.equal(part(v, 'VM pays for device virtualisation (tcg)').bearing, 'context');
      assert.equal(part(v, 'VM pays for device virtualisation (kvm)').verdict, 'not measured');
    });

    test('no io scenario is not measured', () => {
      assert.equal(claim('C6', one({})).verdict, 'not measured');
    });
  });

  describe('C7 limits', () => {
    const limits = (held: number[], delivered: number) =>
      one({
        limits: {
          native: { memLimitHeld: constant(0, 3), cpuQuotaDeliveredCpus: around(2, 0.01, 3) },
          container: {
            memLimitHeld: held,
            memLimitBytes: constant(128 * 2 ** 20, 3),
            cpuQuotaDeliveredCpus: around(delivered, 0.01, 3),
            cpuQuotaCpus: constant(0.5, 3),
          },
        },
      });

    test('every hog OOM-killed and half a CPU delivered under a 0.5 quota confirm it', () => {
      const v = claim('C7', limits([1, 1, 1], 0.5));
      assert.equal(v.verdict, 'confirmed', v.evidence);
    });

    test('one hog that ran past its limit refutes it', () => {
      const v = claim('C7', limits([1, 0, 1], 0.5));
      assert.equal(v.verdict, 'refuted');
      assert.match(part(v, 'container: memory limit holds').evidence, /2 of 3/);
    });

    test('a busy loop getting a whole CPU under a 0.5 quota refutes it', () => {
      assert.equal(part(claim('C7', limits([1, 1, 1], 1.0)), 'container: CPU quota holds').verdict, 'refuted');
    });

    test('no limits scenario is not measured', () => {
      assert.equal(claim('C7', one({})).verdict, 'not measured');
    });
  });

  describe('C8 isolation', () => {
    const probes = ['seesHostPids', 'seesHostNet', 'seesHostMounts', 'seesHostIpc', 'seesHostHostname'];
    const iso = (container: Record<string, number>, native: Record<string, number> | undefined) =>
      one({
        isolation: {
          ...(native ? { native: Object.fromEntries(probes.map((p) => [p, constant(native[p] ?? 1, 3)])) } : {}),
          container: { ...Object.fromEntries(probes.map((p) => [p, constant(container[p] ?? 0, 3)])), visiblePids: constant(2, 3) },
        },
      });

    test('a container that sees nothing of the host while native sees it all confirms it', () => {
      assert.equal(claim('C8', iso({}, {})).verdict, 'confirmed');
    });

    test('a container that sees the host network refutes it', () => {
      const v = claim('C8', iso({ seesHostNet: 1 }, {}));
      assert.equal(v.verdict, 'refuted');
      assert.equal(part(v, "container does not see the host's network").verdict, 'refuted');
    });

    test('a control that misses the host marker makes that probe inconclusive', () => {
      const v = claim('C8', iso({}, { seesHostPids: 0 }));
      assert.equal(v.verdict, 'inconclusive');
      assert.match(v.evidence, /probe is not reliable/);
    });

    test('without the native control it is not measured', () => {
      const v = claim('C8', iso({}, undefined));
      assert.equal(v.verdict, 'not measured');
      assert.match(v.evidence, /--targets native,container/);
    });
  });

  describe('C9 thin upper layer', () => {
    const iso = (upper: number) => one({ isolation: { container: { upperBytesAtStart: around(upper, 0.01, 3) } } }, { image: IMAGE });

    test('8 KiB written at start over a 100 MB image confirms it', () => {
      const v = claim('C9', iso(8192));
      assert.equal(v.verdict, 'confirmed');
      assert.equal(part(v, 'startup independent of image size').bearing, 'context');
    });

    test('a start that writes 50 MB refutes it', () => {
      assert.equal(claim('C9', iso(50e6)).verdict, 'refuted');
    });

    test('no isolation scenario is not measured', () => {
      assert.equal(claim('C9', one({}, { image: IMAGE })).verdict, 'not measured');
    });
  });

  describe('C10 container in a VM', () => {
    const nested = (accel: string, startupMs: number, extraMs: number, cpuRatio: number) =>
      one({
        startup: { [accel]: { toReadyMs: around(startupMs) }, [`container-in-${accel}`]: { toReadyMs: around(startupMs + extraMs) } },
        cpu: { native: { workMs: around(500) }, [accel]: { workMs: around(520) }, [`container-in-${accel}`]: { workMs: around(520 * cpuRatio) } },
      });

    test('20 ms more startup and the same work time on KVM confirm it', () => {
      const v = claim('C10', nested('kvm', 300, 20, 1.01));
      assert.equal(v.verdict, 'confirmed', v.evidence);
      assert.equal(v.accelerator, 'kvm');
    });

    test('half a second more startup on KVM refutes it', () => {
      const v = claim('C10', nested('kvm', 300, 500, 1.0));
      assert.equal(v.verdict, 'refuted');
      assert.equal(part(v, 'little extra startup (kvm)').verdict, 'refuted');
    });

    test('a TCG confirmation decides, labelled tcg', () => {
      const v = claim('C10', nested('tcg', 3500, 30, 1.0));
      assert.equal(v.verdict, 'confirmed');
      assert.equal(v.accelerator, 'tcg');
    });

    test('a TCG refutation is context and leaves the KVM parts not measured', () => {
      const v = claim('C10', nested('tcg', 3500, 800, 1.0));
      assert.equal(v.verdict, 'not measured');
      assert.equal(part(v, 'little extra startup (tcg)').bearing, 'context');
      assert.equal(part(v, 'little extra startup (kvm)').verdict, 'not measured');
    });

    test('an inconclusive part says about how many samples would decide it, its interval narrowing as 1/√n', () => {
      const v = claim('C10', one({ startup: { tcg: { toReadyMs: around(800, 0.3, 10) }, 'container-in-tcg': { toReadyMs: around(960, 0.3, 10) } } }));
      const p = part(v, 'little extra startup (tcg)');
      assert.equal(p.verdict, 'inconclusive', p.evidence);
      const m = p.margins?.[0];
      assert.ok(m && m.n === 10 && m.bound === 100 && m.lo < 100 && m.hi > 100, JSON.stringify(m));
      assert.equal(p.samplesNeeded, Math.ceil(10 * ((m.value - m.lo) / (m.value - 100)) ** 2));
      assert.ok((p.samplesNeeded ?? 0) > 10);
      assert.match(p.evidence, new RegExp(`At this spread about ${p.samplesNeeded} samples per target \\(now 10\\) would decide it\\.$`));
    });

    test('no container-in-VM target is not measured', () => {
      assert.equal(claim('C10', one({ startup: { native: { toReadyMs: around(1) } } })).verdict, 'not measured');
    });
  });

  describe('C11 host CPU per unit of work', () => {
    const cpu = (ratio: number) =>
      one({
        cpu: {
          native: { hostCpuPerEventUs: around(280, 0.005) },
          container: { hostCpuPerEventUs: around(280 * ratio, 0.005) },
          tcg: { hostCpuPerEventUs: around(3600) },
        },
      });

    test('the same host CPU per event as native confirms it, with TCG only as contrast', () => {
      const v = claim('C11', cpu(1.0));
      assert.equal(v.verdict, 'confirmed');
      assert.equal(v.accelerator, undefined);
      assert.ok(v.figures.some((f) => f.target === 'tcg' && f.label.includes('contrast')));
    });

    test('30 % more host CPU per event refutes it', () => {
      assert.equal(claim('C11', cpu(1.3)).verdict, 'refuted');
    });

    test('no cpu scenario is not measured', () => {
      assert.equal(claim('C11', one({})).verdict, 'not measured');
    });
  });

  describe('C12 network', () => {
    /** native's loopback figures, the container's on every network scaled by `ct` (throughput and tps down, round trip up), VMs' tap by theirs. */
    const net = (ct: { tput: number; rtt: number }, vms: Record<string, { tput: number; rtt: number }>) => {
      const figures = (prefix: string, f: { tput: number; rtt: number }) => ({
        [`${prefix}RxGbps`]: around(30 * f.tput),
        [`${prefix}TxGbps`]: around(28 * f.tput),
        [`${prefix}Tps`]: around(45000 * f.tput),
        [`${prefix}RttP50Us`]: around(20 * f.rtt),
        [`${prefix}RttP99Us`]: around(35 * f.rtt),
      });
      const nets = ['host', 'veth', 'bridge', 'nat', 'tap'];
      const native = Object.assign({}, ...nets.map((n) => figures(n, { tput: 1, rtt: 1 }))) as Record<string, number[]>;
      const container = Object.assign({}, ...['host', 'veth', 'bridge', 'nat'].map((n) => figures(n, ct))) as Record<string, number[]>;
      const vmTargets = Object.fromEntries(Object.entries(vms).map(([t, f]) => [t, figures('tap', f)]));
      return one({ net: { native, container, ...vmTargets } });
    };

    test('a container within 5 % of native through NAT and a KVM NIC adding 80 % to the round trip confirm it', () => {
      const v = claim('C12', net({ tput: 0.97, rtt: 1.04 }, { kvm: { tput: 0.6, rtt: 1.8 } }));
      assert.equal(v.verdict, 'confirmed', v.evidence);
      assert.equal(part(v, 'container on veth: costs little').bearing, 'context');
      assert.ok(v.reference?.includes('30 µs'));
    });

    test('NAT halving the throughput refutes "costs little"', () => {
      const v = claim('C12', net({ tput: 0.5, rtt: 1.04 }, { kvm: { tput: 0.6, rtt: 1.8 } }));
      assert.equal(v.verdict, 'refuted');
      assert.match(part(v, 'container through a bridge and NAT: costs little').evidence, /natRxGbps 0\.50×/);
    });

    test('a KVM NIC with a shorter round trip than the container’s NAT refutes "costs more"', () => {
      const v = claim('C12', net({ tput: 0.97, rtt: 1.04 }, { kvm: { tput: 1, rtt: 0.9 } }));
      assert.equal(part(v, "VM's virtual NIC costs more (kvm)").verdict, 'refuted');
      assert.equal(v.verdict, 'refuted');
    });

    test('a slow TCG NIC is context: the VM part waits for kvm', () => {
      const v = claim('C12', net({ tput: 0.97, rtt: 1.04 }, { tcg: { tput: 0.05, rtt: 20 } }));
      assert.equal(part(v, "VM's virtual NIC costs more (tcg)").bearing, 'context');
      assert.equal(part(v, "VM's virtual NIC costs more (kvm)").verdict, 'not measured');
      assert.equal(v.verdict, 'not measured');
    });

    test('no net scenario is not measured, naming the run that would measure it', () => {
      const v = claim('C12', one({}));
      assert.equal(v.verdict, 'not measured');
      assert.match(v.evidence, /tsbench run net --targets/);
    });
  });
});

describe('C13 gVisor', () => {
  const MB = 2 ** 20;
  const blind = { seesHostPids: constant(0), seesHostNet: constant(0), seesHostMounts: constant(0), seesHostIpc: constant(0), seesHostHostname: constant(0) };
  const sees = { seesHostPids: constant(1), seesHostNet: constant(1), seesHostMounts: constant(1), seesHostIpc: constant(1), seesHostHostname: constant(1) };
  const calls = (f: number) => ({
    getppidNs: around(60 * f),
    openReadCloseNs: around(1500 * f),
    mmapTouchNs: around(900 * f),
    pipeRoundTripNs: around(4000 * f),
  });
  /** runsc's time to ready, its idle PSS, its raw call's cost as a multiple of native's, what its probes see. */
  const gvisor = (o: { readyMs: number; pssMiB: number; syscall: number; isolation?: Record<string, number[]>; vm?: 'kvm' | 'tcg'; vmMiB?: number }) =>
    one({
      startup: { native: { toReadyMs: around(0.5) }, container: { toReadyMs: around(6) }, runsc: { toReadyMs: around(o.readyMs) } },
      memory: {
        native: { footprintPssBytes: around(1 * MB) },
        container: { footprintPssBytes: around(2 * MB) },
        runsc: { footprintPssBytes: around(o.pssMiB * MB), cgroupUsageBytes: around(13 * MB) },
        [o.vm ?? 'tcg']: {
          footprintPssBytes: around((o.vmMiB ?? 120) * MB),
          guestTotalBytes: around(256 * MB),
          guestAvailableBytes: around((256 - 0.8 * (o.vmMiB ?? 120)) * MB),
        },
      },
      syscall: { native: calls(1), container: calls(1.3), runsc: calls(o.syscall) },
      isolation: { native: sees, runsc: o.isolation ?? blind },
    });

  test('a sandbox ready in 0.3 s, 25 MiB idle beside a 120 MiB VM, its raw call 40× native and blind to the host confirms it', () => {
    const v = claim('C13', gvisor({ readyMs: 300, pssMiB: 25, syscall: 40 }));
    assert.equal(v.verdict, 'confirmed', v.evidence);
    assert.equal(part(v, "runsc's raw system call costs at least 2.00× native's").verdict, 'confirmed');
    assert.equal(part(v, "runsc's footprint is closer to a container's than to a VM's (tcg)").verdict, 'confirmed');
    assert.ok(v.figures.some((f) => f.target === 'runsc' && f.label === 'pipeRoundTripNs / native'));
    assert.ok(v.reference?.includes('38.2 µs'), v.reference);
    assert.ok(v.reference?.includes('gvisor.dev'));
  });

  test('a sandbox that needs 1.5 s to be ready refutes "container-like startup"', () => {
    const v = claim('C13', gvisor({ readyMs: 1500, pssMiB: 25, syscall: 40 }));
    assert.equal(v.verdict, 'refuted');
    assert.equal(part(v, 'runsc starts like a container (ready < 1 s)').verdict, 'refuted');
  });

  test('a sandbox as big as the VM refutes "container-like footprint"', () => {
    const v = claim('C13', gvisor({ readyMs: 300, pssMiB: 110, syscall: 40, vm: 'kvm', vmMiB: 120 }));
    assert.equal(part(v, "runsc's footprint is closer to a container's than to a VM's (kvm)").verdict, 'refuted');
    assert.equal(v.verdict, 'refuted');
  });

  test('system calls at native cost refute "a price on system-call-heavy work"', () => {
    const v = claim('C13', gvisor({ readyMs: 300, pssMiB: 25, syscall: 1.1 }));
    assert.equal(part(v, "runsc's raw system call costs at least 2.00× native's").verdict, 'refuted');
    assert.equal(v.verdict, 'refuted');
  });

  test('a probe that sees the host refutes "VM-like isolation"', () => {
    const v = claim('C13', gvisor({ readyMs: 300, pssMiB: 25, syscall: 40, isolation: { ...blind, seesHostNet: constant(1) } }));
    assert.equal(part(v, "runsc does not see the host's network").verdict, 'refuted');
    assert.equal(v.verdict, 'refuted');
  });

  test('without the syscall scenario it is not measured, naming the run that would measure it', () => {
    const full = gvisor({ readyMs: 300, pssMiB: 25, syscall: 40 });
    const scenarios = full.result.scenarios.filter((s) => s.name !== 'syscall');
    const v = claim('C13', { ...full, result: { ...full.result, scenarios } });
    assert.equal(v.verdict, 'not measured');
    assert.match(v.evidence, /tsbench run syscall --targets native,container,runsc/);
  });

  test('runsc-kvm, where it ran, is context: it never decides', () => {
    const v = claim('C13', one({ startup: { runsc: { toReadyMs: around(300) }, 'runsc-kvm': { toReadyMs: around(5000) } } }));
    assert.equal(part(v, 'runsc-kvm starts like a container (ready < 1 s)').bearing, 'context');
    assert.equal(part(v, 'runsc-kvm starts like a container (ready < 1 s)').verdict, 'refuted');
    assert.equal(v.verdict, 'not measured', 'the context part refutes nothing: runsc lacks the other scenarios');
  });
});

// ---- several files, several hosts -------------------------------------------------

describe('claim verdicts across result files', () => {
  test('files of two hosts are judged separately', () => {
    const a = craft({ path: 'a.json', hostname: 'alpha', scenarios: {} });
    const b = craft({ path: 'b.json', hostname: 'beta', scenarios: {} });
    const hosts = evaluateClaims([a, b]);
    assert.deepEqual(
      hosts.map((h) => h.host),
      ['alpha', 'beta'],
    );
  });

  test('two machines sharing a hostname are told apart by CPU model', () => {
    const a = craft({ path: 'a.json', hostname: 'ci', cpuModel: 'AMD EPYC', scenarios: {} });
    const b = craft({ path: 'b.json', hostname: 'ci', cpuModel: 'Intel Xeon', scenarios: {} });
    assert.deepEqual(
      evaluateClaims([a, b]).map((h) => h.host),
      ['ci (AMD EPYC)', 'ci (Intel Xeon)'],
    );
  });

  test('a claim draws on several files of one host and names them', () => {
    const s = craft({
      path: 'startup.json',
      scenarios: { startup: { native: { toReadyMs: around(0.5) }, container: { toReadyMs: around(2) }, kvm: { toReadyMs: around(300) } } },
    });
    const c = craft({ path: 'cpu.json', scenarios: { cpu: { native: { workMs: constant(500) }, container: { workMs: around(500, 0.005) } } } });
    const hosts = evaluateClaims([s, c]);
    assert.equal(hosts.length, 1);
    assert.deepEqual(hosts[0]?.sources, ['startup.json', 'cpu.json']);
    const c1 = hosts[0]?.verdicts.find((v) => v.id === 'C1');
    assert.equal(c1?.verdict, 'confirmed');
    assert.match(c1?.evidence ?? '', /startup from startup\.json/);
    assert.equal(part(hosts[0]?.verdicts.find((v) => v.id === 'C2') as ClaimVerdict, 'container near-native').verdict, 'confirmed');
  });

  test('the newest completed file wins, and a newer errored run does not hide an older completed one', () => {
    const older = craft({
      path: 'old.json',
      startedAt: '2026-01-01T00:00:00Z',
      scenarios: { startup: { native: { toReadyMs: around(0.5) }, container: { toReadyMs: around(2) } } },
    });
    const newer = craft({
      path: 'new.json',
      startedAt: '2026-01-02T00:00:00Z',
      scenarios: { startup: { native: { toReadyMs: around(0.5) }, container: { toReadyMs: around(1500) } } },
    });
    const broken = craft({
      path: 'broken.json',
      startedAt: '2026-01-03T00:00:00Z',
      scenarios: { startup: { container: { state: 'errored', error: 'boom' } } },
    });
    assert.equal(part(claim('C1', older, newer), 'container ready in < 1 s').verdict, 'refuted');
    assert.equal(part(claim('C1', older, broken), 'container ready in < 1 s').verdict, 'confirmed');
    const sources = evaluateClaims([older, newer]).at(0)?.sources;
    assert.deepEqual(sources, ['new.json'], 'the superseded file is not a source');
  });

  test('a real startup run on a host without KVM: the container part confirmed, the VM part waits for kvm', () => {
    const path = new URL('../../test/fixtures/claims/startup-native-container-tcg.json', import.meta.url);
    const real: LoadedResult = { path: 'startup-native-container-tcg.json', result: ResultSchema.parse(JSON.parse(readFileSync(path, 'utf8'))) };
    const [host] = evaluateClaims([real]);
    const c1 = host?.verdicts.find((v) => v.id === 'C1') as ClaimVerdict;
    assert.equal(part(c1, 'container ready in < 1 s').verdict, 'confirmed');
    assert.equal(part(c1, 'VM takes much longer (tcg)').bearing, 'context');
    assert.equal(c1.verdict, 'not measured');
    assert.match(c1.evidence, /kvm is unavailable/);
    const c4 = host?.verdicts.find((v) => v.id === 'C4') as ClaimVerdict;
    assert.equal(c4.verdict, 'refuted', 'the same userland as an initramfs plus a kernel is not 2× the root filesystem');
  });
});

test("a verdict names which VM each VM target was: the lean microVM, the stock VM, or an older file's initramfs VM", () => {
  const scenarios = {
    startup: {
      native: { toReadyMs: around(1) },
      container: { toReadyMs: around(3) },
      tcg: { toReadyMs: around(900) },
      'tcg-cloud': { toReadyMs: around(2000) },
    },
  };
  const targets = [
    { name: 'native', available: true },
    { name: 'tcg', available: true, details: { accelerator: 'tcg', profile: 'lean' } },
    { name: 'tcg-cloud', available: true, details: { accelerator: 'tcg', profile: 'cloud' } },
  ];
  const v = claim('C1', craft({ scenarios, targets }));
  assert.equal(v.vmProfiles?.['tcg'], 'lean microVM', JSON.stringify(v.vmProfiles));
  assert.equal(v.vmProfiles?.['native'], undefined);
  const old = claim('C1', craft({ scenarios, targets: [{ name: 'tcg', available: true, details: { accelerator: 'tcg' } }] }));
  assert.equal(old.vmProfiles?.['tcg'], 'stock kernel, image as initramfs');
});

describe('kvm results from a host nested under TCG (the nested KVM test host)', () => {
  const nestedHost = { nestedUnder: 'tcg' as const, cpuModel: 'AuthenticAMD QEMU TCG CPU version 2.5+' };

  test('C1: a nested kvm boot much slower than the container is context, and the VM half waits for a KVM host', () => {
    const file = one(
      {
        startup: {
          native: { toReadyMs: around(5) },
          container: { toReadyMs: around(40) },
          kvm: { toReadyMs: around(2600) },
        },
      },
      nestedHost,
    );
    const v = claim('C1', file);
    const nested = part(v, 'VM takes much longer (kvm nested under TCG)');
    assert.equal(nested.verdict, 'confirmed');
    assert.equal(nested.bearing, 'context');
    assert.match(nested.evidence, /nested under TCG/);
    const waiting = part(v, 'VM takes much longer (kvm)');
    assert.equal(waiting.verdict, 'not measured');
    assert.match(waiting.evidence, /only as kvm nested under TCG/);
    assert.equal(v.verdict, 'not measured', v.evidence);
  });

  test('C1: the same figures from an ordinary host decide', () => {
    const v = claim('C1', one({ startup: { native: { toReadyMs: around(5) }, container: { toReadyMs: around(40) }, kvm: { toReadyMs: around(2600) } } }));
    assert.equal(v.verdict, 'confirmed');
    assert.equal(part(v, 'VM takes much longer (kvm)').bearing, 'decides');
  });

  test('C2: nested kvm within 10 % of native is context, never "KVM close behind"', () => {
    const file = one({ cpu: { native: { workMs: constant(500) }, container: { workMs: around(505, 0.005) }, kvm: { workMs: around(520, 0.01) } } }, nestedHost);
    const v = claim('C2', file);
    assert.equal(part(v, 'KVM close behind (kvm nested under TCG)').bearing, 'context');
    assert.equal(part(v, 'KVM close behind').verdict, 'not measured');
    assert.notEqual(v.verdict, 'confirmed');
  });

  test('C6: a nested kvm VM paying for its virtual disk is context, as under TCG', () => {
    const ratio = (r: number) => ({
      seqReadMiBps: around(1000 * r),
      seqWriteMiBps: around(1000 * r),
      randReadIops: around(1e5 * r),
      randWriteIops: around(8e4 * r),
    });
    const v = claim('C6', one({ io: { native: ratio(1), container: ratio(0.99), kvm: ratio(0.3) } }, nestedHost));
    const nested = part(v, 'VM pays for device virtualisation (kvm nested under TCG)');
    assert.equal(nested.verdict, 'confirmed');
    assert.equal(nested.bearing, 'context');
  });

  test('C10: a nested kvm confirmation decides as a TCG one does, labelled nested under TCG', () => {
    const file = one(
      {
        startup: { kvm: { toReadyMs: around(2600) }, 'container-in-kvm': { toReadyMs: around(2620) } },
        cpu: { native: { workMs: around(500) }, kvm: { workMs: around(520) }, 'container-in-kvm': { workMs: around(525) } },
      },
      nestedHost,
    );
    const v = claim('C10', file);
    const startup = part(v, 'little extra startup (kvm nested under TCG)');
    assert.equal(startup.verdict, 'confirmed');
    assert.equal(startup.bearing, 'decides');
    assert.match(startup.evidence, /nested under TCG/);
  });
});
