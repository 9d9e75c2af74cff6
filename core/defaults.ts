/**
 * Resource limits when a run sets none, in one place: the drivers size their
 * VMs with them, the scenarios match their targets with them, and the CLI's help
 * and the scenarios' descriptions print them from here.
 */

import { MiB } from './units.js';

/**
 * VM RAM, and the memory limit every target of a resource scenario gets, when
 * the run sets no `--memory`: Firecracker's and Kata's default guest size
 * (128–256 MiB). The VMs boot a read-only root disk, so the image does not live
 * in guest RAM (it did, as a 116 MB initramfs, until 512 MiB was the default).
 */
export const DEFAULT_MEMORY_BYTES = 256 * MiB;

/** CPUs every target of a resource scenario gets when the run sets no `--cpus` (a quota, or vCPUs). */
export const DEFAULT_CPUS = 1;

/** The limits scenario: a container's memory limit when the run sets no `--memory` (VMs keep their RAM). */
export const DEFAULT_LIMITS_CONTAINER_MEMORY_BYTES = 128 * MiB;

/** The limits scenario: the CPU quota when the run sets no `--cpus`. */
export const DEFAULT_LIMITS_CPUS = 0.5;

/**
 * The least memory limit a container instance gets (`--memory` below it is refused before the run):
 * measured, the agent in tsbench's container ran with 2 MiB, runc's did not start with 2 MiB and did with 4.
 * VMs need far more; their driver says how much (`Driver.minMemory`).
 */
export const MIN_CONTAINER_MEMORY_BYTES = 4 * MiB;

/** Space a run leaves free on the filesystems it writes to: this share of what is free, and at least `minBytes`. */
export const FREE_SPACE_RESERVE = { fraction: 0.1, minBytes: 1024 * MiB } as const;
