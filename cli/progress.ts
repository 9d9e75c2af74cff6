/** A one-line progress display on a terminal: scenario, target, sample i/N, ETA. Silent elsewhere. */
import type { Progress } from '../bench/runner.js';

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
