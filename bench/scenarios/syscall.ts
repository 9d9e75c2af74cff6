/**
 * `syscall`: what one system call costs from inside each target (issue 33). The
 * job is `tsbench-syscalls` (drivers/image/syscalls.c), one static binary in
 * every image at /sbin/tsbench-syscalls and natively run from dist/bin, which
 * times each call type on the instance's own clock (CLOCK_MONOTONIC, a vDSO
 * read) for a fixed time rather than a fixed count: a warm-up round, then
 * `syscallRounds` rounds of `syscallRoundMs` each. A sample's figure for a call
 * is the median of its rounds (ns per call); the runner's CI and ratio to native
 * are over the samples, one instance each.
 *
 * The calls: a raw cheap call (getppid through syscall(2), which the C library
 * does not cache), personality(0xffffffff) (a call Docker's seccomp profile
 * allows only for some argument values, so a confined container's filter runs
 * at every call), open/read/close of a small file of the instance's root file
 * system, an anonymous page mmap/touch/munmap, and a one-byte round trip to a
 * child process over two pipes (two context switches, both processes pinned to
 * one CPU). A call the target refuses (personality where the filter or the
 * sandbox does) gives no figure, and the sample's extra says why.
 */
import { TargetError } from '../../core/errors.js';
import { ParseError, parseSyscalls } from './parsers/syscalls.js';
import { intOption } from './cpu.js';
import { sampleFrom, type Scenario, type ScenarioOptions } from './types.js';

/** Milliseconds each measured round of each call type runs for. @default 50 */
export const DEFAULT_SYSCALL_ROUND_MS = 50;
/** Measured rounds of each call type per sample (a warm-up round runs first). @default 5 */
export const DEFAULT_SYSCALL_ROUNDS = 5;

/** The tool, where every image holds it (natively: dist/bin/tsbench-syscalls). */
export const SYSCALLS_TOOL = '/sbin/tsbench-syscalls';

/** The tool's call types and the metric each gives: `<call>Ns`. */
export const SYSCALL_CALLS = ['getppid', 'personality', 'openReadClose', 'mmapTouch', 'pipeRoundTrip'] as const;

function settings(options: ScenarioOptions): { roundMs: number; rounds: number } {
  return {
    roundMs: intOption(options, 'syscallRoundMs', DEFAULT_SYSCALL_ROUND_MS),
    rounds: intOption(options, 'syscallRounds', DEFAULT_SYSCALL_ROUNDS),
  };
}

export const syscall: Scenario = {
  name: 'syscall',
  description: 'ns per system call inside the instance: getppid, a seccomp-filtered personality, open/read/close, mmap/touch/munmap, a pipe round trip',
  metrics: [
    {
      name: 'getppidNs',
      unit: 'ns',
      better: 'lower',
      description: 'getppid() through syscall(2), not cached by the C library: a raw cheap system call',
      headline: true,
    },
    {
      name: 'personalityNs',
      unit: 'ns',
      better: 'lower',
      description:
        "personality(0xffffffff), a query that Docker's seccomp profile allows only for some arguments: a confined container's filter runs at every call",
    },
    {
      name: 'openReadCloseNs',
      unit: 'ns',
      better: 'lower',
      description: "open, read (≤ 256 bytes) and close of /etc/os-release's real file in the instance's root file system",
    },
    { name: 'mmapTouchNs', unit: 'ns', better: 'lower', description: 'mmap of one anonymous page, a write to it (the page fault), munmap' },
    {
      name: 'pipeRoundTripNs',
      unit: 'ns',
      better: 'lower',
      description: 'one byte to a child process over a pipe and back over another, both pinned to one CPU: two context switches',
    },
  ],
  defaults: { runs: 5, warmup: 1 },
  parameters: (options) => {
    const { roundMs, rounds } = settings(options);
    return {
      tool: `tsbench-syscalls (${SYSCALLS_TOOL}), the same static binary on every target`,
      roundMs,
      rounds,
      perSample: `a warm-up round, then ${rounds} rounds of ${roundMs} ms per call type; the sample's figure is the median round (elapsed / calls)`,
      calls: SYSCALL_CALLS.join(', '),
    };
  },
  async sample(driver, ctx) {
    const { roundMs, rounds } = settings(ctx.options);
    const instance = await driver.launch({
      job: { kind: 'exec', argv: [SYSCALLS_TOOL, '--round-ms', String(roundMs), '--rounds', String(rounds), ...SYSCALL_CALLS] },
      limits: ctx.limits,
      signal: ctx.signal,
    });
    const r = await instance.result;
    if (r.status !== 'ok')
      throw new TargetError(driver.name, 'syscall', r.reason ?? `tsbench-syscalls ended ${r.status}`, { tail: [...r.stderr, ...r.tail].slice(-20) });
    let parsed;
    try {
      parsed = parseSyscalls(r.stdout);
    } catch (e) {
      if (!(e instanceof ParseError)) throw e;
      throw new TargetError(driver.name, 'syscall', e.message, { cause: e, tail: [...r.stdout, ...r.stderr].slice(-20) });
    }
    const values: Record<string, number> = {};
    const refused: Record<string, string> = {};
    for (const call of SYSCALL_CALLS) {
      const f = parsed.calls.get(call);
      if (f === undefined) throw new TargetError(driver.name, 'syscall', `tsbench-syscalls printed no figure for ${call}`, { tail: r.stdout.slice(-20) });
      if (f.failed > 0) refused[call] = `${f.failed} of ${f.calls} calls returned an error: no figure`;
      else values[`${call}Ns`] = f.medianNs;
    }
    const s = sampleFrom(r, values);
    const perCall = Object.fromEntries([...parsed.calls].map(([name, f]) => [name, { minNs: f.minNs, maxNs: f.maxNs, calls: f.calls }]));
    return {
      ...s,
      extra: { ...s.extra, pin: parsed.setup.pin, file: parsed.setup.file, perCall, refused: Object.keys(refused).length > 0 ? refused : undefined },
    };
  },
};
