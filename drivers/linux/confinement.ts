/**
 * What a Linux container may do once it runs: Docker's default confinement,
 * shared by tsbench's `container` (drivers/container, executed by nsexec.c) and
 * the OCI peers (drivers/oci/bundle.ts), so that every container target pays for
 * the same confinement, or every one runs without it (`unconfined`).
 *
 * `docker-default`, as `docker run` with no `--security-opt` or `--cap-*` flag:
 * - capabilities: Docker's default 14 in the bounding, effective and permitted
 *   sets; inheritable and ambient empty (Docker since 20.10.14);
 * - `no_new_privs`;
 * - masked paths (a file gets /dev/null bound over it, a directory an empty
 *   read-only tmpfs) and read-only paths (read-only bind remounts), Docker's lists;
 * - Docker's default seccomp profile (./seccomp-default.json, moby's own data),
 *   resolved for the container's capabilities, architecture and kernel as moby
 *   resolves it: default action errno EPERM, an allowlist, a few argument rules.
 *
 * Pure, apart from reading the kernel's version in `hostSeccomp()`.
 */
import { kernelVersion, versionAtLeast } from './kernel.js';
import profile from './seccomp-default.json' with { type: 'json' };

/** How a container is confined: as Docker's default, or not at all (root with every capability, as before). */
export type Confinement = 'docker-default' | 'unconfined';

/** Every capability of Linux 6.x, in the kernel's bit order (CAP_CHOWN = bit 0). */
export const CAPABILITIES = [
  'CHOWN',
  'DAC_OVERRIDE',
  'DAC_READ_SEARCH',
  'FOWNER',
  'FSETID',
  'KILL',
  'SETGID',
  'SETUID',
  'SETPCAP',
  'LINUX_IMMUTABLE',
  'NET_BIND_SERVICE',
  'NET_BROADCAST',
  'NET_ADMIN',
  'NET_RAW',
  'IPC_LOCK',
  'IPC_OWNER',
  'SYS_MODULE',
  'SYS_RAWIO',
  'SYS_CHROOT',
  'SYS_PTRACE',
  'SYS_PACCT',
  'SYS_ADMIN',
  'SYS_BOOT',
  'SYS_NICE',
  'SYS_RESOURCE',
  'SYS_TIME',
  'SYS_TTY_CONFIG',
  'MKNOD',
  'LEASE',
  'AUDIT_WRITE',
  'AUDIT_CONTROL',
  'SETFCAP',
  'MAC_OVERRIDE',
  'MAC_ADMIN',
  'SYSLOG',
  'WAKE_ALARM',
  'BLOCK_SUSPEND',
  'AUDIT_READ',
  'PERFMON',
  'BPF',
  'CHECKPOINT_RESTORE',
].map((c) => `CAP_${c}`);

/** Docker's default capabilities (moby oci/caps/defaults.go), in the kernel's bit order. */
export const DOCKER_CAPABILITIES = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_RAW',
  'CAP_SYS_CHROOT',
  'CAP_MKNOD',
  'CAP_AUDIT_WRITE',
  'CAP_SETFCAP',
];

/** Docker's masked paths (moby oci/defaults.go): unreadable inside; a missing one is skipped. */
export const MASKED_PATHS = [
  '/proc/asound',
  '/proc/acpi',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

/** Docker's read-only paths (moby oci/defaults.go); a missing one is skipped. */
export const READONLY_PATHS = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** The capabilities in a `CapBnd:`-style hex mask, by name. */
export function capabilitiesOfMask(mask: bigint): string[] {
  return CAPABILITIES.filter((_, bit) => (mask >> BigInt(bit)) & 1n);
}

/** The hex mask of these capabilities (unknown names are ignored). */
export function capabilityMask(caps: readonly string[]): bigint {
  return CAPABILITIES.reduce((mask, c, bit) => (caps.includes(c) ? mask | (1n << BigInt(bit)) : mask), 0n);
}

/**
 * The capabilities in a process's bounding set (`CapBnd:` of /proc/PID/status).
 * A container can keep only what tsbench itself holds (asking a runtime for more
 * fails: "unable to apply caps"), so every list is cut down to this.
 */
export function boundingCapabilities(status: string): string[] {
  const hex = /^CapBnd:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  if (hex === undefined) return [...CAPABILITIES];
  return capabilitiesOfMask(BigInt(`0x${hex}`));
}

/** The capabilities a container of this confinement keeps, out of those tsbench holds (`held`). */
export function containerCapabilities(confinement: Confinement, held: readonly string[] = CAPABILITIES): string[] {
  return confinement === 'unconfined' ? [...held] : DOCKER_CAPABILITIES.filter((c) => held.includes(c));
}

// ---- seccomp ---------------------------------------------------------------

type Action = 'SCMP_ACT_ALLOW' | 'SCMP_ACT_ERRNO';
type Op = 'SCMP_CMP_NE' | 'SCMP_CMP_EQ' | 'SCMP_CMP_LT' | 'SCMP_CMP_LE' | 'SCMP_CMP_GT' | 'SCMP_CMP_GE' | 'SCMP_CMP_MASKED_EQ';

/** One argument condition, as the OCI runtime spec writes it (MASKED_EQ: `(arg & value) == valueTwo`). */
export interface SeccompArg {
  index: number;
  value: number;
  valueTwo?: number;
  op: Op;
}

/** A rule of moby's profile: it applies when every `includes` holds and no `excludes` does. */
interface ProfileRule {
  names: string[];
  action: Action;
  errnoRet?: number;
  args?: SeccompArg[];
  comment?: string;
  includes?: { caps?: string[]; arches?: string[]; minKernel?: string };
  excludes?: { caps?: string[]; arches?: string[] };
}

interface Profile {
  source: { repository: string; path: string; commit: string };
  defaultAction: Action;
  defaultErrnoRet: number;
  archMap: { architecture: string; subArchitectures: string[] }[];
  syscalls: ProfileRule[];
}

/** The profile's origin, recorded with the results. */
export const SECCOMP_SOURCE = `${(profile as Profile).source.path} of ${(profile as Profile).source.repository} at ${(profile as Profile).source.commit.slice(0, 12)}`;

/** `linux.seccomp` of the OCI runtime spec. */
export interface OciSeccomp {
  defaultAction: Action;
  defaultErrnoRet: number;
  architectures: string[];
  syscalls: { names: string[]; action: Action; errnoRet?: number; args?: SeccompArg[] }[];
}

/** Where the profile is resolved: moby's architecture name (`amd64`, `arm64`) and the kernel's version. */
export interface SeccompHost {
  arch: 'amd64' | 'arm64';
  kernel: readonly [number, number];
}

/** Node's architecture in moby's words, and the running kernel's major.minor. */
export function hostSeccomp(): SeccompHost {
  return { arch: process.arch === 'arm64' ? 'arm64' : 'amd64', kernel: kernelVersion() };
}

const SCMP_ARCH: Record<SeccompHost['arch'], string> = { amd64: 'SCMP_ARCH_X86_64', arm64: 'SCMP_ARCH_AARCH64' };

/** `version` at least moby's `minKernel` ("4.8"). */
function atLeast(version: readonly [number, number], min: string): boolean {
  const [major = 0, minor = 0] = min.split('.').map(Number);
  return versionAtLeast(version, [major, minor]);
}

/**
 * Docker's default profile as moby hands it to runc for a container with these
 * capabilities on this host (moby profiles/seccomp/seccomp_linux.go `setupSeccomp`):
 * a rule is kept when all of its `includes.caps` are held, its `includes.arches`
 * name this architecture and the kernel is at least `includes.minKernel`, and
 * none of its `excludes` holds.
 */
export function resolveSeccomp(caps: readonly string[], host: SeccompHost = hostSeccomp()): OciSeccomp {
  const p = profile as Profile;
  const native = SCMP_ARCH[host.arch];
  const architectures = [native, ...(p.archMap.find((a) => a.architecture === native)?.subArchitectures ?? [])];
  const syscalls: OciSeccomp['syscalls'] = [];
  for (const rule of p.syscalls) {
    const inc = rule.includes ?? {};
    const exc = rule.excludes ?? {};
    if (inc.caps && !inc.caps.every((c) => caps.includes(c))) continue;
    if (inc.arches && !inc.arches.includes(host.arch)) continue;
    if (inc.minKernel !== undefined && !atLeast(host.kernel, inc.minKernel)) continue;
    if (exc.caps?.some((c) => caps.includes(c))) continue;
    if (exc.arches?.includes(host.arch)) continue;
    syscalls.push({
      names: [...rule.names],
      action: rule.action,
      errnoRet: rule.errnoRet,
      args: rule.args?.map((a) => ({ ...a })),
    });
  }
  return { defaultAction: p.defaultAction, defaultErrnoRet: p.defaultErrnoRet, architectures, syscalls };
}

/** The system calls a resolved profile lets through unconditionally (no argument rule). */
export function allowedSyscalls(seccomp: OciSeccomp): string[] {
  return [...new Set(seccomp.syscalls.filter((s) => s.action === 'SCMP_ACT_ALLOW' && !s.args).flatMap((s) => s.names))].sort();
}

const OP: Record<Op, string> = {
  SCMP_CMP_NE: 'ne',
  SCMP_CMP_EQ: 'eq',
  SCMP_CMP_LT: 'lt',
  SCMP_CMP_LE: 'le',
  SCMP_CMP_GT: 'gt',
  SCMP_CMP_GE: 'ge',
  SCMP_CMP_MASKED_EQ: 'masked_eq',
};

function actionWord(action: Action, errno: number | undefined): string {
  return action === 'SCMP_ACT_ALLOW' ? 'allow' : `errno:${errno ?? 1}`;
}

/**
 * The profile as tsbench-launch's options (drivers/container/nsexec.c compiles it
 * with libseccomp in the container's child, after its set-up, just before exec):
 * `--seccomp-default errno:1`, `--seccomp-arch x86_64,x86,x32`, and one
 * `--seccomp 'ACTION NAME,NAME… [aI:OP:VALUE[:VALUE2]]…'` per rule.
 */
export function seccompLauncherArgs(seccomp: OciSeccomp): string[] {
  const arch = (a: string): string => a.replace(/^SCMP_ARCH_/, '').toLowerCase();
  return [
    '--seccomp-default',
    actionWord(seccomp.defaultAction, seccomp.defaultErrnoRet),
    '--seccomp-arch',
    seccomp.architectures.map(arch).join(','),
    ...seccomp.syscalls.flatMap((s) => [
      '--seccomp',
      [
        actionWord(s.action, s.errnoRet),
        s.names.join(','),
        ...(s.args ?? []).map((a) => `a${a.index}:${OP[a.op]}:${a.value}${a.valueTwo !== undefined ? `:${a.valueTwo}` : ''}`),
      ].join(' '),
    ]),
  ];
}

/** One line saying what a confinement is, for the probe's details and so for every result. */
export function describeConfinement(confinement: Confinement, held: readonly string[] = CAPABILITIES): string {
  if (confinement === 'unconfined') return 'unconfined: every capability tsbench holds, no no_new_privs, no seccomp, no masked or read-only paths';
  const caps = containerCapabilities(confinement, held);
  const seccomp = resolveSeccomp(caps);
  return (
    `docker-default: ${caps.length} capabilities (CapBnd ${capabilityMask(caps).toString(16).padStart(16, '0')}), no_new_privs, ` +
    `${MASKED_PATHS.length} masked and ${READONLY_PATHS.length} read-only paths, seccomp ${SECCOMP_SOURCE}: ` +
    `${allowedSyscalls(seccomp).length} system calls allowed + ${seccomp.syscalls.filter((s) => s.args).length} argument rules, default errno ${seccomp.defaultErrnoRet} (EPERM)`
  );
}
