/**
 * The container restored by CRIU (drivers/oci/criu.ts), on this machine: its probe runs `criu check` and,
 * where criu fails it (criu 3.17 on kernel 6.18, the project machine), the target is unavailable with
 * criu's own first error and the kernel's release; its refusals come before anything is made. The restore
 * itself runs where CRIU works, in the nested KVM test host on Debian's 6.1 kernel (test/testhosts.test.ts).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { execa } from 'execa';
import { CRIU_CAPABILITIES, CRIU_TARGET, RuncRestoreDriver, criuCheckSays } from '../drivers/oci/criu.js';
import { createDriver } from '../drivers/registry.js';
import { TargetError } from '../core/errors.js';

const criu = await execa('criu', ['check'], { reject: false, stdin: 'ignore', all: true });
const noCriu = criu.failed && criu.exitCode === undefined ? 'criu is not installed here' : false;
const root = process.getuid?.() === 0 ? false : 'needs root (criu check)';
const driver = new RuncRestoreDriver();

after(async () => {
  await driver.teardown();
});

describe('runc-restore', () => {
  test('says in one line why criu check failed: its first error, and the feature probe that ended it', () => {
    const testHost = [
      'Error (criu/util.c:642): exited, status=1',
      'Error (criu/net.c:3741): Unable to create a veth pair: -95',
      'mnl.c:60: Unable to initialize Netlink socket: Protocol not supported',
      'Error (criu/kerndat.c:1666): kerndat_has_nftables_concat failed when initializing kerndat.',
      'Error (criu/crtools.c:260): Could not initialize kernel features detection.',
    ];
    assert.equal(criuCheckSays(testHost), 'exited, status=1 … kerndat_has_nftables_concat failed when initializing kerndat.');
    assert.equal(
      criuCheckSays(['Error (criu/kerndat.c:1615): kerndat_vdso_fill_symtable failed when initializing kerndat.']),
      'kerndat_vdso_fill_symtable failed when initializing kerndat.',
    );
    assert.equal(criuCheckSays(['Looks good.']), undefined);
  });

  test('is registered, and declares no network, volumes or upper layer on disk: its checkpoint has none', async () => {
    assert.equal((await createDriver(CRIU_TARGET)).name, 'runc-restore');
    assert.deepEqual(CRIU_CAPABILITIES.network, []);
    assert.equal(CRIU_CAPABILITIES.volumes, false);
    assert.equal(CRIU_CAPABILITIES.upperDiskDir, undefined);
  });

  test('refuses a network, a volume or a disk upper layer before anything is made, naming the runc target', async () => {
    const refusals: [Parameters<RuncRestoreDriver['launch']>[0], RegExp][] = [
      [{ job: { kind: 'noop' }, network: { kind: 'host' } }, /takes no network: its checkpoint has none \(use the runc target\)/],
      [{ job: { kind: 'noop' }, volumes: [{ hostPath: '/tmp', guestPath: '/data' }] }, /takes no volumes/],
      [{ job: { kind: 'noop' }, upper: 'disk' }, /upper layer on tmpfs/],
    ];
    for (const [request, message] of refusals) {
      const d = new RuncRestoreDriver();
      await assert.rejects(d.launch(request), (e: unknown) => e instanceof TargetError && message.test(e.message));
      assert.equal((d as unknown as { driverDir?: string }).driverDir, undefined, 'nothing prepared');
    }
  });

  test(
    'where criu fails its own check, the probe says so with criu’s first error and the kernel, and records how it would run',
    { skip: noCriu || root || (criu.exitCode === 0 ? 'criu check passes on this kernel: the restore runs here (the test host covers it)' : false) },
    async () => {
      const p = await driver.probe();
      assert.equal(p.available, false);
      const kernel = readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim();
      const first = String(criu.all)
        .split('\n')
        .find((l) => /^Error/.test(l))
        ?.replace(/^Error \([^)]*\):\s*/, '');
      assert.ok(first !== undefined, String(criu.all));
      assert.ok(p.reason?.startsWith(`${p.details?.['criu']} fails its own \`criu check\` on this kernel (${kernel}): ${first}`), p.reason);
      assert.match(p.details?.['criu'] ?? '', /^criu \d+\.\d+/);
      assert.match(p.details?.['network'] ?? '', /neither dumps nor locks it/);
    },
  );
});
