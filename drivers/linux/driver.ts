/**
 * The base of every Linux-container driver: `container` (drivers/container), `runc`
 * and `crun` (drivers/oci/runtime.ts), `docker` and `podman` (drivers/oci/engine.ts).
 *
 * What they share lives here: the options and their defaults, the capabilities (a
 * container's, less the limits this host's cgroups cannot enforce), `fail()`, the
 * probe's checks of the cgroups and the image, `prepare`'s image and cgroups, and
 * `launch`: prepared, the limits enforceable, the network one the driver takes,
 * then the one lifecycle (drivers/linux/lifecycle.ts) with the `InstanceSpec` the
 * driver writes for the instance. A driver's own file says what differs: its probe,
 * the rest of its `prepare`, how an instance is made (`instanceSpec`) and what its
 * teardown removes besides the instances.
 */
import { tmpdir } from 'node:os';
import { TargetError, describeError } from '../../core/errors.js';
import { DEFAULT_IMAGE, imageBuildCommand, loadImage, targetWithImage, type Image, type ImageChoice, type ImageName } from '../image/index.js';
import {
  CONTAINER_CAPABILITIES,
  type Capabilities,
  type Driver,
  type DriverOptions,
  type Instance,
  type LaunchRequest,
  type Limits,
  type NetworkAttachment,
  type PrepareContext,
  type Probe,
} from '../types.js';
import { enforceableLimits, unenforceable, type CgroupHost } from './cgroups.js';
import type { Confinement } from './confinement.js';
import { LinuxInstances, cgroupDetails, linuxCgroups, prepareImageAndCgroups, type InstanceSpec } from './lifecycle.js';
import { checkNetwork } from './network.js';

export interface LinuxDriverOptions extends Pick<DriverOptions, 'upper' | 'guestKernel' | 'confinement' | 'image'> {
  /** Where the driver's directories (instances, runtime state, a seccomp filter, podman's working directory) are made. @default os.tmpdir() */
  tmpDir?: string;
  /** Kill an instance whose agent has not said `ready` by then, in ms. @default 30000 (docker and podman: 60000) */
  readyTimeoutMs?: number;
}

/** What the driver's base fixes for it: the target's base name, what it takes, its defaults. */
export interface LinuxDriverKind {
  /** `container`, `runc`, `docker`…: the target's name for the lean image. */
  base: string;
  /** @default CONTAINER_CAPABILITIES */
  capabilities?: Capabilities;
  /** @default 30000 */
  readyTimeoutMs?: number;
  /** See `LinuxInstancesOptions.idPrefix`. @default '' */
  idPrefix?: string;
  /** See `LinuxInstancesOptions.sameClock`. @default true */
  sameClock?: boolean;
}

/** What `launch` checked, for `instanceSpec`. */
export interface Admitted {
  image: Image;
  host: CgroupHost;
  limits: Limits;
  /** The network asked for, one the driver takes; undefined: `lo` only. */
  network: NetworkAttachment | undefined;
}

/** A probe's answer that the target cannot run here. */
export function unavailable(reason: string, details?: Record<string, string>): Probe {
  return { available: false, reason, details };
}

export abstract class LinuxContainerDriver implements Driver {
  readonly name: string;
  readonly imageName: ImageName;
  /** The image (and for the lean one, the guest kernel it is built for). */
  protected readonly imageChoice: ImageChoice;
  protected readonly tmpDir: string;
  protected readonly upper: 'tmpfs' | 'disk';
  protected readonly confinement: Confinement;
  protected readonly readyTimeoutMs: number;
  protected readonly instances: LinuxInstances;
  private readonly baseCapabilities: Capabilities;
  /** Set by `prepare`. */
  protected image: Image | undefined;
  /** The host's cgroups: set by the probe (`probeCgroups`) or by `prepare`. */
  protected host: CgroupHost | undefined;
  /** Whether `prepare` ran to its end since the last teardown (else `launch` runs it). */
  protected prepared = false;

  constructor(kind: LinuxDriverKind, options: LinuxDriverOptions = {}) {
    this.imageName = options.image ?? DEFAULT_IMAGE;
    this.name = targetWithImage(kind.base, this.imageName);
    this.imageChoice = { ...options.guestKernel, image: this.imageName };
    this.tmpDir = options.tmpDir ?? tmpdir();
    this.upper = options.upper ?? 'tmpfs';
    this.confinement = options.confinement ?? 'docker-default';
    this.readyTimeoutMs = options.readyTimeoutMs ?? kind.readyTimeoutMs ?? 30_000;
    this.baseCapabilities = kind.capabilities ?? CONTAINER_CAPABILITIES;
    // Ids unique across drivers of this process (probes of runc and crun run at once): cgroup paths are host-wide.
    this.instances = new LinuxInstances({ target: this.name, readyTimeoutMs: this.readyTimeoutMs, idPrefix: kind.idPrefix, sameClock: kind.sameClock });
  }

  /** The driver's, less the limits whose cgroup controller this host does not offer (known once probed or prepared). */
  get capabilities(): Capabilities {
    return this.host ? { ...this.baseCapabilities, limits: enforceableLimits(this.host) } : this.baseCapabilities;
  }

  protected fail(step: string, message: string, cause?: unknown): TargetError {
    return new TargetError(this.name, step, message, cause === undefined ? undefined : { cause });
  }

  /** The probe's look at the host's cgroups, kept for `capabilities`, with what `tsbench targets` says of them; or why it cannot. */
  protected async probeCgroups(): Promise<{ host: CgroupHost; details: Record<string, string> } | { reason: string }> {
    try {
      const { host, delegation } = await linuxCgroups();
      this.host ??= host;
      return { host, details: cgroupDetails(host, delegation) };
    } catch (e) {
      return { reason: `cannot read the cgroup mounts: ${describeError(e)}` };
    }
  }

  /** Why the probe finds no workload image, naming the command that builds it; undefined when it is built. */
  protected async imageProblem(): Promise<string | undefined> {
    try {
      await loadImage(this.imageChoice);
      return undefined;
    } catch (e) {
      return `the workload image is not built (${describeError(e)}): run \`${imageBuildCommand(this.imageName)}\``;
    }
  }

  abstract probe(): Promise<Probe>;

  /** The image (built if missing) and the host's cgroups, then the driver's own part (`prepareRest`). Runs once until teardown. */
  async prepare(_ctx?: PrepareContext): Promise<void> {
    if (this.prepared) return;
    const { image, host } = await prepareImageAndCgroups(this.name, this.imageChoice);
    this.image = image;
    this.host = host;
    await this.prepareRest(image, host);
    this.prepared = true;
  }

  /** What the driver prepares besides the image and cgroups (a namespace, an imported image, a compiled filter). Throws a TargetError. */
  protected abstract prepareRest(image: Image, host: CgroupHost): Promise<void>;

  async launch(request: LaunchRequest): Promise<Instance> {
    if (!this.prepared) await this.prepare();
    const host = this.host as CgroupHost;
    const limits = request.limits ?? {};
    const refused = unenforceable(host, limits);
    if (refused !== undefined) throw this.fail('launch', refused);
    const admitted: Admitted = { image: this.image as Image, host, limits, network: checkNetwork(this.name, this.capabilities, request) };
    return this.instances.launch(request, (id) => this.instanceSpec(id, request, admitted));
  }

  /** How the driver makes instance `id` (lifecycle.ts runs it). */
  protected abstract instanceSpec(id: string, request: LaunchRequest, admitted: Admitted): InstanceSpec;

  /** Kills every instance and removes what they left, then what the driver made (`release`). Idempotent. */
  async teardown(): Promise<void> {
    await this.instances.teardown();
    await this.release();
    this.prepared = false;
  }

  /** What the teardown removes besides the instances. Idempotent. */
  protected abstract release(): Promise<void>;
}
