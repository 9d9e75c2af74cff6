/**
 * The ownership sweep (drivers/ownership.ts) says what it did as it is: a process it killed is
 * removed, one whose kill was refused is a failure that keeps the dead owner's records for the next
 * sweep, and one already gone is neither. A dead owner is faked with a state directory from another
 * boot and a process carrying its TSBENCH_OWNER; the refusal with a signal sender that fails as
 * kill(2) does for a process tsbench may not signal.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { OWNER_ENV, stateRoot, sweep, type SendSignal } from '../drivers/ownership.js';

/** A dead owner (another boot) and one process of its, leading its own group as a launcher does. */
async function deadOwnerWithProcess(): Promise<{ id: string; dir: string; child: ChildProcess; pid: number }> {
  const id = `${2 ** 22 + (process.pid % 1000)}-${Date.now()}`;
  const dir = join(stateRoot(), id);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, 'owner'), `${JSON.stringify({ pid: Number(id.split('-')[0]), start: id.split('-')[1], boot: 'another-boot' })}\n`);
  const child = spawn('sleep', ['60'], { detached: true, stdio: 'ignore', env: { ...process.env, [OWNER_ENV]: id } });
  const pid = child.pid as number;
  // Until the exec: /proc/<pid>/environ and cmdline are sleep's.
  for (let i = 0; i < 100; i++) {
    if (existsSync(`/proc/${pid}/cmdline`)) break;
    await sleep(10);
  }
  await sleep(50);
  return { id, dir, child, pid };
}

/** A sender that fails as kill(2) does with `code` for the given pid and its group, and signals the rest. */
function failingFor(pid: number, code: 'EPERM' | 'ESRCH'): SendSignal {
  return (target, signal) => {
    if (target === pid || target === -pid) throw Object.assign(new Error(`kill ${target}: ${code}`), { code });
    process.kill(target, signal);
  };
}

describe('ownership sweep', () => {
  const made: { dir: string; child: ChildProcess }[] = [];
  afterEach(() => {
    for (const m of made.splice(0)) {
      m.child.kill('SIGKILL');
      rmSync(m.dir, { recursive: true, force: true });
    }
  });

  test('a process whose kill was refused is reported failed, not removed, and its owner is kept', async () => {
    const owner = await deadOwnerWithProcess();
    made.push(owner);
    const line = `process ${owner.pid} (sleep 60)`;
    const refused = sweep({ send: failingFor(owner.pid, 'EPERM') });
    assert.ok(refused.failed.includes(line), `failed lists ${line}: ${JSON.stringify(refused)}`);
    assert.ok(!refused.removed.includes(line), 'not reported removed');
    assert.ok(existsSync(owner.dir), 'the state directory stays for the next sweep');
    assert.equal(owner.child.exitCode, null, 'the process still runs');

    const next = sweep();
    assert.ok(next.removed.includes(line), `the next sweep kills it: ${JSON.stringify(next)}`);
    assert.ok(!next.failed.includes(line));
    assert.ok(!existsSync(owner.dir), 'then the state directory goes');
  });

  test('a process already gone when its kill comes is neither removed nor failed', async () => {
    const owner = await deadOwnerWithProcess();
    made.push(owner);
    const line = `process ${owner.pid} (sleep 60)`;
    const r = sweep({ send: failingFor(owner.pid, 'ESRCH') });
    assert.ok(!r.removed.includes(line) && !r.failed.includes(line), JSON.stringify(r));
    assert.ok(!existsSync(owner.dir), 'nothing failed: the state directory goes');
  });
});
