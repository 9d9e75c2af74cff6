/**
 * VMs restored from a snapshot (issue 34, drivers/qemu/snapshot.ts): the QEMU arguments and the timeline
 * as pure functions, the restore targets' names, and under TCG for real: a restored VM runs its job with
 * its output and exit code, the snapshot directory goes at teardown, and a tsbench SIGKILLed while it
 * saves the VM or while it restores one leaves nothing after the next command. The real part is
 * skipped with the tcg probe's reason where the lean microVM cannot run.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { createQemuDriver, restorePhases, type QemuDriver, type VmInstanceResult } from '../drivers/qemu/index.js';
import { restoreArgs } from '../drivers/qemu/snapshot.js';
import { restoreTargetName } from '../drivers/qemu/names.js';
import { listTargets } from '../drivers/registry.js';
import { tsbench, tsbenchBackground } from './helpers/cli.js';
import { settledLeftovers } from './helpers/leftovers.js';

const ms = (n: number): bigint => BigInt(Math.round(n * 1e6));

describe('restore arguments and timeline', () => {
  const argv = ['qemu-system-x86_64', '-M', 'microvm,acpi=off', '-m', '256M', '-append', 'x'];

  test('a restored VM is the saved VM plus a QMP socket and -incoming defer', () => {
    const saved = restoreArgs(argv, { qmpSocket: '/s/save.sock', restore: false });
    const restored = restoreArgs(argv, { qmpSocket: '/s/q1.sock', restore: true });
    assert.deepEqual(saved, [...argv, '-qmp', 'unix:/s/save.sock,server=on,wait=off']);
    assert.deepEqual(restored, [...argv, '-qmp', 'unix:/s/q1.sock,server=on,wait=off', '-incoming', 'defer']);
  });

  test('a template maps the RAM file shared when saving and copy-on-write when restoring', () => {
    const template = { ramFile: '/s/tsbench-guest-ram', memoryMiB: 256 };
    const saved = restoreArgs(argv, { qmpSocket: '/s/q', template, restore: false });
    const restored = restoreArgs(argv, { qmpSocket: '/s/q', template, restore: true });
    assert.equal(saved[2], 'microvm,acpi=off,memory-backend=ram');
    assert.ok(saved.includes('memory-backend-file,id=ram,size=256M,mem-path=/s/tsbench-guest-ram,share=on'));
    assert.ok(restored.includes('memory-backend-file,id=ram,size=256M,mem-path=/s/tsbench-guest-ram,share=off'));
  });

  test('the phases add up from the fork, or from migrate-incoming when qemu was pre-spawned', () => {
    const m = { startNs: ms(0), qmpNs: ms(70), incomingNs: ms(72), loadedNs: ms(200), resumeNs: ms(201), readyReceivedNs: ms(230), endNs: ms(260) };
    assert.deepEqual(
      restorePhases(m, false).map((p) => [p.name, Math.round(p.ms)]),
      [
        ['qemu', 70],
        ['load', 130],
        ['resume', 1],
        ['agent', 29],
        ['exit', 30],
      ],
    );
    assert.deepEqual(
      restorePhases(m, true).map((p) => [p.name, Math.round(p.ms)]),
      [
        ['load', 128],
        ['resume', 1],
        ['agent', 29],
        ['exit', 30],
      ],
    );
  });

  test('every VM target comes in three restore modes, registered by name', () => {
    const names = listTargets().map((t) => t.name);
    for (const vm of ['tcg', 'kvm', 'tcg-cloud', 'kvm-cloud'])
      for (const mode of [{}, { prespawned: true }, { template: true }]) assert.ok(names.includes(restoreTargetName(vm, mode)), restoreTargetName(vm, mode));
    assert.equal(restoreTargetName('tcg', { prespawned: true }), 'tcg-restore-prespawned');
  });
});

const probe = await createQemuDriver('tcg', 'lean', { restore: {} }).probe();
const noVm = probe.available ? false : `tcg-restore unavailable: ${probe.reason ?? ''}`;
const snapshotDirs = (): string[] => readdirSync(tmpdir()).filter((n) => n.startsWith('tsbench-snapshot-'));

describe('a VM restored under TCG', { skip: noVm }, () => {
  const drivers: QemuDriver[] = [];
  after(async () => {
    for (const d of drivers) await d.teardown();
  });

  for (const mode of [{}, { prespawned: true }, { template: true }]) {
    test(`${restoreTargetName('tcg', mode)} runs jobs with their output and exit codes, and its snapshot goes at teardown`, { timeout: 180_000 }, async () => {
      const before = new Set(snapshotDirs());
      const d = createQemuDriver('tcg', 'lean', { restore: mode });
      drivers.push(d);
      await d.prepare({ limits: {} });
      const ok = (await (await d.launch({ job: { kind: 'noop' } })).result) as VmInstanceResult;
      assert.equal(ok.status, 'ok', ok.reason);
      assert.ok((ok.timeline.toReadyMs ?? 0) > 0);
      assert.deepEqual(
        ok.timeline.phases.map((p) => p.name),
        [...(mode.prespawned === true ? [] : ['qemu']), 'load', 'resume', 'agent', 'exit'],
      );
      assert.equal(ok.extra.snapshot?.mechanism, mode.template === true ? 'migrate-exec+x-ignore-shared' : 'migrate-exec');
      assert.ok((ok.extra.snapshot?.stateBytes ?? 0) > 0);
      const job = (await (await d.launch({ job: { kind: 'exec', argv: ['sh', '-c', 'echo restored; exit 3'] } })).result) as VmInstanceResult;
      assert.equal(job.exitCode, 3, job.reason);
      assert.deepEqual(job.stdout, ['restored']);
      const mine = snapshotDirs().filter((n) => !before.has(n));
      assert.equal(mine.length, 1, 'one snapshot for one VM size');
      await d.teardown();
      assert.ok(!existsSync(join(tmpdir(), mine[0] as string)), 'the snapshot directory is removed at teardown');
    });
  }

  // The two moments of a SIGKILL: while the VM is being saved (a snapshot directory, no restore yet) and while a
  // restored VM runs (a restore's QMP socket in it).
  for (const when of ['saving', 'restoring'] as const) {
    test(`a tsbench SIGKILLed while ${when} leaves its snapshot and qemu to the next command`, { timeout: 180_000 }, async () => {
      const before = new Set(snapshotDirs());
      const out = mkdtempSync(join(tmpdir(), 'tsbench-restore-kill-'));
      const run = tsbenchBackground(['run', 'startup', '--targets', 'tcg-restore', '--runs', '200', '--warmup', '0', '-o', out]);
      const deadline = Date.now() + 120_000;
      let dir: string | undefined;
      while (Date.now() < deadline) {
        dir = snapshotDirs().find((n) => !before.has(n));
        const files = dir !== undefined && existsSync(join(tmpdir(), dir)) ? readdirSync(join(tmpdir(), dir)) : [];
        if (when === 'saving' ? files.includes('save.sock') : files.some((f) => /^qmp-\d+\.sock$/.test(f))) break;
        await delay(10);
      }
      assert.ok(dir !== undefined, 'the run made a snapshot directory');
      const pid = run.pid as number;
      process.kill(pid, 'SIGKILL');
      await run;
      const clean = await tsbench(['clean']);
      assert.equal(clean.exitCode, 0, clean.stderr);
      assert.ok(!existsSync(join(tmpdir(), dir)), `${dir} is swept`);
      assert.deepEqual(await settledLeftovers(pid), []);
      rmSync(out, { recursive: true, force: true });
    });
  }
});
