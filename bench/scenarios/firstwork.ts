/**
 * `firstwork`: how long until an instance has done its first piece of useful work that touches
 * memory, not only until it is ready (issue 34). A VM restored from a snapshot is ready fast, but
 * the research that measured it (REAP, FaaSnap) finds the cost moved to the page faults after the
 * resume; so the figure that compares a restored VM with a cold boot and a container is launch to
 * the end of a job that fills fresh memory.
 *
 * The job: `dd if=/dev/zero of=/dev/null bs=<N>M count=2` — dd allocates one N MiB buffer and the
 * kernel fills it from /dev/zero twice: N MiB of fresh memory touched (faulted in), then written
 * again. The same job on every target (busybox dd in the image, the host's dd natively).
 * toFirstWorkMs = toReadyMs (launch to the agent's ready) + the job's own time, ready to the
 * agent's `end` on the agent's clock (`InstanceResult.workloadCpu.windowMs`): no exit or teardown
 * of the instance is in it.
 */
import { TargetError } from '../../core/errors.js';
import { matchedLimits, sampleFrom, MATCHED_LIMITS, type Scenario } from './types.js';

/** MiB of fresh memory the job touches. @default 32 */
export const FIRST_WORK_MIB = 32;

/** The job's argv (`exec` job). */
export const FIRST_WORK_ARGV = ['dd', 'if=/dev/zero', 'of=/dev/null', `bs=${FIRST_WORK_MIB}M`, 'count=2'];

export const firstwork: Scenario = {
  name: 'firstwork',
  description: `time from launch to the end of a first job that touches ${FIRST_WORK_MIB} MiB of fresh memory (dd into one buffer, twice), beside time to ready`,
  metrics: [
    { name: 'toReadyMs', unit: 'ms', better: 'lower', description: "launch (fork) to the job's agent reporting ready" },
    {
      name: 'toFirstWorkMs',
      unit: 'ms',
      better: 'lower',
      description: `launch (fork) to the end of the job (${FIRST_WORK_MIB} MiB of fresh memory filled twice): toReadyMs + the job's time on the agent's clock`,
      headline: true,
    },
    { name: 'workMs', unit: 'ms', better: 'lower', description: "the job alone: the agent's ready to its end, on the agent's clock" },
  ],
  defaults: { runs: 10, warmup: 1 },
  parameters: () => ({ job: ['exec', ...FIRST_WORK_ARGV].join(' '), touchedMiB: FIRST_WORK_MIB, limits: MATCHED_LIMITS }),
  async sample(driver, ctx) {
    const instance = await driver.launch({
      job: { kind: 'exec', argv: FIRST_WORK_ARGV },
      limits: matchedLimits(ctx.limits),
      signal: ctx.signal,
      workloadCpu: true,
    });
    const r = await instance.result;
    const window = r.workloadCpu?.windowMs;
    if (r.status !== 'ok' || r.exitCode !== 0 || r.timeline.toReadyMs === undefined || window === undefined) {
      throw new TargetError(driver.name, 'firstwork', r.reason ?? `the job did not end well (exit code ${r.exitCode ?? 'none'}, or no end mark)`, {
        tail: r.tail,
      });
    }
    return sampleFrom(r, { toReadyMs: r.timeline.toReadyMs, toFirstWorkMs: r.timeline.toReadyMs + window, workMs: window });
  },
};
