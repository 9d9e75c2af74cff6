/**
 * The lean guest kernel (drivers/image/lean-kernel.ts, `tsbench kernel build`):
 * the fragment check, the cache key, and the command's whole path — extract,
 * configure, check, build, install, cache hit, failure, Ctrl-C — run against a
 * fake linux source tarball whose Makefile takes a second, not four minutes.
 * The real kernel is checked only where one is cached (scripts/setup.sh builds it).
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { chmod, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { execa } from 'execa';
import { LEAN_CONFIG, droppedOptions, leanKernelKey, resolveLeanKernel } from '../drivers/image/lean-kernel.js';
import { CLI, tsbench } from './helpers/cli.js';

describe('the fragment check', () => {
  const fragment = ['# comment', 'CONFIG_PVH=y', 'CONFIG_NR_CPUS=64', 'CONFIG_RD_GZIP=n', '# CONFIG_MODULES is not set', ''].join('\n');

  test('a fragment whose every option took reports nothing dropped', () => {
    const config = ['CONFIG_PVH=y', 'CONFIG_NR_CPUS=64', '# CONFIG_RD_GZIP is not set', 'CONFIG_OTHER=y'].join('\n');
    assert.deepEqual(droppedOptions(fragment, config), []);
  });

  test('an option Kconfig left out or set otherwise is reported with what it got', () => {
    const config = ['# CONFIG_PVH is not set', 'CONFIG_NR_CPUS=8', '# CONFIG_RD_GZIP is not set'].join('\n');
    assert.deepEqual(droppedOptions(fragment, config), [
      { option: 'CONFIG_PVH', wanted: 'y', got: 'not set' },
      { option: 'CONFIG_NR_CPUS', wanted: '64', got: '8' },
    ]);
    assert.deepEqual(droppedOptions('CONFIG_PVH=y\n', ''), [{ option: 'CONFIG_PVH', wanted: 'y', got: 'not set' }]);
  });

  test('=n is met by "is not set" or by absence, and broken by =y', () => {
    assert.deepEqual(droppedOptions('CONFIG_RD_GZIP=n\n', '# CONFIG_RD_GZIP is not set\n'), []);
    assert.deepEqual(droppedOptions('CONFIG_RD_GZIP=n\n', 'CONFIG_PVH=y\n'), []);
    assert.deepEqual(droppedOptions('# CONFIG_MODULES is not set\n', ''), []);
    assert.deepEqual(droppedOptions('CONFIG_RD_GZIP=n\n', 'CONFIG_RD_GZIP=y\n'), [{ option: 'CONFIG_RD_GZIP', wanted: 'n', got: 'y' }]);
  });

  test('a string value must match exactly, quotes included', () => {
    assert.deepEqual(droppedOptions('CONFIG_LOCALVERSION="-lean"\n', 'CONFIG_LOCALVERSION="-lean"\n'), []);
    assert.deepEqual(droppedOptions('CONFIG_LOCALVERSION="-lean"\n', 'CONFIG_LOCALVERSION=""\n'), [
      { option: 'CONFIG_LOCALVERSION', wanted: '"-lean"', got: '""' },
    ]);
  });
});

/**
 * A linux source tarball in miniature: `make tinyconfig`, `merge_config.sh -m`,
 * `make olddefconfig` and `make vmlinux` as kbuild does them, with kbuild's step
 * lines. `FAKE_KBUILD` (inherited through tsbench) picks the outcome: `ok`, `fail`
 * (make exits 2 after printing an error), `drop` (the merge loses CONFIG_PVH) or
 * `sleep` (the build hangs, writing its pid to FAKE_KBUILD_PID).
 */
const FAKE_MAKEFILE = `tinyconfig:
\tprintf 'CONFIG_64BIT=y\\n' > .config
olddefconfig:
\t@true
vmlinux:
\t@echo '  SYNC    include/config/auto.conf'
\t@echo '  CC      init/main.o'
\t@echo '  CC      kernel/fork.o'
\t@if [ "$(FAKE_KBUILD)" = fail ]; then echo 'kernel/fork.c:1:1: error: expected declaration'; echo 'make[1]: *** [kernel/fork.o] Error 1'; exit 2; fi
\t@if [ "$(FAKE_KBUILD)" = sleep ]; then sh -c 'echo $$$$ > "$(FAKE_KBUILD_PID)"; exec sleep 60'; fi
\t@echo '  LD      vmlinux'
\tcp /bin/true vmlinux
\tmkdir -p include/config && echo 6.1.0-fake > include/config/kernel.release
`;

const FAKE_MERGE = `#!/bin/sh
# merge_config.sh -m .config FRAGMENT
if [ "$FAKE_KBUILD" = drop ]; then grep -v '^CONFIG_PVH=' "$3" >> "$2"; else cat "$3" >> "$2"; fi
`;

let work = '';
let tarball = '';
const savedEnv = { ...process.env };

before(async () => {
  work = await mkdtemp(join(tmpdir(), 'tsbench-lean-test-'));
  const src = join(work, 'linux-fake');
  await mkdir(join(src, 'scripts', 'kconfig'), { recursive: true });
  await writeFile(join(src, 'Makefile'), FAKE_MAKEFILE);
  await writeFile(join(src, 'scripts', 'kconfig', 'merge_config.sh'), FAKE_MERGE);
  await chmod(join(src, 'scripts', 'kconfig', 'merge_config.sh'), 0o755);
  tarball = join(work, 'linux-fake.tar.xz');
  await execa('tar', ['-cJf', tarball, '-C', work, 'linux-fake']);
});

after(async () => {
  process.env = savedEnv;
  if (work !== '') await rm(work, { recursive: true, force: true });
});

/** A fresh cache for one test. */
async function freshCache(): Promise<string> {
  return mkdtemp(join(work, 'cache-'));
}

/** `tsbench ARGS` with the fake source, a cache of its own and the fake's mode. */
function fakeBuild(args: string[], cache: string, mode: string, extraEnv: Record<string, string> = {}) {
  return execa(process.execPath, [CLI, ...args], {
    reject: false,
    stdin: 'ignore',
    timeout: 120_000,
    env: { XDG_CACHE_HOME: cache, TSBENCH_LINUX_SOURCE: tarball, FAKE_KBUILD: mode, ...extraEnv },
  });
}

/** stderr's lines but the note of a sweep at start (another run's leftovers on this shared machine). */
const errorLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l !== '' && !/leftover\(s\) of killed runs/.test(l));

/** Names in the cache's kernel directory (temporary ones start with .tmp-). */
async function kernelDirEntries(cache: string): Promise<string[]> {
  return readdir(join(cache, 'tsbench', 'kernel')).catch(() => []);
}

describe('the cache key', () => {
  // leanKernelKey memoizes the tarball's hash in the cache: a fresh one, given back after.
  before(async () => {
    process.env['XDG_CACHE_HOME'] = await freshCache();
  });
  after(() => {
    if (savedEnv['XDG_CACHE_HOME'] === undefined) delete process.env['XDG_CACHE_HOME'];
    else process.env['XDG_CACHE_HOME'] = savedEnv['XDG_CACHE_HOME'];
  });

  test('changes when the fragment changes, and only then', async () => {
    const fragment = join(work, 'fragment.config');
    await writeFile(fragment, await readFile(LEAN_CONFIG, 'utf8'));
    const committed = await leanKernelKey({ source: tarball });
    assert.match(committed, /^[0-9a-f]{16}$/);
    assert.equal(await leanKernelKey({ source: tarball, fragment }), committed, 'the same text gives the same key');
    await writeFile(fragment, `${await readFile(LEAN_CONFIG, 'utf8')}CONFIG_IPV6=y\n`);
    assert.notEqual(await leanKernelKey({ source: tarball, fragment }), committed);
  });

  test('changes when the source tarball changes', async () => {
    const other = join(work, 'other.tar.xz');
    await execa('tar', ['-cJf', other, '-C', work, 'linux-fake', 'fragment.config']);
    assert.notEqual(await leanKernelKey({ source: other }), await leanKernelKey({ source: tarball }));
  });
});

describe('tsbench kernel build', () => {
  test('a missing linux source exits 2 and says which packages to install', async () => {
    const r = await fakeBuild(['kernel', 'build'], await freshCache(), 'ok', { TSBENCH_LINUX_SOURCE: join(work, 'no-such.tar.xz') });
    assert.equal(r.exitCode, 2, r.stderr);
    assert.match(r.stderr, /no-such\.tar\.xz not found: apt-get install linux-source-6\.1 bison flex libelf-dev bc/);
    assert.equal(errorLines(r.stderr).length, 1, 'one line');
  });

  test('a --jobs that is not a positive integer is a one-line usage error', async () => {
    const r = await tsbench(['kernel', 'build', '--jobs', '0']);
    assert.equal(r.exitCode, 2);
    assert.match(r.stderr, /--jobs must be a positive integer/);
    assert.equal(errorLines(r.stderr).length, 1, 'one line');
  });

  test('builds, installs vmlinux, config and kernel.json, then answers from the cache', async () => {
    const cache = await freshCache();
    const first = await fakeBuild(['kernel', 'build', '--jobs', '2'], cache, 'ok');
    assert.equal(first.exitCode, 0, first.stderr);
    assert.match(first.stdout, /^lean kernel 6\.1\.0-fake \(built in \d+s\)\n {2}\S+\/kernel\/lean-[0-9a-f]{16}\/vmlinux {2}[\d.]+ MB\n {2}key [0-9a-f]{16}$/);
    for (const phase of ['extracting', 'configuring', 'building', 'installing']) assert.match(first.stderr, new RegExp(`kernel build: ${phase}`));

    const entries = await kernelDirEntries(cache);
    assert.deepEqual(
      entries.filter((e) => e.startsWith('.tmp-')),
      [],
      'no temporary directory is left',
    );
    const dir = join(cache, 'tsbench', 'kernel', entries.find((e) => e.startsWith('lean-')) ?? 'missing');
    const meta = JSON.parse(await readFile(join(dir, 'kernel.json'), 'utf8')) as Record<string, unknown>;
    assert.equal(meta['version'], '6.1.0-fake');
    assert.equal(meta['source'], 'linux-source-6.1');
    assert.equal(meta['vmlinuxBytes'], (await stat(join(dir, 'vmlinux'))).size);
    assert.equal(meta['jobs'], 2);
    assert.equal(`lean-${String(meta['key'])}`, dir.split('/').pop());
    assert.match(await readFile(join(dir, 'config'), 'utf8'), /^CONFIG_PVH=y$/m);

    const second = await fakeBuild(['kernel', 'build'], cache, 'fail');
    assert.equal(second.exitCode, 0, `a cache hit runs no make (the fake would fail): ${second.stderr}`);
    assert.match(second.stdout, /^lean kernel 6\.1\.0-fake \(cached\)\n/);

    const info = await fakeBuild(['kernel', 'info'], cache, 'ok');
    assert.equal(info.exitCode, 0, info.stderr);
    assert.match(info.stdout, /^lean kernel 6\.1\.0-fake \(key [0-9a-f]{16}\)\n {2}\S+\/vmlinux/m);
  });

  test('a cache entry whose vmlinux is not the size kernel.json recorded is not used', async () => {
    const cache = await freshCache();
    assert.equal((await fakeBuild(['kernel', 'build'], cache, 'ok')).exitCode, 0);
    const lean = (await kernelDirEntries(cache)).find((e) => e.startsWith('lean-')) ?? 'missing';
    await writeFile(join(cache, 'tsbench', 'kernel', lean, 'vmlinux'), 'truncated');
    const info = await fakeBuild(['kernel', 'info'], cache, 'ok');
    assert.match(info.stdout, /^lean kernel: none \(no lean guest kernel for this configuration: run tsbench kernel build\)$/m);
    const again = await fakeBuild(['kernel', 'build'], cache, 'ok');
    assert.equal(again.exitCode, 0, again.stderr);
    assert.match(again.stdout, /\(built in/);
  });

  test('a failing make exits 1 with the end of its output and leaves nothing behind', async () => {
    const cache = await freshCache();
    const r = await fakeBuild(['kernel', 'build'], cache, 'fail');
    assert.equal(r.exitCode, 1, r.stderr);
    assert.match(r.stderr, /^tsbench: .*make -j\d+ vmlinux failed \(exit 2\)/m);
    assert.match(r.stderr, /^ {2}kernel\/fork\.c:1:1: error: expected declaration$/m);
    assert.match(r.stderr, /^ {2}make: \*\*\* \[Makefile:\d+: vmlinux\] Error 2$/m, "make's own last line is there");
    assert.deepEqual(await kernelDirEntries(cache), []);
  });

  test('an option Kconfig dropped fails the build, naming it', async () => {
    const cache = await freshCache();
    const r = await fakeBuild(['kernel', 'build'], cache, 'drop');
    assert.equal(r.exitCode, 1, r.stderr);
    assert.match(r.stderr, /Kconfig dropped 1 option\(s\) of \S+lean\.config, so a dependency is missing: CONFIG_PVH=y \(got not set\)/);
    assert.deepEqual(await kernelDirEntries(cache), []);
  });

  test('Ctrl-C during the build kills make and removes the source tree', async () => {
    const cache = await freshCache();
    const pidFile = join(work, 'make.pid');
    const sub = fakeBuild(['kernel', 'build'], cache, 'sleep', { FAKE_KBUILD_PID: pidFile });
    const deadline = Date.now() + 60_000;
    let pid = 0;
    while (Date.now() < deadline && pid === 0) {
      pid = Number(await readFile(pidFile, 'utf8').catch(() => '0'));
      await delay(50);
    }
    assert.ok(pid > 0, 'the fake build started');
    assert.ok(
      (await kernelDirEntries(cache)).some((e) => e.startsWith('.tmp-lean-')),
      'the source tree is there while it builds',
    );
    sub.kill('SIGINT');
    const r = await sub;
    assert.equal(r.exitCode, 130, r.stderr);
    assert.deepEqual(await kernelDirEntries(cache), []);
    // SIGKILLed with its process group; gone once init reaps it.
    const gone = async (): Promise<boolean> => {
      for (const until = Date.now() + 5000; Date.now() < until; await delay(50)) {
        const state = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
        if (state === undefined || / Z /.test(state)) return true;
      }
      return false;
    };
    assert.ok(await gone(), 'the build is killed with tsbench');
  });
});

describe('the cached lean kernel', async () => {
  // Only where the user's cache has one (scripts/setup.sh builds it); a build takes minutes.
  // This runs as the file loads, before any test points XDG_CACHE_HOME elsewhere.
  const cached = await resolveLeanKernel().catch((error: Error) => error);
  const skip = cached instanceof Error ? `no lean kernel is cached (${cached.message})` : false;

  test('a second tsbench kernel build is a cache hit', { skip }, async () => {
    const r = await tsbench(['kernel', 'build'], { timeout: 60_000 });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, /^lean kernel \S+ \(cached\)\n/);
    assert.doesNotMatch(r.stderr, /kernel build: extracting/);
  });

  test('its vmlinux is an x86-64 ELF with the PVH entry note QEMU boots it through', { skip }, async () => {
    if (cached instanceof Error) return;
    const header = (await execa('readelf', ['-h', cached.vmlinux])).stdout;
    assert.match(header, /Class:\s+ELF64/);
    assert.match(header, /Machine:\s+Advanced Micro Devices X86-64/);
    // XEN_ELFNOTE_PHYS32_ENTRY (18 = 0x12): the 32-bit entry point of the PVH boot protocol.
    const notes = (await execa('readelf', ['-n', cached.vmlinux])).stdout;
    assert.match(notes, /Xen\s+0x[0-9a-f]+\s+(Unknown note type: \(0x00000012\)|.*PHYS32_ENTRY)/);
  });
});
