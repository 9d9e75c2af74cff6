/**
 * The container targets on a pure cgroup v2 host run by systemd, the layout most users have (current
 * Debian, Ubuntu, Fedora, GitHub's runners), while the project machines are cgroup v1 with a hybrid
 * `unified/` mount. One boot of the test host (test/helpers/testhost.ts) with systemd as PID 1 and
 * `cgroup_no_v1=all` runs, one command after another: `tsbench targets` for the containers, every
 * container-level scenario on `container`, `runc` and `crun`, a Ctrl-C and a SIGKILL in the middle of a
 * run; each test reads what its command left. The bare v2 host (no systemd) runs the container target in
 * test/kvm-nested.test.ts's boot.
 *
 * Behaviour is tested, never timings: the test host is emulated. The CPU quota is judged on the
 * cgroup's own accounting, which the emulation does not change.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { ResultSchema, type Result } from '../core/schema.js';
import { assembleTestHost, readOut, runInTestHost, type RunResult } from './helpers/testhost.js';

const TARGETS = 'container,runc,crun';

/** What runs inside; every command's output and exit code land in /io/out. */
const JOB = `
t() { echo "$1 $(cut -d' ' -f1 /proc/uptime)" | tee -a times; }
t start
cat /proc/self/cgroup > job.cgroup
tsbench targets --targets ${TARGETS} --json > targets.json 2> targets.err; echo $? > targets.code; t targets
# a run that stands still is stopped after 4 min and run once more (said in retries), as in kvm-nested
again() { name=$1; shift; timeout -s KILL 240 "$@" > $name.log 2>&1; rc=$?; if [ $rc = 124 ] || [ $rc = 137 ]; then echo "$name timed out once" >> retries; timeout -s KILL 240 "$@" > $name.log 2>&1; rc=$?; fi; echo $rc > $name.code; t $name; }
# every container-level scenario in one run (one probe per target), at the smallest sizes
again all tsbench run startup cpu memory io isolation limits density --targets ${TARGETS} --runs 1 --warmup 0 --io-size 16M --instances 2 --out all
scopes() { ls -d /sys/fs/cgroup/tsbench.slice/tsbench-*.scope 2> /dev/null | wc -l; }
ours() { find /sys/fs/cgroup -type d \\( -name 'tsbench' -o -name 'tsbench-oci' -o -name 'tsbench-*.scope' \\) 2> /dev/null | wc -l; }
sleep 2
{ echo "scopes=$(scopes)"; echo "ours=$(ours)"; echo "units=$(systemctl list-units --all --plain --no-legend 'tsbench-*' 2> /dev/null | wc -l)"; } > after-all
# Ctrl-C in the middle of a run: exit 130 and nothing left, the delegated scope included
inside() { find /sys/fs/cgroup/tsbench.slice -mindepth 3 -type d 2> /dev/null | grep -c -E '/tsbench(-oci)?/'; }
tsbench run startup --targets container,runc --runs 200 --warmup 0 --out interrupted > interrupted.log 2>&1 &
pid=$!
i=0
while [ "$(inside)" = 0 ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
echo "scopeBefore=$(scopes)" > interrupt
kill -INT $pid
wait $pid
echo "exit=$?" >> interrupt
sleep 2
{ echo "scopes=$(scopes)"; echo "ours=$(ours)"; echo "tmp=$(ls -d /tmp/tsbench-* 2> /dev/null | wc -l)"; echo "state=$(ls /run/tsbench 2> /dev/null | wc -l)"; } >> interrupt
t interrupt
# SIGKILL: the scope's holder sees tsbench go and ends; the next tsbench command sweeps the rest
tsbench run startup --targets container --runs 200 --warmup 0 --out killed > killed.log 2>&1 &
pid=$!
i=0
while [ "$(inside)" = 0 ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
echo "scopeBefore=$(scopes)" > kill
kill -KILL $pid
wait $pid
echo "exit=$?" >> kill
sleep 3
tsbench clean > clean.log 2>&1; echo "clean=$?" >> kill
sleep 1
{ echo "scopes=$(scopes)"; echo "ours=$(ours)"; echo "tmp=$(ls -d /tmp/tsbench-* 2> /dev/null | wc -l)"; echo "state=$(ls /run/tsbench 2> /dev/null | wc -l)"; } >> kill
t kill
`;

const host = await assembleTestHost();
let run: RunResult | undefined;
let skip: string | false = 'unavailable' in host ? `no test host: ${host.unavailable}` : false;
if (!('unavailable' in host)) {
  run = await runInTestHost(host, { script: JOB, timeoutMs: 12 * 60_000, init: 'systemd' });
  if (run.facts['pid1'] === undefined) skip = false; // it did not come up: the first test says why
}

after(async () => run?.dispose());

async function out(name: string): Promise<string> {
  const r = run as RunResult;
  const text = await readOut(r, name);
  assert.ok(text !== undefined, `the test host left no ${name}${r.timedOut ? ' (killed at its timeout)' : ''}; console:\n${r.consoleTail}`);
  return text;
}

async function facts(name: string): Promise<Record<string, string>> {
  return Object.fromEntries(
    (await out(name))
      .trim()
      .split('\n')
      .map((l) => l.split('=') as [string, string]),
  );
}

let all: Result | undefined;
async function results(): Promise<Result> {
  all ??= ResultSchema.parse(JSON.parse(await out('all/results.json')));
  return all;
}

/** The samples of `scenario` on `target`, which completed. */
async function samplesOf(scenario: string, target: string): Promise<Result['scenarios'][number]['targets'][number]['samples']> {
  const sc = (await results()).scenarios.find((s) => s.name === scenario);
  const t = sc?.targets.find((x) => x.target === target);
  assert.equal(t?.state, 'completed', `${scenario} on ${target}: ${t?.error ?? 'no such target'} ${t?.errorTail?.join(' | ') ?? ''}`);
  assert.ok(t.samples.length > 0);
  return t.samples;
}

describe('the container targets on a pure cgroup v2 host run by systemd', { skip }, () => {
  test('the test host comes up with systemd as PID 1, every controller on cgroup v2 and no v1 hierarchy', async (t) => {
    assert.equal(run?.timedOut, false, run?.consoleTail);
    assert.equal(run?.exitCode, 0, run?.consoleTail);
    assert.equal(run.facts['pid1'], 'systemd', JSON.stringify(run.facts));
    assert.equal(run.facts['cgroupMounts'], '1', 'one cgroup mount, the v2 hierarchy');
    for (const c of ['cpu', 'memory', 'io', 'pids']) assert.match(run.facts['cgroupControllers'] ?? '', new RegExp(`\\b${c}\\b`));
    t.diagnostic(`${Math.round(run.wallMs / 1000)} s from qemu's start to its exit`);
    const times = ((await readOut(run, 'times')) ?? '').trim().split('\n');
    let last: number | undefined;
    for (const line of times) {
      const [what, at] = line.split(' ');
      if (last !== undefined) t.diagnostic(`${what}: ${(Number(at) - last).toFixed(1)} s`);
      last = Number(at);
    }
    const retries = ((await readOut(run, 'retries')) ?? '').trim();
    if (retries !== '') t.diagnostic(`stood still and ran again: ${retries.split('\n').join('; ')}`);
  });

  test('tsbench targets states the v2 layout, the controllers offered, and the scope systemd delegated', async () => {
    assert.equal((await out('targets.code')).trim(), '0', await out('targets.err'));
    const targets = JSON.parse(await out('targets.json')) as { name: string; available: boolean; reason: string; details?: Record<string, string> }[];
    assert.deepEqual(
      targets.map((x) => x.name),
      TARGETS.split(','),
    );
    for (const x of targets) {
      assert.equal(x.available, true, `${x.name}: ${x.reason}`);
      const d = x.details ?? {};
      assert.equal(d['cgroupLayout'], 'v2', x.name);
      assert.match(d['cgroupControllers'] ?? '', /^v2:.*\bmemory\b/, x.name);
      for (const c of ['cpu', 'pids', 'io']) assert.match(d['cgroupControllers'] ?? '', new RegExp(`\\b${c}\\b`), x.name);
      assert.match(d['cgroupRoot'] ?? '', /^\/sys\/fs\/cgroup\/tsbench\.slice\/tsbench-\d+\.scope \(systemd runs this cgroup v2 host/, x.name);
      assert.equal(d['limitsUnavailable'], undefined, x.name);
    }
    const crun = targets.find((x) => x.name === 'crun');
    assert.match(crun?.details?.['cgroupMode'] ?? '', /^unmodified/);
    assert.equal(crun?.details?.['hybridRefusal'], undefined);
    assert.match(crun?.reason ?? '', /cgroups unmodified/);
    assert.match(targets.find((x) => x.name === 'runc')?.details?.['cgroupsPath'] ?? '', /^\/tsbench\.slice\/tsbench-\d+\.scope\/tsbench-oci\/<id>\/ct$/);
  });

  test('every container-level scenario completes on container, runc and crun, and the run leaves no scope, unit or cgroup', async () => {
    assert.equal((await out('all.code')).trim(), '0', await out('all.log'));
    const r = await results();
    assert.equal(r.host.cgroup, 'v2');
    for (const sc of r.scenarios) for (const t of sc.targets) assert.equal(t.state, 'completed', `${sc.name} on ${t.target}: ${t.error}`);
    assert.deepEqual(await facts('after-all'), { scopes: '0', ours: '0', units: '0' });
  });

  test('the memory limit holds: the hog is OOM-killed and reported from memory.events, on every runtime', async () => {
    for (const target of TARGETS.split(',')) {
      const [s] = await samplesOf('limits', target);
      assert.equal(s?.values['memLimitHeld'], 1, `${target}: ${JSON.stringify(s?.extra)}`);
      assert.ok((s?.values['memOomKills'] ?? 0) >= 1, `${target}: ${JSON.stringify(s?.values)}`);
    }
  });

  test('a quota of 0.5 CPU is delivered within ±10 %, from the cgroup v2 cpu.stat', async () => {
    for (const target of TARGETS.split(',')) {
      const [s] = await samplesOf('limits', target);
      const delivered = s?.values['cpuQuotaDeliveredCpus'];
      assert.ok(delivered !== undefined, `${target}: ${JSON.stringify(s?.values)}`);
      assert.ok(Math.abs(delivered - 0.5) <= 0.05, `${target}: ${delivered} CPUs delivered under a 0.5 CPU quota`);
    }
  });

  test('accounting comes from cgroup v2: CPU time, peak memory and I/O bytes', async () => {
    for (const target of TARGETS.split(',')) {
      const [cpu] = await samplesOf('cpu', target);
      assert.ok((cpu?.accounting?.cpuUserMs ?? 0) > 0, `${target} cpu: ${JSON.stringify(cpu?.accounting)}`);
      const [mem] = await samplesOf('memory', target);
      assert.ok((mem?.accounting?.peakMemoryBytes ?? 0) > 0, `${target} memory: ${JSON.stringify(mem?.accounting)}`);
      const [io] = await samplesOf('io', target);
      const bytes = (io?.accounting?.ioReadBytes ?? 0) + (io?.accounting?.ioWriteBytes ?? 0);
      assert.ok(bytes > 0, `${target} io: ${JSON.stringify(io?.accounting)}`);
    }
  });

  test('isolation, startup and density run on every runtime', async () => {
    for (const target of TARGETS.split(',')) {
      for (const s of await samplesOf('isolation', target)) assert.equal(s.status, 'ok', `${target}: ${s.reason}`);
      for (const s of await samplesOf('startup', target)) assert.equal(s.status, 'ok', `${target}: ${s.reason}`);
      await samplesOf('density', target);
    }
  });

  test('Ctrl-C in the middle of a run ends it with 130 and leaves no scope, cgroup, scratch directory or state', async () => {
    const f = await facts('interrupt');
    assert.equal(f['scopeBefore'], '1', `the run had its scope when the Ctrl-C came: ${JSON.stringify(f)}`);
    assert.equal(f['exit'], '130', await out('interrupted.log'));
    assert.deepEqual({ scopes: f['scopes'], ours: f['ours'], tmp: f['tmp'], state: f['state'] }, { scopes: '0', ours: '0', tmp: '0', state: '0' });
  });

  test('after a SIGKILL the scope goes with its holder, and tsbench clean sweeps the rest', async () => {
    const f = await facts('kill');
    assert.equal(f['scopeBefore'], '1', JSON.stringify(f));
    assert.equal(f['exit'], '137');
    assert.equal(f['clean'], '0', await out('clean.log'));
    assert.deepEqual(
      { scopes: f['scopes'], ours: f['ours'], tmp: f['tmp'], state: f['state'] },
      { scopes: '0', ours: '0', tmp: '0', state: '0' },
      await out('clean.log'),
    );
  });
});
