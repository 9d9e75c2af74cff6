/**
 * gVisor as targets: `runsc` (its default platform, ptrace) and `runsc-kvm` (its KVM platform). runsc is an
 * OCI runtime, so it runs the same generated bundle (drivers/oci/bundle.ts) of the same image and agent as
 * `runc`, on runc's path (drivers/oci/runtime.ts: the overlay root mounted before the timed window, a
 * private mount namespace, the instance's cgroup `/tsbench-oci/<id>/ct` under a parent tsbench reads):
 * `runsc --root <state> [--platform=kvm] run --bundle <dir> <id>` under tsbench-launch.
 *
 * gVisor as a user gets it (as `docker run --runtime=runsc` would run it, Debian bookworm's
 * 0.0~20221219.0): its default platform (ptrace), its own network stack in the Sentry (`--network=sandbox`,
 * the default) fed by the network namespace the bundle names, the gofer serving the root filesystem with
 * this release's overlay and file-access defaults, the bundle's capabilities applied inside the sandbox,
 * its cgroup handling (runsc makes the bundle's `linux.cgroupsPath` and writes the limits there; the
 * Sentry, the gofer and the ptrace stubs run in it). What differs from runsc's defaults, and why:
 * - `--root <driver dir>/state`: an owned state directory under tsbench's run state (swept with it),
 *   instead of /var/run/runsc shared with every other user of runsc;
 * - `--platform=kvm` for `runsc-kvm` (the target is that platform);
 * - the network namespace is handed to runsc in the bundle: an instance asked for no network gets the
 *   driver's own, `lo` only, as Docker's `--network none` hands runsc one (runsc then builds its own
 *   loopback); with a network, the one the run made (veth, bridge, NAT), as Docker's bridge would;
 * - `/proc/sys/net` is hidden (an empty tmpfs over it) in the driver's mount namespace, where `runsc` runs:
 *   this release decides it is in the host's network namespace when /proc/sys/net/core/rmem_default
 *   exists, which on kernels that namespace that sysctl (every one this project runs) it does in every
 *   namespace, so it refuses its default network everywhere ("cannot run with network enabled in root
 *   network namespace"); the Sentry mounts its own /proc and never sees the mask;
 * - the bundle's seccomp filter (Docker's profile) is not loaded, as runsc's default (`--oci-seccomp` off)
 *   has it: the workload's calls go to the Sentry, which its own filter confines on the host.
 *
 * The sandbox keeps its own CLOCK_MONOTONIC (starting near zero when the Sentry boots), so "ready" is when the
 * agent's line reached the host, as for a VM. The footprint is the PSS of every process in the instance's
 * cgroup: the Sentry (`runsc-sandbox`), the gofer (`runsc-gofer`) and the ptrace stubs of the workload's
 * address spaces, beside the cgroup's usage (drivers/linux/lifecycle.ts). The `host` network kind is not
 * taken: runsc refuses to run its netstack in the host's namespace (`--network=host`, which passes the
 * workload's sockets to the host kernel, is another mode than the one measured).
 */
import { readdirSync } from 'node:fs';
import { execa } from 'execa';
import type { InstanceSpec } from '../linux/lifecycle.js';
import { NSENTER } from '../linux/network.js';
import { kvmDeviceProblem } from '../qemu/host.js';
import { CONTAINER_CAPABILITIES, type Capabilities, type Instance, type LaunchRequest, type Probe } from '../types.js';
import { unavailable, type Admitted } from '../linux/driver.js';
import { OciRuntimeDriver, type OciOptions } from './runtime.js';

export type RunscPlatform = 'ptrace' | 'kvm';

/** The targets' names by platform. */
export const RUNSC_TARGETS: Record<RunscPlatform, string> = { ptrace: 'runsc', kvm: 'runsc-kvm' };

/**
 * A container's, but no pids limit (see `capabilities`), only a prepared network namespace (runsc refuses the host's), and the host tasks of
 * an idle sandbox: the Sentry's and the gofer's Go threads and a ptrace stub (measured here: 35–45).
 */
export const RUNSC_CAPABILITIES: Capabilities = {
  ...CONTAINER_CAPABILITIES,
  limits: { ...CONTAINER_CAPABILITIES.limits, pids: false },
  network: ['netns'],
  hostTasks: 40,
};

/** What the probe records of how runsc runs, beside its version (target details in results). */
export function runscDetails(platform: RunscPlatform): Record<string, string> {
  return {
    platform: platform === 'ptrace' ? 'ptrace (runsc default)' : 'kvm (--platform=kvm)',
    network:
      "sandbox (runsc default: gVisor's netstack in the Sentry) in the network namespace the bundle names: the driver's own (lo only) or the run's veth/bridge",
    flagsChanged:
      `--root <tsbench's driver dir>/state (an owned state dir)${platform === 'kvm' ? '; --platform=kvm' : ''}; ` +
      "/proc/sys/net hidden in runsc's mount namespace (this release's root-namespace test is wrong on current kernels)",
    seccomp: "the bundle's filter is not loaded (runsc default --oci-seccomp=false); the Sentry's own filter confines it on the host",
    cgroups: 'runsc writes the limits in linux.cgroupsPath (its default cgroupfs handling); the Sentry, gofer and stubs run in it',
    overlay: "this release's defaults (overlay2 none; the gofer serves tsbench's overlay root, file-access=exclusive)",
  };
}

export class RunscDriver extends OciRuntimeDriver {
  constructor(
    readonly platform: RunscPlatform,
    options: OciOptions = {},
  ) {
    super('runsc', options, {
      base: RUNSC_TARGETS[platform],
      capabilities: RUNSC_CAPABILITIES,
      flags: platform === 'kvm' ? ['--platform=kvm'] : [],
      handNetns: true,
      masks: ['/proc/sys/net'],
      sameClock: false,
    });
  }

  /**
   * runc's, without a pids limit: the host's pids.max of the instance's cgroup counts the Sentry's and the gofer's
   * threads (about 40 idle), not the workload's processes, which live in the Sentry; a limit the sandbox reaches
   * kills it (measured: 32 kills a shell that forks one command). A pids limit asked for is not applied, as a VM's.
   */
  override get capabilities(): Capabilities {
    const c = super.capabilities;
    return { ...c, limits: { ...c.limits, pids: false } };
  }

  override launch(request: LaunchRequest): Promise<Instance> {
    return super.launch({ ...request, limits: request.limits && { ...request.limits, pids: undefined } });
  }

  /**
   * runc's, leaving the network namespace it was given as it found it: runsc moves an interface's IPv4
   * addresses into its netstack (removing them, and so their routes, from the namespace), so a second
   * instance on the same network (the net scenario's sockperf server after iperf3's) would find none.
   * The addresses and routes are read before the launch and put back once the instance is gone.
   */
  protected override instanceSpec(id: string, request: LaunchRequest, admitted: Admitted): InstanceSpec {
    const spec = super.instanceSpec(id, request, admitted);
    const netns = admitted.network?.kind === 'netns' ? admitted.network.path : undefined;
    if (netns === undefined) return spec;
    let saved: { addrs: string[][]; routes: string[][] } | undefined;
    const { create, release } = spec;
    return {
      ...spec,
      create: async (dir: string) => {
        saved = await netState(netns);
        return create(dir);
      },
      release: async () => {
        await release?.();
        if (saved) await restoreNetState(netns, saved);
      },
    } as InstanceSpec;
  }

  /** runsc keeps `<id>_sandbox:<id>.state` and `.lock` files under its root, not a directory per container. */
  protected override hasState(stateDir: string, id: string): boolean {
    return this.stateIds(readdirOrNone(stateDir)).includes(id);
  }

  protected override stateIds(entries: readonly string[]): string[] {
    return [...new Set(entries.flatMap((e) => (e.includes('_sandbox:') ? [e.slice(0, e.indexOf('_sandbox:'))] : [])))];
  }

  /** The probe's trial sandbox, given the driver's own time to be ready: a Sentry boots in about 1 s here, 10 s and more on a loaded or nested host. */
  protected override trialDriver(options: OciOptions): OciRuntimeDriver {
    return new RunscDriver(this.platform, { ...options, readyTimeoutMs: this.readyTimeoutMs });
  }

  /** runc's probe (version, root, cgroups, image, a trial container on this platform), with how runsc runs; runsc-kvm first needs /dev/kvm. */
  override async probe(): Promise<Probe> {
    const details = runscDetails(this.platform);
    if (this.platform === 'kvm') {
      const problem = await kvmDeviceProblem();
      if (problem !== undefined) return unavailable(`gVisor's KVM platform needs /dev/kvm: ${problem}`, details);
    }
    const p = await super.probe();
    const all = { ...p.details, ...details };
    if (!p.available) return { ...p, reason: p.reason?.replace('a test container failed', `a test sandbox (${this.platform} platform) failed`), details: all };
    return {
      ...p,
      reason: `${all['version'] ?? 'runsc'}, ${this.platform} platform; overlay root mounted before the timed window (see rootfsMountMs)`,
      details: all,
    };
  }
}

export function createRunscDriver(platform: RunscPlatform, options: OciOptions = {}): RunscDriver {
  return new RunscDriver(platform, options);
}

function readdirOrNone(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

async function ipIn(netns: string, args: string[]): Promise<string> {
  const r = await execa(NSENTER, [`--net=${netns}`, '--', 'ip', ...args], { reject: false, stdin: 'ignore' });
  return r.exitCode === 0 ? String(r.stdout) : '';
}

/** The IPv4 addresses (`ip addr add` arguments) and routes (`ip route replace` arguments) of a network namespace. */
async function netState(netns: string): Promise<{ addrs: string[][]; routes: string[][] }> {
  const addrs = (await ipIn(netns, ['-4', '-o', 'addr', 'show'])).split('\n').flatMap((l) => {
    const m = /^\d+:\s+(\S+)\s+inet\s+(\S+)/.exec(l);
    return m?.[1] && m[2] && m[1] !== 'lo' ? [[m[2], 'dev', m[1]]] : [];
  });
  const routes = (await ipIn(netns, ['-4', 'route', 'show']))
    .split('\n')
    .filter((l) => l.trim().length > 0 && !l.includes('proto kernel'))
    .map((l) => l.trim().split(/\s+/));
  return { addrs, routes };
}

/** Puts back what `netState` read: the addresses runsc took, then the routes that went with them. */
async function restoreNetState(netns: string, saved: { addrs: string[][]; routes: string[][] }): Promise<void> {
  for (const a of saved.addrs) await ipIn(netns, ['addr', 'replace', ...a]);
  for (const r of saved.routes) await ipIn(netns, ['route', 'replace', ...r]);
}
