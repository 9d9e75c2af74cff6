/**
 * The `kvm` path run for real, inside the nested KVM test host (test/helpers/testhost.ts): a TCG VM
 * whose emulated AMD SVM gives its kernel a working /dev/kvm, so tsbench's kvm targets boot their
 * guests with `-accel kvm -cpu host` there, on this machine as in CI. One boot of the test host runs
 * every command below one after another (about 4 minutes); each test reads what its command left.
 *
 * The behaviour is tested, never the timings: a KVM guest inside an emulated host runs at TCG's speed,
 * and the results made there say so (host.nestedUnder). Without SVM emulation or the KVM modules the
 * tests are skipped with that reason; a test host that hangs is killed at its timeout, its console tail
 * in the failure.
 */
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { ResultSchema, type Result } from '../core/schema.js';
import { evaluateClaims } from '../reports/claims/index.js';
import { assembleTestHost, kvmUnavailable, readOut, runInTestHost, type RunResult } from './helpers/testhost.js';

/** What runs inside, one command after another; every command's output and exit code land in /io/out. */
const JOB = `
t() { echo "$1 $(cut -d' ' -f1 /proc/uptime)" | tee -a times; }
t start
tsbench targets --json > targets.json 2> targets.err; echo $? > targets.code; t targets
# A run that stands still (nested KVM under TCG hung once in ~50 boots, and once a whole startup step) is stopped
# after 4 min and run once more, said in retries, so that one hang does not take the other steps' time with it.
# SIGKILL: a run that stands still may not answer a TERM; its launchers die with it and the next command sweeps the rest.
again() { name=$1; shift; timeout -s KILL 240 "$@" > $name.log 2>&1; rc=$?; if [ $rc = 124 ] || [ $rc = 137 ]; then echo "$name timed out once" >> retries; timeout -s KILL 240 "$@" > $name.log 2>&1; rc=$?; fi; echo $rc > $name.code; t $name; }
again startup tsbench run startup --targets container,kvm,container-in-kvm,kvm-cloud,container-in-kvm-cloud --runs 1 --warmup 0 --out startup
tsbench exec --target kvm -- /bin/busybox sh -c 'echo "hello from $(uname -r)"; exit 7' > exec-kvm.out 2> exec-kvm.err; echo $? > exec-kvm.code; t exec-kvm
tsbench exec --target kvm-cloud -- /bin/busybox sh -c 'echo "hello from $(uname -r)"; exit 9' > exec-cloud.out 2> exec-cloud.err; echo $? > exec-cloud.code; t exec-cloud
again limits tsbench run limits --targets kvm --runs 1 --memory 128M --out limits
again net tsbench run net --targets kvm --runs 1 --net-time 1 --out net
echo "netns=$(ls /run/netns 2> /dev/null | wc -l)" > net.after
# Ctrl-C in the middle of a run: SIGINT to tsbench once a VM runs, then nothing may be left. Processes are
# counted from /proc (busybox has no pgrep); the bracket keeps grep from counting itself.
qemus() { grep -l 'qemu-[s]ystem' /proc/[0-9]*/cmdline 2> /dev/null | wc -l; }
tsbench run startup --targets kvm --runs 100 --warmup 0 --out interrupted > interrupted.log 2>&1 &
pid=$!
i=0
while [ "$(qemus)" = 0 ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
# at once: a sample's VM lives about 2.5 s, and between two samples none runs
echo "qemuBefore=$(qemus)" > interrupt
echo "tmpBefore=$(ls -d /tmp/tsbench-* 2> /dev/null | wc -l)" >> interrupt
echo "stateBefore=$(ls /run/tsbench 2> /dev/null | wc -l)" >> interrupt
kill -INT $pid
wait $pid
echo "exit=$?" >> interrupt
sleep 1
echo "qemu=$(qemus)" >> interrupt
echo "tmp=$(ls -d /tmp/tsbench-* 2> /dev/null | wc -l)" >> interrupt
echo "state=$(ls /run/tsbench 2> /dev/null | wc -l)" >> interrupt
t interrupt
`;

const host = await assembleTestHost();
let run: RunResult | undefined;
let skip: string | false = 'unavailable' in host ? `no nested KVM test host: ${host.unavailable}` : false;
if (!('unavailable' in host)) {
  run = await runInTestHost(host, { script: JOB, timeoutMs: 12 * 60_000 });
  skip = kvmUnavailable(run) ?? false;
}

after(async () => run?.dispose());

/** The job's file `name`; fails with the console tail when it is missing. */
async function out(name: string): Promise<string> {
  const r = run as RunResult;
  const text = await readOut(r, name);
  assert.ok(text !== undefined, `the test host left no ${name}${r.timedOut ? ' (killed at its timeout)' : ''}; console:\n${r.consoleTail}`);
  return text;
}

async function results(dir: string): Promise<Result> {
  return ResultSchema.parse(JSON.parse(await out(`${dir}/results.json`)));
}

describe('the kvm path, run in the nested KVM test host', { skip }, () => {
  test('the test host says how long it and each command inside took (diagnostics, not asserted)', async (t) => {
    t.diagnostic(`test host ${host && !('unavailable' in host) ? host.hash : ''}: ${Math.round((run?.wallMs ?? 0) / 1000)} s from qemu's start to its exit`);
    const times = ((await readOut(run as RunResult, 'times')) ?? '').trim().split('\n');
    let last: number | undefined;
    for (const line of times) {
      const [what, at] = line.split(' ');
      if (last !== undefined) t.diagnostic(`${what}: ${(Number(at) - last).toFixed(1)} s`);
      last = Number(at);
    }
    const retries = ((await readOut(run as RunResult, 'retries')) ?? '').trim();
    if (retries !== '') t.diagnostic(`stood still and ran again: ${retries.split('\n').join('; ')}`);
  });

  test('the test host comes back with its job finished, and a second assembly is a cache hit', async () => {
    assert.equal(run?.timedOut, false, run?.consoleTail);
    assert.equal(run?.exitCode, 0, run?.consoleTail);
    const again = await assembleTestHost();
    assert.ok(!('unavailable' in again) && !('unavailable' in host));
    assert.equal(again.hash, host.hash);
    assert.equal(again.cached, true);
  });

  test('tsbench targets judges kvm and kvm-cloud available by a probe boot, and says the host is nested under TCG', async () => {
    assert.equal((await out('targets.code')).trim(), '0', await out('targets.err'));
    const targets = JSON.parse(await out('targets.json')) as { name: string; available: boolean; reason: string; details?: Record<string, string> }[];
    for (const name of ['kvm', 'kvm-cloud', 'container-in-kvm', 'container-in-kvm-cloud']) {
      const t = targets.find((x) => x.name === name);
      assert.equal(t?.available, true, `${name}: ${t?.reason}`);
      assert.match(t.details?.['kvmProbe'] ?? '', /^ready in \d+ ms/, name);
      assert.equal(t.details?.['nestedUnder'], 'tcg', name);
      assert.match(t.reason, /nested under TCG/);
    }
  });

  test('startup on kvm and container-in-kvm completes with every phase, on the lean microVM and the stock VM', async () => {
    assert.equal((await out('startup.code')).trim(), '0', await out('startup.log'));
    const r = await results('startup');
    assert.equal(r.host.nestedUnder, 'tcg');
    const expected: Record<string, string[]> = {
      kvm: ['qemu', 'kernel', 'agent', 'exit'],
      'container-in-kvm': ['qemu', 'kernel', 'agent', 'container', 'exit'],
      'kvm-cloud': ['qemu', 'kernel', 'initrd', 'agent', 'exit'],
      'container-in-kvm-cloud': ['qemu', 'kernel', 'initrd', 'agent', 'container', 'exit'],
    };
    for (const [target, phases] of Object.entries(expected)) {
      const t = r.scenarios[0]?.targets.find((x) => x.target === target);
      assert.equal(t?.state, 'completed', `${target}: ${t?.error}`);
      assert.equal(t.samples.length, 1);
      for (const s of t.samples) {
        assert.equal(s.status, 'ok', `${target}: ${s.reason}`);
        assert.deepEqual(
          s.timeline?.phases.map((p) => p.name),
          phases,
          target,
        );
        assert.equal(s.extra?.['accelerator'], 'kvm', target);
      }
    }
  });

  test("exec --target kvm and --target kvm-cloud return the job's output and exit code", async () => {
    assert.equal((await out('exec-kvm.code')).trim(), '7', await out('exec-kvm.err'));
    assert.match(await out('exec-kvm.out'), /^hello from \d+\.\d+/m);
    assert.equal((await out('exec-cloud.code')).trim(), '9', await out('exec-cloud.err'));
    assert.match(await out('exec-cloud.out'), /^hello from .*cloud-amd64$/m);
  });

  test("limits sees the guest's OOM killer act under kvm", async () => {
    assert.equal((await out('limits.code')).trim(), '0', await out('limits.log'));
    const r = await results('limits');
    const t = r.scenarios[0]?.targets.find((x) => x.target === 'kvm');
    assert.equal(t?.state, 'completed', t?.error);
    const [sample] = t.samples;
    assert.equal(sample?.values['memLimitHeld'], 1, JSON.stringify(sample?.extra));
  });

  test('net measures kvm over its tap and virtio-net, with vhost-net where the host has it, and leaves no namespace', async () => {
    assert.equal((await out('net.code')).trim(), '0', await out('net.log'));
    const r = await results('net');
    const t = r.scenarios[0]?.targets.find((x) => x.target === 'kvm');
    assert.equal(t?.state, 'completed', t?.error);
    const [sample] = t.samples;
    for (const m of ['tapRxGbps', 'tapTxGbps', 'tapRttP50Us', 'tapTps']) assert.ok((sample?.values[m] ?? 0) > 0, `${m}: ${JSON.stringify(sample?.values)}`);
    const tap = (sample?.extra?.['networks'] as Record<string, { instance?: Record<string, unknown> }> | undefined)?.['tap']?.instance ?? {};
    assert.equal(tap['accelerator'], 'kvm');
    assert.equal(tap['vhost'], (run as RunResult).facts['vhostNet'] === 'yes', JSON.stringify(tap));
    assert.equal((await out('net.after')).trim(), 'netns=0');
  });

  test('Ctrl-C in the middle of a kvm run ends it with 130 and leaves no qemu, scratch directory or state behind', async () => {
    const facts = Object.fromEntries(
      (await out('interrupt'))
        .trim()
        .split('\n')
        .map((l) => l.split('=') as [string, string]),
    );
    // its VM ran when the Ctrl-C came (what else it had made then is in the facts, for a failure's message)
    assert.notEqual(facts['qemuBefore'], '0', `no qemu ran before the Ctrl-C: ${JSON.stringify(facts)}`);
    assert.equal(facts['exit'], '130', await out('interrupted.log'));
    assert.equal(facts['qemu'], '0', JSON.stringify(facts));
    assert.equal(facts['tmp'], '0', JSON.stringify(facts));
    assert.equal(facts['state'], '0', JSON.stringify(facts));
  });

  test('the claims never let kvm timings from a host nested under TCG confirm C1, and label them so', async () => {
    const r = await results('startup');
    const [judged] = evaluateClaims([{ path: 'startup/results.json', result: r }]);
    const claim = (id: string) => judged?.verdicts.find((v) => v.id === id);
    const c1 = claim('C1');
    const kvmParts = c1?.parts.filter((p) => p.accelerator === 'kvm' && p.verdict !== 'not measured') ?? [];
    assert.ok(kvmParts.length > 0, JSON.stringify(c1?.parts));
    for (const p of kvmParts) {
      assert.match(p.label, /\(kvm nested under TCG/);
      assert.match(p.evidence, /nested under TCG/);
      // as under TCG: a nested boot much slower than the container says nothing about KVM
      assert.ok(p.verdict !== 'confirmed' || p.bearing === 'context', JSON.stringify(p));
    }
    assert.notEqual(c1?.verdict, 'confirmed');
    const c10 = claim('C10')?.parts.find((p) => p.label === 'little extra startup (kvm nested under TCG)');
    assert.ok(c10, JSON.stringify(claim('C10')?.parts.map((p) => p.label)));
  });
});
