/**
 * The command line's environment (cli/env.ts) and how tsbench ends
 * (core/exit.ts): variables become typed driver options or a one-line error,
 * signals are handled one way, and exit hooks run kill-first.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { driverOptionsFromEnv } from '../cli/env.js';
import { UsageError } from '../core/errors.js';
import { tsbench } from './helpers/cli.js';

describe('environment variables', () => {
  test('each documented variable becomes its typed driver option', () => {
    assert.deepEqual(
      driverOptionsFromEnv({
        TSBENCH_KERNEL: '/k/vmlinuz',
        TSBENCH_KERNEL_MODULES: '/k/modules',
        TSBENCH_LINUX_SOURCE: '/src/linux.tar.xz',
        TSBENCH_QEMU_MACHINE: 'q35',
        TSBENCH_PRINT_COMMAND: '1',
        TSBENCH_TSC_KHZ: '2445406',
        TSBENCH_KVM_REPROBE: '1',
        TSBENCH_CONTAINER_UPPER: 'disk',
        TSBENCH_CONFINEMENT: 'unconfined',
      }),
      {
        guestKernel: { kernel: '/k/vmlinuz', modules: '/k/modules' },
        linuxSource: '/src/linux.tar.xz',
        machine: 'q35',
        printCommand: true,
        tscKhz: 2445406,
        reprobeKvm: true,
        upper: 'disk',
        confinement: 'unconfined',
      },
    );
  });

  test('unset and empty variables set nothing', () => {
    assert.deepEqual(driverOptionsFromEnv({}), {});
    assert.deepEqual(driverOptionsFromEnv({ TSBENCH_KERNEL: '', TSBENCH_QEMU_MACHINE: '', TSBENCH_PRINT_COMMAND: '0' }), {});
  });

  test('a malformed value is a usage error naming the variable and the values it takes', () => {
    const cases: [Record<string, string>, RegExp][] = [
      [{ TSBENCH_QEMU_MACHINE: 'virt' }, /TSBENCH_QEMU_MACHINE=virt .*microvm, pc, q35/],
      [{ TSBENCH_TSC_KHZ: '2.4GHz' }, /TSBENCH_TSC_KHZ=2\.4GHz .*whole number/],
      [{ TSBENCH_CONTAINER_UPPER: 'ram' }, /TSBENCH_CONTAINER_UPPER=ram .*tmpfs or disk/],
      [{ TSBENCH_CONFINEMENT: 'privileged' }, /TSBENCH_CONFINEMENT=privileged .*docker-default .*unconfined/],
      [{ TSBENCH_KERNEL_MODULES: '/m' }, /TSBENCH_KERNEL_MODULES is set without TSBENCH_KERNEL/],
    ];
    for (const [env, message] of cases)
      assert.throws(
        () => driverOptionsFromEnv(env),
        (e: unknown) => e instanceof UsageError && message.test(e.message),
      );
  });

  test('tsbench run with a malformed variable exits 2 with one line', async () => {
    const cli = fileURLToPath(new URL('../cli/main.js', import.meta.url));
    const r = await execa(process.execPath, [cli, 'run', 'startup', '--targets', 'native', '--runs', '1'], {
      reject: false,
      env: { TSBENCH_QEMU_MACHINE: 'virt' },
    });
    assert.equal(r.exitCode, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.match(r.stderr, /^tsbench: TSBENCH_QEMU_MACHINE=virt is not a machine type/);
  });

  test('tsbench --help lists every variable', async () => {
    const r = await tsbench(['--help']);
    for (const name of ['TSBENCH_KERNEL', 'TSBENCH_QEMU_MACHINE', 'TSBENCH_TSC_KHZ', 'TSBENCH_CONTAINER_UPPER', 'TSBENCH_CONFINEMENT'])
      assert.match(r.stdout, new RegExp(`\\b${name}\\b`));
  });
});

describe('how tsbench ends', () => {
  const exitModule = new URL('../core/exit.js', import.meta.url).href;

  /** Runs a script that imports core/exit.ts in a fresh Node, sending it `signals` once it says "armed". */
  async function script(body: string, signals: NodeJS.Signals[]): Promise<{ exitCode: number | undefined; lines: string[] }> {
    const child = execa(process.execPath, ['--input-type=module', '-e', `import * as exit from '${exitModule}';\n${body}`], { reject: false, stdin: 'ignore' });
    let sent = false;
    child.stdout?.on('data', (chunk: Buffer) => {
      if (!sent && chunk.toString().includes('armed')) {
        sent = true;
        for (const [i, sig] of signals.entries()) setTimeout(() => child.kill(sig), 100 * (i + 1));
      }
    });
    const r = await child;
    return { exitCode: r.exitCode, lines: r.stdout.split('\n').filter((l) => l !== '' && l !== 'armed') };
  }

  test('the first SIGINT aborts the body with a CancelledError and the command goes on to finish', async () => {
    const r = await script(
      `const code = await exit.withInterrupts((signal) => new Promise((resolve) => {
         const alive = setInterval(() => {}, 1000);
         signal.addEventListener('abort', () => { clearInterval(alive); console.log(signal.reason.name + ': ' + signal.reason.message); resolve(7); });
         console.log('armed');
       }));
       console.log('returned ' + code);`,
      ['SIGINT'],
    );
    assert.equal(r.exitCode, 0);
    assert.deepEqual(r.lines, ['CancelledError: interrupted by SIGINT', 'returned 7']);
  });

  test('a second signal exits 130 at once, running the kill hooks before the clean hooks', async () => {
    const r = await script(
      `exit.atExit(() => console.log('clean'));
       exit.atExit(() => console.log('kill'), 'kill');
       const gone = exit.atExit(() => console.log('unregistered'));
       gone();
       await exit.withInterrupts(() => new Promise(() => { console.log('armed'); setInterval(() => {}, 1000); }));`,
      ['SIGTERM', 'SIGINT'],
    );
    assert.equal(r.exitCode, 130);
    assert.deepEqual(r.lines, ['kill', 'clean']);
  });

  test("with first: 'exit' one signal exits 130 and the hooks still run", async () => {
    const r = await script(
      `exit.atExit(() => console.log('clean'));
       await exit.withInterrupts(() => new Promise(() => { console.log('armed'); setInterval(() => {}, 1000); }), { first: 'exit' });`,
      ['SIGINT'],
    );
    assert.equal(r.exitCode, 130);
    assert.deepEqual(r.lines, ['clean']);
  });

  test('handlers are removed when the body settles, so a later SIGTERM kills the process as usual', async () => {
    const r = await script(
      `await exit.withInterrupts(async () => 1);
       console.log('armed');
       setInterval(() => {}, 1000);`,
      ['SIGTERM'],
    );
    assert.equal(r.exitCode, undefined);
    assert.deepEqual(r.lines, []);
  });
});

test('tsbench exec piped into head ends quietly with the command’s exit code when the pipe closes', async () => {
  const cli = fileURLToPath(new URL('../cli/main.js', import.meta.url));
  const r = await execa(
    '/bin/bash',
    ['-c', `"$0" "$1" exec --target native -- seq 1 200000 | head -n 2; echo "tsbench exited \${PIPESTATUS[0]}"`, process.execPath, cli],
    {
      reject: false,
    },
  );
  assert.deepEqual(r.stdout.split('\n'), ['1', '2', 'tsbench exited 0']);
  assert.doesNotMatch(r.stderr, /EPIPE|Error|at /);
});
