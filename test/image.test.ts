/**
 * The workload image: built for real into a temporary cache, checked, corrupted,
 * and booted under QEMU/TCG with the agent as init.
 *
 * The kernel comes from the user's cache if `tsbench kernel fetch` ran (imported,
 * no network), else it is fetched from the Debian archive.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { appendFile, lstat, mkdtemp, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { ImageError, agentBinary, encodeJob, ensureImage, fetchKernel, kernelCmdline, loadImage, resolveKernel, type Image } from '../drivers/image/index.js';
import { rememberSha256, sha256Inputs } from '../drivers/image/cache.js';
import { hostTscKhz } from '../drivers/qemu/host.js';

let work = '';
let image: Image;
const savedEnv = { ...process.env };

before(async () => {
  let userKernel: Awaited<ReturnType<typeof resolveKernel>> | undefined;
  try {
    userKernel = await resolveKernel();
  } catch {
    userKernel = undefined;
  }
  work = await mkdtemp(join(tmpdir(), 'tsbench-image-test-'));
  process.env['XDG_CACHE_HOME'] = join(work, 'cache');
  await (userKernel === undefined
    ? fetchKernel()
    : fetchKernel({ kernel: userKernel.vmlinuz, ...(userKernel.modulesDir ? { modules: userKernel.modulesDir } : {}) }));
  image = await ensureImage();
});

after(async () => {
  process.env = savedEnv;
  if (work !== '') await rm(work, { recursive: true, force: true });
});

/**
 * Boots the image with the stock kernel, as the stock VM does (the tiny initramfs
 * mounts the read-only root disk), with a job; returns the console and QEMU's exit.
 * QEMU runs in its own process group, killed in `finally` so none survives a failure.
 */
async function boot(job: string[], opts: { disk?: string; timeoutMs?: number } = {}) {
  const args = ['-accel', 'tcg', '-M', 'microvm', '-m', '256', '-nodefaults', '-no-user-config', '-nographic', '-serial', 'stdio', '-no-reboot'];
  args.push('-kernel', image.kernel.vmlinuz, '-initrd', image.initramfs);
  args.push('-drive', `id=root,file=${image.rootDisk},format=raw,if=none,readonly=on`, '-device', 'virtio-blk-device,drive=root');
  if (opts.disk !== undefined) args.push('-drive', `id=data,file=${opts.disk},format=raw,if=none`, '-device', 'virtio-blk-device,drive=data');
  const tscKhz = await hostTscKhz();
  const root = { device: '/dev/vda', by: 'initramfs' as const };
  args.push('-append', kernelCmdline({ job, root, tscKhz, disk: opts.disk !== undefined ? '/dev/vdb' : undefined }));
  const qemu = execa('qemu-system-x86_64', args, { detached: true, reject: false, stdin: 'ignore', timeout: opts.timeoutMs ?? 60_000 });
  try {
    const result = await qemu;
    const lines = String(result.stdout)
      .split('\n')
      .map((l) => l.replace(/\r$/, ''))
      .flatMap((l) => (l.includes('@tsb ') ? [l.slice(l.indexOf('@tsb ') + 5)] : []));
    return { result, lines };
  } finally {
    if (qemu.pid !== undefined) {
      try {
        process.kill(-qemu.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

test('the job encoding is base64url without padding of argv joined by NUL bytes', () => {
  assert.equal(encodeJob(['exec', '/usr/bin/fio', '--version']), Buffer.from('exec\0/usr/bin/fio\0--version').toString('base64url'));
  assert.doesNotMatch(encodeJob(['noop']), /[=+/]/);
  const root = { device: '/dev/vda', by: 'kernel' as const };
  assert.match(kernelCmdline({ job: ['noop'], root }), /console=ttyS0 .*root=\/dev\/vda ro .*tsbench\.job=bm9vcA(\s|$)/);
  assert.match(kernelCmdline({ job: ['noop'], root: { ...root, by: 'initramfs' } }), / tsbench\.root=\/dev\/vda /);
  assert.match(
    kernelCmdline({ job: ['noop'], root, net: { address: '198.18.3.2/30', gateway: '198.18.3.1' } }),
    / tsbench\.net=198\.18\.3\.2\/30,198\.18\.3\.1(\s|$)/,
  );
  assert.doesNotMatch(kernelCmdline({ job: ['noop'], root }), /tsbench\.net=/, 'no NIC, nothing to configure');
});

test('the rootfs holds the agent, busybox, the tools and their libraries, and nothing else', async () => {
  const root = image.rootfs;
  assert.equal(await readlink(join(root, 'init')), 'sbin/tsbench-agent');
  assert.equal(await readlink(join(root, 'sbin/init')), 'tsbench-agent', 'the init a kernel runs from a root disk');
  assert.deepEqual(await readFile(join(root, 'sbin/tsbench-agent')), await readFile(agentBinary()));
  for (const tool of [
    'usr/bin/fio',
    'usr/bin/sysbench',
    'usr/bin/stress-ng',
    'usr/bin/iperf3',
    'usr/bin/sockperf',
    'bin/busybox',
    'lib64/ld-linux-x86-64.so.2',
  ])
    assert.ok(existsSync(join(root, tool)), tool);
  assert.equal(await readlink(join(root, 'bin/sh')), 'busybox');
  assert.ok((await lstat(join(root, 'dev/console'))).isCharacterDevice());
  for (const dir of ['proc', 'sys', 'tmp', 'data']) assert.ok((await lstat(join(root, dir))).isDirectory(), dir);
  assert.equal(existsSync(join(root, 'lib/modules')), false, 'kernel modules are for the initramfs only');
  assert.ok(image.sizes.rootfsBytes > 0 && image.sizes.rootDiskBytes > 0 && image.sizes.initramfsBytes > 0 && image.sizes.kernelBytes > 0);
});

test('the initramfs is tiny: the agent as /init and the modules that mount the root disk, in load order', async () => {
  const { stdout } = await execa('cpio', ['-t', '--quiet', '-F', image.initramfs]);
  const names = stdout.split('\n');
  for (const want of ['init', 'sbin/tsbench-agent', 'dev/console', 'etc/tsbench/modules']) assert.ok(names.includes(want), `${want} in ${names.join(' ')}`);
  assert.equal(names.filter((n) => n.startsWith('usr/')).length, 0, 'no tools: they are on the root disk');
  assert.ok(image.sizes.initramfsBytes < 4 * 2 ** 20, `${image.sizes.initramfsBytes} B`);
  if (image.kernel.modulesDir !== undefined)
    assert.ok(
      names.some((n) => n.endsWith('/virtio_blk.ko')),
      names.join(' '),
    );
});

test("a NIC's modules are in the initramfs on a list of their own, which the agent loads only for a VM with a NIC", async (t) => {
  if (image.kernel.modulesDir === undefined) return t.skip('the kernel has everything built in');
  const dir = await mkdtemp(join(work, 'initramfs-'));
  await execa('cpio', ['-i', '--quiet', '-d', '-F', image.initramfs, 'etc/tsbench/*'], { cwd: dir });
  const net = (await readFile(join(dir, 'etc/tsbench/modules.net'), 'utf8')).split('\n').filter(Boolean);
  assert.deepEqual(
    net.map((p) => p.split('/').pop()),
    ['failover.ko', 'net_failover.ko', 'virtio_net.ko'],
    'virtio_net after what it depends on',
  );
  const always = await readFile(join(dir, 'etc/tsbench/modules'), 'utf8');
  assert.doesNotMatch(always, /virtio_net/, 'a boot without a NIC loads none of them');
});

test('the root disk is a clean ext4 image of the rootfs, shrunk to its content', async () => {
  const fsck = await execa('e2fsck', ['-f', '-n', image.rootDisk], { reject: false });
  assert.equal(fsck.exitCode, 0, fsck.stdout + fsck.stderr);
  const { stdout } = await execa('debugfs', ['-R', 'cat /etc/os-release', image.rootDisk], { stripFinalNewline: false });
  assert.equal(stdout, await readFile(join(image.rootfs, 'etc/os-release'), 'utf8'));
  assert.ok(image.sizes.rootDiskBytes < image.sizes.rootfsBytes * 1.5, `${image.sizes.rootDiskBytes} B for ${image.sizes.rootfsBytes} B of files`);
});

test('the rootfs carries an /etc/os-release naming the image by its hash, listed in the manifest', async () => {
  const osRelease = await readFile(join(image.rootfs, 'etc/os-release'), 'utf8');
  assert.match(osRelease, /^ID=tsbench$/m);
  assert.match(osRelease, new RegExp(`^IMAGE_VERSION=${image.hash}$`, 'm'));
  assert.match(osRelease, new RegExp(`^PRETTY_NAME="tsbench workload image ${image.hash.slice(0, 12)}"$`, 'm'));
  const manifest = JSON.parse(await readFile(join(image.dir, 'manifest.json'), 'utf8')) as { inputs: { path: string; bytes?: number }[] };
  assert.equal(manifest.inputs.find((i) => i.path === '/etc/os-release')?.bytes, Buffer.byteLength(osRelease));
});

test('every tool runs chrooted in the rootfs with only the libraries the image carries', async (t) => {
  if (process.getuid?.() !== 0) return t.skip('chroot needs root');
  for (const tool of [
    ['/usr/bin/fio', '--version'],
    ['/usr/bin/sysbench', '--version'],
    ['/usr/bin/stress-ng', '--version'],
    ['/usr/bin/iperf3', '--version'],
    ['/usr/bin/sockperf', '--version'],
  ]) {
    const result = await execa('chroot', [image.rootfs, '/sbin/tsbench-agent', 'exec', ...tool], { reject: false });
    assert.equal(result.exitCode, 0, `${tool[0]}: ${result.stdout}`);
    assert.match(result.stdout, /@tsb out \S/);
  }
});

test('a hash a build remembers for a file is what the next check takes, until the file is written', async () => {
  const file = join(work, 'remembered');
  await writeFile(file, 'content');
  const told = 'f'.repeat(64);
  await rememberSha256(file, told);
  assert.deepEqual(await sha256Inputs([file]), [told], 'not read again');
  await appendFile(file, ' changed');
  assert.notEqual((await sha256Inputs([file]))[0], told);
});

test('a second ensureImage is a cache hit: same hash, same entry, well under a second', async (t) => {
  const createdAt = JSON.parse(await readFile(join(image.dir, 'manifest.json'), 'utf8')).createdAt as string;
  const started = performance.now();
  const again = await ensureImage();
  const ms = performance.now() - started;
  assert.equal(again.hash, image.hash);
  assert.equal(again.dir, image.dir);
  assert.equal(JSON.parse(await readFile(join(image.dir, 'manifest.json'), 'utf8')).createdAt, createdAt, 'not rebuilt');
  t.diagnostic(`cache hit took ${ms.toFixed(0)} ms`);
  assert.ok(ms < 1000, `cache hit took ${ms.toFixed(0)} ms`);
  assert.equal((await loadImage()).hash, image.hash);
});

test('the stock kernel boots the root disk through the initramfs under TCG to ready, and QEMU exits by itself after the agent exits 0', async () => {
  const { result, lines } = await boot(['noop']);
  assert.equal(result.timedOut, false);
  assert.equal(result.exitCode, 0, result.stderr);
  assert.deepEqual(
    lines.map((l) => l.split(' ')[0]),
    ['init', 'mark', 'ready', 'exit'],
    lines.join('\n'),
  );
  assert.match(lines[1] ?? '', /^mark root \d+$/);
  assert.equal(lines.at(-1), 'exit 0');
});

test('an exec job in the VM prints the tool output framed, sees a read-only root and a tmpfs /tmp, and mounts the data disk', async () => {
  const disk = join(work, 'data.img');
  await writeFile(disk, '');
  await execa('truncate', ['-s', '16M', disk]);
  const mkfs = await execa('mkfs.ext4', ['-q', '-F', disk], { reject: false });
  const job = ['exec', '/bin/sh', '-c', '/usr/bin/fio --version; grep -E " (/|/tmp|/data) " /proc/mounts; exit 5'];
  const { result, lines } = await boot(job, mkfs.exitCode === 0 ? { disk } : {});
  assert.equal(result.exitCode, 0, result.stderr);
  assert.ok(
    lines.some((l) => /^out fio-\d/.test(l)),
    lines.join('\n'),
  );
  if (mkfs.exitCode === 0)
    assert.ok(
      lines.some((l) => /^out \/dev\/vdb \/data ext4 rw/.test(l)),
      lines.join('\n'),
    );
  assert.ok(
    lines.some((l) => /^out \/dev\/vda \/ ext4 ro/.test(l)),
    lines.join('\n'),
  );
  assert.ok(
    lines.some((l) => /^out tmpfs \/tmp tmpfs rw/.test(l)),
    lines.join('\n'),
  );
  assert.ok(lines.some((l) => l.startsWith('rusage ')));
  assert.equal(lines.at(-1), 'exit 5');
});

test('a corrupted cache entry is refused with a clear error and rebuilt by ensureImage', async () => {
  await appendFile(image.initramfs, 'x');
  await assert.rejects(loadImage(), (e: unknown) => e instanceof ImageError && /corrupt .*initramfs.* changed.*tsbench image build/.test(e.message));
  const rebuilt = await ensureImage();
  assert.equal(rebuilt.hash, image.hash);
  await loadImage();

  await appendFile(rebuilt.rootDisk, 'x');
  await assert.rejects(loadImage(), (e: unknown) => e instanceof ImageError && /corrupt .*root\.ext4 is changed/.test(e.message));
  await ensureImage();
  await loadImage();

  await rm(join(image.dir, 'manifest.json'));
  await assert.rejects(loadImage(), /manifest\.json is missing/);
  await ensureImage();

  await rm(join(image.rootfs, 'usr/bin/fio'));
  await assert.rejects(loadImage(), /rootfs\/usr\/bin\/fio is missing/);
  image = await ensureImage();
  await loadImage();
});

test('without a kernel, resolveKernel says to run tsbench kernel fetch', async () => {
  const cache = process.env['XDG_CACHE_HOME'];
  process.env['XDG_CACHE_HOME'] = join(work, 'empty-cache');
  try {
    await assert.rejects(resolveKernel(), (e: unknown) => e instanceof ImageError && /tsbench kernel fetch/.test(e.message) && e.exitCode === 1);
    // exists, but is no bzImage
    await assert.rejects(
      resolveKernel({ kernel: agentBinary() }),
      (e: unknown) => e instanceof ImageError && /not a Linux bzImage/.test(e.message) && e.exitCode === 2,
    );
    await assert.rejects(
      resolveKernel({ kernel: join(work, 'nope') }),
      (e: unknown) => e instanceof ImageError && /does not exist.*TSBENCH_KERNEL/.test(e.message) && e.exitCode === 2,
    );
  } finally {
    process.env['XDG_CACHE_HOME'] = cache;
  }
});

test('modules built for another kernel version are refused', async (t) => {
  if (image.kernel.modulesDir === undefined) return t.skip('the kernel has no modules');
  // A copy of the modules dir whose .ko files claim another version.
  const fake = join(work, 'other-modules');
  await execa('cp', ['-r', image.kernel.modulesDir, fake]);
  const { stdout } = await execa('find', [fake, '-name', '*.ko']);
  for (const ko of stdout.split('\n').filter(Boolean)) {
    const data = await readFile(ko);
    const at = data.indexOf('vermagic=');
    data.write('9', at + 'vermagic='.length, 'latin1'); // "6.1.0-…" becomes "9.1.0-…"
    await writeFile(ko, data);
  }
  await assert.rejects(
    resolveKernel({ kernel: image.kernel.vmlinuz, modules: fake }),
    (e: unknown) => e instanceof ImageError && /is for kernel 9\..* not 6\./.test(e.message),
  );
});
