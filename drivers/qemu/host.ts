/**
 * Facts about the host the QEMU driver needs: whether /dev/kvm can be opened,
 * who serves it, the boot id its verdict is cached under, the TSC frequency a
 * TCG guest needs.
 */
import { constants } from 'node:fs';
import { access, open, readFile } from 'node:fs/promises';
import { execa } from 'execa';

/** Opens /dev/kvm read-write, as QEMU does; undefined when that works, else why not. */
export async function kvmDeviceProblem(path = '/dev/kvm'): Promise<string | undefined> {
  try {
    const fd = await open(path, constants.O_RDWR);
    await fd.close();
    return undefined;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return `${path} does not exist (no KVM module loaded, or no hardware virtualization exposed to this machine)`;
    if (code === 'EACCES' || code === 'EPERM') return `${path} is not accessible to this user: add it to the kvm group or run as root`;
    return `cannot open ${path}: ${(e as Error).message}`;
  }
}

/**
 * A note on who serves /dev/kvm when it is not the ordinary kvm_intel/kvm_amd,
 * e.g. kvm_pvm (a paravirtual nested hypervisor, on which a standard guest
 * kernel hangs right after the bootloader). Undefined for the ordinary ones,
 * and when there is no `device` at all: then nothing serves it.
 */
export async function kvmProviderNote(sysModule = '/sys/module', device = '/dev/kvm'): Promise<string | undefined> {
  try {
    await access(device);
    await access(`${sysModule}/kvm_pvm`);
    return '/dev/kvm is served by kvm_pvm, a paravirtual nested hypervisor; standard guests hang after the bootloader';
  } catch {
    return undefined;
  }
}

/**
 * `tcg` when this machine's CPU is QEMU TCG's emulation: /proc/cpuinfo's model name is what
 * `-cpu max` reports under TCG ("QEMU TCG CPU version 2.5+"). Such a host is itself a VM under TCG —
 * the nested KVM test host (test/helpers/testhost.ts) is one — and a KVM guest on it runs at TCG's
 * speed: it boots on the KVM code path, but its timings are figures of emulation. Undefined otherwise.
 */
export async function hostEmulatedBy(cpuinfo?: string): Promise<'tcg' | undefined> {
  if (cpuinfo === undefined)
    return (thisHostEmulatedBy ??= readFile('/proc/cpuinfo', 'utf8')
      .catch(() => '')
      .then((text) => hostEmulatedBy(text)));
  const model = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? '';
  return /\bQEMU TCG CPU\b/.test(model) ? 'tcg' : undefined;
}

/** This machine's answer, read once: the driver asks at every probe and launch, and a CPU's model does not change. */
let thisHostEmulatedBy: Promise<'tcg' | undefined> | undefined;

/** This host boot's id; a cached KVM verdict is valid until the next boot. */
export async function bootId(): Promise<string> {
  return (await readFile('/proc/sys/kernel/random/boot_id', 'utf8')).trim();
}

/** The direct children of a process (the launcher's child is qemu). */
export async function childPids(pid: number): Promise<number[]> {
  try {
    const text = await readFile(`/proc/${pid}/task/${pid}/children`, 'utf8');
    return text
      .trim()
      .split(/\s+/)
      .filter((s) => /^\d+$/.test(s))
      .map(Number);
  } catch {
    return [];
  }
}

/**
 * The host's TSC frequency in kHz, for the guest's `tsc_early_khz=`. Under TCG
 * the guest's TSC is the host's, and on `-M microvm` (no HPET, no ACPI PM timer)
 * the guest can only calibrate it against the emulated PIT, which fails when the
 * host is busy — and then the guest hangs with no clocksource (8 of 10 boots
 * with two VMs starting at once, here). Giving the frequency skips calibration.
 *
 * Sources, most trusted first: `override` (the CLI's `TSBENCH_TSC_KHZ`); /proc/cpuinfo's `cpu MHz` when
 * the TSC is constant and no cpufreq driver varies that figure (typical of VMs,
 * where it is the TSC's); the kernel log's "tsc: Refined TSC clocksource
 * calibration" or "tsc: Detected … MHz". Undefined when none is known.
 */
export async function hostTscKhz(override?: number): Promise<number | undefined> {
  if (override !== undefined) return override;
  try {
    const cpuinfo = await readFile('/proc/cpuinfo', 'utf8');
    const first = cpuinfo.split('\n\n')[0] ?? '';
    const flags = /^flags\s*:\s*(.*)$/m.exec(first)?.[1]?.split(' ') ?? [];
    const mhz = /^cpu MHz\s*:\s*([\d.]+)/m.exec(first)?.[1];
    const cpufreq = await access('/sys/devices/system/cpu/cpu0/cpufreq').then(
      () => true,
      () => false,
    );
    if (mhz !== undefined && flags.includes('constant_tsc') && !cpufreq) return Math.round(Number(mhz) * 1000);
  } catch {
    // fall through to the kernel log
  }
  try {
    const { stdout } = await execa('dmesg', [], { timeout: 2000, reject: false });
    const refined = [...stdout.matchAll(/tsc: Refined TSC clocksource calibration: ([\d.]+) MHz/g)].pop()?.[1];
    const detected = [...stdout.matchAll(/tsc: Detected ([\d.]+) MHz processor/g)].pop()?.[1];
    const mhz = refined ?? detected;
    if (mhz !== undefined) return Math.round(Number(mhz) * 1000);
  } catch {
    // no kernel log to read
  }
  return undefined;
}
