/**
 * The nested KVM test host: a TCG virtual machine whose emulated CPU (`-cpu max`) has AMD's SVM,
 * so that its kernel loads kvm_amd and gets a real /dev/kvm. Inside it, tsbench's `kvm` targets
 * boot their guests with `-accel kvm`: the very code path a KVM host runs, on any machine with
 * QEMU — here, where the host's own /dev/kvm (kvm_pvm) runs no standard guest, and in CI.
 *
 * What it proves and what it does not: the KVM path works (the probe, `-cpu host`, the boot phases,
 * container-in-kvm, the guest's limits, the clean-up). Its timings are not KVM figures: every
 * instruction of the nested guest is still emulated by the outer TCG. tsbench sees that for itself
 * (bench/host.ts `nestedUnder`: the CPU's model is "QEMU TCG CPU"), records it in every result
 * made inside, and the claims never take such timings as KVM evidence.
 *
 * The machine, all from what scripts/setup.sh installs:
 * - kernel: Debian's cloud kernel from tsbench's kernel cache, with the KVM modules it keeps
 *   (drivers/image/kernel.ts KVM_MODULES); a tiny initramfs (busybox and the virtio/ext4 modules)
 *   mounts the root disk and switches to it;
 * - root disk (virtio-blk, ext4, attached `snapshot=on` so the cached disk never changes): busybox,
 *   node with its libraries, the built tsbench (dist/ and the production node_modules), QEMU with
 *   its libraries and firmware, e2fsprogs, the image's tools, and tsbench's cache with the lean
 *   image, the cloud kernel and the lean kernel; cached under `$cache/testhost/<hash>` by the hash
 *   of all of it;
 * - an io disk (ext4, made per run): the job script in, the files it writes to /io/out back out
 *   (read on the host with debugfs, no mount).
 * The guest is a pure cgroup v2 host (`cgroup_no_v1=all`, every controller enabled at the root).
 */
import { createHash } from 'node:crypto';
import { existsSync, realpathSync } from 'node:fs';
import { chmod, copyFile, lstat, mkdir, readFile, readdir, readlink, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { atExit } from '../../core/exit.js';
import { apparentBytes, appendCpio, BUSYBOX, fileEntry, materialize, planImage, sharedLibraries, type Entry } from '../../drivers/image/build.js';
import { cacheDir, sha256Inputs, tempSibling } from '../../drivers/image/cache.js';
import { agentBinary, launcherBinary, loadImage } from '../../drivers/image/index.js';
import { missingModules, resolveKernel, selectModules, type Kernel } from '../../drivers/image/kernel.js';
import { resolveLeanKernel } from '../../drivers/image/lean-kernel.js';
import { buildQemuArgs, QEMU_BINARY } from '../../drivers/qemu/cmdline.js';
import { hostTscKhz } from '../../drivers/qemu/host.js';
import { makeOwnedDir, record } from '../../drivers/ownership.js';

/** Bump when the layout of the test host changes, so that old cached disks are not reused. */
const TESTHOST_VERSION = 2;

/** Where things are inside the test host. */
export const GUEST = {
  tsbench: '/opt/tsbench',
  io: '/io',
  out: '/io/out',
} as const;

/** A test host ready to boot, or why there is none. */
export type TestHost = {
  hash: string;
  dir: string;
  kernel: string;
  initramfs: string;
  rootDisk: string;
  /** Whether the disk came from the cache. */
  cached: boolean;
  /** Milliseconds assembling took (a cache hit: checking the inputs only). */
  assembleMs: number;
};

export type TestHostUnavailable = { unavailable: string };

const root = fileURLToPath(new URL('../../..', import.meta.url)); // dist/test/helpers → the checkout

/** The directory QEMU's firmware is read from; its entries are links into seabios/ipxe, copied as their content. */
const QEMU_DATA = '/usr/share/qemu';
/** QEMU's loadable modules (Debian builds TCG as one). */
const QEMU_MODULES = '/usr/lib/x86_64-linux-gnu/qemu';
const E2FSPROGS = ['/usr/sbin/mke2fs', '/usr/sbin/e2fsck', '/usr/sbin/resize2fs', '/usr/sbin/debugfs'];
const BASH = ['/bin/bash', '/usr/bin/ldd'];
/** The net scenario's host side: iproute2's ip (netns, tuntap) and util-linux's nsenter, not busybox's applets. */
const NET_TOOLS = ['/usr/sbin/ip', '/usr/bin/nsenter'];
/** The OCI runtimes the container-level tests run on the pure v2 host, where they are installed here, util-linux's unshare and setpriv, which hold their private mount namespace, its ipcmk and ipcrm (the isolation scenario's SysV segment), and criu with GNU tar, which dumps a container's tmpfs mounts (runc-restore, run in the KVM host: Debian's 6.1 kernel). */
const RUNTIMES = ['/usr/sbin/runc', '/usr/bin/crun', '/usr/bin/unshare', '/usr/bin/setpriv', '/usr/bin/ipcmk', '/usr/bin/ipcrm', '/usr/sbin/criu', '/bin/tar'];
/**
 * systemd as the test host's PID 1 when a run asks for it (`init: 'systemd'`): the manager, the tools
 * tsbench uses to get a delegated scope (systemd-run; coreutils' tail, whose --pid busybox's lacks) and
 * systemctl to look at the units.
 */
const SYSTEMD = ['/lib/systemd/systemd', '/usr/bin/systemd-run', '/usr/bin/systemctl', '/usr/bin/tail'];
/**
 * Docker, where installed here (scripts/setup.sh installs docker.io): the v2 host runs a daemon with its defaults,
 * which on a pure v2 host run by systemd means the systemd cgroup driver. The KVM host starts none (its probe says so).
 */
const DOCKER = ['/usr/sbin/dockerd', '/usr/bin/docker', '/usr/bin/containerd', '/usr/bin/containerd-shim-runc-v2'];

/**
 * The entries of a host tree, under `guestDir`: files with their content, directories, and — unless
 * `follow` — symbolic links and character devices as they are (an image's rootfs has both); with
 * `follow`, a link is copied as what it points to (QEMU's firmware links into other packages).
 */
async function treeEntries(hostDir: string, guestDir: string, opts: { follow?: boolean; filter?: (rel: string) => boolean } = {}): Promise<Entry[]> {
  const out: Entry[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const name of (await readdir(join(hostDir, rel))).sort()) {
      const at = join(rel, name);
      if (opts.filter && !opts.filter(at)) continue;
      const src = join(hostDir, at);
      const path = join(guestDir, at);
      const st = opts.follow === true ? await stat(src).catch(() => undefined) : await lstat(src);
      if (st === undefined) continue; // a dangling link
      if (st.isDirectory()) {
        out.push({ kind: 'dir', path });
        await walk(at);
      } else if (st.isFile()) out.push(await fileEntry(path, src));
      else if (st.isSymbolicLink()) out.push({ kind: 'symlink', path, target: await readlink(src) });
      else if (st.isCharacterDevice()) out.push({ kind: 'chardev', path, major: Math.floor(st.rdev / 256) & 0xfff, minor: st.rdev & 0xff });
    }
  };
  await walk('');
  return out;
}

/** The packages of package-lock.json that `npm ci --omit=dev` installs: what tsbench needs at run time. */
async function productionModules(): Promise<string[]> {
  const lock = JSON.parse(await readFile(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  return Object.entries(lock.packages)
    .filter(([path, p]) => path.startsWith('node_modules/') && p.dev !== true)
    .map(([path]) => path);
}

/** A host file at the same path in the guest, with its shared libraries. */
async function binaryWithLibraries(path: string): Promise<Entry[]> {
  const real = realpathSync(path);
  const entries = [await fileEntry(path, real)];
  for (const lib of await sharedLibraries(real)) entries.push(await fileEntry(lib, lib));
  return entries;
}

const script = (path: string, content: string): Entry => ({ kind: 'text', path, content });

/** The initramfs's /init: the virtio and ext4 modules, the root disk, then the root disk's init (systemd with `tsbench.init=systemd`). */
function initramfsInit(kernel: Kernel, modules: string[]): string {
  return `#!/bin/busybox sh
# tsbench test host, stage 1: mount the root disk (its drivers are modules) and switch to it.
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t devtmpfs dev /dev
for m in ${modules.map((m) => `/lib/modules/${kernel.version}/${m}`).join(' ')}; do
  /bin/busybox insmod "$m" || echo "testhost: insmod $m failed"
done
i=0
while [ ! -b /dev/vda ] && [ $i -lt 200 ]; do /bin/busybox sleep 0.05; i=$((i + 1)); done
/bin/busybox mount -t ext4 /dev/vda /newroot || { echo "testhost: cannot mount the root disk /dev/vda"; /bin/busybox reboot -f; }
init=/sbin/testhost-init
/bin/busybox grep -qw tsbench.init=systemd /proc/cmdline && init=/lib/systemd/systemd
/bin/busybox umount /proc
/bin/busybox umount /dev
exec /bin/busybox switch_root /newroot $init
`;
}

/**
 * The root disk's init: a pure cgroup v2 host with every controller, /dev/kvm from kvm_amd, then
 * the job from the io disk, its output on the console and in /io/out/console.log, its exit code
 * in /io/out/exit-code. /io/out/facts says what the host found before the job ran.
 */
function rootInit(kernel: Kernel, modules: string[], leanKernelDir: string): string {
  return `#!/bin/sh
# tsbench test host, stage 2 (test/helpers/testhost.ts).
export PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME=/root XDG_CACHE_HOME=${dirname(cacheDir())}
export TSBENCH_LEAN_KERNEL=${leanKernelDir}
# OpenSSL's AVX2 SHA-256 is 2.5x slower than its plain code under TCG's AVX2 emulation (measured: 111 MB in
# 6.8 s against 2.8 s), and tsbench hashes its image inputs once per boot: leave AVX2 (leaf 7 EBX bit 5) out.
export OPENSSL_ia32cap=:~0x20
# Under systemd (the unit testhost.service runs this with "systemd") the manager has mounted everything and owns
# the cgroup tree; alone, this init mounts them and enables every controller at the root.
if [ "$1" != systemd ]; then
  mount -t proc proc /proc
  mount -t sysfs sysfs /sys
  mount -t devtmpfs dev /dev
  mkdir -p /dev/pts /dev/shm
  mount -t devpts devpts /dev/pts
  mount -t tmpfs tmpfs /dev/shm
  mount -t tmpfs tmpfs /run
  mount -t cgroup2 cgroup2 /sys/fs/cgroup
  for c in $(cat /sys/fs/cgroup/cgroup.controllers); do echo "+$c" > /sys/fs/cgroup/cgroup.subtree_control; done
  hostname tsbench-testhost
  ifconfig lo 127.0.0.1 up
fi
kvm_log=
for m in ${modules.map((m) => `/lib/modules/${kernel.version}/${m}`).join(' ')}; do
  kvm_log="$kvm_log$(insmod "$m" 2>&1)"
done
i=0
while [ ! -b /dev/vdb ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
mkdir -p ${GUEST.io}
mount -t ext4 /dev/vdb ${GUEST.io} || { echo "testhost: cannot mount the io disk /dev/vdb"; reboot -f; }
mkdir -p ${GUEST.out}
{
  echo "svm=$(grep -qw svm /proc/cpuinfo && echo yes || echo no)"
  echo "kvm=$([ -c /dev/kvm ] && echo yes || echo no)"
  echo "kvmModules=$(cat /proc/modules | cut -d' ' -f1 | grep -E '^kvm' | tr '\\n' ' ')"
  echo "vhostNet=$([ -c /dev/vhost-net ] && echo yes || echo no)"
  echo "insmod=$kvm_log"
  echo "cpuModel=$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')"
  echo "cgroup=$(cat /sys/fs/cgroup/cgroup.subtree_control)"
  echo "cgroupControllers=$(cat /sys/fs/cgroup/cgroup.controllers)"
  echo "cgroupMounts=$(grep -c -E ' cgroup2? ' /proc/mounts)"
  echo "pid1=$(cat /proc/1/comm)"
  echo "kernel=$(uname -r)"
} > ${GUEST.out}/facts
echo "testhost: ready"
cd ${GUEST.out}
( sh ${GUEST.io}/job.sh; echo $? > ${GUEST.out}/exit-code ) 2>&1 | tee ${GUEST.out}/console.log
echo "testhost: job exited $(cat ${GUEST.out}/exit-code)"
cd /
kill -KILL -1 2> /dev/null # whatever the job left running, so that the io disk unmounts cleanly
sleep 0.2
sync
umount ${GUEST.io}
reboot -f
`;
}

/** Everything the test host holds, its initramfs, and the hash of all of it. */
async function plan(carry: readonly string[] = []): Promise<{ hash: string; rootfs: Entry[]; initramfs: Entry[]; kernel: Kernel } | TestHostUnavailable> {
  const kernel = await resolveKernel().catch((e: unknown) => ({ error: (e as Error).message }));
  if ('error' in kernel) return { unavailable: `no guest kernel for the test host: ${kernel.error}` };
  if (kernel.modulesDir === undefined) return { unavailable: `the cached kernel ${kernel.version} has no modules directory, so no KVM modules to load` };
  const missing = await missingModules(kernel.modulesDir, 'kvm');
  if (missing.length > 0)
    return { unavailable: `the cached kernel ${kernel.version} lacks ${missing.join(', ')}: run tsbench kernel fetch (Debian's cloud kernel has them)` };
  const lean = await resolveLeanKernel().catch((e: unknown) => ({ error: (e as Error).message }));
  if ('error' in lean) return { unavailable: `no lean kernel: ${lean.error}` };
  const image = await loadImage().catch((e: unknown) => ({ error: (e as Error).message }));
  if ('error' in image) return { unavailable: `no workload image: ${image.error}` };
  if (!existsSync(join(root, 'dist', 'cli', 'main.js'))) return { unavailable: 'tsbench is not built: run npm run build' };
  const qemu = (await execa('sh', ['-c', `command -v ${QEMU_BINARY}`], { reject: false })).stdout.trim();
  if (qemu === '') return { unavailable: `${QEMU_BINARY} is not installed: apt-get install qemu-system-x86` };

  const rootfs: Entry[] = ['/proc', '/sys', '/dev', '/tmp', '/run', '/root', '/newroot', GUEST.io, '/var/tmp', '/usr/local/bin', '/sbin', '/bin'].map(
    (path) => ({ kind: 'dir', path }),
  );
  rootfs.push({ kind: 'chardev', path: '/dev/console', major: 5, minor: 1 });
  // busybox for the shell and the init's tools, every applet but those a real binary below provides
  const { stdout: applets } = await execa(BUSYBOX, ['--list']);
  const real = new Set([
    'bash',
    'ldd',
    'mke2fs',
    'mkfs.ext2',
    'e2fsck',
    'resize2fs',
    'debugfs',
    'busybox',
    'ip',
    'nsenter',
    'tail',
    'unshare',
    'setpriv',
    'ipcmk',
    'ipcrm',
    'tar',
  ]);
  for (const a of applets.split('\n').filter((x) => x !== '' && !real.has(x))) rootfs.push({ kind: 'symlink', path: `/bin/${a}`, target: 'busybox' });
  rootfs.push({ kind: 'symlink', path: '/sbin/mkfs.ext4', target: 'mke2fs' });
  // what `loadImage` plans with (busybox, the tools and their libraries, at their host paths), so the image in the cache is found
  const imagePlan = await planImage(kernel, agentBinary(), launcherBinary());
  const seen = new Set<string>();
  const add = (es: Entry[]): void => {
    for (const e of es) {
      if (seen.has(e.path)) continue;
      seen.add(e.path);
      rootfs.push(e);
    }
  };
  add(imagePlan.rootfs.filter((e) => e.kind === 'file' && e.path !== '/sbin/tsbench-agent' && e.path !== '/sbin/tsbench-launch'));
  add(await binaryWithLibraries(process.execPath).then((es) => es.map((e, i) => (i === 0 ? { ...e, path: '/usr/bin/node' } : e))));
  add(await binaryWithLibraries(qemu).then((es) => es.map((e, i) => (i === 0 ? { ...e, path: `/usr/bin/${QEMU_BINARY}` } : e))));
  for (const tool of [...E2FSPROGS, ...BASH, ...NET_TOOLS, ...RUNTIMES, ...SYSTEMD]) if (existsSync(tool)) add(await binaryWithLibraries(tool));
  if (DOCKER.every((tool) => existsSync(tool))) for (const tool of DOCKER) add(await binaryWithLibraries(tool));
  for (const path of carry) add(await binaryWithLibraries(path));
  add(await treeEntries(QEMU_DATA, QEMU_DATA, { follow: true }));
  if (existsSync(QEMU_MODULES)) add(await treeEntries(QEMU_MODULES, QEMU_MODULES, { filter: (rel) => rel.startsWith('accel-') }));
  // tsbench: package.json, dist/ less the tests, the production node_modules
  add([await fileEntry(join(GUEST.tsbench, 'package.json'), join(root, 'package.json'))]);
  add(await treeEntries(join(root, 'dist'), join(GUEST.tsbench, 'dist'), { filter: (rel) => rel !== 'test' }));
  for (const pkg of await productionModules()) add(await treeEntries(join(root, pkg), join(GUEST.tsbench, pkg), { filter: (rel) => rel !== 'node_modules' })); // nested ones are entries of their own
  rootfs.push(script('/usr/local/bin/tsbench', `#!/bin/sh\nexec node ${GUEST.tsbench}/dist/cli/main.js "$@"\n`));
  // tsbench's cache: the lean image, the cloud kernel (current) and the lean kernel, at the host's own paths (an image's
  // manifest names its kernel by absolute path), the init's XDG_CACHE_HOME set to match
  add(await treeEntries(image.dir, image.dir));
  const kernelDir = dirname(kernel.vmlinuz);
  add(await treeEntries(kernelDir, kernelDir));
  rootfs.push({ kind: 'symlink', path: join(dirname(kernelDir), 'current'), target: relative(dirname(kernelDir), kernelDir) });
  add(await treeEntries(lean.dir, lean.dir));
  // the modules a KVM host loads, and overlayfs for tsbench's own container, from the kernel cache's tree
  const hostModules = [...(await selectModules(kernel.modulesDir, { set: 'container' })), ...(await selectModules(kernel.modulesDir, { set: 'kvm' }))];
  for (const m of hostModules) add([await fileEntry(`/lib/modules/${kernel.version}/${m}`, join(kernel.modulesDir, m))]);
  rootfs.push(script('/etc/passwd', 'root:x:0:0:root:/root:/bin/sh\n'));
  rootfs.push(script('/etc/group', 'root:x:0:\n'));
  rootfs.push(script('/etc/hostname', 'tsbench-testhost\n'));
  rootfs.push(await fileEntry('/etc/os-release', '/etc/os-release'));
  rootfs.push(script('/sbin/testhost-init', rootInit(kernel, hostModules, lean.dir)));
  // systemd as PID 1 (tsbench.init=systemd): it starts just this unit (systemd.unit=), which runs the same init's job part
  rootfs.push(
    script(
      '/etc/systemd/system/testhost.service',
      '[Unit]\nDescription=tsbench test host job\nDefaultDependencies=no\n\n[Service]\nType=oneshot\nExecStart=/sbin/testhost-init systemd\nStandardOutput=tty\nStandardError=tty\nTTYPath=/dev/ttyS0\n',
    ),
  );
  rootfs.push(script('/etc/machine-id', ''));

  const initramfs: Entry[] = ['/proc', '/sys', '/dev', '/newroot', '/bin'].map((path) => ({ kind: 'dir', path }));
  initramfs.push({ kind: 'chardev', path: '/dev/console', major: 5, minor: 1 });
  initramfs.push(await fileEntry('/bin/busybox', BUSYBOX));
  const bootModules = await selectModules(kernel.modulesDir);
  for (const m of bootModules) initramfs.push(await fileEntry(`/lib/modules/${kernel.version}/${m}`, join(kernel.modulesDir, m)));
  initramfs.push(script('/init', initramfsInit(kernel, bootModules)));

  const files = [...rootfs, ...initramfs].filter((e): e is Extract<Entry, { kind: 'file' }> => e.kind === 'file');
  const sums = await contentSums([kernel.vmlinuz, ...files.map((e) => e.src)]);
  const hash = createHash('sha256').update(JSON.stringify({ version: TESTHOST_VERSION, vmlinuz: sums[0] }));
  files.forEach((e, i) => hash.update(`${e.path} ${e.mode} ${sums[i + 1]}\n`));
  for (const e of [...rootfs, ...initramfs]) if (e.kind !== 'file') hash.update(JSON.stringify(e) + '\n');
  return { hash: hash.digest('hex').slice(0, 24), rootfs, initramfs, kernel };
}

/**
 * SHA-256 of every input: files of 1 MiB and more through the image builder's memo (node, QEMU, the
 * disks and kernels: not read again while unchanged), the thousands of small ones (dist/,
 * node_modules) read directly, which is quicker than growing the memo every tsbench command reads.
 */
async function contentSums(paths: string[]): Promise<string[]> {
  const sizes = await Promise.all(paths.map(async (p) => (await stat(p)).size));
  const big = paths.filter((_, i) => (sizes[i] ?? 0) >= 2 ** 20);
  const bigSums = new Map((await sha256Inputs(big)).map((sum, i) => [big[i], sum]));
  return Promise.all(
    paths.map(
      async (p) =>
        bigSums.get(p) ??
        createHash('sha256')
          .update(await readFile(p))
          .digest('hex'),
    ),
  );
}

/** The test hosts' cache: `$cache/testhost/<hash>/` with root.ext4, initramfs.cpio and a copy of the kernel. */
export function testhostCacheDir(): string {
  return join(cacheDir(), 'testhost');
}

/**
 * The test host for the current tsbench, kernel, image and tools: from the cache, or assembled
 * (tens of seconds: the root disk is ~300 MB) and cached by the hash of all its inputs. Older
 * entries are removed. Resolves with why not when a part is missing (the caller skips with it).
 */
export async function assembleTestHost(
  log: (line: string) => void = () => {},
  /** binaries to carry too, each with its libraries, at its host path (a check by hand: docker's, podman's); another disk */
  carry: readonly string[] = [],
): Promise<TestHost | TestHostUnavailable> {
  const started = performance.now();
  const p = await plan(carry);
  if ('unavailable' in p) return p;
  const dir = join(testhostCacheDir(), p.hash);
  const found = (cached: boolean): TestHost => ({
    hash: p.hash,
    dir,
    kernel: join(dir, 'vmlinuz'),
    initramfs: join(dir, 'initramfs.cpio'),
    rootDisk: join(dir, 'root.ext4'),
    cached,
    assembleMs: performance.now() - started,
  });
  if (existsSync(join(dir, 'done'))) return found(true);
  log(`assembling the test host ${p.hash}`);
  const tmp = await tempSibling(dir);
  try {
    const tree = join(tmp, 'tree');
    await materialize(tree, p.rootfs);
    for (const e of p.rootfs)
      if (e.kind === 'text' && (e.path.startsWith('/sbin/') || e.path.startsWith('/usr/local/bin/'))) await chmod(join(tree, e.path), 0o755);
    const bytes = await apparentBytes(tree);
    // 1 GiB free for what runs inside (scratch dirs, QEMU's overlays, results); the file stays sparse.
    await execa('truncate', ['-s', String(Math.ceil((bytes * 1.3 + 2 ** 30) / 2 ** 20) * 2 ** 20), join(tmp, 'root.ext4')]);
    await execa('mkfs.ext4', [
      '-q',
      '-b',
      '4096',
      '-m',
      '0',
      '-O',
      '^has_journal',
      '-E',
      'root_owner=0:0',
      '-L',
      'tsbench-testhost',
      '-d',
      tree,
      join(tmp, 'root.ext4'),
    ]);
    await rm(tree, { recursive: true, force: true });
    const init = join(tmp, 'initramfs');
    await materialize(init, p.initramfs);
    await chmod(join(init, 'init'), 0o755);
    await appendCpio(init, join(tmp, 'initramfs.cpio'));
    await rm(init, { recursive: true, force: true });
    await copyFile(p.kernel.vmlinuz, join(tmp, 'vmlinuz'));
    await writeFile(join(tmp, 'done'), `${JSON.stringify({ hash: p.hash, kernel: p.kernel.version, bytes }, null, 2)}\n`);
    for (const old of await readdir(testhostCacheDir())) if (!old.startsWith('.')) await rm(join(testhostCacheDir(), old), { recursive: true, force: true });
    await rename(tmp, dir);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return found(false);
}

/**
 * The test host's CPU: TCG's `max` (AMD, with SVM). Tried and dropped: `max,xsave=off` (and without AVX too)
 * made the test host's kernel panic while nested guests booted; `max,pku=off` ended the test host the same way;
 * `-accel tcg,thread=single` kept four nested stock boots alive but too slow to end in 100 s.
 */
export const TESTHOST_CPU = 'max';

/**
 * One vCPU. With two, nested guests of Debian's kernel hung now and then (2 of 4 booted at once; one of the
 * suite's stock-VM boots in about eight, alone), as if TCG's SVM emulation lost a guest's state when KVM
 * moves it from one vCPU to the other — one hung guest said "XSAVE consistency problem", and with
 * `-cpu max,xsave=off` the test host's own kernel panicked instead. With one vCPU, 4 and then 6 such boots
 * at once all finished (measured); tsbench inside waits on its VMs anyway, so one vCPU costs little.
 */
export const TESTHOST_CPUS = 1;

export interface RunOptions {
  /** The job: a POSIX shell script run in /io/out (its files come back). */
  script: string;
  /** Kill the test host after this many ms; the result then says timedOut with the console tail. */
  timeoutMs: number;
  /** @default 2048 */
  memoryMiB?: number;
  /** @default TESTHOST_CPUS */
  cpus?: number;
  /** Extra kernel parameters. */
  append?: string[];
  /** `-cpu`. @default TESTHOST_CPU */
  cpu?: string;
  /** PID 1: the test host's own init (a bare pure v2 host), or systemd (a pure v2 host systemd manages). @default 'init' */
  init?: 'init' | 'systemd';
  signal?: AbortSignal;
}

export interface RunResult {
  /** The job's exit code; undefined when it did not finish (timeout, crash). */
  exitCode?: number;
  timedOut: boolean;
  /** The whole console: the kernel's messages, the init's and the job's output. */
  console: string;
  /** Its last lines, for failure messages. */
  consoleTail: string;
  /** What the host found before the job: svm, kvm, kvmModules, insmod, cpuModel, cgroup, kernel. */
  facts: Record<string, string>;
  /** A directory holding the job's /io/out; removed by `dispose`. */
  out: string;
  wallMs: number;
  dispose(): Promise<void>;
}

/** Reads a file the job wrote, or undefined. */
export async function readOut(result: RunResult, name: string): Promise<string | undefined> {
  return readFile(join(result.out, name), 'utf8').catch(() => undefined);
}

/**
 * Boots the test host, runs `script` inside, and brings back its files, exit code and console.
 * The host's qemu runs in its own process group, recorded for tsbench's sweep and killed on exit.
 */
export async function runInTestHost(host: TestHost, opts: RunOptions): Promise<RunResult> {
  const scratch = await makeOwnedDir(join(tmpdir(), 'tsbench-testhost-'));
  const dispose = (): Promise<void> => rm(scratch, { recursive: true, force: true });
  try {
    const staging = join(scratch, 'io');
    await mkdir(join(staging, 'out'), { recursive: true });
    await writeFile(join(staging, 'job.sh'), opts.script);
    const io = join(scratch, 'io.ext4');
    await execa('truncate', ['-s', '512M', io]);
    await execa('mkfs.ext4', ['-q', '-F', '-E', 'lazy_itable_init=0,lazy_journal_init=0,root_owner=0:0', '-L', 'tsbench-io', '-d', staging, io]);
    const tsc = await hostTscKhz();
    const argv = buildQemuArgs({
      accelerator: 'tcg',
      cpu: opts.cpu ?? TESTHOST_CPU,
      cpus: opts.cpus ?? TESTHOST_CPUS,
      memoryBytes: (opts.memoryMiB ?? 2048) * 2 ** 20,
      kernel: host.kernel,
      initrd: host.initramfs,
      rootDisk: host.rootDisk,
      rootDiskMode: 'snapshot',
      disk: io,
      append: [
        'console=ttyS0',
        'quiet',
        'loglevel=3', // not KVM's "Unhandled WRMSR" errors at every nested boot; a panic or an oops still shows
        'panic=-1',
        'reboot=t',
        ...(tsc !== undefined ? [`tsc_early_khz=${tsc}`, 'tsc=reliable'] : []),
        'cgroup_no_v1=all',
        ...(opts.init === 'systemd' ? ['tsbench.init=systemd', 'systemd.unit=testhost.service', 'systemd.show_status=0', 'systemd.log_level=warning'] : []),
        ...(opts.append ?? []),
      ].join(' '),
    });
    const [file, ...args] = argv as [string, ...string[]];
    const started = performance.now();
    const vm = execa(file, args, { detached: true, stdin: 'ignore', all: true, buffer: false, reject: false, env: { TMPDIR: scratch } });
    const pgid = vm.pid;
    if (pgid !== undefined) record({ kind: 'pgroup', pgid });
    const kill = (): void => {
      try {
        if (pgid !== undefined) process.kill(-pgid, 'SIGKILL');
      } catch {
        // gone already
      }
    };
    const unhook = atExit(kill);
    let console = '';
    vm.all?.on('data', (chunk: Buffer) => (console += chunk.toString('utf8')));
    let timedOut = false;
    const timer = setTimeout(() => ((timedOut = true), kill()), opts.timeoutMs);
    const onAbort = (): void => kill();
    opts.signal?.addEventListener('abort', onAbort);
    await vm;
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
    unhook();
    const wallMs = performance.now() - started;
    const out = join(scratch, 'out');
    await execa('debugfs', ['-R', `rdump /out ${scratch}`, io], { reject: false });
    const read = (name: string): Promise<string | undefined> => readFile(join(out, name), 'utf8').catch(() => undefined);
    const code = (await read('exit-code'))?.trim();
    const facts: Record<string, string> = {};
    for (const line of ((await read('facts')) ?? '').split('\n')) {
      const at = line.indexOf('=');
      if (at > 0) facts[line.slice(0, at)] = line.slice(at + 1).trim();
    }
    const lines = console.replace(/\r/g, '').split('\n');
    return {
      ...(code !== undefined && /^\d+$/.test(code) ? { exitCode: Number(code) } : {}),
      timedOut,
      console,
      consoleTail: lines.slice(-40).join('\n'),
      facts,
      out,
      wallMs,
      dispose,
    };
  } catch (error) {
    await dispose();
    throw error;
  }
}

/** Why the KVM tests cannot run in this test host, from its facts; undefined when /dev/kvm is there. */
export function kvmUnavailable(result: RunResult): string | undefined {
  if (result.facts['svm'] === undefined) return `the test host did not come up (console: ${result.consoleTail.split('\n').slice(-5).join(' | ')})`;
  if (result.facts['svm'] !== 'yes') return "this QEMU's TCG offers no AMD SVM to its guest (no svm flag with -cpu max), so no KVM inside";
  if (result.facts['kvm'] !== 'yes') return `kvm_amd did not give the test host a /dev/kvm (${result.facts['insmod'] || 'no message'})`;
  return undefined;
}
