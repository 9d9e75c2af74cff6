/**
 * `tsbench exec --target T -- CMD ARGS…`: run one command of the image in a
 * fresh instance of a target and stream its output, like `docker run --rm`.
 * The exit code is the command's own; a CMD without a slash is looked up on the
 * image's PATH (127: no such command, 126: it cannot be executed).
 */
import { createDriver, parseTargets, volumeProblem, type ImageName, type Driver, type DriverOptions, type Limits, type Volume } from '../../drivers/index.js';
import { UsageError, describeError } from '../../core/errors.js';
import { EXIT_INTERRUPTED, withInterrupts } from '../../core/exit.js';

export interface ExecFlags {
  target: string;
  /** the image of a target named without @IMAGE (`--image`) */
  image?: ImageName;
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

export async function execCommand(argv: string[], flags: ExecFlags, options: DriverOptions = {}): Promise<number> {
  const [target, ...extra] = parseTargets(flags.target, flags.image);
  if (!target || extra.length > 0) throw new UsageError('--target takes exactly one target, e.g. --target container');
  if (argv.length === 0) throw new UsageError('no command given: tsbench exec --target T -- CMD ARGS…');
  const volumes = (flags.volume ?? []).map(parseVolume);
  // The drivers' own check (drivers/linux/volumes.ts), here before anything is made: exit 2, not a failed instance.
  const problem = await volumeProblem(volumes);
  if (problem) throw new UsageError(problem.message, { cause: problem.cause });
  const limits: Limits = { cpus: flags.cpus, memoryBytes: flags.memory };
  const driver = await createDriver(target, options);
  if (volumes.length > 0 && !driver.capabilities.volumes) {
    throw new UsageError(
      driver.capabilities.sharesHost
        ? `--volume: ${target} runs on the host's own files and mounts nothing; drop --volume and use the host path`
        : `--volume: ${target} cannot mount host paths; drop --volume`,
    );
  }
  return withInterrupts(async (signal) => {
    const probe = await driver.probe(signal).catch((e: unknown) => ({ available: false, reason: describeError(e) }));
    if (signal.aborted) return EXIT_INTERRUPTED;
    if (!probe.available) {
      process.stderr.write(`tsbench: target ${target} is unavailable: ${probe.reason ?? 'no reason given'}\n`);
      return 1;
    }
    try {
      return await execIn(driver, target, argv, limits, volumes, signal);
    } finally {
      await driver.teardown();
    }
  });
}

/**
 * Writes a line to stdout until a reader closes the pipe (`tsbench exec … | head`): after EPIPE the
 * command's output is dropped, as a shell pipeline drops it, and the instance still ends cleanly.
 */
function lineWriter(stream: NodeJS.WriteStream): (line: string) => void {
  let closed = false;
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    closed = true;
  });
  return (line) => {
    if (!closed) stream.write(`${line}\n`);
  };
}

async function execIn(driver: Driver, target: string, argv: string[], limits: Limits, volumes: Volume[], signal: AbortSignal): Promise<number> {
  await driver.prepare({ limits, signal });
  const instance = await driver.launch({
    job: { kind: 'exec', argv },
    limits,
    volumes,
    signal,
    onOutput: lineWriter(process.stdout),
    onStderr: (line) => process.stderr.write(`${line}\n`),
  });
  const r = await instance.result;
  if (r.status !== 'ok' && r.status !== 'failed') {
    process.stderr.write(`tsbench: [${target}] ${r.status}: ${r.reason ?? ''}\n`);
    if (r.status === 'timeout') for (const l of r.tail) process.stderr.write(`  | ${l}\n`);
  } else if ((r.exitCode === 127 || r.exitCode === 126) && r.reason) process.stderr.write(`tsbench: [${target}] ${r.reason}\n`);
  if (signal.aborted) return EXIT_INTERRUPTED;
  return r.status === 'oom-killed' ? 137 : (r.exitCode ?? 1);
}
