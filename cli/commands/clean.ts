/**
 * `tsbench clean`: removes what dead tsbench processes left (drivers/ownership.ts):
 * their process groups, cgroups (every v1 hierarchy and v2), mounts, links,
 * scratch, instance and bundle directories, then their state directories; then
 * tsbench's empty parent cgroups (`tsbench`, `tsbench-oci`) in every hierarchy that
 * no live run has anything below (`cgroup parent <path>`). A live run's are left
 * alone. Every other command does the same quietly at start; this one lists what
 * it removed (`--json`: `{ "removed": [...], "failed": [...] }`).
 * Exit 1 when something could not be removed (it stays recorded for the next sweep).
 */
import type { Command } from 'commander';
import { stateRoot, sweep } from '../../drivers/index.js';

export function cleanCommand(flags: { json?: boolean }): number {
  const { removed, failed } = sweep();
  if (flags.json) process.stdout.write(`${JSON.stringify({ stateRoot: stateRoot(), removed, failed }, null, 2)}\n`);
  else {
    if (removed.length === 0 && failed.length === 0) process.stdout.write(`nothing to remove (state: ${stateRoot()})\n`);
    for (const r of removed) process.stdout.write(`removed ${r}\n`);
    for (const f of failed) process.stdout.write(`could not remove ${f} (kept for the next sweep)\n`);
  }
  return failed.length > 0 ? 1 : 0;
}

/** What every command but `clean` does first: the same sweep, one line on stderr when it removed something. */
export function sweepAtStart(): void {
  try {
    const { removed, failed } = sweep();
    if (removed.length > 0 || failed.length > 0) {
      process.stderr.write(
        `tsbench: removed ${removed.length} leftover(s) of killed runs${failed.length > 0 ? `, ${failed.length} could not be removed` : ''} (\`tsbench clean\` lists them)\n`,
      );
    }
  } catch {
    // Never in the way of the command itself.
  }
}

export function registerCleanCommand(program: Command, setExit: (code: number) => void): void {
  program
    .command('clean')
    .description("remove what killed tsbench runs left (processes, cgroups and their empty parents, mounts, directories); never a live run's")
    .option('--json', 'machine-readable output')
    .action((flags: { json?: boolean }) => setExit(cleanCommand(flags)));
  program.hook('preAction', (_program, action) => {
    if (action.name() !== 'clean') sweepAtStart();
  });
}
