/**
 * The test hosts (test/helpers/testhost.ts), booted at once so that the two emulated machines use both
 * of this machine's cores while nothing else of the suite runs: each runs its commands one after another
 * and each test reads what its command left.
 *
 * The kvm path run for real, in the nested KVM test host: a TCG VM whose emulated AMD SVM gives its
 * kernel a working /dev/kvm, so tsbench's kvm targets boot their guests with `-accel kvm -cpu host`
 * there, on this machine as in CI. Its init is the test host's own: a bare pure cgroup v2 host, where
 * tsbench's cgroups sit at the root.
 *
 * The container targets on a pure cgroup v2 host run by systemd, the layout most users have (current
 * Debian, Ubuntu, Fedora, GitHub's runners), while the project machines are cgroup v1 with a hybrid
 * `unified/` mount: the same test host with systemd as PID 1 runs every container-level scenario on
 * `container`, `runc` and `crun`, then a Ctrl-C and a SIGKILL in the middle of a run.
 *
 * The behaviour is tested, never the timings: a KVM guest inside an emulated host runs at TCG's speed,
 * and the results made there say so (host.nestedUnder); the CPU quota is judged on the cgroup's own
 * accounting, which the emulation does not change. Without SVM emulation or the KVM modules the kvm tests
 * are skipped with that reason; a test host that hangs is killed at its timeout, its console tail in the
 * failure.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { ResultSchema, type Result } from '../core/schema.js';
import { evaluateClaims } from '../reports/claims/index.js';
import { assembleTestHost, kvmUnavailable, readOut, runInTestHost, type RunResult } from './helpers/testhost.js';

/**
 * The shell function `again NAME CMD…` of both jobs: CMD's output in NAME.log and its exit code in NAME.code; stopped
 * with SIGKILL after `limitS` seconds and run once more (said in `retries`).
 */
function again(limitS: number): string {
  const run = `timeout -s KILL ${limitS} "$@" > $name.log 2>&1; rc=$?`;
  return `again() { name=$1; shift; ${run}; if [ $rc = 124 ] || [ $rc = 137 ]; then echo "$name timed out once" >> retries; ${run}; fi; echo $rc > $name.code; t $name; }`;
}

/** What runs inside, one command after another; every command's output and exit code land in /io/out. */
const KVM_JOB = `
t() { echo "$1 $(cut -d' ' -f1 /proc/uptime)" | tee -a times; }
t start
tsbench targets --json > targets.json 2> targets.err; echo $? > targets.code; t targets
# A run that stands still (nested KVM under TCG hung once in ~50 boots, and once a whole startup step) is stopped
# after 4 min and run once more, said in retries, so that one hang does not take the other steps' time with it.
# SIGKILL: a run that stands still may not answer a TERM; its launchers die with it and the next command sweeps the rest.
${again(240)}
again startup tsbench run startup --targets container,kvm,container-in-kvm,kvm-cloud,container-in-kvm-cloud --runs 1 --warmup 0 --out startup
again exec-kvm tsbench exec --target kvm -- /bin/busybox sh -c 'echo "hello from $(uname -r)"; exit 7'
again exec-cloud tsbench exec --target kvm-cloud -- /bin/busybox sh -c 'echo "hello from $(uname -r)"; exit 9'
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
# A container restored by CRIU (runc checkpoint once, runc restore every sample) beside runc, on Debian's 6.1 kernel
# where criu 3.17 passes its check; then exec's output and exit code through a restored container, and nothing left.
again criu tsbench run startup firstwork --targets runc,runc-restore --runs 2 --warmup 0 --out criu
again criu-exec tsbench exec --target runc-restore -- /bin/busybox sh -c 'echo "hello from a restored container"; exit 5'
echo "tmp=$(ls -d /tmp/tsbench-* 2> /dev/null | wc -l)" > criu.after
echo "state=$(ls /run/tsbench 2> /dev/null | wc -l)" >> criu.after
echo "criu=$(grep -l '^criu' /proc/[0-9]*/cmdline 2> /dev/null | wc -l)" >> criu.after
t criu-after
`;

/**
 * The container targets the v2 host runs: tsbench's own and the OCI runtimes. Not podman: it works there (checked by
 * hand, docs/testhost.md), but its image import and Go start under emulation took the job past its time.
 */
const TARGETS = 'container,runc,crun';

/** What runs inside; every command's output and exit code land in /io/out. */
const V2_JOB = `
t() { echo "$1 $(cut -d' ' -f1 /proc/uptime)" | tee -a times; }
t start
cat /proc/self/cgroup > job.cgroup
# a run that stands still is stopped and run once more (said in retries), as in the kvm job; this one takes about
# 200 s, and once took over 240 s on a loaded machine: it is stopped after 6 min
${again(360)}
# every container-level scenario in one run (one probe per target), at the smallest sizes
again all tsbench run startup cpu memory io isolation limits density --targets ${TARGETS} --runs 1 --warmup 0 --io-size 16M --instances 2 --out all
scopes() { ls -d /sys/fs/cgroup/tsbench.slice/tsbench-*.scope 2> /dev/null | wc -l; }
ours() { find /sys/fs/cgroup -type d \\( -name 'tsbench' -o -name 'tsbench-oci' -o -name 'tsbench-*.scope' \\) 2> /dev/null | wc -l; }
sleep 2
{ echo "scopes=$(scopes)"; echo "ours=$(ours)"; echo "units=$(systemctl list-units --all --plain --no-legend 'tsbench-*' 2> /dev/null | wc -l)"; } > after-all
# Ctrl-C and SIGKILL in the middle of a run (once an instance's cgroup exists): exit 130 and nothing left, the delegated
# scope included; after a SIGKILL the scope's holder sees tsbench go, and the next tsbench command sweeps the rest
inside() { find /sys/fs/cgroup/tsbench.slice -mindepth 3 -type d 2> /dev/null | grep -c -E '/tsbench(-oci)?/'; }
midrun() {
  tsbench run startup --targets $3 --runs 200 --warmup 0 --out $2-results > $2.log 2>&1 &
  pid=$!
  i=0
  while [ "$(inside)" = 0 ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
  echo "scopeBefore=$(scopes)" > $2
  kill -$1 $pid
  wait $pid
  echo "exit=$?" >> $2
}
left() { echo "scopes=$(scopes)"; echo "ours=$(ours)"; echo "tmp=$(ls -d /tmp/tsbench-* 2> /dev/null | wc -l)"; echo "state=$(ls /run/tsbench 2> /dev/null | wc -l)"; }
midrun INT interrupt container,runc
sleep 2
left >> interrupt
t interrupt
midrun KILL kill container
sleep 3
tsbench clean > clean.log 2>&1; echo "clean=$?" >> kill
sleep 1
left >> kill
t kill
# docker with its defaults here: a private daemon (its own data, exec root and socket; no bridge or iptables, as the
# suite's on the project machine) on the systemd cgroup driver, Docker's default on a pure v2 host run by systemd.
# The guest kernel has AppArmor on and the disk no apparmor_parser (the project machine has no AppArmor): docker is
# told it is off, as it finds it on the project machine.
if command -v dockerd > /dev/null; then
  D=/var/tmp/dockerd
  mkdir -p $D
  echo N > $D/apparmor
  mount --bind $D/apparmor /sys/module/apparmor/parameters/enabled
  printf '{"deprecated-key-path": "%s/key.json"}\\n' $D > $D/daemon.json
  dockerd --config-file $D/daemon.json --data-root $D/data --exec-root $D/exec --pidfile $D/pid -H unix://$D/docker.sock --bridge=none --iptables=false --ip6tables=false --ip-forward=false --ip-masq=false > $D/log 2>&1 &
  i=0
  while ! docker -H unix://$D/docker.sock version > /dev/null 2>&1 && [ $i -lt 120 ]; do sleep 1; i=$((i + 1)); done
  t dockerd
  export DOCKER_HOST=unix://$D/docker.sock
  again docker tsbench run limits --targets docker --runs 1 --warmup 0 --out docker
  { echo "units=$(systemctl list-units --all --plain --no-legend 'tsbench-docker*' | wc -l)"; echo "slices=$(ls -d /sys/fs/cgroup/tsbench.slice/tsbench-docker_* 2> /dev/null | wc -l)"; echo "containers=$(docker ps -aq | wc -l)"; echo "scopes=$(scopes)"; } > after-docker
  unset DOCKER_HOST
  kill $(cat $D/pid)
fi
`;

const host = await assembleTestHost();
let kvmRun: RunResult | undefined;
let v2Run: RunResult | undefined;
const noHost = 'unavailable' in host ? `no test host: ${host.unavailable}` : false;
let kvmSkip: string | false = noHost;
const v2Skip: string | false = noHost;
if (!('unavailable' in host)) {
  [kvmRun, v2Run] = await Promise.all([
    runInTestHost(host, { script: KVM_JOB, timeoutMs: 12 * 60_000 }),
    runInTestHost(host, { script: V2_JOB, timeoutMs: 15 * 60_000, init: 'systemd', memoryMiB: 3072 }),
  ]);
  kvmSkip = kvmUnavailable(kvmRun) ?? false;
}

after(async () => {
  await kvmRun?.dispose();
  await v2Run?.dispose();
});

/** A job's file `name`; fails with the console tail when it is missing. */
async function outOf(run: RunResult | undefined, name: string): Promise<string> {
  const r = run as RunResult;
  const text = await readOut(r, name);
  assert.ok(text !== undefined, `the test host left no ${name}${r.timedOut ? ' (killed at its timeout)' : ''}; console:\n${r.consoleTail}`);
  return text;
}

/**
 * The job's `times` file (one `STEP UPTIME` line a step, written by its shell function `t`) names `steps` first, in
 * this order, with uptimes that never go back; each step's duration and any rerun (`retries`) are printed.
 */
async function assertSteps(t: { diagnostic(message: string): void }, run: RunResult, steps: string[]): Promise<void> {
  const lines = ((await readOut(run, 'times')) ?? '').trim().split('\n');
  const parsed = lines.map((line) => line.split(' ')).map(([what, at]) => ({ what: what ?? '', at: Number(at) }));
  assert.deepEqual(
    parsed.slice(0, steps.length).map((x) => x.what),
    steps,
    `the job's steps as its times file lists them:\n${lines.join('\n')}\nconsole:\n${run.consoleTail}`,
  );
  for (const [i, step] of parsed.entries()) {
    assert.ok(Number.isFinite(step.at), `times line ${i + 1}: ${lines[i]}`);
    const before = parsed[i - 1];
    if (before === undefined) continue;
    assert.ok(step.at >= before.at, `${step.what} is recorded before ${before.what}: ${lines.join('; ')}`);
    t.diagnostic(`${step.what}: ${(step.at - before.at).toFixed(1)} s`);
  }
  const retries = ((await readOut(run, 'retries')) ?? '').trim();
  if (retries !== '') t.diagnostic(`stood still and ran again: ${retries.split('\n').join('; ')}`);
}

/** The kvm job's file `name`; fails with the console tail when it is missing. */
const out = (name: string): Promise<string> => outOf(kvmRun, name);

async function results(dir: string): Promise<Result> {
  return ResultSchema.parse(JSON.parse(await out(`${dir}/results.json`)));
}

describe('the kvm path, run in the nested KVM test host', { skip: kvmSkip }, () => {
  test('the test host records every step of its job in order, and says how long each took', async (t) => {
    t.diagnostic(`test host ${!('unavailable' in host) ? host.hash : ''}: ${Math.round((kvmRun?.wallMs ?? 0) / 1000)} s from qemu's start to its exit`);
    await assertSteps(t, kvmRun as RunResult, [
      'start',
      'targets',
      'startup',
      'exec-kvm',
      'exec-cloud',
      'limits',
      'net',
      'interrupt',
      'criu',
      'criu-exec',
      'criu-after',
    ]);
  });

  test('the test host comes back with its job finished, and a second assembly is a cache hit', async () => {
    assert.equal(kvmRun?.timedOut, false, kvmRun?.consoleTail);
    assert.equal(kvmRun?.exitCode, 0, kvmRun?.consoleTail);
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

  test("on a bare cgroup v2 host (no systemd) tsbench targets puts the containers' cgroups at the root, and crun runs unmodified", async () => {
    const targets = JSON.parse(await out('targets.json')) as { name: string; available: boolean; reason: string; details?: Record<string, string> }[];
    for (const name of ['container', 'runc', 'crun']) {
      const x = targets.find((t) => t.name === name);
      assert.equal(x?.available, true, `${name}: ${x?.reason}`);
      assert.equal(x.details?.['cgroupLayout'], 'v2', name);
      assert.match(x.details?.['cgroupRoot'] ?? '', /^\/sys\/fs\/cgroup \(no systemd manages this cgroup v2 tree/, name);
    }
    assert.match(targets.find((t) => t.name === 'crun')?.details?.['cgroupMode'] ?? '', /^unmodified/);
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
    assert.equal((await out('exec-kvm.code')).trim(), '7', await out('exec-kvm.log'));
    assert.match(await out('exec-kvm.log'), /^hello from \d+\.\d+/m);
    assert.equal((await out('exec-cloud.code')).trim(), '9', await out('exec-cloud.log'));
    assert.match(await out('exec-cloud.log'), /^hello from .*cloud-amd64$/m);
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
    assert.equal(tap['vhost'], (kvmRun as RunResult).facts['vhostNet'] === 'yes', JSON.stringify(tap));
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

  test('a container restored by CRIU (runc-restore) runs startup and firstwork beside runc, from one checkpoint, and leaves nothing', async () => {
    const targets = JSON.parse(await out('targets.json')) as { name: string; available: boolean; reason: string; details?: Record<string, string> }[];
    const probe = targets.find((t) => t.name === 'runc-restore');
    assert.equal(probe?.available, true, probe?.reason);
    assert.match(probe.details?.['criu'] ?? '', /^criu \d+\.\d+/);
    assert.equal((await out('criu.code')).trim(), '0', await out('criu.log'));
    const r = await results('criu');
    for (const name of ['startup', 'firstwork']) {
      const t = r.scenarios.find((s) => s.name === name)?.targets.find((x) => x.target === 'runc-restore');
      assert.equal(t?.state, 'completed', `${name}: ${t?.error}`);
      assert.equal(t.samples.length, 2, name);
      for (const s of t.samples) {
        assert.equal(s.status, 'ok', `${name}: ${s.reason}`);
        const cp = s.extra?.['checkpoint'] as { mechanism?: string; imageBytes?: number; saveMs?: number } | undefined;
        assert.match(cp?.mechanism ?? '', /^runc checkpoint \/ runc restore \(criu \d/, JSON.stringify(s.extra));
        assert.ok((cp?.imageBytes ?? 0) > 0 && (cp?.saveMs ?? 0) > 0, JSON.stringify(cp));
      }
    }
    // the restored container's first work is done, and measured: the same job as runc's
    const fw = r.scenarios.find((s) => s.name === 'firstwork')?.targets.find((x) => x.target === 'runc-restore');
    assert.ok(
      fw?.samples.every((s) => (s.values['toFirstWorkMs'] ?? 0) > 0),
      JSON.stringify(fw?.samples.map((s) => s.values)),
    );
    assert.equal((await out('criu-exec.code')).trim(), '5', await out('criu-exec.log'));
    assert.match(await out('criu-exec.log'), /^hello from a restored container$/m);
    assert.equal((await out('criu.after')).trim(), 'tmp=0\nstate=0\ncriu=0');
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

/** The v2 job's file `name`. */
const v2Out = (name: string): Promise<string> => outOf(v2Run, name);

async function facts(name: string): Promise<Record<string, string>> {
  return Object.fromEntries(
    (await v2Out(name))
      .trim()
      .split('\n')
      .map((l) => l.split('=') as [string, string]),
  );
}

let all: Result | undefined;
async function v2Results(): Promise<Result> {
  all ??= ResultSchema.parse(JSON.parse(await v2Out('all/results.json')));
  return all;
}

/** The samples of `scenario` on `target`, which completed. */
async function samplesOf(scenario: string, target: string): Promise<Result['scenarios'][number]['targets'][number]['samples']> {
  const sc = (await v2Results()).scenarios.find((s) => s.name === scenario);
  const t = sc?.targets.find((x) => x.target === target);
  assert.equal(t?.state, 'completed', `${scenario} on ${target}: ${t?.error ?? 'no such target'} ${t?.errorTail?.join(' | ') ?? ''}`);
  assert.ok(t.samples.length > 0);
  return t.samples;
}

/**
 * A quota of 0.5 CPU delivered within ±10 %, by the workload's own accounting (stress-ng's workers' CPU time over its
 * real time, all of it inside the cgroup) and by the host's (the cgroup's cpu.stat from ready to exit), which may read
 * up to 15 % low here: its window ends when the runtime has exited, and under emulation a runtime's exit comes a few
 * hundred milliseconds after the workload's (crun read 0.449-0.471, runc 0.476-0.490 in CI runs).
 */
function assertQuotaDelivered(
  t: { diagnostic(message: string): void },
  target: string,
  s: Result['scenarios'][number]['targets'][number]['samples'][number] | undefined,
): void {
  const delivered = s?.values['cpuQuotaDeliveredCpus'];
  const inside = s?.values['cpuInsideCpus'];
  assert.ok(delivered !== undefined && inside !== undefined, `${target}: ${JSON.stringify(s?.values)}`);
  t.diagnostic(
    `${target}: ${delivered.toFixed(3)} CPUs delivered under 0.5 (stress-ng's own: ${inside.toFixed(3)}); the hog OOM-killed ${s?.values['memOomKills'] ?? 0} time(s)`,
  );
  assert.ok(Math.abs(inside - 0.5) <= 0.05, `${target}: stress-ng's workers got ${inside} CPUs under a 0.5 CPU quota`);
  assert.ok(Math.abs(delivered - 0.5) <= 0.075, `${target}: the cgroup delivered ${delivered} CPUs under a 0.5 CPU quota`);
}

describe('the container targets on a pure cgroup v2 host run by systemd', { skip: v2Skip }, () => {
  test('the test host comes up with systemd as PID 1, every controller on cgroup v2 and no v1 hierarchy', async (t) => {
    assert.equal(v2Run?.timedOut, false, v2Run?.consoleTail);
    assert.equal(v2Run?.exitCode, 0, v2Run?.consoleTail);
    assert.equal(v2Run.facts['pid1'], 'systemd', JSON.stringify(v2Run.facts));
    assert.equal(v2Run.facts['cgroupMounts'], '1', 'one cgroup mount, the v2 hierarchy');
    for (const c of ['cpu', 'memory', 'io', 'pids']) assert.match(v2Run.facts['cgroupControllers'] ?? '', new RegExp(`\\b${c}\\b`));
    t.diagnostic(`${Math.round(v2Run.wallMs / 1000)} s from qemu's start to its exit`);
    await assertSteps(t, v2Run, ['start', 'all', 'interrupt', 'kill']);
  });

  test("the run's probes state the v2 layout, the controllers offered, and the scope systemd delegated", async () => {
    // the details `tsbench targets --json` prints, recorded with the result by the same probes
    const targets = (await v2Results()).targets;
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
    assert.equal((await v2Out('all.code')).trim(), '0', await v2Out('all.log'));
    const r = await v2Results();
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

  test('a quota of 0.5 CPU is delivered within ±10 %, from the cgroup v2 cpu.stat', async (t) => {
    for (const target of TARGETS.split(',')) {
      const [s] = await samplesOf('limits', target);
      assertQuotaDelivered(t, target, s);
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

  test(
    "docker with the daemon's defaults here, systemd's cgroup driver: each container in a slice of its own, the hog OOM-killed, 0.5 CPU delivered, nothing left",
    { skip: existsSync('/usr/sbin/dockerd') ? false : 'docker is not installed here (scripts/setup.sh installs docker.io)' },
    async (t) => {
      assert.equal((await v2Out('docker.code')).trim(), '0', await v2Out('docker.log'));
      const r = ResultSchema.parse(JSON.parse(await v2Out('docker/results.json')));
      const d = r.targets.find((x) => x.name === 'docker')?.details ?? {};
      assert.equal(d['cgroupDriver'], 'systemd', JSON.stringify(d));
      assert.equal(d['cgroupVersion'], 'cgroup-v2');
      assert.match(d['cgroupParent'] ?? '', /^tsbench\.slice\/tsbench-docker_<pid>_<n>\.slice: a transient slice per container/);
      const [s] = r.scenarios.find((x) => x.name === 'limits')?.targets.find((x) => x.target === 'docker')?.samples ?? [];
      assert.equal(s?.values['memLimitHeld'], 1, JSON.stringify(s?.extra));
      assert.ok((s?.values['memOomKills'] ?? 0) >= 1, JSON.stringify(s?.values));
      const events = s?.extra?.['engineEvents'] as Record<string, number> | undefined;
      t.diagnostic(`docker: the CLI exited ${((s?.timeline?.toExitMs ?? NaN) - (events?.['die'] ?? NaN)).toFixed(0)} ms after the daemon's die event`);
      // By stress-ng's own accounting only: docker's ready and exit reach the host through the daemon and its CLI,
      // up to a second late under emulation (0.370-0.597 read by the cgroup in CI runs, 0.497-0.502 by stress-ng);
      // test/engines.test.ts checks the cgroup's figure for docker on the project machine.
      const inside = s?.values['cpuInsideCpus'] ?? NaN;
      t.diagnostic(`docker: ${(s?.values['cpuQuotaDeliveredCpus'] ?? NaN).toFixed(3)} CPUs by the cgroup, ${inside.toFixed(3)} by stress-ng, under 0.5`);
      assert.ok(Math.abs(inside - 0.5) <= 0.05, `docker: stress-ng's workers got ${inside} CPUs under a 0.5 CPU quota`);
      assert.ok((s?.accounting?.cpuUserMs ?? 0) > 0, JSON.stringify(s?.accounting));
      assert.deepEqual(await facts('after-docker'), { units: '0', slices: '0', containers: '0', scopes: '0' });
    },
  );

  test('Ctrl-C in the middle of a run ends it with 130 and leaves no scope, cgroup, scratch directory or state', async () => {
    const f = await facts('interrupt');
    assert.equal(f['scopeBefore'], '1', `the run had its scope when the Ctrl-C came: ${JSON.stringify(f)}`);
    assert.equal(f['exit'], '130', await v2Out('interrupt.log'));
    assert.deepEqual({ scopes: f['scopes'], ours: f['ours'], tmp: f['tmp'], state: f['state'] }, { scopes: '0', ours: '0', tmp: '0', state: '0' });
  });

  test('after a SIGKILL the scope goes with its holder, and tsbench clean sweeps the rest', async () => {
    const f = await facts('kill');
    assert.equal(f['scopeBefore'], '1', JSON.stringify(f));
    assert.equal(f['exit'], '137');
    assert.equal(f['clean'], '0', await v2Out('clean.log'));
    assert.deepEqual(
      { scopes: f['scopes'], ours: f['ours'], tmp: f['tmp'], state: f['state'] },
      { scopes: '0', ours: '0', tmp: '0', state: '0' },
      await v2Out('clean.log'),
    );
  });
});
