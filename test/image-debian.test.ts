/**
 * The Debian image, from the user's cache (scripts/setup.sh builds it, so this is
 * a cache hit; on a machine without it, `before` builds it, about 1.5 min): what
 * the container's rootfs, the VM's root disk and the initrd hold, the cache hit,
 * mmdebstrap's failures said in one line, the CLI, and a corrupted entry rebuilt.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { appendFile, lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { execa } from 'execa';
import { ImageError, agentBinary, ensureImage, imagesDir, loadImage, type Image } from '../drivers/image/index.js';
import { DEBIAN_PACKAGES, ensureDebianImage, machineId } from '../drivers/image/debian.js';
import { explainFailure, failureMessage, hostSources } from '../drivers/image/mmdebstrap.js';
import { tsbench } from './helpers/cli.js';

let image: Image;
let work = '';

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tsbench-image-debian-test-'));
  image = await ensureImage({ image: 'debian', log: (line) => console.error(`# ${line}`) });
});

after(async () => {
  if (work !== '') await rm(work, { recursive: true, force: true });
});

const inRootfs = (path: string): string => join(image.rootfs, path);

/** What this process left in the image cache: temporary build trees (named with its pid) and mounts under it. */
async function leftovers(): Promise<string[]> {
  const temps = (await readdir(imagesDir())).filter((n) => n.startsWith('.tmp-') && n.includes(`-${process.pid}-`));
  const mounts = (await readFile('/proc/self/mounts', 'utf8')).split('\n').filter((l) => l.includes(`${imagesDir()}/`));
  return [...temps, ...mounts];
}

/**
 * Every name in an initrd. Debian's may be uncompressed newc archives (early
 * microcode) followed by one compressed archive (gzip or zstd, as initramfs-tools
 * chose): the first are walked header by header here, the last goes through its
 * decompressor and `cpio -t`.
 */
async function initrdNames(path: string): Promise<string[]> {
  const data = await readFile(path);
  const names: string[] = [];
  let at = 0;
  while (data.subarray(at, at + 6).toString() === '070701') {
    const base = at;
    const align = (n: number): number => base + Math.ceil((n - base) / 4) * 4;
    for (;;) {
      // newc: magic, then 13 fields of 8 hex digits; c_filesize is the 7th, c_namesize the 12th.
      const field = (i: number): number => parseInt(data.subarray(at + 6 + i * 8, at + 14 + i * 8).toString(), 16);
      const [fileSize, nameSize] = [field(6), field(11)];
      const name = data.subarray(at + 110, at + 110 + nameSize - 1).toString();
      at = align(align(at + 110 + nameSize) + fileSize);
      if (name === 'TRAILER!!!') break;
      names.push(name);
    }
    while (at < data.length && data[at] === 0) at++;
  }
  if (at < data.length) {
    const gzip = data[at] === 0x1f && data[at + 1] === 0x8b;
    const { stdout } = await execa('sh', ['-c', `tail -c +${at + 1} "$1" | ${gzip ? 'gzip' : 'zstd'} -dc | cpio -t --quiet`, 'sh', path]);
    names.push(...stdout.split('\n').filter(Boolean));
  }
  return names;
}

test('the container rootfs is Debian with systemd as init, the workload tools, busybox and the agent', async () => {
  assert.equal(image.name, 'debian');
  assert.equal(image.boot, 'systemd');
  assert.ok((await lstat(inRootfs('/usr/lib/systemd/systemd'))).isFile());
  assert.equal(await readlink(inRootfs('/sbin/init')), '/lib/systemd/systemd');
  for (const tool of ['/usr/bin/fio', '/usr/bin/sysbench', '/usr/bin/stress-ng', '/bin/busybox'])
    assert.ok((await lstat(inRootfs(tool))).isFile(), `${tool} is in the rootfs`);
  assert.deepEqual(await readFile(inRootfs('/sbin/tsbench-agent')), await readFile(agentBinary()), '/sbin/tsbench-agent is dist/bin/tsbench-agent');
  const osRelease = await readFile(inRootfs('/etc/os-release'), 'utf8');
  assert.match(osRelease, /^ID=debian$/m);
  assert.match(osRelease, /^VERSION_CODENAME=bookworm$/m);
  assert.match(osRelease, /^IMAGE_ID=tsbench-debian$/m);
  assert.match(osRelease, new RegExp(`^IMAGE_VERSION=${image.hash}$`, 'm'));
});

test("the agent unit is enabled, the serial getty masked, fstab, hostname and a fixed machine-id set, and the host's resolver not left behind", async () => {
  assert.equal(await readlink(inRootfs('/etc/systemd/system/multi-user.target.wants/tsbench-agent.service')), '/etc/systemd/system/tsbench-agent.service');
  assert.match(await readFile(inRootfs('/etc/systemd/system/tsbench-agent.service'), 'utf8'), /^ExecStart=\/usr\/sbin\/tsbench-agent --from-cmdline$/m);
  assert.equal(await readlink(inRootfs('/etc/systemd/system/serial-getty@ttyS0.service')), '/dev/null');
  assert.equal(await readFile(inRootfs('/etc/fstab'), 'utf8'), '/dev/vda / ext4 rw,errors=remount-ro 0 1\n');
  assert.equal(await readFile(inRootfs('/etc/hostname'), 'utf8'), 'tsbench-debian\n');
  assert.equal(await readFile(inRootfs('/etc/machine-id'), 'utf8'), `${machineId(image.hash)}\n`);
  assert.match(machineId(image.hash), /^[0-9a-f]{32}$/);
  assert.ok((await lstat(inRootfs('/data'))).isDirectory());
  await assert.rejects(lstat(inRootfs('/etc/resolv.conf')), { code: 'ENOENT' });
});

test('the container rootfs has no kernel: no /boot/vmlinuz-*, no initrd, no /usr/lib/modules/<version>', async () => {
  const boot = await readdir(inRootfs('/boot'));
  assert.deepEqual(
    boot.filter((n) => /^(vmlinuz|initrd\.img|System\.map|config)-/.test(n)),
    [],
  );
  assert.equal(existsSync(inRootfs(`/usr/lib/modules/${image.kernel.version}`)), false);
  assert.equal(existsSync(inRootfs('/vmlinuz')), false);
  const manifest = JSON.parse(await readFile(join(image.dir, 'manifest.json'), 'utf8')) as { rootfsWithout: string[]; packages: string[] };
  assert.ok(manifest.rootfsWithout.includes(`/usr/lib/modules/${image.kernel.version}`));
  assert.deepEqual(manifest.packages, [...DEBIAN_PACKAGES]);
});

test('the root disk holds the whole tree, kernel and modules included, in ext4 with a journal, room to write, and sparse', async () => {
  const debugfs = async (request: string): Promise<string> => (await execa('debugfs', ['-R', request, image.rootDisk])).stdout;
  const boot = await debugfs('ls -l /boot');
  assert.match(boot, new RegExp(`vmlinuz-${image.kernel.version.replace(/\./g, '\\.')}`));
  assert.match(boot, new RegExp(`initrd\\.img-${image.kernel.version.replace(/\./g, '\\.')}`));
  assert.match(await debugfs('ls /usr/lib/modules'), new RegExp(image.kernel.version.replace(/\./g, '\\.')));
  assert.match(await debugfs(`ls /usr/lib/modules/${image.kernel.version}/kernel/drivers/block`), /virtio_blk\.ko/);
  const header = (await execa('dumpe2fs', ['-h', image.rootDisk])).stdout;
  assert.match(header, /^Filesystem features:.*\bhas_journal\b/m);
  assert.match(header, /^Filesystem volume name:\s+tsbench-debian$/m);
  const free = Number(/^Free blocks:\s+(\d+)/m.exec(header)?.[1]) * Number(/^Block size:\s+(\d+)/m.exec(header)?.[1]);
  assert.ok(free >= 128 * 2 ** 20, `${free} bytes free`);
  const st = await lstat(image.rootDisk);
  assert.equal(st.size, image.sizes.rootDiskBytes);
  assert.ok(st.blocks * 512 < st.size, 'sparse');
  assert.ok(image.sizes.modulesBytes > 10e6, 'modules measured');
});

test('the initrd made inside the image carries both tsbench marks, and vmlinuz is the tree’s kernel', async () => {
  const names = await initrdNames(image.initramfs);
  assert.ok(names.includes('scripts/init-top/tsbench-mark'), 'init-top mark');
  assert.ok(names.includes('scripts/init-bottom/tsbench-mark'), 'init-bottom mark');
  assert.ok(
    names.some((n) => n.endsWith('/virtio_blk.ko')),
    'MODULES=most: the disk driver is in it',
  );
  const head = await readFile(image.kernel.vmlinuz);
  assert.equal(head.subarray(0x202, 0x206).toString(), 'HdrS', 'a bzImage');
  assert.equal(basename(image.kernel.vmlinuz), 'vmlinuz');
});

test('a second ensureImage is a cache hit: same hash, same entry, under a second', async (t) => {
  await ensureImage({ image: 'debian' }); // the memo of root.ext4's hash is warm after this one
  const started = process.hrtime.bigint();
  const again = await ensureImage({ image: 'debian' });
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  t.diagnostic(`cache hit ${ms.toFixed(0)} ms`);
  assert.equal(again.hash, image.hash);
  assert.equal(again.dir, image.dir);
  assert.ok(ms < 1000, `${ms} ms`);
  assert.deepEqual(await loadImage({ image: 'debian' }), again);
});

test('image info --image debian prints the container rootfs, the VM disk, the kernel and the initrd', async () => {
  const r = await tsbench(['image', 'info', '--image', 'debian']);
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^debian image ${image.hash}$`, 'm'));
  assert.match(r.stdout, /rootfs \(container image: the tree minus the kernel\)\s+\d+\.\d MB/);
  assert.match(r.stdout, /root disk \(root\.ext4, ext4, the whole tree\)\s+\d+\.\d MB/);
  assert.match(r.stdout, /of which kernel modules \(\/usr\/lib\/modules\)\s+\d+\.\d MB/);
  assert.match(r.stdout, /stored \(allocated; the rest is free space\)\s+\d+\.\d MB/);
  assert.match(r.stdout, /of which initrd \(a copy: initrd\.img, made by initramfs-tools\)\s+\d+\.\d MB/);
  assert.match(r.stdout, new RegExp(`of which kernel ${image.kernel.version.replace(/\./g, '\\.')} \\(a copy: vmlinuz\\)\\s+\\d+\\.\\d MB`));
  assert.match(r.stdout, /VM image \(the disk as stored; claim C4\)\s+\d+\.\d MB/);
  assert.doesNotMatch(r.stdout, /lean image|stock kernel/);
});

test('image info with an unknown --image exits 2 with one line naming the valid images', async () => {
  const r = await tsbench(['image', 'info', '--image', 'bogus']);
  assert.equal(r.exitCode, 2, r.stderr);
  assert.match(r.stderr, /--image: unknown image 'bogus'; valid images: lean, debian, or all/);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
});

test("a failed mmdebstrap's output is read for its step and for the package or source to blame", async () => {
  const sources = join(work, 'mirror.list');
  await writeFile(sources, 'deb [arch=amd64] http://127.0.0.1:9/debian bookworm main\n');
  const fetched = explainFailure(
    [
      'I: downloading packages with apt...',
      'E: Failed to fetch http://127.0.0.1:9/debian/pool/main/f/fio/fio_3.33-3_amd64.deb  404  Not Found',
      'E: setup failed: E: apt-get --yes install failed',
      'E: mmdebstrap failed to run',
    ],
    [sources],
  );
  assert.deepEqual(fetched, {
    step: 'downloading packages with apt',
    blame: 'could not download package fio (http://127.0.0.1:9/debian/pool/main/f/fio/fio_3.33-3_amd64.deb)',
    detail: 'E: Failed to fetch http://127.0.0.1:9/debian/pool/main/f/fio/fio_3.33-3_amd64.deb  404  Not Found',
  });
  assert.equal(
    failureMessage(fetched, 'exit 25 after 3.0 s'),
    'building the Debian image failed while downloading packages with apt (mmdebstrap exit 25 after 3.0 s): could not download package fio ' +
      '(http://127.0.0.1:9/debian/pool/main/f/fio/fio_3.33-3_amd64.deb); apt said: E: Failed to fetch http://127.0.0.1:9/debian/pool/main/f/fio/fio_3.33-3_amd64.deb  404  Not Found',
  );
  const candidate = explainFailure(
    ['I: installing remaining packages inside the chroot...', "E: Package 'fio' has no installation candidate", 'E: mmdebstrap failed to run'],
    [sources],
  );
  assert.equal(candidate.step, 'installing remaining packages inside the chroot');
  assert.match(candidate.blame ?? '', /^package fio has no installation candidate/);
  const unreachable = explainFailure(
    ['I: running apt-get update...', 'E: Failed to fetch http://127.0.0.1:9/debian/dists/bookworm/InRelease  Connection refused'],
    [sources],
  );
  assert.equal(unreachable.blame, `could not reach the package source http://127.0.0.1:9/debian (from ${sources})`);
  // The last E: line of apt's own, when nothing names a package or a source.
  assert.deepEqual(
    explainFailure(['I: extracting archives...', 'E: Sub-process /usr/bin/dpkg returned an error code (1)', 'E: mmdebstrap failed to run'], [sources]),
    {
      step: 'extracting archives',
      blame: undefined,
      detail: 'E: Sub-process /usr/bin/dpkg returned an error code (1)',
    },
  );
});

test('the host apt sources are its sources.list when it names something and every .sources and .list file, and none is an error (exit 2)', async () => {
  const apt = join(work, 'apt');
  await mkdir(join(apt, 'sources.list.d'), { recursive: true });
  await writeFile(join(apt, 'sources.list'), '# nothing but a comment\n');
  await writeFile(join(apt, 'sources.list.d', 'b.list.disabled'), 'deb http://127.0.0.1:9/debian bookworm main\n');
  assert.throws(
    () => hostSources(apt),
    (e: unknown) => e instanceof ImageError && e.exitCode === 2 && /no apt sources on this host/.test(e.message),
  );
  await writeFile(join(apt, 'sources.list.d', 'a.sources'), 'Types: deb\nURIs: http://127.0.0.1:9/debian\nSuites: bookworm\nComponents: main\n');
  await writeFile(join(apt, 'sources.list.d', 'c.list'), 'deb http://127.0.0.1:9/debian bookworm main\n');
  assert.deepEqual(hostSources(apt), [join(apt, 'sources.list.d', 'a.sources'), join(apt, 'sources.list.d', 'c.list')]);
  await writeFile(join(apt, 'sources.list'), 'deb http://127.0.0.1:9/debian bookworm main\n');
  assert.equal(hostSources(apt)[0], join(apt, 'sources.list'));
});

test('a package apt cannot find fails in seconds, naming the package and the step, exit 1, leaving nothing behind', async (t) => {
  const started = Date.now();
  await assert.rejects(ensureDebianImage({ extraPackages: ['tsbench-no-such-package'] }), (e: unknown) => {
    assert.ok(e instanceof ImageError);
    t.diagnostic(e.message);
    assert.equal(e.exitCode, 1);
    assert.match(
      e.message,
      /^building the Debian image failed while checking that apt finds every package asked for .*: no package tsbench-no-such-package in the package sources/,
    );
    assert.match(e.message, /apt said: E: Unable to locate package tsbench-no-such-package$/);
    assert.ok(!e.message.includes('\n'), 'one line');
    assert.ok(Array.isArray((e.cause as { tail?: unknown }).tail), 'the last lines are in the cause');
    return true;
  });
  t.diagnostic(`failed after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  assert.ok(Date.now() - started < 60_000);
  assert.deepEqual(await leftovers(), []);
});

test('an unreachable package source fails naming the source and its file, exit 1, leaving nothing behind', async (t) => {
  // Loopback, port 9 (discard): refused at once, and never anything off this machine.
  const sources = join(work, 'unreachable.sources');
  await writeFile(sources, 'Types: deb\nURIs: http://127.0.0.1:9/debian\nSuites: bookworm\nComponents: main\n');
  const started = Date.now();
  await assert.rejects(ensureDebianImage({ sources: [sources] }), (e: unknown) => {
    assert.ok(e instanceof ImageError);
    t.diagnostic(e.message);
    assert.equal(e.exitCode, 1);
    assert.match(
      e.message,
      /failed while running apt-get update .*: could not reach the package source http:\/\/127\.0\.0\.1:9\/debian \(from .*unreachable\.sources\)/,
    );
    assert.match(e.message, /apt said: E: Failed to fetch http:\/\/127\.0\.0\.1:9\/debian\/dists\/bookworm\/InRelease/);
    return true;
  });
  t.diagnostic(`failed after ${((Date.now() - started) / 1000).toFixed(1)} s`);
  assert.ok(Date.now() - started < 60_000);
  assert.deepEqual(await leftovers(), []);
});

test('a corrupted initrd is refused with the fix named, and ensureImage rebuilds the entry', async (t) => {
  await appendFile(image.initramfs, 'x');
  await assert.rejects(
    loadImage({ image: 'debian' }),
    (e: unknown) => e instanceof ImageError && /^image .* is corrupt \(initrd\.img is changed\): run tsbench image build --image debian$/.test(e.message),
  );
  const lines: string[] = [];
  const started = Date.now();
  const rebuilt = await ensureImage({ image: 'debian', log: (line) => lines.push(line) });
  t.diagnostic(`rebuilt in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  assert.ok(
    lines.some((l) => /corrupt \(initrd\.img is changed\).*; rebuilding$/.test(l)),
    lines.join('\n'),
  );
  assert.ok(
    lines.some((l) => /^\[debian [\d.]+ s\] installing essential packages/.test(l)),
    'mmdebstrap steps are logged with the time',
  );
  assert.equal(rebuilt.hash, image.hash);
  assert.ok((await initrdNames(rebuilt.initramfs)).includes('scripts/init-top/tsbench-mark'));
  assert.deepEqual(await loadImage({ image: 'debian' }), rebuilt);
  assert.deepEqual(await leftovers(), []);
});
