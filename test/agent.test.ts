/**
 * The guest agent's line protocol, from real native runs of dist/bin/tsbench-agent.
 * (Its VM mode is exercised by test/image.test.ts, which boots it as init.)
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { agentBinary } from '../drivers/image/index.js';
import { parseAgentLine } from '../drivers/protocol.js';

/** The PATH the agent gives a job whose environment has none (as Docker's default). */
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

type Event = { verb: string; args: string[]; text: string };

/** The `@tsb` lines of an output, split into verb and arguments. */
function events(stdout: string): Event[] {
  return stdout
    .split('\n')
    .filter((line) => line.startsWith('@tsb '))
    .map((line) => {
      const text = line.slice(5);
      const [verb = '', ...args] = text.split(' ');
      return { verb, args, text };
    });
}

const agent = (args: string[], opts: { input?: string } = {}) =>
  execa(agentBinary(), args, { reject: false, timeout: 10_000, ...(opts.input === undefined ? { stdin: 'ignore' as const } : { input: opts.input }) });

/** Waits until the running agent has printed `@tsb <verb>`. */
async function waitFor(proc: ResultPromise, verb: string): Promise<void> {
  let seen = '';
  await new Promise<void>((resolve, reject) => {
    proc.stdout?.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      if (seen.includes(`@tsb ${verb}`)) resolve();
    });
    proc.once('exit', () => reject(new Error(`agent exited before '${verb}': ${seen}`)));
  });
}

test('the end of the job parses as the agent wrote it', () => {
  assert.deepEqual(parseAgentLine('@tsb end 123'), { kind: 'end', monoNs: 123n });
  assert.equal(parseAgentLine('@tsb end x'), undefined);
});

test('noop reports init, ready and exit 0 in order, with monotonic times inside the host clock window', async () => {
  const before = process.hrtime.bigint();
  const result = await agent(['noop']);
  const after = process.hrtime.bigint();
  assert.equal(result.exitCode, 0);
  const ev = events(result.stdout);
  assert.deepEqual(
    ev.map((e) => e.verb),
    ['init', 'ready', 'exit'],
  );
  const init = BigInt(ev[0]?.args[0] ?? '0');
  const ready = BigInt(ev[1]?.args[0] ?? '0');
  // Node's hrtime is CLOCK_MONOTONIC too, so the agent's stamps fall between ours.
  assert.ok(before <= init && init <= ready && ready <= after, `${before} <= ${init} <= ${ready} <= ${after}`);
  assert.deepEqual(ev[2]?.args, ['0']);
});

test('exec reframes the tool stdout and stderr, marks the end of the job, reports rusage and forwards the exit code', async () => {
  const before = process.hrtime.bigint();
  const result = await agent(['exec', '/bin/sh', '-c', 'echo hi; echo oops >&2; exit 3']);
  const after = process.hrtime.bigint();
  assert.equal(result.exitCode, 3);
  const ev = events(result.stdout);
  assert.deepEqual(
    ev.map((e) => e.verb).filter((v) => v !== 'out' && v !== 'err'),
    ['init', 'ready', 'end', 'rusage', 'exit'],
  );
  // The end of the job: the tool reaped, after its last output, on the host's clock (native).
  const ready = BigInt(ev.find((e) => e.verb === 'ready')?.args[0] ?? '0');
  const end = BigInt(ev.find((e) => e.verb === 'end')?.args[0] ?? '0');
  assert.ok(before <= ready && ready < end && end <= after, `${before} <= ${ready} < ${end} <= ${after}`);
  assert.ok(ev.findIndex((e) => e.verb === 'end') > ev.findIndex((e) => e.text === 'err oops'), 'end comes after the output');
  assert.ok(ev.some((e) => e.text === 'out hi'));
  assert.ok(ev.some((e) => e.text === 'err oops'));
  const rusage = ev.find((e) => e.verb === 'rusage');
  assert.equal(rusage?.args.length, 3);
  assert.ok(rusage?.args.every((n) => /^\d+$/.test(n)));
  assert.ok(Number(rusage?.args[2]) > 0, 'maxrss is reported in kB');
  assert.equal(ev.at(-1)?.text, 'exit 3');
  assert.equal(result.stderr, '', 'everything goes through the protocol on stdout');
});

test('exec flushes a final partial line and splits long lines at 4096 bytes', async () => {
  const result = await agent(['exec', '/bin/sh', '-c', 'head -c 5000 /dev/zero | tr "\\0" x; echo; printf tail']);
  const out = events(result.stdout)
    .filter((e) => e.verb === 'out')
    .map((e) => e.text.slice(4));
  assert.deepEqual(
    out.map((s) => s.length),
    [4096, 904, 4],
  );
  assert.equal(out[2], 'tail');
});

test('a tool killed by a signal is reported as exit signal n and the agent exits 128+n', async () => {
  const result = await agent(['exec', '/bin/sh', '-c', 'kill -9 $$']);
  assert.equal(result.exitCode, 137);
  assert.equal(events(result.stdout).at(-1)?.text, 'exit signal 9');
});

test('exec of a missing tool is an error line followed by exit 127', async () => {
  const result = await agent(['exec', '/nonexistent/tool']);
  assert.equal(result.exitCode, 127);
  const ev = events(result.stdout);
  assert.match(ev.find((e) => e.verb === 'error')?.text ?? '', /^error exec \/nonexistent\/tool: No such file/);
  assert.equal(
    ev.some((e) => e.verb === 'rusage'),
    false,
  );
  assert.equal(ev.at(-1)?.text, 'exit 127');
});

test('exec of a bare command name runs it from PATH, and from the usual PATH when the environment has none', async () => {
  const found = await agent(['exec', 'sh', '-c', 'echo found']);
  assert.equal(found.exitCode, 0, found.stdout);
  assert.ok(
    events(found.stdout).some((e) => e.text === 'out found'),
    found.stdout,
  );
  // As a VM's init sees it: the kernel gives init no PATH.
  const bare = await execa(agentBinary(), ['exec', 'sh', '-c', 'echo "$PATH"'], { reject: false, timeout: 10_000, stdin: 'ignore', env: {}, extendEnv: false });
  assert.equal(bare.exitCode, 0, bare.stdout);
  assert.ok(
    events(bare.stdout).some((e) => e.text === `out ${DEFAULT_PATH}`),
    bare.stdout,
  );
});

test('exec of a command on no PATH directory is an error naming the PATH, then exit 127', async () => {
  const result = await execa(agentBinary(), ['exec', 'tsbench-no-such-command', '--flag'], {
    reject: false,
    timeout: 10_000,
    stdin: 'ignore',
    env: {},
    extendEnv: false,
  });
  assert.equal(result.exitCode, 127);
  const ev = events(result.stdout);
  assert.equal(ev.find((e) => e.verb === 'error')?.text, `error exec tsbench-no-such-command: command not found in PATH=${DEFAULT_PATH}`);
  assert.equal(ev.at(-1)?.text, 'exit 127');
});

test('exec of a file that is not executable is an error, then exit 126 as in a shell', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tsbench-agent-test-'));
  try {
    const file = join(dir, 'not-executable');
    await writeFile(file, 'echo never\n', { mode: 0o644 });
    const result = await agent(['exec', file]);
    assert.equal(result.exitCode, 126);
    const ev = events(result.stdout);
    assert.equal(ev.find((e) => e.verb === 'error')?.text, `error exec ${file}: Permission denied`);
    assert.equal(
      ev.some((e) => e.verb === 'out'),
      false,
    );
    assert.equal(ev.at(-1)?.text, 'exit 126');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('an unknown or absent job is an error with exit 127', async () => {
  for (const args of [['bogus'], []]) {
    const result = await agent(args);
    assert.equal(result.exitCode, 127);
    assert.deepEqual(
      events(result.stdout).map((e) => e.verb),
      ['init', 'error', 'exit'],
    );
  }
});

test('sleep reports ready and its memory view, then stops on a stop line', async () => {
  const result = await agent(['sleep'], { input: 'hello\nstop\n' });
  assert.equal(result.exitCode, 0);
  const ev = events(result.stdout);
  assert.deepEqual(
    ev.map((e) => e.verb),
    ['init', 'ready', 'meminfo', 'exit'],
  );
  const [total, available] = (ev[2]?.args ?? []).map(Number);
  assert.ok(total !== undefined && available !== undefined && total > 0 && available > 0 && available <= total);
});

test('sleep stops at end of input', async () => {
  const result = await agent(['sleep'], { input: '' });
  assert.equal(result.exitCode, 0);
  assert.equal(events(result.stdout).at(-1)?.text, 'exit 0');
});

test('sleep stops on SIGTERM while its stdin stays open', async () => {
  const proc = execa(agentBinary(), ['sleep'], { reject: false, timeout: 10_000, stdin: 'pipe' });
  await waitFor(proc, 'meminfo');
  proc.kill('SIGTERM');
  const result = await proc;
  assert.equal(result.exitCode, 0);
  assert.equal(events(String(result.stdout)).at(-1)?.text, 'exit 0');
});

test('as PID 1 of a PID namespace it waits for the tool among orphans and exits with its code', async (t) => {
  const probe = await execa('unshare', ['--fork', '--pid', 'true'], { reject: false });
  if (probe.exitCode !== 0) return t.skip('unshare --pid needs root');
  // The shell leaves an orphan behind; the agent, as init, reaps it too.
  const result = await execa('unshare', ['--fork', '--pid', agentBinary(), 'exec', '/bin/sh', '-c', 'sleep 0.2 & echo pid $$; exit 4'], {
    reject: false,
    timeout: 10_000,
  });
  assert.equal(result.exitCode, 4);
  const ev = events(result.stdout);
  assert.ok(
    ev.some((e) => e.text === 'out pid 2'),
    'the tool is PID 2, so the agent is PID 1',
  );
  assert.equal(ev.at(-1)?.text, 'exit 4');
});
