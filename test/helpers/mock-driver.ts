/**
 * A driver that starts nothing: for the runner's unit tests only. Each launch
 * is logged and resolves at once with a timeline whose values encode the
 * launch's index, so a test can tell which samples were kept.
 */
import { CONTAINER_CAPABILITIES, type Capabilities, type Driver, type Instance, type InstanceResult, type Probe } from '../../drivers/types.js';

export interface MockOptions {
  /** Make the n-th launch (1-based) fail. */
  failAt?: number;
  /** Make probe() report unavailable with this reason. */
  unavailable?: string;
  /** Shared log of `name:launchIndex` entries, in launch order. */
  log: string[];
}

export class MockDriver implements Driver {
  readonly capabilities: Capabilities = {
    ...CONTAINER_CAPABILITIES,
    limits: { cpus: false, memoryBytes: false, pids: false },
    reportsOom: false,
    volumes: false,
    network: [],
  };
  launches = 0;
  prepared = 0;
  tornDown = 0;
  constructor(
    readonly name: string,
    private readonly opts: MockOptions,
  ) {}

  async probe(): Promise<Probe> {
    return this.opts.unavailable ? { available: false, reason: this.opts.unavailable } : { available: true };
  }

  async prepare(): Promise<void> {
    this.prepared++;
  }

  async launch(): Promise<Instance> {
    const n = ++this.launches;
    this.opts.log.push(`${this.name}:${n}`);
    const failed = n === this.opts.failAt;
    const result: InstanceResult = {
      status: failed ? 'failed' : 'ok',
      exitCode: failed ? 1 : 0,
      ...(failed ? { reason: `boom at launch ${n}` } : {}),
      timeline: { harnessMs: 0, toReadyMs: n / 2, toExitMs: n, phases: [] },
      accounting: {},
      stdout: [],
      stderr: [],
      tail: failed ? ['last words'] : [],
    };
    return {
      target: this.name,
      hostPids: () => [],
      footprint: async () => undefined,
      ready: Promise.resolve(),
      result: Promise.resolve(result),
      stop: async () => {},
      kill: async () => {},
    };
  }

  async teardown(): Promise<void> {
    this.tornDown++;
  }
}
