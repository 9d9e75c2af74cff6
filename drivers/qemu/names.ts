/**
 * The VM targets' names and descriptions, apart from the driver so that the target
 * registry can list them without loading it.
 */
import { VM_PROFILES, type Accelerator, type VmProfile } from './cmdline.js';

export { VM_PROFILES };

/** A VM target's name: the accelerator for the lean microVM (the default VM), `-cloud` after it for the stock VM. */
export function vmTargetName(accelerator: Accelerator, profile: VmProfile): string {
  return profile === 'lean' ? accelerator : `${accelerator}-cloud`;
}

/** What a VM target is, in words (`tsbench targets`). */
export function vmDescription(accelerator: Accelerator, profile: VmProfile): string {
  const accel = accelerator === 'kvm' ? 'KVM hardware virtualization' : 'TCG binary translation (no hardware virtualization)';
  return profile === 'lean'
    ? `lean microVM under ${accel}: tsbench's minimal kernel (PVH vmlinux, no modules, no initramfs), read-only root disk`
    : `stock VM under ${accel}: Debian's cloud kernel (bzImage), modules from a tiny initramfs, read-only root disk`;
}
