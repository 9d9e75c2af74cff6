/**
 * `native`: the workload as an ordinary host process — the baseline every other
 * target is compared with. The agent runs from dist/bin, the tools from the host
 * paths they were copied from into the image, so the binaries are identical.
 */
import { access, constants } from 'node:fs/promises';
import { LaunchedProcess, binPath, toInstanceResult } from './process.js';
import type { Capabilities, Driver, Instance, InstanceResult, Job, LaunchRequest, Probe } from './types.js';

/** The agent's argv for a job: `noop`, `sleep` or `exec PROGRAM ARG...`. */
export function jobArgv(job: Job): string[] {
  return job.kind === 'exec' ? ['exec', ...job.argv] : [job.kind];
}

/** Wraps a launched process as an Instance; shared by the targets whose agent runs on the host's clock. */
export function processInstance(target: string, proc: LaunchedProcess, finish?: (r: InstanceResult) => Promise<InstanceResult>): Instance {
  const result = proc.done.then(async (o) => {
    const r = toInstanceResult(o, { sameClock: true });
    return finish ? finish(r) : r;
  });
  return {
    target,
    // The workload's memory is the agent's and its children's, not the launcher's.
    hostPids: () => [proc.childPid ?? proc.pid].filter((p): p is number => p !== undefined),
    ready: proc.ready,
    result,
    stop: async () => {
      proc.write('stop\n');
      proc.closeStdin();
    },
    kill: async () => proc.kill(),
  };
}

export class NativeDriver implements Driver {
  readonly name = 'native';
  readonly description = 'the workload as a plain host process (the baseline)';
  readonly isolation = 'none' as const;
  /** A host process: no limits, nothing to bind. */
  readonly capabilities: Capabilities = { limits: { cpus: false, memoryBytes: false, pids: false }, reportsOom: false, volumes: false };
  private readonly running = new Set<LaunchedProcess>();

  async probe(): Promise<Probe> {
    for (const bin of ['tsbench-launch', 'tsbench-agent']) {
      try {
        await access(binPath(bin), constants.X_OK);
      } catch {
        return { available: false, reason: `${binPath(bin)} is missing: run \`npm run build\`` };
      }
    }
    return { available: true };
  }

  async prepare(): Promise<void> {}

  async launch(request: LaunchRequest): Promise<Instance> {
    const proc = new LaunchedProcess({
      target: this.name,
      argv: [binPath('tsbench-agent'), ...jobArgv(request.job)],
      ...(request.signal ? { signal: request.signal } : {}),
      ...(request.onOutput ? { onOutput: request.onOutput } : {}),
      ...(request.onStderr ? { onStderr: request.onStderr } : {}),
    });
    this.running.add(proc);
    void proc.done.then(() => this.running.delete(proc));
    return processInstance(this.name, proc);
  }

  async teardown(): Promise<void> {
    const all = [...this.running];
    for (const p of all) p.kill();
    await Promise.all(all.map((p) => p.done));
  }
}

export default function createNativeDriver(): Driver {
  return new NativeDriver();
}
