/**
 * `native`: the workload as an ordinary host process — the baseline every other
 * target is compared with. The agent runs from dist/bin, the tools from the host
 * paths they were copied from into the image, so the binaries are identical; a
 * job that names one of tsbench's own programs at its image path
 * (`/sbin/tsbench-syscalls`, drivers/image/image.ts) runs it from dist/bin.
 */
import { access, constants } from 'node:fs/promises';
import { TSBENCH_TOOLS, toolBinary } from './image/image.js';
import { checkNetwork } from './linux/network.js';
import { jobArgv } from './protocol.js';
import { LaunchedProcess, binPath, processInstance } from './process.js';
import type { Capabilities, Driver, Instance, Job, LaunchRequest, Probe } from './types.js';

/** The job with tsbench's own programs at their dist/bin path, where the image has them at /sbin. */
function hostJob(job: Job): Job {
  if (job.kind !== 'exec') return job;
  const tool = TSBENCH_TOOLS.find((t) => t.path === job.argv[0]);
  return tool ? { kind: 'exec', argv: [toolBinary(tool.name), ...job.argv.slice(1)] } : job;
}

export class NativeDriver implements Driver {
  readonly name = 'native';
  /** A host process: no limits, nothing to bind, the host's network and files; the workload's CPU is its own rusage. */
  readonly capabilities: Capabilities = {
    limits: { cpus: false, memoryBytes: false, pids: false },
    reportsOom: false,
    volumes: false,
    network: ['host'],
    sharesHost: true,
    memoryLimit: 'none',
    cpuAccounting: 'host',
    dataDisk: false,
    // The launcher and the agent (bench/scenarios/density.ts).
    hostTasks: 2,
    stopTimeoutMs: 30_000,
  };
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
    checkNetwork(this.name, this.capabilities, request);
    const proc = new LaunchedProcess({
      target: this.name,
      argv: [binPath('tsbench-agent'), ...jobArgv(hostJob(request.job))],
      signal: request.signal,
      onOutput: request.onOutput,
      onStderr: request.onStderr,
      // On the host's own kernel the agent's rusage of the workload it reaped is the workload's host CPU, exactly.
      workloadCpu: request.workloadCpu ? 'rusage' : undefined,
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
