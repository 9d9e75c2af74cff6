/**
 * How tsbench ends, in one place: the synchronous hooks that run on process
 * 'exit' (where nothing asynchronous can happen any more), and the one way a
 * command handles SIGINT and SIGTERM.
 *
 * Exit hooks run in two stages: first every `kill` hook (drivers/process.ts
 * SIGKILLs the process groups it launched), then every `clean` hook (instances
 * wait for their cgroups to empty, then remove them and their directories). So a
 * second Ctrl-C, an uncaught error or `process.exit` still leaves nothing
 * behind that can be removed synchronously. A `last` stage follows: the
 * ownership records (drivers/ownership.ts) sweep what the others left.
 */
import { CancelledError } from './errors.js';

/** Exit code of a command ended by SIGINT/SIGTERM (128 + SIGINT, as shells report it). */
export const EXIT_INTERRUPTED = 130;

export type ExitStage = 'kill' | 'clean' | 'last';

const hooks: Record<ExitStage, Map<object, () => void>> = { kill: new Map(), clean: new Map(), last: new Map() };

/** Runs `hook` when the process exits, in `stage`, until the returned function is called. */
export function atExit(hook: () => void, stage: ExitStage = 'clean'): () => void {
  const key = {};
  hooks[stage].set(key, hook);
  return () => void hooks[stage].delete(key);
}

/** Runs every registered hook once, stage by stage (kill, clean, last). Exported for tests; process 'exit' calls it. */
export function runExitHooks(): void {
  for (const stage of ['kill', 'clean', 'last'] as const) {
    for (const hook of [...hooks[stage].values()]) {
      try {
        hook();
      } catch {
        // Best effort: the process is exiting.
      }
    }
    hooks[stage].clear();
  }
}

process.once('exit', runExitHooks);

export interface InterruptOptions {
  /**
   * What the first SIGINT/SIGTERM does: `abort` aborts the signal handed to the
   * body (with a CancelledError), so it can save what it measured and tear down
   * cleanly; `exit` exits at once (the exit hooks still kill and clean). A second
   * signal always exits. @default 'abort'
   */
  first?: 'abort' | 'exit';
}

/**
 * Runs `body` with SIGINT and SIGTERM handled as tsbench handles them
 * everywhere: the first aborts `signal` (or exits, see `first`), a second exits
 * with code 130 without waiting for a clean teardown. The handlers are removed
 * when `body` settles.
 */
export async function withInterrupts<T>(body: (signal: AbortSignal) => Promise<T>, opts: InterruptOptions = {}): Promise<T> {
  const controller = new AbortController();
  let interrupts = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    interrupts++;
    if (interrupts > 1 || opts.first === 'exit') process.exit(EXIT_INTERRUPTED);
    controller.abort(new CancelledError(`interrupted by ${sig}`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await body(controller.signal);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
