/**
 * The OCI runtime-spec `config.json` of one peer-runtime instance, built to match
 * tsbench's own `container` as closely as the spec allows:
 *
 * - the same namespaces: pid, mount, uts, ipc, network (a fresh one, so only `lo`,
 *   which runc and crun bring up) and cgroup;
 * - the same limits, as `linux.resources`: memory limit (swap = limit, i.e. no swap
 *   beyond it, as `container` writes memory.memsw / memory.swap.max), CPU quota over
 *   a 100 ms period, pids;
 * - the same filesystem view: root is an overlay of the image rootfs (mounted by the
 *   driver before the runtime starts), a fresh /proc, a read-only /sys with the
 *   container's cgroups read-only at /sys/fs/cgroup, a tmpfs /dev with devpts and
 *   /dev/shm, and the volumes as bind mounts;
 * - the same process: the image's agent as PID 1 with the job's argv, as root;
 * - the same confinement (drivers/linux/confinement.ts): by default Docker's, as
 *   moby writes it for runc (`process.capabilities` bounding, effective and permitted
 *   = Docker's 14, `noNewPrivileges`, `linux.maskedPaths`, `linux.readonlyPaths`,
 *   `linux.seccomp` from the same profile data as `container`); `unconfined`: every
 *   capability tsbench holds, nothing else.
 *
 * Pure: the tests compare it with `runc spec` and run it.
 */
import { CPU_PERIOD_US, cpuQuotaUs } from '../linux/cgroups.js';
import { AGENT, ENV, jobArgv, type AwaitJob } from '../protocol.js';
import type { Job, Limits, NetworkAttachment, Volume } from '../types.js';
import { CAPABILITIES, MASKED_PATHS, READONLY_PATHS, containerCapabilities, resolveSeccomp, type Confinement, type OciSeccomp } from '../linux/confinement.js';

/** The spec version we write; runc 1.1 (spec 1.0.2) and crun 1.8 (spec 1.0.0) accept every 1.0.x. */
export const OCI_VERSION = '1.0.2';

/** OCI namespace types, in the order `container` creates its own (pid, mnt, uts, ipc, net, cgroup). */
export const NAMESPACES = ['pid', 'mount', 'uts', 'ipc', 'network', 'cgroup'] as const;

/** `container`'s namespace names (drivers/container) for each OCI type. */
export const CONTAINER_NAME: Record<(typeof NAMESPACES)[number], string> = {
  pid: 'pid',
  mount: 'mnt',
  uts: 'uts',
  ipc: 'ipc',
  network: 'net',
  cgroup: 'cgroup',
};

// The capability lists live with the rest of the confinement; re-exported for the peers' callers.
export { CAPABILITIES, boundingCapabilities } from '../linux/confinement.js';

export interface BundleSpec {
  /** `await` for a container saved to be restored (drivers/oci/criu.ts). */
  job: Job | AwaitJob;
  limits: Limits;
  volumes: Volume[];
  hostname: string;
  /** `linux.cgroupsPath`: where the runtime makes the instance's cgroup. */
  cgroupsPath: string;
  /** Write `memory.swap` (= the limit): only where the kernel accounts swap (v1 memory.memsw.*, v2 memory.swap.max). */
  swapAccounting: boolean;
  /** The capabilities tsbench holds (its bounding set): a container can keep only those. @default every one in CAPABILITIES */
  capabilities?: string[];
  /** How the process is confined. @default 'docker-default' */
  confinement?: Confinement;
  /** The root directory, relative to the bundle. @default 'rootfs' */
  rootPath?: string;
  /** The network: the host's (no network namespace entry) or a prepared one (its `path`). @default a fresh namespace, `lo` only */
  network?: Extract<NetworkAttachment, { kind: 'host' | 'netns' }>;
}

/** The subset of the OCI runtime spec tsbench writes. */
export interface OciConfig {
  ociVersion: string;
  process: {
    terminal: boolean;
    user: { uid: number; gid: number };
    args: string[];
    env: string[];
    cwd: string;
    capabilities: Record<'bounding' | 'effective' | 'permitted' | 'ambient', string[]>;
    noNewPrivileges: boolean;
  };
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: { destination: string; type: string; source: string; options?: string[] }[];
  linux: {
    namespaces: { type: string; path?: string }[];
    cgroupsPath: string;
    maskedPaths?: string[];
    readonlyPaths?: string[];
    seccomp?: OciSeccomp;
    resources: {
      devices: { allow: boolean; access: string }[];
      memory?: { limit: number; swap?: number };
      cpu?: { quota: number; period: number };
      pids?: { limit: number };
    };
  };
}

export function ociConfig(spec: BundleSpec): OciConfig {
  const { limits } = spec;
  const confinement = spec.confinement ?? 'docker-default';
  const confined = confinement !== 'unconfined';
  const caps = containerCapabilities(confinement, spec.capabilities ?? CAPABILITIES);
  const resources: OciConfig['linux']['resources'] = { devices: [{ allow: false, access: 'rwm' }] };
  if (limits.memoryBytes !== undefined) {
    resources.memory = { limit: limits.memoryBytes, ...(spec.swapAccounting ? { swap: limits.memoryBytes } : {}) };
  }
  if (limits.cpus !== undefined) resources.cpu = { quota: cpuQuotaUs(limits.cpus), period: CPU_PERIOD_US };
  if (limits.pids !== undefined) resources.pids = { limit: limits.pids };
  return {
    ociVersion: OCI_VERSION,
    process: {
      // Not a terminal: the runtime passes our pipes through, so the agent's `@tsb` lines and `stop` flow as in `container`.
      terminal: false,
      user: { uid: 0, gid: 0 },
      args: [AGENT, ...jobArgv(spec.job)],
      env: [...ENV],
      cwd: '/',
      // Docker sets no inheritable and no ambient capabilities (since 20.10.14); unconfined keeps every one everywhere.
      capabilities: { bounding: [...caps], effective: [...caps], permitted: [...caps], ambient: confined ? [] : [...caps] },
      noNewPrivileges: confined,
    },
    root: { path: spec.rootPath ?? 'rootfs', readonly: false },
    hostname: spec.hostname,
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc', options: ['nosuid', 'nodev', 'noexec'] },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'noexec', 'mode=755', 'size=65536k'] },
      { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'] },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
      // The container's own cgroups, read-only, as in `runc spec` and Docker (container: nsexec's --cgroupfs).
      { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
      ...spec.volumes.map((v) => ({
        destination: v.guestPath,
        type: 'bind',
        source: v.hostPath,
        options: ['rbind', 'nosuid', 'nodev', v.readOnly ? 'ro' : 'rw'],
      })),
    ],
    linux: {
      namespaces: NAMESPACES.flatMap((type) => {
        if (type !== 'network' || spec.network === undefined) return [{ type }];
        return spec.network.kind === 'host' ? [] : [{ type, path: spec.network.path }];
      }),
      cgroupsPath: spec.cgroupsPath,
      resources,
      ...(confined ? { maskedPaths: [...MASKED_PATHS], readonlyPaths: [...READONLY_PATHS], seccomp: resolveSeccomp(caps) } : {}),
    },
  };
}
