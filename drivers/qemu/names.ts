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

/** The profile in words, as targets, probes and reports name it. */
export function profileWords(profile: VmProfile): string {
  return profile === 'lean' ? 'lean microVM' : 'stock VM';
}

/** The target of tsbench's container inside a VM target (claim C10). */
export function nestedTargetName(accelerator: Accelerator, profile: VmProfile): string {
  return `container-in-${vmTargetName(accelerator, profile)}`;
}

/** What a container-in-VM target is, in words (`tsbench targets`). */
export function nestedDescription(accelerator: Accelerator, profile: VmProfile): string {
  return `tsbench's container (namespaces, overlay root, cgroup) inside the ${vmTargetName(accelerator, profile)} VM (${profileWords(profile)})`;
}

/** What a VM target is, in words (`tsbench targets`). */
export function vmDescription(accelerator: Accelerator, profile: VmProfile): string {
  const accel = accelerator === 'kvm' ? 'KVM hardware virtualization' : 'TCG binary translation (no hardware virtualization)';
  return profile === 'lean'
    ? `${profileWords(profile)} under ${accel}: tsbench's minimal kernel (PVH vmlinux, no modules, no initramfs), read-only root disk`
    : `${profileWords(profile)} under ${accel}: Debian's cloud kernel (bzImage), modules from a tiny initramfs, read-only root disk`;
}
