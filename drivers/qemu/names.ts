/**
 * The VM targets' names and descriptions, apart from the driver so that the target
 * registry can list them without loading it.
 */
import { VM_PROFILES, type Accelerator, type VmProfile } from './cmdline.js';
import type { RestoreMode } from './snapshot.js';

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

/** The restore start modes a VM target comes in (drivers/qemu/snapshot.ts), by the suffix of their names. */
export const RESTORE_MODES: readonly { suffix: string; mode: RestoreMode }[] = [
  { suffix: 'restore', mode: {} },
  { suffix: 'restore-prespawned', mode: { prespawned: true } },
  { suffix: 'restore-template', mode: { template: true } },
];

/** A VM target started from a snapshot: `tcg-restore`, `kvm-restore-prespawned`, `tcg-cloud-restore-template` …; the plain name without one. */
export function restoreTargetName(vmTarget: string, mode: RestoreMode | undefined): string {
  if (mode === undefined) return vmTarget;
  return `${vmTarget}-restore${mode.prespawned === true ? '-prespawned' : ''}${mode.template === true ? '-template' : ''}`;
}

/** A restore mode in words. */
export function restoreWords(mode: RestoreMode): string {
  const how = mode.template === true ? 'guest RAM mapped copy-on-write from a shared template file (x-ignore-shared)' : 'RAM loaded from the saved stream';
  return `restored from a snapshot saved once per run (${how}${mode.prespawned === true ? '; qemu pre-spawned, the timed window starts at migrate-incoming' : '; the timed window starts at the fork of qemu'})`;
}

/** What a restored VM target is, in words (`tsbench targets`). */
export function restoreDescription(accelerator: Accelerator, profile: VmProfile, mode: RestoreMode): string {
  return `${vmTargetName(accelerator, profile)} ${restoreWords(mode)}; no NIC, no data disk`;
}
