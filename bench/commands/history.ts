/** `tsbench history` — placeholder until its issue lands. */
import type { Command } from 'commander';

export function registerHistoryCommand(program: Command, setExit: (code: number) => void): void {
  program
    .command('history')
    .description('(not yet implemented)')
    .allowUnknownOption()
    .argument('[args...]')
    .action(() => {
      process.stderr.write('tsbench: history is not implemented yet\n');
      setExit(1);
    });
}
