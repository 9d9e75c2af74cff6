/**
 * docker's own account of a `docker run` (see `EngineDriver.recordEngineEvents` in
 * drivers/oci/engine.ts): the daemon's container events, put on the instance's
 * clock, and the phases they make with the instance's ready and exit.
 */
import type { InstanceResult, Phase } from '../types.js';

/** The first time of each container event (`create`, `start`, `die`, …) in `docker events --format '{{json .}}'` lines, in ms from `forkWallMs`. */
export function engineEventTimes(lines: string, forkWallMs: number): Record<string, number> {
  const times: Record<string, number> = {};
  for (const line of lines.split('\n')) {
    let e: { Type?: string; Action?: string; status?: string; timeNano?: number };
    try {
      e = JSON.parse(line) as typeof e;
    } catch {
      continue;
    }
    const action = e.Action ?? e.status;
    if ((e.Type !== undefined && e.Type !== 'container') || action === undefined || typeof e.timeNano !== 'number') continue;
    // `exec_start: …` and the like: the action's first word.
    const key = action.split(/[: ]/)[0] as string;
    if (!(key in times)) times[key] = e.timeNano / 1e6 - forkWallMs;
  }
  return times;
}

/** The phases of a `docker run` (see `recordEngineEvents`), from the events' times and the instance's own ready and exit. */
export function enginePhases(events: Record<string, number>, timeline: Pick<InstanceResult['timeline'], 'toReadyMs' | 'toExitMs'>): Phase[] {
  const points: [string, number][] = [];
  for (const name of ['create', 'start', 'die']) {
    const t = events[name];
    if (t !== undefined) points.push([name, t]);
  }
  if (timeline.toReadyMs !== undefined) points.push(['ready', timeline.toReadyMs]);
  if (timeline.toExitMs !== undefined) points.push(['exit', timeline.toExitMs]);
  points.sort((a, b) => a[1] - b[1]);
  let at = 0;
  return points.map(([name, t]) => {
    const phase = { name, ms: Math.max(0, t - at) };
    at = Math.max(at, t);
    return phase;
  });
}
