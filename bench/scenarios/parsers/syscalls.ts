/**
 * Parser for what `tsbench-syscalls` (drivers/image/syscalls.c) prints: one
 * `setup` line, then one `call=NAME …` line per call type, each figure in
 * nanoseconds per call. Throws a ParseError naming what it missed, so that a
 * changed format fails loudly instead of yielding zeros. A fixture of real
 * output lives in test/fixtures/.
 */

/** tsbench-syscalls' output lacked something the scenario needs. */
export class ParseError extends Error {
  override readonly name = 'ParseError';
}

/** One call type's figures over the tool's rounds. */
export interface SyscallFigures {
  /** median over the rounds of (a round's elapsed time / its calls), ns per call */
  medianNs: number;
  minNs: number;
  maxNs: number;
  rounds: number;
  /** calls made in the measured rounds (the warm-up round left out) */
  calls: number;
  /** calls that returned an error: the figure is then not the call's own cost */
  failed: number;
}

/** The `setup` line: how the tool ran. */
export interface SyscallsSetup {
  roundMs: number;
  rounds: number;
  /** `cpuN` (pinned to CPU N), `none` (--no-pin) or `failed:ERRNO` */
  pin: string;
  /** the file openReadClose opens, its real path in the instance */
  file: string;
}

export interface SyscallsOutput {
  setup: SyscallsSetup;
  /** by call name (getppid, personality, openReadClose, mmapTouch, pipeRoundTrip), in the order printed */
  calls: Map<string, SyscallFigures>;
}

/** `key=value` fields of a line; the last field's value may hold no spaces either (paths here have none of their own). */
function fields(line: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const word of line.trim().split(/\s+/)) {
    const eq = word.indexOf('=');
    if (eq > 0) out.set(word.slice(0, eq), word.slice(eq + 1));
  }
  return out;
}

function numberOf(f: Map<string, string>, key: string, where: string, integer: boolean): number {
  const text = f.get(key);
  const v = text === undefined || !/^\d+(\.\d+)?$/.test(text) ? Number.NaN : Number(text);
  if (!Number.isFinite(v) || (integer && !Number.isInteger(v)))
    throw new ParseError(`tsbench-syscalls' ${where} line has no valid ${key}= (${text ?? 'missing'})`);
  return v;
}

export function parseSyscalls(output: string | readonly string[]): SyscallsOutput {
  const lines = (typeof output === 'string' ? output.split('\n') : output).map((l) => l.trim()).filter((l) => l.length > 0);
  let setup: SyscallsSetup | undefined;
  const calls = new Map<string, SyscallFigures>();
  for (const line of lines) {
    if (line.startsWith('setup ')) {
      const f = fields(line);
      setup = {
        roundMs: numberOf(f, 'roundMs', 'setup', true),
        rounds: numberOf(f, 'rounds', 'setup', true),
        pin: f.get('pin') ?? '',
        file: f.get('file') ?? '',
      };
    } else if (line.startsWith('call=')) {
      const f = fields(line);
      const name = f.get('call') ?? '';
      if (!/^[A-Za-z]+$/.test(name)) throw new ParseError(`tsbench-syscalls printed a call line without a name: ${line}`);
      const where = `call=${name}`;
      const figures: SyscallFigures = {
        medianNs: numberOf(f, 'medianNs', where, false),
        minNs: numberOf(f, 'minNs', where, false),
        maxNs: numberOf(f, 'maxNs', where, false),
        rounds: numberOf(f, 'rounds', where, true),
        calls: numberOf(f, 'calls', where, true),
        failed: numberOf(f, 'failed', where, true),
      };
      if (figures.calls === 0 || figures.medianNs <= 0) throw new ParseError(`tsbench-syscalls' ${where} line made no calls: ${line}`);
      calls.set(name, figures);
    }
  }
  if (setup === undefined) throw new ParseError('tsbench-syscalls printed no "setup" line');
  if (calls.size === 0) throw new ParseError('tsbench-syscalls printed no "call=" line');
  return { setup, calls };
}
