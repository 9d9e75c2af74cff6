/**
 * The Debian image run for real: as a container (`container@debian`: Debian's
 * userland, the job started directly, as `docker run debian …` does) and as a
 * stock VM under TCG (`tcg-cloud@debian`: Debian's kernel, the initrd
 * initramfs-tools made inside the image, systemd up to tsbench-agent.service).
 * Needs the Debian image (`tsbench image build --image debian`, which setup runs);
 * without it the tests are skipped with the reason.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { ResultSchema } from '../core/schema.js';
import { loadImage } from '../drivers/image/index.js';
import { createQemuDriver, type QemuDriver } from '../drivers/qemu/index.js';
import { createNestedDriver } from '../drivers/qemu/nested.js';
import { tsbench } from './helpers/cli.js';

const work = mkdtempSync(join(tmpdir(), 'tsbench-debian-test-'));
const image = await loadImage({ image: 'debian' }).catch((e: unknown) => e as Error);
const noImage = image instanceof Error ? `no Debian image: ${image.message}` : false;
const drivers: QemuDriver[] = [];
function debianVm(opts: Parameters<typeof createQemuDriver>[2] = {}): QemuDriver {
  const d = createQemuDriver('tcg', 'cloud', { ...opts, image: 'debian' });
  drivers.push(d);
  return d;
}

/** Whether a process runs (exists and is no zombie). */
function running(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.[0] !== 'Z';
  } catch {
    return false;
  }
}

after(async () => {
  await Promise.all(drivers.map((d) => d.teardown()));
  rmSync(work, { recursive: true, force: true });
});

describe('the Debian image', { skip: noImage }, () => {
  test('boots as a VM through systemd to the agent, timed as kernel, initrd, userspace, agent and exit, beside its container', async () => {
    const out = join(work, 'startup');
    const r = await tsbench(['run', 'startup', '--targets', 'tcg-cloud@debian,container@debian', '--runs', '1', '--warmup', '0', '--out', out], {
      timeout: 300_000,
    });
    assert.equal(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
    const result = ResultSchema.parse(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')));
    const vm = result.scenarios[0]?.targets.find((t) => t.target === 'tcg-cloud@debian');
    assert.equal(vm?.state, 'completed', vm?.error);
    const [sample] = vm.samples;
    const tl = sample?.timeline;
    assert.ok(tl);
    assert.deepEqual(
      tl.phases.map((p) => p.name),
      ['qemu', 'kernel', 'initrd', 'userspace', 'agent', 'exit'],
    );
    assert.ok(
      tl.phases.every((p) => p.ms > 0),
      JSON.stringify(tl.phases),
    );
    const sum = tl.phases.reduce((a, p) => a + p.ms, 0);
    assert.ok(Math.abs(sum - (tl.toExitMs ?? 0)) < 1, `${sum} vs ${tl.toExitMs}`);
    assert.deepEqual(
      { image: sample?.extra?.['image'], init: sample?.extra?.['init'], profile: sample?.extra?.['profile'] },
      { image: 'debian', init: 'systemd', profile: 'cloud' },
    );
    const ct = result.scenarios[0]?.targets.find((t) => t.target === 'container@debian');
    assert.equal(ct?.state, 'completed', ct?.error);
    assert.ok((ct.samples[0]?.timeline?.toReadyMs ?? Infinity) < 1000);
  });

  test("a command in the Debian VM gets Debian's userland, a writable root and the data disk, and returns its output and exit code; the image is unchanged", async () => {
    const disk = (image as Exclude<typeof image, Error>).rootDisk;
    const before = statSync(disk);
    const d = debianVm({ diskBytes: 64 * 2 ** 20 });
    await d.prepare({ limits: {} });
    const vm = await d.launch({
      job: {
        kind: 'exec',
        argv: [
          '/bin/sh',
          '-c',
          'grep -E "^(PRETTY_NAME|IMAGE_ID)=" /etc/os-release; echo x > /etc/tsbench-written && cat /etc/tsbench-written; grep -c " /data " /proc/mounts; exit 3',
        ],
      },
    });
    const r = await vm.result;
    assert.equal(r.exitCode, 3, `${r.reason}\n${r.tail.join('\n')}`);
    assert.deepEqual(r.stdout, ['PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"', 'IMAGE_ID=tsbench-debian', 'x', '1']);
    const after = statSync(disk);
    assert.deepEqual([after.size, after.mtimeMs], [before.size, before.mtimeMs], 'the image is never written');
    // Before the driver's teardown removes its directory: QEMU deleted its snapshot overlay itself.
    assert.deepEqual(
      readdirSync(tmpdir()).filter((n) => n.startsWith('tsbench-qemu-') && readdirSync(join(tmpdir(), n)).some((f) => f.startsWith('vl.'))),
      [],
      "QEMU's snapshot overlay is gone with the VM",
    );
  });

  test('a sleep job in the Debian VM waits for the boot to settle, reports the guest memory and stops on "stop" written to the console', async () => {
    const d = debianVm();
    await d.prepare({ limits: {} });
    const vm = await d.launch({ job: { kind: 'sleep' } });
    await vm.ready;
    await vm.stop();
    const r = await vm.result;
    assert.equal(r.status, 'ok', `${r.reason}\n${r.tail.join('\n')}`);
    assert.ok(r.guestMemory && r.guestMemory.totalKb > 128 * 1024 && r.guestMemory.availableKb > 0, JSON.stringify(r.guestMemory));
    assert.deepEqual(
      r.timeline.phases.map((p) => p.name),
      ['qemu', 'kernel', 'initrd', 'userspace', 'settle', 'agent', 'exit'],
    );
  });

  test("a Debian VM that misses its ready timeout is a timeout with the console's last lines, and leaves no qemu", async () => {
    const d = debianVm({ readyTimeoutMs: 8_000 });
    await d.prepare({ limits: {} });
    const vm = await d.launch({ job: { kind: 'noop' } });
    const [pid] = vm.hostPids();
    const r = await vm.result;
    assert.equal(r.status, 'timeout');
    assert.match(r.reason ?? '', /did not reach the agent's ready in 8 s \(tcg\) and was killed; last console lines in the tail/);
    assert.ok(pid !== undefined && !running(pid), 'qemu is gone');
  });

  test('the lean microVM and a container inside a VM refuse the Debian image, naming what runs it', async () => {
    const lean = createQemuDriver('tcg', 'lean', { image: 'debian' });
    assert.equal(lean.name, 'tcg@debian');
    const probe = await lean.probe();
    assert.equal(probe.available, false);
    assert.match(probe.reason ?? '', /lean microVM boots the lean image only .*tcg-cloud@debian/);
    const nested = await createNestedDriver('tcg', { profile: 'cloud', image: 'debian' }).probe();
    assert.equal(nested.available, false);
    assert.match(nested.reason ?? '', /runs the lean image only/);
    await assert.rejects(
      debianVm().prepare({ limits: { memoryBytes: 128 * 2 ** 20 } }),
      /128 MiB of guest RAM is too little for tcg-cloud@debian: .*pass --memory 192M/,
    );
  });

  test("tsbench exec --target container@debian runs the command in Debian's userland", async () => {
    const r = await tsbench(['exec', '--target', 'container@debian', '--', 'cat', '/etc/debian_version']);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, /^12\.\d+$/m);
  });
});
