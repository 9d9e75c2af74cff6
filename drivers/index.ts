/**
 * The drivers layer's public surface: everything `bench/`, `reports/` and `cli/`
 * may use of it, and nothing else (test/architecture.test.ts checks that they
 * import drivers only from here). A driver's insides — QEMU's smaps, a cgroup's
 * files, how a namespace is made — stay behind the contract of ./types.ts: an
 * instance reports what it costs and consumed, a driver what limits it applies.
 */

// The contract.
export {
  CONTAINER_CAPABILITIES,
  appliedLimits,
  type Accounting,
  type Capabilities,
  type Driver,
  type DriverOptions,
  type Footprint,
  type Instance,
  type InstanceResult,
  type InstanceStatus,
  type Job,
  type JobRusage,
  type KernelChoice,
  type LaunchRequest,
  type Limits,
  type MinMemory,
  type NetworkAttachment,
  type Probe,
  type Volume,
  type WorkloadCpu,
} from './types.js';

// The targets by name.
export { createDriver, listTargets, parseTargets, type TargetInfo } from './registry.js';
export { vmTargetName } from './qemu/names.js';
export { MACHINES, type Machine } from './qemu/cmdline.js';

// The workload image and guest kernels (`tsbench image`, `tsbench kernel`), and image names in target names.
export {
  DEFAULT_IMAGE,
  IMAGE_NAMES,
  ImageError,
  buildLeanKernel,
  cacheDir,
  cleanImages,
  ensureImage,
  fetchKernel,
  imageWords,
  loadImage,
  parseImageName,
  resolveKernel,
  resolveLeanKernel,
  targetParts,
  targetWithImage,
  type Image,
  type ImageName,
} from './image/index.js';
export type { LeanKernelProgress } from './image/lean-kernel.js';

// What tsbench owns on the host: directories recorded before they are made, and the sweep of what a killed run left.
export { makeOwnedDir, record, stateRoot, sweep } from './ownership.js';

// The networks an instance can be put on (bench/scenarios/net.ts), and which a target takes.
export { NET_PATHS, NET_PATH_TEXT, SERVER_PORTS, inNetns, makeNetwork, netPathsOf, unavailableBecause, type NetPath, type Network } from './linux/network.js';

// Host facts recorded with results and used by preflight.
export { CPU_PERIOD_US, MIN_CPU_QUOTA_US, cgroupLayoutOf } from './linux/cgroups.js';

// Whether a --volume can be bound, checked by the CLI before anything is made and by the drivers at launch.
export { volumeProblem } from './linux/volumes.js';

export { bootId, hostEmulatedBy } from './qemu/host.js';
export { latestVerdictThisBoot } from './qemu/verdict.js';
export { qemuVersion } from './qemu/version.js';
