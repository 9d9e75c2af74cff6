/** Progress on stderr: a run's (scenario, target, sample i/N, ETA) and the lean kernel build's. */
import type { Progress } from '../bench/runner.js';
import type { LeanKernelProgress } from '../drivers/index.js';

/** A one-line progress display of a run on a terminal: scenario, target, sample i/N, ETA. Silent elsewhere. */
export function progressPrinter(stream: NodeJS.WriteStream): { update: (p: Progress) => void; clear: () => void } {
  if (!stream.isTTY) return { update: () => {}, clear: () => {} };
  let shown = false;
  return {
    update(p) {
      const done = p.round - 1;
      const eta = done > 0 ? Math.max(0, (p.elapsedS / done) * (p.rounds - done)) : undefined;
      const text = `[${p.scenario}] ${p.target.padEnd(10)} sample ${p.round}/${p.rounds}${p.warmup ? ' (warmup)' : ''}${eta === undefined ? '' : `  ETA ${formatDuration(eta)}`}`;
      stream.write(`\r\x1b[K${text.slice(0, (stream.columns || 80) - 1)}`);
      shown = true;
    },
    clear() {
      if (shown) stream.write('\r\x1b[K');
      shown = false;
    },
  };
}

export function formatDuration(s: number): string {
  if (s < 60) return `${Math.round(s)}s`;
  const m = Math.floor(s / 60);
  return `${m}m${String(Math.round(s - m * 60)).padStart(2, '0')}s`;
}

/**
 * The lean kernel build's progress on stderr: on a terminal one line rewritten in
 * place; elsewhere (CI logs) a line when a phase starts and one every 10 % of the build.
 */
export function buildProgressPrinter(stream: NodeJS.WriteStream): { update: (p: LeanKernelProgress) => void; clear: () => void } {
  const started = Date.now();
  let phase = '';
  let shownTenth = -1;
  let shown = false;
  return {
    update(p) {
      // Capped at 99 %: the last steps (linking, sorting tables) print little and take a while.
      const pct = p.done !== undefined && p.total !== undefined ? Math.min(99, Math.floor((100 * p.done) / p.total)) : undefined;
      const elapsed = formatDuration((Date.now() - started) / 1000);
      const text = `kernel build: ${p.phase}${pct !== undefined ? ` ${pct}% (${p.done} steps)` : ''}  ${elapsed}`;
      if (stream.isTTY) {
        stream.write(`\r\x1b[K${text.slice(0, (stream.columns || 80) - 1)}`);
        shown = true;
        return;
      }
      const tenth = pct !== undefined ? Math.floor(pct / 10) : -1;
      if (p.phase === phase && tenth <= shownTenth) return;
      phase = p.phase;
      shownTenth = tenth;
      stream.write(`tsbench: ${text}\n`);
    },
    clear() {
      if (shown) stream.write('\r\x1b[K');
      shown = false;
    },
  };
}
