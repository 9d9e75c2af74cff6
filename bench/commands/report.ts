/** `tsbench report` — placeholder until its issue lands. */
import type { Command } from 'commander';

export function registerReportCommand(program: Command, setExit: (code: number) => void): void {
  program
    .command('report')
    .description('(not yet implemented)')
    .allowUnknownOption()
    .argument('[args...]')
    .action(() => {
      process.stderr.write('tsbench: report is not implemented yet\n');
      setExit(1);
    });
}
