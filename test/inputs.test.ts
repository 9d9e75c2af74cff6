/**
 * Inputs the user names, refused before anything is made (docs/reliability.md, "Inputs"): a file
 * that is not a regular file (a FIFO, a device, a socket, a directory where a file is expected) or
 * is over MAX_INPUT_BYTES, for every command that reads one; and a --volume whose host path is
 * missing or whose destination is on or inside /proc, /sys or /dev. Each is exit 2 with one line on
 * stderr, no output file, no instance state of the process, no tsbench temp directory.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { MAX_INPUT_BYTES } from '../core/input.js';
import { MiB } from '../core/units.js';
import { volumeProblem } from '../drivers/linux/volumes.js';
import { stateRoot } from '../drivers/ownership.js';
import { CLI } from './helpers/cli.js';
import { leftovers } from './helpers/leftovers.js';

const FIXTURE = fileURLToPath(new URL('../../test/fixtures/report/startup-tcg.json', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'tsbench-inputs-test-'));
after(() => rmSync(work, { recursive: true, force: true }));

const fifo = join(work, 'fifo.json');
const socketPath = join(work, 'socket.json');
const big = join(work, 'big.json');
const good = join(work, 'good.json');
const fifoDir = join(work, 'runs');
let server: Server | undefined;

before(async () => {
  execFileSync('mkfifo', [fifo]);
  // Sparse: 1 MiB over the bound, no blocks on the disk.
  writeFileSync(big, '');
  truncateSync(big, MAX_INPUT_BYTES + MiB);
  copyFileSync(FIXTURE, good);
  mkdirSync(join(fifoDir, 'night-1'), { recursive: true });
  execFileSync('mkfifo', [join(fifoDir, 'night-1', 'results.json')]);
  server = createServer();
  await new Promise<void>((resolve) => server!.listen(socketPath, resolve));
});
after(() => server?.close());

/**
 * stderr without the start-up sweep's line about what other, killed runs left (drivers/ownership.ts):
 * it is about them, not this command, and comes when a run of another test was killed meanwhile.
 */
function ownLines(stderr: string): string {
  return stderr
    .split('\n')
    .filter((l) => !/^tsbench: removed \d+ leftover\(s\) of killed runs/.test(l))
    .join('\n')
    .trim();
}

/**
 * Runs the built CLI with a temp dir of its own, and checks what every refusal must be: exit 2,
 * one line on stderr naming the fix, no stack; no `outputs` made; nothing of the process left or
 * made: its temp dir empty, no ownership state or cgroup or instance of its pid.
 */
async function refused(args: string[], message: RegExp, outputs: string[] = []): Promise<void> {
  const tmp = mkdtempSync(join(work, 'tmp-'));
  const child = execa(process.execPath, [CLI, ...args], { reject: false, stdin: 'ignore', timeout: 30_000, env: { TMPDIR: tmp } });
  const r = await child;
  assert.equal(r.timedOut, false, `tsbench ${args.join(' ')} still ran after 30 s`);
  assert.equal(r.exitCode, 2, r.stderr);
  const stderr = ownLines(r.stderr);
  assert.equal(stderr.split('\n').length, 1, r.stderr);
  assert.match(stderr, message);
  assert.doesNotMatch(stderr, /at .*\.js:\d+/, 'no stack trace');
  for (const o of outputs) assert.equal(existsSync(o), false, `${o} was made`);
  assert.deepEqual(readdirSync(tmp), [], 'nothing in its temp dir');
  const pid = child.pid!;
  const states = existsSync(stateRoot()) ? readdirSync(stateRoot()) : [];
  assert.deepEqual(
    states.filter((id) => id.startsWith(`${pid}-`)),
    [],
    'no ownership state',
  );
  assert.deepEqual(leftovers(pid), []);
}

describe('a file that is not a regular file of a sane size is refused, exit 2, before anything is made', () => {
  const out = join(work, 'out.html');
  const outDir = join(work, 'out-dir');
  const cases: [string, string[], RegExp, string[]][] = [
    [
      'report of /dev/zero',
      ['report', '/dev/zero', '-o', out],
      /^tsbench: \/dev\/zero: is a character device, not a regular file; pass a results\.json written by tsbench run$/,
      [out],
    ],
    ['report of a FIFO', ['report', fifo, '-o', out], /fifo\.json: is a FIFO, not a regular file; pass a results\.json/, [out]],
    ['report of a socket', ['report', socketPath, '-o', out], /socket\.json: is a socket, not a regular file; pass a results\.json/, [out]],
    [
      'report of a file over the bound',
      ['report', big, '-o', out],
      /big\.json: is 257 MiB, more than the 256 MiB tsbench reads from one file; pass a results\.json/,
      [out],
    ],
    ['report of a directory whose results.json is a FIFO', ['report', fifoDir, '-o', out], /night-1\/results\.json: is a FIFO, not a regular file/, [out]],
    ['history of a FIFO', ['history', good, fifo, '-o', out], /fifo\.json: is a FIFO, not a regular file/, [out]],
    ['history of /dev/zero', ['history', '/dev/zero', '-o', out], /\/dev\/zero: is a character device/, [out]],
    ['compare of a FIFO', ['compare', good, fifo, '-o', out], /fifo\.json: is a FIFO, not a regular file/, [out]],
    ['compare of a file over the bound', ['compare', big, good, '-o', out], /big\.json: is 257 MiB, more than the 256 MiB/, [out]],
    [
      'compare --calibration of a FIFO',
      ['compare', good, good, '--calibration', fifo, '-o', out],
      /^tsbench: --calibration: \S*fifo\.json: is a FIFO, not a regular file; pass the calibration\.json that tsbench calibrate wrote$/,
      [out],
    ],
    [
      'compare --calibration of /dev/zero',
      ['compare', good, good, '--calibration', '/dev/zero', '-o', out],
      /--calibration: \/dev\/zero: is a character device/,
      [out],
    ],
    [
      'compare --calibration of a directory',
      ['compare', good, good, '--calibration', work, '-o', out],
      /--calibration: \S+: is a directory; pass the calibration\.json/,
      [out],
    ],
    ['calibrate --from of a FIFO', ['calibrate', '--from', fifo, good, '-o', out], /fifo\.json: is a FIFO, not a regular file/, [out]],
    ['calibrate --from of /dev/zero', ['calibrate', '--from', '/dev/zero', '-o', out], /\/dev\/zero: is a character device/, [out]],
    [
      'verify of /dev/zero',
      ['verify', '/dev/zero'],
      /^tsbench: \/dev\/zero: is a character device, not a regular file; pass a report\.html or results\.json written by tsbench$/,
      [],
    ],
    ['verify of a FIFO', ['verify', fifo], /fifo\.json: is a FIFO, not a regular file/, []],
    ['verify of a socket', ['verify', socketPath], /socket\.json: is a socket, not a regular file/, []],
    ['verify of a file over the bound', ['verify', big], /big\.json: is 257 MiB, more than the 256 MiB/, []],
    ['verify of a directory', ['verify', work], /: is a directory; pass its report\.html or results\.json$/, []],
    ['reproduce of a FIFO', ['reproduce', fifo, '--out', outDir], /fifo\.json: is a FIFO, not a regular file; pass a report\.html or results\.json/, [outDir]],
    ['reproduce of /dev/zero', ['reproduce', '/dev/zero', '--out', outDir], /\/dev\/zero: is a character device/, [outDir]],
    ['reproduce of a file over the bound', ['reproduce', big, '--out', outDir], /big\.json: is 257 MiB/, [outDir]],
    [
      'reproduce --calibration of a FIFO',
      ['reproduce', good, '--calibration', fifo, '--out', outDir],
      /--calibration: \S*fifo\.json: is a FIFO, not a regular file/,
      [outDir],
    ],
    ['kernel fetch --kernel of a FIFO', ['kernel', 'fetch', '--kernel', fifo], /fifo\.json is not a Linux bzImage \(a FIFO\): point --kernel/, []],
    ['kernel fetch --kernel of /dev/zero', ['kernel', 'fetch', '--kernel', '/dev/zero'], /\/dev\/zero is not a Linux bzImage \(a character device\)/, []],
  ];
  for (const [what, args, message, outputs] of cases) test(what, () => refused(args, message, outputs));
});

describe('a --volume is checked before anything is made, and none goes on or inside /proc, /sys or /dev', () => {
  const exec = (volume: string): string[] => ['exec', '--target', 'container', '--volume', volume, '--', 'true'];
  const cases: [string, RegExp][] = [
    ['/nonexistent:/x', /^tsbench: volume \/nonexistent does not exist on the host \(.*\): create it or fix --volume$/],
    [
      '/tmp:/proc',
      /^tsbench: volume \/tmp:\/proc: \/proc is not a valid mount destination: it would hide the instance's own \/proc; mount it elsewhere, e\.g\. --volume \/tmp:\/data$/,
    ],
    ['/tmp:/proc/', /\/proc is not a valid mount destination: it would hide the instance's own \/proc/],
    ['/tmp:/./proc', /\/proc is not a valid mount destination: it would hide the instance's own \/proc/],
    ['/tmp:/dev/..//proc', /\/proc is not a valid mount destination: it would hide the instance's own \/proc/],
    ['/tmp:/sys', /\/sys is not a valid mount destination: it would hide the instance's own \/sys/],
    ['/tmp:/dev', /\/dev is not a valid mount destination: it would hide the instance's own \/dev/],
    ['/tmp:/proc/sys', /\/proc\/sys is not a valid mount destination: nothing is mounted inside \/proc, which the kernel provides/],
    ['/tmp:/sys/fs/cgroup', /\/sys\/fs\/cgroup is not a valid mount destination: nothing is mounted inside \/sys/],
    ['/tmp:/dev/shm', /\/dev\/shm is not a valid mount destination: nothing is mounted inside \/dev/],
    ['/tmp:/', /\/ is not a valid mount destination: it would hide the whole image/],
    ['/tmp:proc', /^tsbench: --volume '\/tmp:proc' must be HOST:GUEST\[:ro\] with absolute paths, e\.g\. --volume \/tmp\/data:\/data$/],
  ];
  for (const [volume, message] of cases) test(`--volume ${volume}`, () => refused(exec(volume), message));

  test('a destination beside the kernel trees is fine (/procfoo, /devdata, /data/proc)', async () => {
    for (const guestPath of ['/procfoo', '/devdata', '/data/proc', '/x/../data'])
      assert.equal(await volumeProblem([{ hostPath: '/tmp', guestPath }]), undefined, guestPath);
  });

  test('the drivers refuse what the CLI refuses, with the same line', async () => {
    const r = await execa(process.execPath, [CLI, ...exec('/tmp:/proc/sys')], { reject: false, stdin: 'ignore' });
    const problem = await volumeProblem([{ hostPath: '/tmp', guestPath: '/proc/sys' }]);
    assert.equal(ownLines(r.stderr), `tsbench: ${problem?.message}`);
  });

  test('a target that mounts nothing refuses --volume before it starts', () =>
    refused(
      ['exec', '--target', 'native', '--volume', '/tmp:/data', '--', 'true'],
      /^tsbench: --volume: native runs on the host's own files and mounts nothing; drop --volume and use the host path$/,
    ));
});
