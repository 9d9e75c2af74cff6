/**
 * The guest kernel: Debian's cloud kernel fetched into the cache, or any bzImage
 * the user names with `--kernel PATH` / `TSBENCH_KERNEL` (modules from
 * `TSBENCH_KERNEL_MODULES`).
 *
 * Cache layout, `$XDG_CACHE_HOME/tsbench/kernel/`:
 *   current -> <version>          symlink to the kernel `resolveKernel()` returns
 *   <version>/vmlinuz
 *   <version>/kernel.json         { version, source, package?, packageVersion? }
 *   <version>/modules/            only the modules the agent loads (a container's, a NIC's
 *                                 too) and those a nested KVM host loads (KVM_MODULES), plus
 *                                 modules.dep and modules.builtin, laid out like /lib/modules/<version>
 */
import { copyFile, mkdir, open, readFile, readdir, readlink, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { constants, existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { execa, type ExecaError } from 'execa';
import { kindOf } from '../../core/input.js';
import { ImageError, cacheDir, installDir, tempSibling } from './cache.js';
import type { KernelChoice } from '../types.js';

export { ImageError } from './cache.js';

/** A guest kernel ready to boot. */
export type Kernel = {
  /** Absolute path of the bzImage/vmlinuz. */
  vmlinuz: string;
  /** `uname -r` of the kernel, e.g. `6.1.0-56-cloud-amd64`. */
  version: string;
  /** A /lib/modules/<version>-like directory with modules.dep; absent if everything is built in. */
  modulesDir?: string;
};

/** Where to take the kernel from instead of the cache (the CLI fills it from `TSBENCH_KERNEL`, `TSBENCH_KERNEL_MODULES`). */
export type KernelOptions = KernelChoice;

/** Debian's metapackage that always depends on the current cloud kernel. */
export const DEBIAN_KERNEL_METAPACKAGE = 'linux-image-cloud-amd64';

/**
 * Modules the agent needs when the kernel has them modular (they are loaded with
 * their dependencies, resolved from modules.dep): the virtio-mmio transport of
 * `-M microvm`, the data disk, and its filesystem. The console is the 8250
 * serial port, built into every x86 kernel we know, so virtio_console is not needed.
 */
export const WANTED_MODULES = ['virtio_mmio', 'virtio_blk', 'ext4'] as const;

/**
 * Modules a container inside the VM needs where the kernel has them modular
 * (overlayfs is `=m` in Debian's cloud kernel; namespaces and cgroups are built
 * in). Optional: a kernel without them still boots the VM targets, only the
 * container-in-VM targets are then unavailable. The agent loads them only for a
 * container (drivers/qemu/nested.ts), so a plain VM's boot does not pay for them.
 */
export const CONTAINER_MODULES = ['overlay'] as const;

/**
 * Modules that make the guest a KVM host itself: the nested KVM test host (test/helpers/testhost.ts)
 * boots this kernel under TCG with `-cpu max`, whose emulated AMD SVM kvm_amd drives. QEMU's TCG
 * emulates no Intel VMX, so kvm_intel is not kept. With them tun and vhost_net, so that its kvm VMs get
 * a tap NIC (the net scenario) and vhost-net, which the project machine lacks; and dummy, the link the
 * isolation scenario makes in the host's namespace, for the container tests on the pure cgroup v2 test host;
 * and the socket diag modules CRIU reads a process's sockets with (`criu check` fails without them: "sockets:
 * Diag module missing"), with nf_tables and veth, which its kernel-feature probes open (without nf_tables
 * `criu check` fails: "kerndat_has_nftables_concat failed"); a Debian host loads them all on demand, the test
 * host, without modprobe, at boot (runc-restore, drivers/oci/criu.ts). Optional like CONTAINER_MODULES: no workload VM loads them; a kernel
 * without them only leaves the test host's KVM tests skipped, with that reason.
 */
export const KVM_MODULES = [
  'kvm_amd',
  'tun',
  'vhost_net',
  'dummy',
  'unix_diag',
  'inet_diag',
  'tcp_diag',
  'udp_diag',
  'netlink_diag',
  'af_packet_diag',
  'nf_tables',
  'veth',
] as const;

/**
 * Modules of a VM's NIC (`LaunchRequest.network` of kind `tap`): virtio_net, =m in Debian's cloud kernel,
 * with what it depends on (net_failover, failover; modules.dep names them). Optional like CONTAINER_MODULES:
 * the agent loads them only when the command line has `tsbench.net=`, so a boot without a NIC pays nothing.
 */
export const NET_MODULES = ['virtio_net'] as const;

/** The optional module sets, beside WANTED_MODULES which every VM boot loads. */
export type ModuleSet = 'container' | 'kvm' | 'net';
const OPTIONAL_MODULES: Record<ModuleSet, readonly string[]> = { container: CONTAINER_MODULES, kvm: KVM_MODULES, net: NET_MODULES };

/** Every optional set: a kernel cache entry keeps them all. */
export const MODULE_SETS: readonly ModuleSet[] = ['container', 'kvm', 'net'];

export function kernelCacheDir(): string {
  return join(cacheDir(), 'kernel');
}

/** Reads the version string from a bzImage's setup header (Documentation/x86/boot.rst). */
export async function bzImageVersion(path: string): Promise<string> {
  // O_NONBLOCK: a FIFO named by mistake opens at once (and is refused below) instead of waiting for a writer.
  const file = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY).catch((error: unknown) => {
    throw new ImageError(`${path} is not a Linux bzImage (${(error as Error).message}): point --kernel/TSBENCH_KERNEL at a vmlinuz`, {
      cause: error,
      exitCode: 2,
    });
  });
  try {
    const st = await file.stat();
    if (!st.isFile()) throw new Error(st.isDirectory() ? 'a directory' : kindOf(st));
    const header = Buffer.alloc(0x400);
    await file.read(header, 0, header.length, 0);
    // "HdrS" at 0x202; kernel_version at 0x20e is an offset from 0x200 to a NUL-terminated string.
    if (header.toString('latin1', 0x202, 0x206) !== 'HdrS') throw new Error('no HdrS magic');
    const at = header.readUInt16LE(0x20e) + 0x200;
    const text = Buffer.alloc(256);
    await file.read(text, 0, text.length, at);
    const version = text.toString('latin1').split('\0')[0]?.split(' ')[0] ?? '';
    if (!/^\d+\.\d+/.test(version)) throw new Error(`odd version string '${version}'`);
    return version;
  } catch (error) {
    throw new ImageError(`${path} is not a Linux bzImage (${(error as Error).message}): point --kernel/TSBENCH_KERNEL at a vmlinuz`, {
      cause: error,
      exitCode: 2,
    });
  } finally {
    await file.close();
  }
}

/** `vermagic=` of a .ko file: its first word is the kernel version it was built for. */
async function moduleVersion(koPath: string): Promise<string | undefined> {
  const data = await readFile(koPath);
  const at = data.indexOf('vermagic=');
  if (at < 0) return undefined;
  return data.toString('latin1', at + 9, data.indexOf(0, at)).split(' ')[0];
}

/** modules.dep as a map from module path (relative to the modules dir) to its dependencies. */
async function readModulesDep(modulesDir: string): Promise<Map<string, string[]>> {
  let text: string;
  try {
    text = await readFile(join(modulesDir, 'modules.dep'), 'utf8');
  } catch (error) {
    throw new ImageError(`${modulesDir}/modules.dep is missing: run depmod for that kernel or point TSBENCH_KERNEL_MODULES at /lib/modules/<version>`, {
      cause: error,
      exitCode: 2,
    });
  }
  const deps = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const [mod, rest] = line.split(':');
    if (mod && rest !== undefined) deps.set(mod, rest.trim().split(/\s+/).filter(Boolean));
  }
  return deps;
}

const moduleName = (path: string): string => (path.split('/').pop() ?? '').replace(/\.ko(\.(xz|zst|gz))?$/, '').replaceAll('-', '_');

/**
 * The modules of `WANTED_MODULES` that the kernel has as modules, with their
 * dependencies, in load order (dependencies first), as paths relative to `modulesDir`.
 * With `set`, instead: those of that optional set (`CONTAINER_MODULES`, `KVM_MODULES`, `NET_MODULES`) the
 * kernel has as modules, less what the wanted ones load already; missing ones are left out, not an error.
 */
export async function selectModules(modulesDir: string, opts: { set?: ModuleSet } = {}): Promise<string[]> {
  if (opts.set !== undefined) {
    const base = new Set(await selectModules(modulesDir));
    return (await closure(modulesDir, OPTIONAL_MODULES[opts.set], true)).filter((m) => !base.has(m));
  }
  return closure(modulesDir, WANTED_MODULES, false);
}

/** Names of an optional set's modules (`CONTAINER_MODULES` by default) that the kernel has neither as a module nor built in. */
export async function missingModules(modulesDir: string | undefined, set: ModuleSet = 'container'): Promise<string[]> {
  if (modulesDir === undefined) return []; // everything built in
  const deps = await readModulesDep(modulesDir);
  const have = new Set([...deps.keys()].map(moduleName));
  const builtin = await builtinNames(modulesDir);
  return OPTIONAL_MODULES[set].filter((n) => !have.has(n) && !builtin.has(n));
}

async function builtinNames(modulesDir: string): Promise<Set<string>> {
  return new Set((await readFile(join(modulesDir, 'modules.builtin'), 'utf8').catch(() => '')).split('\n').filter(Boolean).map(moduleName));
}

async function closure(modulesDir: string, wanted: readonly string[], optional: boolean): Promise<string[]> {
  const deps = await readModulesDep(modulesDir);
  const byName = new Map([...deps.keys()].map((path) => [moduleName(path), path]));
  const builtin = await builtinNames(modulesDir);
  const order: string[] = [];
  const visit = (path: string): void => {
    if (order.includes(path)) return;
    // modules.dep lists the full closure, deepest last; load those first.
    for (const dep of [...(deps.get(path) ?? [])].reverse()) visit(dep);
    order.push(path);
  };
  for (const name of wanted) {
    const path = byName.get(name);
    if (path !== undefined) visit(path);
    else if (!optional && !builtin.has(name))
      throw new ImageError(
        `kernel modules in ${modulesDir} have neither ${name}.ko nor a built-in ${name}: use a kernel with ${name} (Debian's ${DEBIAN_KERNEL_METAPACKAGE} has it)`,
        {
          exitCode: 2,
        },
      );
  }
  for (const path of order) {
    if (/\.ko\.(xz|zst|gz)$/.test(path))
      throw new ImageError(`${path} is compressed and the agent loads plain .ko files only: decompress the modules in ${modulesDir}`, { exitCode: 2 });
  }
  return order;
}

/** Checks that the selected modules were built for `version`. */
async function checkModulesMatch(modulesDir: string, version: string, modules: string[]): Promise<void> {
  for (const rel of modules) {
    const built = await moduleVersion(join(modulesDir, rel));
    if (built !== undefined && built !== version)
      throw new ImageError(`module ${rel} in ${modulesDir} is for kernel ${built}, not ${version}: point TSBENCH_KERNEL_MODULES at /lib/modules/${version}`, {
        exitCode: 2,
      });
  }
}

/** Validates a user-supplied kernel (and modules dir). */
async function selectedKernel(kernelPath: string, modules: string | undefined): Promise<Kernel> {
  const vmlinuz = resolve(kernelPath);
  if (!existsSync(vmlinuz)) throw new ImageError(`kernel ${vmlinuz} does not exist: fix --kernel/TSBENCH_KERNEL`, { exitCode: 2 });
  const version = await bzImageVersion(vmlinuz);
  if (modules === undefined) return { vmlinuz, version };
  const modulesDir = resolve(modules);
  if (!existsSync(modulesDir)) throw new ImageError(`modules dir ${modulesDir} does not exist: fix TSBENCH_KERNEL_MODULES`, { exitCode: 2 });
  await checkModulesMatch(modulesDir, version, await selectModules(modulesDir));
  return { vmlinuz, version, modulesDir };
}

/** The kernel in a cache entry, or undefined if the entry is missing or incomplete. */
async function cachedKernel(dir: string): Promise<Kernel | undefined> {
  try {
    const meta = JSON.parse(await readFile(join(dir, 'kernel.json'), 'utf8')) as { version: string };
    const vmlinuz = join(dir, 'vmlinuz');
    await stat(vmlinuz);
    const modulesDir = join(dir, 'modules');
    return existsSync(join(modulesDir, 'modules.dep')) ? { vmlinuz, version: meta.version, modulesDir } : { vmlinuz, version: meta.version };
  } catch {
    return undefined;
  }
}

/**
 * The kernel to boot: `--kernel`/`TSBENCH_KERNEL` if given, else the one
 * `tsbench kernel fetch` put in the cache. Throws an ImageError naming the fix.
 */
export async function resolveKernel(opts: KernelOptions = {}): Promise<Kernel> {
  const kernel = nonEmpty(opts.kernel);
  const modules = nonEmpty(opts.modules);
  if (kernel !== undefined) return selectedKernel(kernel, modules);
  if (modules !== undefined)
    throw new ImageError('TSBENCH_KERNEL_MODULES is set without TSBENCH_KERNEL: set both, or neither to use the cached kernel', {
      exitCode: 2,
    });
  const current = join(kernelCacheDir(), 'current');
  const found = existsSync(current) ? await cachedKernel(join(kernelCacheDir(), await readlink(current))) : undefined;
  if (found === undefined) throw new ImageError('no guest kernel: run `tsbench kernel fetch` (or set TSBENCH_KERNEL=/path/to/vmlinuz)');
  return found;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

/** Points kernel/current at `version`, atomically. */
async function setCurrent(version: string): Promise<void> {
  const link = join(kernelCacheDir(), 'current');
  const tmp = `${link}.${process.pid}`;
  await rm(tmp, { force: true });
  await symlink(version, tmp);
  await rename(tmp, link);
}

/** Runs a host tool; a missing tool or failure becomes a one-line ImageError. */
async function run(file: string, args: string[], what: string, opts: { cwd?: string } = {}): Promise<string> {
  try {
    return (await execa(file, args, { ...opts, stdin: 'ignore' })).stdout;
  } catch (error) {
    const e = error as ExecaError;
    if ((e.cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT')
      throw new ImageError(`${file} not found: ${what} needs it (Debian: apt-get install apt dpkg kmod)`, { cause: error });
    const detail =
      String(e.stderr ?? '')
        .trim()
        .split('\n')
        .filter(Boolean)
        .pop() ?? e.shortMessage;
    throw new ImageError(`${what} failed: ${detail}`, { cause: error });
  }
}

/** Resolves Debian's cloud kernel metapackage to the concrete package and its version. */
async function debianKernelPackage(): Promise<{ name: string; version: string; kernelVersion: string }> {
  const depends = await run('apt-cache', ['depends', DEBIAN_KERNEL_METAPACKAGE], 'resolving the Debian kernel package');
  const name = /Depends:\s*(linux-image-\S+)/.exec(depends)?.[1];
  if (name === undefined) throw new ImageError(`apt-cache knows no ${DEBIAN_KERNEL_METAPACKAGE}: run apt-get update (or pass --kernel PATH)`);
  const show = await run('apt-cache', ['show', '--no-all-versions', name], 'resolving the Debian kernel package');
  const version = /^Version:\s*(\S+)/m.exec(show)?.[1] ?? 'unknown';
  return { name, version, kernelVersion: name.replace(/^linux-image-/, '') };
}

/** Copies the kernel and the modules the agent needs into a temp dir, then renames it into the cache. */
async function installKernel(kernel: Kernel, meta: Record<string, string>): Promise<Kernel> {
  const finalDir = join(kernelCacheDir(), kernel.version);
  const tmp = await tempSibling(finalDir);
  try {
    await copyFile(kernel.vmlinuz, join(tmp, 'vmlinuz'));
    if (kernel.modulesDir !== undefined) {
      const modules = [...(await selectModules(kernel.modulesDir))];
      // Two sets may share a dependency: one copy, one modules.dep line.
      for (const set of MODULE_SETS) for (const m of await selectModules(kernel.modulesDir, { set })) if (!modules.includes(m)) modules.push(m);
      await checkModulesMatch(kernel.modulesDir, kernel.version, modules);
      const deps = await readModulesDep(kernel.modulesDir);
      const out = join(tmp, 'modules');
      for (const rel of modules) {
        await mkdir(dirname(join(out, rel)), { recursive: true });
        await copyFile(join(kernel.modulesDir, rel), join(out, rel));
      }
      await mkdir(out, { recursive: true });
      await writeFile(join(out, 'modules.dep'), modules.map((m) => `${m}: ${(deps.get(m) ?? []).join(' ')}\n`.replace(/ \n$/, '\n')).join(''));
      await copyFile(join(kernel.modulesDir, 'modules.builtin'), join(out, 'modules.builtin')).catch(() => writeFile(join(out, 'modules.builtin'), ''));
    }
    await writeFile(join(tmp, 'kernel.json'), JSON.stringify({ version: kernel.version, ...meta }, null, 2) + '\n');
    await installDir(tmp, finalDir, true);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  await setCurrent(kernel.version);
  const installed = await cachedKernel(finalDir);
  if (installed === undefined) throw new ImageError(`kernel cache entry ${finalDir} is incomplete: run tsbench kernel fetch again`);
  return installed;
}

/**
 * Puts a guest kernel in the cache and makes it current: `opts.kernel` (a bzImage,
 * with `opts.modules`) if given, else Debian's current `linux-image-cloud-amd64`,
 * downloaded with apt-get. Does nothing if that Debian kernel is cached already.
 */
export async function fetchKernel(opts: KernelOptions & { log?: (line: string) => void } = {}): Promise<Kernel> {
  const log = opts.log ?? (() => {});
  if (opts.kernel !== undefined) {
    const kernel = await selectedKernel(opts.kernel, opts.modules);
    log(`importing ${kernel.vmlinuz} (${kernel.version})`);
    return installKernel(kernel, { source: kernel.vmlinuz });
  }
  const pkg = await debianKernelPackage();
  const cached = await cachedKernel(join(kernelCacheDir(), pkg.kernelVersion));
  // An entry cached before CONTAINER_MODULES, KVM_MODULES or NET_MODULES existed lacks them: fetch it again (Debian's kernel has them all).
  const lacking = cached === undefined ? [] : (await Promise.all(MODULE_SETS.map((set) => missingModules(cached.modulesDir, set)))).flat();
  const stale = lacking.length > 0;
  if (stale) log(`the cached ${pkg.name} lacks ${lacking.join(', ')}; fetching it again`);
  if (cached !== undefined && !stale) {
    await setCurrent(pkg.kernelVersion);
    log(`${pkg.name} ${pkg.version} is cached already`);
    return cached;
  }
  const work = await tempSibling(join(kernelCacheDir(), `download-${pkg.kernelVersion}`));
  try {
    log(`downloading ${pkg.name} ${pkg.version}`);
    // apt-get download needs the Debian archive; its error says which URL failed.
    await run('apt-get', ['download', '-q', `${pkg.name}=${pkg.version}`], `downloading ${pkg.name} from the Debian archive (network?)`, {
      cwd: work,
    });
    const deb = (await readdir(work)).find((f) => f.endsWith('.deb'));
    if (deb === undefined) throw new ImageError(`apt-get download ${pkg.name} left no .deb: check your apt sources`);
    const root = join(work, 'root');
    await run('dpkg-deb', ['-x', join(work, deb), root], `unpacking ${deb}`);
    const vmlinuz = join(root, 'boot', `vmlinuz-${pkg.kernelVersion}`);
    // Debian ships no modules.dep (its postinst runs depmod); make one for the unpacked tree.
    const base = existsSync(join(root, 'usr', 'lib', 'modules', pkg.kernelVersion)) ? join(root, 'usr') : root;
    const modulesDir = join(base, 'lib', 'modules', pkg.kernelVersion);
    if (!existsSync(join(modulesDir, 'modules.dep'))) await run('depmod', ['-b', base, pkg.kernelVersion], 'depmod');
    return await installKernel({ vmlinuz, version: pkg.kernelVersion, modulesDir }, { source: 'debian', package: pkg.name, packageVersion: pkg.version });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
