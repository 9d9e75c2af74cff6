/**
 * `tsbench exec --target T -- CMD ARGS…`: run one command of the image in a
 * fresh instance of a target and stream its output, like `docker run --rm`.
 * The exit code is the command's own; a CMD without a slash is looked up on the
 * image's PATH (127: no such command, 126: it cannot be executed).
 */
import { createDriver, parseTargets } from '../../drivers/registry.js';
import type { Limits } from '../../drivers/types.js';
import { CancelledError, UsageError } from '../../core/errors.js';

export interface ExecFlags {
  target: string;
  cpus?: number;
  memory?: number;
  volume?: string[];
}

export function parseVolume(spec: string): { hostPath: string; guestPath: string; readOnly: boolean } {
  const m = /^([^:]+):([^:]+)(?::(ro|rw))?$/.exec(spec);
  if (!m || !m[1]?.startsWith('/') || !m[2]?.startsWith('/')) {
    throw new UsageError(`--volume '${spec}' must be HOST:GUEST[:ro] with absolute paths, e.g. --volume /tmp/data:/data`);
  }
  return { hostPath: m[1], guestPath: m[2], readOnly: m[3] === 'ro' };
}

export async function execCommand(argv: string[], flags: ExecFlags): Promise<number> {
  const [target, ...extra] = parseTargets(flags.target);
  if (!target || extra.length > 0) throw new UsageError('--target takes exactly one target, e.g. --target container');
  if (argv.length === 0) throw new UsageError('no command given: tsbench exec --target T -- CMD ARGS…');
  const volumes = (flags.volume ?? []).map(parseVolume);
  const limits: Limits = {
    ...(flags.cpus !== undefined ? { cpus: flags.cpus } : {}),
    ...(flags.memory !== undefined ? { memoryBytes: flags.memory } : {}),
  };
  const driver = await createDriver(target);
  const probe = await driver.probe();
  if (!probe.available) {
    process.stderr.write(`tsbench: target ${target} is unavailable: ${probe.reason ?? 'no reason given'}\n`);
    return 1;
  }
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals): void => controller.abort(new CancelledError(`interrupted by ${sig}`));
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    await driver.prepare({ limits, signal: controller.signal });
    const instance = await driver.launch({
      job: { kind: 'exec', argv },
      limits,
      volumes,
      signal: controller.signal,
      onOutput: (line) => process.stdout.write(`${line}\n`),
      onStderr: (line) => process.stderr.write(`${line}\n`),
    });
    const r = await instance.result;
    if (r.status !== 'ok' && r.status !== 'failed') {
      process.stderr.write(`tsbench: [${target}] ${r.status}: ${r.reason ?? ''}\n`);
      if (r.status === 'timeout') for (const l of r.tail) process.stderr.write(`  | ${l}\n`);
    } else if ((r.exitCode === 127 || r.exitCode === 126) && r.reason) process.stderr.write(`tsbench: [${target}] ${r.reason}\n`);
    if (controller.signal.aborted) return 130;
    return r.status === 'oom-killed' ? 137 : (r.exitCode ?? 1);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await driver.teardown();
  }
}
