/**
 * `container-in-tcg` and `container-in-kvm` (claim C10: a container inside a VM
 * "combines both worlds at little extra cost"): the very VM of the `tcg`/`kvm`
 * targets — same kernel, image, QEMU command line, vCPUs and RAM — whose agent
 * (PID 1) does not run the job itself but starts it in a container made by
 * tsbench's own runtime, the same C as the host's `container` target
 * (drivers/container/nsexec.c in tsbench-launch, which the image carries at
 * /sbin/tsbench-launch). The container's PID 1 is the agent again, reporting
 * ready, output and exit on the same console, so every scenario runs unchanged.
 *
 * What the container gets inside the guest, like the host's container: fresh
 * pid, mount, uts, ipc, net (only `lo`) and cgroup namespaces; an overlay root
 * whose lower layer is the image (the guest's initramfs root, `/`) and whose
 * upper layer is a tmpfs of its own; a fresh /proc, a read-only /sys, a minimal
 * /dev; a cgroup v2 group (the guest mounts cgroup2; the host here may be v1)
 * with the memory, CPU and pids controllers. It enters its root with MS_MOVE +
 * chroot (`--no-pivot`): the stock VM's root was itself entered by MS_MOVE +
 * chroot from the initramfs, where pivot_root fails.
 *
 * Network: a VM with a NIC (`LaunchRequest.network` of kind `tap`) gives it to the
 * container: the container shares the guest's network namespace (no `net` in its
 * namespaces), so its network is the VM's virtio-net NIC, as a Kata container's is.
 * The instance's details say so (`containerNetwork`).
 *
 * Limits: the VM gets them as for `tcg`/`kvm` (vCPUs rounded up, RAM), and the
 * container the same ones again as its cgroup (memory.max = the VM's RAM,
 * cpu.max = the CPU quota), so the figures measure what the container adds,
 * not a smaller box; the run's pids limit, which a VM has no use for, is the
 * container cgroup's pids.max.
 *
 * Timeline: the VM's phases with the agent's part split at the clone
 * (drivers/qemu/index.ts `vmPhases`): qemu → kernel → agent (overlay module,
 * cgroup) → container (clone, namespaces, overlay root, the container's agent
 * up to ready) → exit.
 */
import { access, constants } from 'node:fs/promises';
import { join } from 'node:path';
import { describeError } from '../../core/errors.js';
import { DEFAULT_IMAGE, encodeJob, loadImage, targetWithImage, type ImageName } from '../image/index.js';
import { missingModules } from '../image/kernel.js';
import { CPU_PERIOD_US, cpuQuotaUs } from '../linux/cgroups.js';
import { ENV } from '../protocol.js';
import type { Capabilities, Driver, LaunchRequest, Limits, PrepareContext, Probe } from '../types.js';
import { QemuDriver, type Accelerator, type GuestVm, type QemuDriverOptions, type VmDetails, type VmInstance, type VmProfile } from './index.js';
import { nestedTargetName } from './names.js';

/** The container's cgroup, below the guest's cgroup2 root. */
export const GUEST_CGROUP = 'tsbench-ct';

/** The container's hostname (its own uts namespace). */
export const GUEST_HOSTNAME = 'tsbench-ct';

/** Namespaces of the container inside the guest: those of the host's `container` target. */
export const GUEST_NAMESPACES = ['pid', 'mnt', 'uts', 'ipc', 'net', 'cgroup'] as const;

/** The container's namespaces in a VM with or without a NIC: with one, it keeps the guest's network (the NIC). */
export function guestNamespaces(net: boolean): string[] {
  return GUEST_NAMESPACES.filter((ns) => !(net && ns === 'net'));
}

/** What `containerNetwork` in the details of an instance with a NIC says. */
export const CONTAINER_NETWORK_ON_NIC = "the VM's network namespace: its virtio-net NIC, as a Kata container's";

/**
 * The kernel parameters that make the agent start the job in a container:
 * `tsbench.container` (tsbench-launch's container options) and `tsbench.cgroup`
 * (what to create and write under the guest's /sys/fs/cgroup), each base64url of
 * strings joined by NUL, like `tsbench.job`. Pure, for tests.
 */
export function guestContainerArgs(vm: GuestVm): string[] {
  const launcher = [
    '--ns',
    guestNamespaces(vm.net === true).join(','),
    '--hostname',
    GUEST_HOSTNAME,
    // The image is the guest's root: its read-only root disk.
    '--rootfs-lower',
    '/',
    // --upper-tmpfs mounts a tmpfs on /tmp inside the container's mount namespace only.
    '--upper',
    '/tmp/upper',
    '--work',
    '/tmp/work',
    '--merged',
    '/tmp/merged',
    '--upper-tmpfs',
    'mode=0755',
    // The guest kernel is 5.11+ (Debian's 6.1): skip syncs and the uuid xattr, as the host's container does.
    '--overlay-opts',
    'volatile,uuid=off',
    '--no-pivot',
    '--cgroup-dir',
    `/sys/fs/cgroup/${GUEST_CGROUP}`,
    // The VM's data disk (io scenario) is the container's volume, as a host directory is for `container`.
    ...(vm.disk !== undefined ? ['--volume', '/data:/data'] : []),
    ...ENV.flatMap((e) => ['--env', e]),
  ];
  const cgroup = [
    'cgroup.subtree_control=+cpu +memory +pids',
    `${GUEST_CGROUP}/`,
    ...(vm.memoryBytes !== undefined ? [`${GUEST_CGROUP}/memory.max=${Math.round(vm.memoryBytes)}`] : []),
    ...(vm.cpus !== undefined ? [`${GUEST_CGROUP}/cpu.max=${cpuQuotaUs(vm.cpus)} ${CPU_PERIOD_US}`] : []),
    ...(vm.pids !== undefined ? [`${GUEST_CGROUP}/pids.max=${Math.round(vm.pids)}`] : []),
  ];
  return [`tsbench.container=${encodeJob(launcher)}`, `tsbench.cgroup=${encodeJob(cgroup)}`];
}

export type NestedDriverOptions = Omit<QemuDriverOptions, 'accelerator' | 'name' | 'guestArgs'>;

export class NestedDriver implements Driver {
  readonly name: string;
  /** The VM's (vCPUs and RAM, its minimum: the container inside shares its RAM), and the guest cgroup's pids limit; an OOM inside the guest is not seen from the host. */
  readonly capabilities: Capabilities;
  private readonly vm: QemuDriver;

  readonly profile: VmProfile;
  readonly imageName: ImageName;

  constructor(
    readonly accelerator: Accelerator,
    private readonly opts: NestedDriverOptions = {},
  ) {
    this.profile = opts.profile ?? 'lean';
    this.imageName = opts.image ?? DEFAULT_IMAGE;
    this.name = targetWithImage(nestedTargetName(accelerator, this.profile), this.imageName);
    this.vm = new QemuDriver({ ...opts, accelerator, name: this.name, guestArgs: guestContainerArgs });
    this.capabilities = { ...this.vm.capabilities, limits: { cpus: true, memoryBytes: true, pids: true } };
  }

  /** The VM's, and the pids limit of the guest cgroup the container runs in. */
  limitsFor(requested: Limits): Limits {
    return { ...this.vm.limitsFor(requested), pids: requested.pids };
  }

  /**
   * The VM alone's verdict first (for kvm its cached probe boot: never tcg in its
   * place), then what the container needs in the image: the launcher and overlayfs.
   */
  async probe(): Promise<Probe> {
    if (this.imageName !== DEFAULT_IMAGE)
      return {
        available: false,
        reason: `tsbench's container inside a VM runs the lean image only: a VM of the ${this.imageName} image boots systemd to the agent's unit, which starts no container (not implemented)`,
      };
    const alone = await new QemuDriver({ ...this.opts, accelerator: this.accelerator }).probe();
    if (!alone.available) return alone;
    if (this.opts.initramfs === undefined) {
      try {
        const image = await loadImage(this.opts.guestKernel);
        await access(join(image.rootfs, 'sbin/tsbench-launch'), constants.X_OK);
        // The lean kernel has overlayfs built in (drivers/image/kernel/lean.config, checked when it is built).
        const missing = this.profile === 'cloud' ? await missingModules(image.kernel.modulesDir) : [];
        if (missing.length > 0)
          return {
            available: false,
            reason: `the guest kernel ${image.kernel.version} has no ${missing.join(', ')} module: run \`tsbench kernel fetch\`, then \`tsbench image build\``,
            details: alone.details,
          };
      } catch (e) {
        return {
          available: false,
          reason: `the image carries no container runtime (${describeError(e)}): run \`tsbench image build\``,
          details: alone.details,
        };
      }
    }
    return {
      available: true,
      reason: `${alone.reason ?? `accelerator: ${this.accelerator}`}; the job in tsbench's container inside the VM`,
      details: {
        ...alone.details,
        containerNamespaces: `${GUEST_NAMESPACES.join(',')} (without net when the VM has a NIC: the container's network is the VM's)`,
        containerCgroup: `v2:memory+cpu+pids /${GUEST_CGROUP}`,
        containerRoot: 'overlay (lower: the image, upper: tmpfs), MS_MOVE + chroot',
      },
    };
  }

  prepare(ctx: PrepareContext): Promise<void> {
    return this.vm.prepare(ctx);
  }

  async launch(request: LaunchRequest): Promise<VmInstance> {
    const instance = await this.vm.launch(request);
    if (request.network === undefined) return instance;
    // The container inside has no network namespace of its own: record whose it uses.
    const details: VmDetails = { ...instance.details, containerNetwork: CONTAINER_NETWORK_ON_NIC };
    return { ...instance, details, result: instance.result.then((r) => ({ ...r, extra: { ...r.extra, containerNetwork: CONTAINER_NETWORK_ON_NIC } })) };
  }

  teardown(): Promise<void> {
    return this.vm.teardown();
  }
}

export function createNestedDriver(accel: Accelerator, opts: NestedDriverOptions = {}): NestedDriver {
  return new NestedDriver(accel, opts);
}
