/**
 * `qemu-system-x86_64 --version`: whether QEMU is here, and which one produced a figure. Asked once per binary and
 * process: `tsbench targets` probes every VM target at once, and in an emulated host (the nested KVM test host) a
 * dozen QEMU starts at the same time took longer than any short limit; one answer serves them all. A QEMU that does
 * not answer within a minute is reported as that, not as missing.
 */
import { execa, type ExecaError } from 'execa';
import { QEMU_BINARY } from './cmdline.js';

export type QemuVersion = { ok: true; version: string } | { ok: false; reason: string };

/** How long `--version` may take: QEMU's start under emulation, on a loaded machine, took over 5 s. */
export const VERSION_TIMEOUT_MS = 60_000;

const answers = new Map<string, Promise<QemuVersion>>();

/** The version QEMU reports (`8.2.2`), or why there is none; a failure is asked again next time. */
export function qemuVersion(binary: string = QEMU_BINARY): Promise<QemuVersion> {
  let answer = answers.get(binary);
  if (!answer) {
    answer = ask(binary);
    answers.set(binary, answer);
    void answer.then((a) => {
      if (!a.ok) answers.delete(binary);
    });
  }
  return answer;
}

async function ask(binary: string): Promise<QemuVersion> {
  try {
    const { stdout } = await execa(binary, ['--version'], { timeout: VERSION_TIMEOUT_MS, stdin: 'ignore' });
    return { ok: true, version: /version\s+(\S+)/.exec(stdout)?.[1] ?? stdout.split('\n')[0] ?? 'unknown' };
  } catch (e) {
    const err = e as ExecaError;
    const code = err.code ?? (err.cause as NodeJS.ErrnoException | undefined)?.code;
    if (code === 'ENOENT') return { ok: false, reason: `${binary} not found: apt-get install qemu-system-x86` };
    if (code === 'EACCES') return { ok: false, reason: `${binary} is not executable: reinstall qemu-system-x86` };
    if (err.timedOut) return { ok: false, reason: `${binary} --version did not answer within ${VERSION_TIMEOUT_MS / 1000} s` };
    const said = String(err.stderr ?? '')
      .trim()
      .split('\n')
      .pop();
    return { ok: false, reason: `${binary} --version failed: ${said || err.shortMessage}` };
  }
}
