/** Peer OCI runtimes (runc, crun, podman, docker) as targets — placeholder until issue 9 lands. */
import type { Driver } from '../types.js';

export type PeerRuntime = 'runc' | 'crun' | 'podman' | 'docker';

export function createPeerDriver(name: PeerRuntime): Driver {
  return {
    name,
    description: `${name} (peer OCI runtime)`,
    isolation: 'container',
    probe: async () => ({ available: false, reason: 'not implemented yet' }),
    prepare: async () => {},
    launch: async () => {
      throw new Error(`[tsbench] [${name}] launch: not implemented yet`);
    },
    teardown: async () => {},
  };
}
