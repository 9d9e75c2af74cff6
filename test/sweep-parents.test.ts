/**
 * The parents every run shares (issue 32): `tsbench` (the container's instances) and `tsbench-oci` (the peer
 * runtimes' and engines') at the root of every cgroup mount. No run records them as its own, so a SIGKILLed run
 * left them, empty, in every hierarchy its instances had been in, until a later run of that runtime happened to
 * remove them. The sweep (drivers/ownership.ts `removeIdleParents`) removes each one that is empty (the kernel's
 * EBUSY says so) and that no live owner has anything recorded below, and `tsbench clean` lists it.
 *
 * First the rule on a parent of a name of the test's own (so that no other run on the host is concerned), then
 * real runs SIGKILLed while an instance's cgroup exists and between two instances, each followed by `tsbench clean`
 * and `find /sys/fs/cgroup -name 'tsbench*'` (`cgroupTraces`, which leaves out what a live owner of another
 * session has recorded), and a live run beside repeated `tsbench clean`s, which must complete untouched.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { cgroupMounts } from '../drivers/linux/cgroups.js';
import { OCI_PARENT } from '../drivers/oci/cgroups.js';
import { PARENT_CGROUPS, procStat, removeIdleParents, stateRoot } from '../drivers/ownership.js';
import { tsbench, tsbenchBackground } from './helpers/cli.js';
import { liveInstanceCgroups } from './helpers/interrupt.js';
import { cgroupTraces, liveCgroupRecords, safeReaddir, settled, settledLeftovers, strayParents } from './helpers/leftovers.js';

const root = process.getuid?.() === 0;
let mounts: string[] = [];
try {
  mounts = cgroupMounts();
} catch {
  // No /proc/self/mounts: skipped below.
}
const noCgroups = !root ? 'needs root' : mounts.length === 0 ? 'no cgroup mount here' : false;

/** tsbench's parents that exist now, in every cgroup mount. */
function parentsNow(): string[] {
  return mounts.flatMap((m) => PARENT_CGROUPS.map((name) => join(m, name))).filter((p) => existsSync(p));
}

/**
 * Why a target cannot run here, asked of `tsbench targets` in a process of its own: a peer runtime's probe launches
 * a trial instance, whose record would make this test process a live owner with a cgroup below `tsbench-oci`, which
 * then keeps that parent for as long as the test runs.
 */
const available = new Map<string, string | undefined>();
async function unavailable(target: string): Promise<string | undefined> {
  if (!available.has(target)) {
    const r = await tsbench(['targets', '--targets', target, '--json']);
    try {
      const [probe] = JSON.parse(r.stdout) as { available: boolean; reason: string }[];
      available.set(target, probe?.available ? undefined : (probe?.reason ?? 'not listed'));
    } catch {
      available.set(target, `tsbench targets: ${r.stderr || r.stdout}`);
    }
  }
  return available.get(target);
}

function hasChild(dir: string): boolean {
  try {
    return readdirSync(dir, { withFileTypes: true }).some((e) => e.isDirectory());
  } catch {
    return false;
  }
}

/** `tsbench clean --json`: what it removed and failed to. */
async function clean(): Promise<{ exitCode: number | undefined; removed: string[]; failed: string[]; raw: string }> {
  const r = await tsbench(['clean', '--json']);
  try {
    const o = JSON.parse(r.stdout) as { removed: string[]; failed: string[] };
    return { exitCode: r.exitCode, removed: o.removed, failed: o.failed, raw: r.stdout };
  } catch {
    return { exitCode: r.exitCode, removed: [], failed: [`unreadable: ${r.stdout} ${r.stderr}`], raw: r.stdout };
  }
}

describe('the sweep and the parents no run owns', { skip: noCgroups }, () => {
  test('this test process owns nothing: no record of its own keeps a parent', () => {
    assert.deepEqual(
      safeReaddir(stateRoot()).filter((id) => id.startsWith(`${process.pid}-`)),
      [],
    );
  });

  test('an empty parent no live owner uses goes; a live owner, a child cgroup or a task keeps it; nothing is killed', async () => {
    const name = `tsbench-sweeptest-${process.pid}`;
    const dirs = mounts.map((m) => join(m, name));
    for (const d of dirs) mkdirSync(d);
    // A live owner (a sleeping process with a state directory) that has recorded a cgroup below the parent.
    const owner = spawn('sleep', ['60'], { stdio: 'ignore' });
    const holder = spawn('sleep', ['60'], { stdio: 'ignore' });
    const ownerPid = owner.pid as number;
    const state = join(stateRoot(), `${ownerPid}-test`);
    try {
      await delay(50);
      const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
      mkdirSync(state, { recursive: true, mode: 0o700 });
      writeFileSync(join(state, 'owner'), `${JSON.stringify({ pid: ownerPid, start: procStat(ownerPid)?.start, boot })}\n`);
      writeFileSync(join(state, 'resources'), `${JSON.stringify({ kind: 'cgroup', path: `${name}/x` })}\n`);
      assert.deepEqual(removeIdleParents({ names: [name] }), [], 'a live owner has a record below: kept');
      assert.ok(dirs.every((d) => existsSync(d)));

      // The owner dies; one hierarchy gets a child cgroup, another a task (the kernel's EBUSY keeps both).
      owner.kill('SIGKILL');
      await new Promise((r) => owner.once('exit', r));
      // A task: not in cpuset (a new cpuset cgroup has no CPUs to run on until given some).
      const withChild = dirs[0] as string;
      const withTask = dirs.find((d) => d !== withChild && !d.endsWith(`/cpuset/${name}`));
      mkdirSync(join(withChild, 'child'));
      if (withTask !== undefined) writeFileSync(join(withTask, 'cgroup.procs'), String(holder.pid));
      const removed = removeIdleParents({ names: [name] });
      const rest = dirs.filter((d) => d !== withChild && d !== withTask);
      assert.deepEqual(removed.sort(), rest.map((d) => `cgroup parent ${d}`).sort());
      assert.ok(existsSync(withChild), 'a parent with a child cgroup stays');
      if (withTask !== undefined) {
        assert.ok(existsSync(withTask), 'a parent with a task stays');
        assert.equal(holder.exitCode, null, 'and its task still runs: the sweep kills nothing for a parent');
        assert.equal(holder.signalCode, null);
      }

      // Emptied: they go, each listed (a killed task leaves its cgroup a moment after its exit is seen).
      rmdirSync(join(withChild, 'child'));
      holder.kill('SIGKILL');
      await new Promise((r) => holder.once('exit', r));
      const second: string[] = [];
      for (const until = Date.now() + 2000; dirs.some((d) => existsSync(d)) && Date.now() < until; await delay(20))
        second.push(...removeIdleParents({ names: [name] }));
      assert.deepEqual(
        second.sort(),
        [withChild, withTask]
          .filter((d) => d !== undefined)
          .map((d) => `cgroup parent ${d}`)
          .sort(),
      );
    } finally {
      owner.kill('SIGKILL');
      holder.kill('SIGKILL');
      rmSync(state, { recursive: true, force: true });
      for (const d of dirs) {
        try {
          rmdirSync(join(d, 'child'));
        } catch {
          // Not there.
        }
        try {
          rmdirSync(d);
        } catch {
          // Gone, or a task still leaving: removed by its last line at the next run of this test.
        }
      }
    }
  });

  test('tsbench clean lists each parent it removes, text and --json, and leaves one a live run uses', async () => {
    // Made here where absent: empty, and no one's record below (a live run of another session may use one meanwhile).
    const made = mounts.map((m) => join(m, OCI_PARENT)).filter((p) => !existsSync(p));
    for (const p of made.slice(0, Math.ceil(made.length / 2))) mkdirSync(p);
    const c = await clean();
    assert.equal(c.exitCode, 0, c.raw);
    for (const p of made.slice(0, Math.ceil(made.length / 2))) {
      if (existsSync(p)) assert.ok(liveCgroupRecords().some((r) => r.startsWith(`${OCI_PARENT}/`)) || hasChild(p), `${p} kept only for a live run`);
      else assert.ok(c.removed.includes(`cgroup parent ${p}`), `--json lists ${p}: ${c.raw}`);
    }
    for (const p of made.slice(Math.ceil(made.length / 2))) mkdirSync(p);
    const text = await tsbench(['clean']);
    assert.equal(text.exitCode, 0, text.stderr);
    for (const p of made.slice(Math.ceil(made.length / 2))) if (!existsSync(p)) assert.match(text.stdout, new RegExp(`^removed cgroup parent ${p}$`, 'm'));
  });

  /**
   * `tsbench run startup --targets <target> --runs 200`, SIGKILLed early in an instance (its second: the first left
   * parents in the hierarchies the runtime makes cgroups in, where only the runtime's leaf will come), or just after
   * one is removed (before the next: the run's records then name only gone cgroups, which is how the parents were
   * left), then `tsbench clean`.
   */
  async function killAndClean(t: { diagnostic: (m: string) => void }, target: string, moment: 'instance' | 'between'): Promise<void> {
    assert.deepEqual(
      safeReaddir(stateRoot()).filter((id) => id.startsWith(`${process.pid}-`)),
      [],
      'this test process has no record that would keep a parent',
    );
    const out = mkdtempSync(join(tmpdir(), 'tsbench-sweep-parents-'));
    try {
      const child = tsbenchBackground(['run', 'startup', '--targets', target, '--runs', '200', '--warmup', '0', '--out', out]);
      const pid = child.pid as number;
      let exited = false;
      void child.then(() => (exited = true));
      const deadline = Date.now() + 120_000;
      const made = (): boolean => liveInstanceCgroups(pid, mounts).length > 0;
      while (!exited && Date.now() < deadline && !made()) await delay(2);
      while (!exited && Date.now() < deadline && made()) await delay(1);
      if (moment === 'instance') while (!exited && Date.now() < deadline && !made()) await delay(1);
      const at = liveInstanceCgroups(pid, mounts);
      child.kill('SIGKILL');
      const r = await child;
      assert.equal(r.signal, 'SIGKILL', `the run was still going when killed: ${r.stderr}`);
      t.diagnostic(at.length > 0 ? `killed with ${at.length} cgroup(s) of an instance, e.g. ${at[0]}` : 'killed with no instance cgroup (between two)');
      const before = parentsNow();
      t.diagnostic(`parents after the kill: ${before.join(', ')}`);
      assert.ok(before.length > 0, 'the killed run left parents for the sweep');
      const c = await clean();
      t.diagnostic(`clean removed: ${c.removed.join('; ')}`);
      assert.equal(c.exitCode, 0, c.raw);
      assert.deepEqual(c.failed, []);
      // Each parent there after the kill is gone and listed, unless a live run of another session has a cgroup below it.
      // Unless another command of another session swept the killed run first (every command sweeps at start): then
      // that one may have removed some, and this clean lists the rest.
      const ours = c.removed.some((l) => l.startsWith(`state ${join(stateRoot(), `${pid}-`)}`));
      if (!ours) t.diagnostic("another command's sweep took the killed run's records first: the listing is checked by the previous test");
      const after = parentsNow();
      if (ours) {
        for (const p of before) if (!after.includes(p)) assert.ok(c.removed.includes(`cgroup parent ${p}`), `clean lists ${p}: ${c.removed.join('; ')}`);
      }
      assert.deepEqual(await settledLeftovers(pid), [], 'nothing of the run');
      assert.deepEqual(await settled(() => strayParents()), [], 'no empty parent');
      assert.deepEqual(
        await settled(() => cgroupTraces(), 3000),
        [],
        "find /sys/fs/cgroup -name 'tsbench*' (what a live run of another session recorded left out)",
      );
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }

  for (const target of ['runc', 'podman', 'container']) {
    test(
      `${target}: SIGKILLed while an instance's cgroup exists, then tsbench clean: no tsbench* cgroup left anywhere, the parents listed`,
      { timeout: 180_000 },
      async (t) => {
        const why = await unavailable(target);
        if (why !== undefined) return t.skip(`${target} unavailable: ${why}`);
        await killAndClean(t, target, 'instance');
      },
    );
  }

  for (const target of ['runc', 'container']) {
    test(
      `${target}: SIGKILLed between two instances (no cgroup of its own left below the parents), then tsbench clean: the same`,
      { timeout: 180_000 },
      async (t) => {
        const why = await unavailable(target);
        if (why !== undefined) return t.skip(`${target} unavailable: ${why}`);
        await killAndClean(t, target, 'between');
      },
    );
  }

  test("a live run's parents are never removed by the sweeps of commands beside it: the run completes, every sample ok", { timeout: 240_000 }, async (t) => {
    const targets = [];
    for (const x of ['container', 'runc']) if ((await unavailable(x)) === undefined) targets.push(x);
    if (targets.length === 0) return t.skip('neither container nor runc runs here');
    const out = mkdtempSync(join(tmpdir(), 'tsbench-sweep-parents-'));
    const runs = 40;
    try {
      const child = tsbenchBackground(['run', 'startup', '--targets', targets.join(','), '--runs', String(runs), '--warmup', '0', '--out', out]);
      const pid = child.pid as number;
      let exited = false;
      void child.then(() => (exited = true));
      let cleans = 0;
      const removed: string[] = [];
      while (!exited) {
        const c = await clean();
        cleans++;
        assert.deepEqual(c.failed, [], c.raw);
        removed.push(...c.removed);
      }
      const r = await child;
      t.diagnostic(`${cleans} tsbench clean(s) beside the run; they removed: ${removed.join('; ') || 'nothing'}`);
      assert.ok(cleans >= 2, 'clean ran beside the run');
      assert.equal(r.exitCode, 0, r.stderr);
      // Nothing of the live run's: its instances' cgroups (`<pid>-<n>`, `tsbench-<runtime>-<pid>-<n>`), its state.
      assert.deepEqual(
        removed.filter((l) => l.includes(`${pid}-`)),
        [],
      );
      const doc = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as {
        complete: boolean;
        scenarios: { targets: { target: string; state: string; samples: { status: string; reason?: string }[] }[] }[];
      };
      assert.equal(doc.complete, true);
      for (const x of doc.scenarios[0]?.targets ?? []) {
        assert.equal(x.state, 'completed', `${x.target}`);
        assert.equal(x.samples.length, runs, `${x.target}: every round`);
        assert.deepEqual(
          x.samples.filter((s) => s.status !== 'ok').map((s) => `${s.status}: ${s.reason ?? ''}`),
          [],
          `${x.target}: every sample ok`,
        );
      }
      // Its own exit removed its parents.
      assert.deepEqual(await settled(() => strayParents()), []);
      assert.deepEqual(await settledLeftovers(pid), []);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
