/** `tsbench compare` — placeholder until its issue lands. */
import type { Command } from 'commander';

export function registerCompareCommand(program: Command, setExit: (code: number) => void): void {
  program
    .command('compare')
    .description('(not yet implemented)')
    .allowUnknownOption()
    .argument('[args...]')
    .action(() => {
      process.stderr.write('tsbench: compare is not implemented yet\n');
      setExit(1);
    });
}
