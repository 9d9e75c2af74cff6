/**
 * The guest agent's line protocol (see drivers/agent/agent.c). The agent writes
 * one event per line, each introduced by `@tsb `; the host looks for that marker
 * anywhere in a line, so a kernel log prefix on a VM console does not hide it,
 * and ignores every line without it. How a container starts the agent (path,
 * environment, argv) is here too.
 */
import type { Job } from './types.js';

/** Where the image holds the agent: PID 1 of every container (and, as /init, of every VM). */
export const AGENT = '/sbin/tsbench-agent';

/** The workload's whole environment inside a container, whoever runs it. */
export const ENV: readonly string[] = ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/'];

/**
 * The agent's job for an instance saved to be restored (a VM's snapshot, a container's CRIU checkpoint): ready, then
 * it waits for one `job <base64url argv>` line on stdin (`encodeJob`) and runs that (drivers/agent/agent.c).
 */
export type AwaitJob = { kind: 'await' };

/** The agent's argv for a job: `noop`, `sleep`, `exec PROGRAM ARG...` or `await`. */
export function jobArgv(job: Job | AwaitJob): string[] {
  return job.kind === 'exec' ? ['exec', ...job.argv] : [job.kind];
}

export type AgentEvent =
  | { kind: 'init'; monoNs: bigint }
  | { kind: 'ready'; monoNs: bigint }
  /** The agent reaped the job's workload: the end of its CPU window (`InstanceResult.workloadCpu`). */
  | { kind: 'end'; monoNs: bigint }
  | { kind: 'meminfo'; totalKb: number; availableKb: number }
  | { kind: 'out'; text: string }
  | { kind: 'err'; text: string }
  | { kind: 'rusage'; userUs: number; systemUs: number; maxRssKb: number }
  | { kind: 'error'; message: string }
  | { kind: 'exit'; code: number; signal: number | null }
  /** A named instant of the instance's own work, e.g. `container`: a VM's agent started the container inside it. */
  | { kind: 'mark'; name: string; monoNs: bigint };

const MARKER = '@tsb ';
const DECIMAL = /^\d+$/;

/** Parses one line of agent output; undefined when the line holds no (valid) event. */
export function parseAgentLine(line: string): AgentEvent | undefined {
  const at = line.indexOf(MARKER);
  if (at < 0) return undefined;
  const body = line.slice(at + MARKER.length).replace(/\r$/, '');
  const space = body.indexOf(' ');
  const verb = space < 0 ? body : body.slice(0, space);
  const rest = space < 0 ? '' : body.slice(space + 1);
  const fields = rest.split(' ');
  const ints = (count: number): number[] | undefined =>
    fields.length >= count && fields.slice(0, count).every((f) => DECIMAL.test(f)) ? fields.slice(0, count).map(Number) : undefined;
  switch (verb) {
    case 'init':
    case 'ready':
    case 'end':
      return DECIMAL.test(fields[0] ?? '') ? { kind: verb, monoNs: BigInt(fields[0] as string) } : undefined;
    case 'meminfo': {
      const v = ints(2);
      return v ? { kind: 'meminfo', totalKb: v[0] as number, availableKb: v[1] as number } : undefined;
    }
    case 'out':
    case 'err':
      return { kind: verb, text: rest };
    case 'rusage': {
      const v = ints(3);
      return v ? { kind: 'rusage', userUs: v[0] as number, systemUs: v[1] as number, maxRssKb: v[2] as number } : undefined;
    }
    case 'error':
      return { kind: 'error', message: rest };
    case 'mark':
      return /^[\w.-]+$/.test(fields[0] ?? '') && DECIMAL.test(fields[1] ?? '')
        ? { kind: 'mark', name: fields[0] as string, monoNs: BigInt(fields[1] as string) }
        : undefined;
    case 'exit':
      if (fields[0] === 'signal' && DECIMAL.test(fields[1] ?? '')) return { kind: 'exit', code: 128 + Number(fields[1]), signal: Number(fields[1]) };
      return DECIMAL.test(fields[0] ?? '') ? { kind: 'exit', code: Number(fields[0]), signal: null } : undefined;
    default:
      return undefined;
  }
}

/** What the launcher (drivers/launcher/launcher.c) reports on its report fd. */
export type LauncherEvent =
  | { kind: 'start'; monoNs: bigint; pid: number }
  /** A step of the launcher's own work ended (`exec`: about to exec; a container's set-up steps), reported after the reap. */
  | { kind: 'mark'; step: string; monoNs: bigint }
  | { kind: 'exit'; code: number; signal: number | null; monoNs: bigint; userUs: number; systemUs: number; maxRssKb: number }
  | { kind: 'error'; message: string };

export function parseLauncherLine(line: string): LauncherEvent | undefined {
  const [verb, ...f] = line.trim().split(' ');
  if (verb === 'error') return { kind: 'error', message: f.join(' ') };
  if (verb === 'mark')
    return f.length === 2 && /^[\w.-]+$/.test(f[0] as string) && DECIMAL.test(f[1] as string)
      ? { kind: 'mark', step: f[0] as string, monoNs: BigInt(f[1] as string) }
      : undefined;
  if (!f.every((x) => /^-?\d+$/.test(x))) return undefined;
  if (verb === 'start' && f.length === 2) return { kind: 'start', monoNs: BigInt(f[0] as string), pid: Number(f[1]) };
  if ((verb === 'exit' || verb === 'signal') && f.length === 5) {
    const n = Number(f[0]);
    return {
      kind: 'exit',
      code: verb === 'exit' ? n : 128 + n,
      signal: verb === 'signal' ? n : null,
      monoNs: BigInt(f[1] as string),
      userUs: Number(f[2]),
      systemUs: Number(f[3]),
      maxRssKb: Number(f[4]),
    };
  }
  return undefined;
}
