/**
 * `native`: the workload as an ordinary host process — the baseline every other
 * target is compared with. The agent runs from dist/bin, the tools from the host
 * paths they were copied from into the image, so the binaries are identical.
 */
import { access, constants } from 'node:fs/promises';
import { checkNetwork } from './linux/network.js';
import { jobArgv } from './protocol.js';
import { LaunchedProcess, binPath, processInstance } from './process.js';
import type { Capabilities, Driver, Instance, LaunchRequest, Probe } from './types.js';

export class NativeDriver implements Driver {
  readonly name = 'native';
  readonly description = 'the workload as a plain host process (the baseline)';
  readonly isolation = 'none' as const;
  /** A host process: no limits, nothing to bind, the host's network. */
  readonly capabilities: Capabilities = { limits: { cpus: false, memoryBytes: false, pids: false }, reportsOom: false, volumes: false, network: ['host'] };
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
