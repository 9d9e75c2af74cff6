/**
 * Last-resort clean-up when tsbench exits without tearing down (an uncaught
 * error, process.exit after a second Ctrl-C): every live instance registers a
 * synchronous cleaner that runs on process 'exit', where nothing asynchronous
 * can happen any more. drivers/process.ts has already SIGKILLed the process
 * groups by then (its handler was registered first); the cleaners wait for the
 * cgroups to empty, remove them, and remove the per-instance directories. The
 * mounts need nothing: they live in the instances' mount namespaces and vanish
 * with their last process.
 */

const cleaners = new Map<object, () => void>();

/** Registers `clean` until the returned function is called. */
export function onExit(clean: () => void): () => void {
  const key = {};
  cleaners.set(key, clean);
  return () => void cleaners.delete(key);
}

export function runExitCleaners(): void {
  for (const clean of [...cleaners.values()]) {
    try {
      clean();
    } catch {
      // Best effort: the process is exiting.
    }
  }
  cleaners.clear();
}

process.once('exit', runExitCleaners);
