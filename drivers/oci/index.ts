/**
 * Peer runtimes as targets, measured beside tsbench's own container with the
 * same image, agent and jobs: `runc` and `crun` run a generated OCI bundle
 * (drivers/oci/runtime.ts); `podman` and `docker` run an image imported from
 * the same rootfs (drivers/oci/engine.ts).
 */
import type { Driver, DriverOptions } from '../types.js';
import { EngineDriver } from './engine.js';
import { OciRuntimeDriver } from './runtime.js';

export type PeerRuntime = 'runc' | 'crun' | 'podman' | 'docker';

export function createPeerDriver(name: PeerRuntime, options: DriverOptions = {}): Driver {
  return name === 'runc' || name === 'crun' ? new OciRuntimeDriver(name, options) : new EngineDriver(name, options);
}
