/** tsbench's container inside a QEMU VM (claim C10) — placeholder until it lands. */
import type { Driver } from '../types.js';

export function createNestedDriver(accel: 'kvm' | 'tcg'): Driver {
  const name = `container-in-${accel}`;
  return {
    name,
    description: `tsbench's container inside a ${accel} VM`,
    isolation: 'vm',
    probe: async () => ({ available: false, reason: 'not implemented yet' }),
    prepare: async () => {},
    launch: async () => {
      throw new Error(`[tsbench] [${name}] launch: not implemented yet`);
    },
    teardown: async () => {},
  };
}
