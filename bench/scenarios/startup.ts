/**
 * `startup`: how long until an instance's workload is ready, and until the
 * instance is gone again. The job is the agent's `noop`: it reports `ready` with
 * its own CLOCK_MONOTONIC timestamp and exits at once, so the figures are the
 * isolation layer's own cost (claim C1).
 */
import { TargetError } from '../../core/errors.js';
import { sampleFrom, type Scenario } from './types.js';

export const startup: Scenario = {
  name: 'startup',
  description: 'time from launch to workload-ready and to exit, for a no-op workload',
  metrics: [
    { name: 'toReadyMs', unit: 'ms', better: 'lower', description: 'launch (fork) to the workload reporting ready', headline: true },
    { name: 'toExitMs', unit: 'ms', better: 'lower', description: 'launch (fork) to the instance being reaped' },
  ],
  defaults: { runs: 30, warmup: 3 },
  parameters: () => ({ job: 'noop' }),
  async sample(driver, ctx) {
    const instance = await driver.launch({ job: { kind: 'noop' }, limits: ctx.limits, signal: ctx.signal });
    const r = await instance.result;
    if (r.status !== 'ok' || r.timeline.toReadyMs === undefined || r.timeline.toExitMs === undefined) {
      throw new TargetError(driver.name, 'startup', r.reason ?? 'the workload never reported ready', { tail: r.tail });
    }
    return sampleFrom(r, { toReadyMs: r.timeline.toReadyMs, toExitMs: r.timeline.toExitMs });
  },
};
