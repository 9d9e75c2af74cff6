/**
 * gVisor's targets (drivers/oci/runsc.ts), beside what the contract suite checks of every target: the
 * probe records how runsc runs (version, platform, network mode, the flags that differ), runsc-kvm is
 * unavailable with its reason where /dev/kvm is missing, an instance's footprint is its Sentry's and
 * gofer's, runsc's state files are read as its containers, and a network namespace is left with its
 * addresses for the next instance. Needs root and runsc for the running parts (skipped with the probe's
 * reason otherwise).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { after, describe, test } from 'node:test';
import { makeNetwork } from '../drivers/linux/network.js';
import { RUNSC_TARGETS, RunscDriver } from '../drivers/oci/runsc.js';
import { createDriver } from '../drivers/registry.js';
import { settledLeftovers } from './helpers/leftovers.js';

const MiB = 2 ** 20;
const runsc = new RunscDriver('ptrace');
const probe = await runsc.probe();
const skip = probe.available ? false : `runsc unavailable: ${probe.reason ?? ''}`;

after(async () => {
  await runsc.teardown();
});

describe('the runsc targets', () => {
  test('are registered by their platform, runsc the default one', async () => {
    assert.deepEqual(RUNSC_TARGETS, { ptrace: 'runsc', kvm: 'runsc-kvm' });
    for (const name of Object.values(RUNSC_TARGETS)) assert.equal((await createDriver(name)).name, name);
  });

  test('declare no pids limit and no host network: the host’s pids.max counts the Sentry’s threads, and runsc refuses its netstack in the host’s namespace', () => {
    assert.equal(runsc.capabilities.limits.pids, false);
    assert.deepEqual(runsc.capabilities.network, ['netns']);
  });

  test("read runsc's state files as its containers", () => {
    const ids = (runsc as unknown as { stateIds(e: string[]): string[] }).stateIds([
      'tsbench-runsc-1-2_sandbox:tsbench-runsc-1-2.state',
      'tsbench-runsc-1-2_sandbox:tsbench-runsc-1-2.lock',
      'runsc.log',
    ]);
    assert.deepEqual(ids, ['tsbench-runsc-1-2']);
  });

  test('runsc-kvm is unavailable without /dev/kvm, saying so', { skip: existsSync('/dev/kvm') ? '/dev/kvm exists here' : false }, async () => {
    const p = await new RunscDriver('kvm').probe();
    assert.equal(p.available, false);
    assert.match(p.reason ?? '', /KVM platform needs \/dev\/kvm: \/dev\/kvm does not exist/);
    assert.equal(p.details?.['platform'], 'kvm (--platform=kvm)');
  });

  test('the probe records the version, the platform, the network mode and the flags that differ', { skip }, () => {
    const d = probe.details ?? {};
    assert.match(d['version'] ?? '', /^runsc version /);
    assert.equal(d['platform'], 'ptrace (runsc default)');
    assert.match(d['network'] ?? '', /^sandbox \(runsc default/);
    assert.match(d['flagsChanged'] ?? '', /--root/);
    assert.match(d['seccomp'] ?? '', /--oci-seccomp/);
  });

  test("an idle instance's footprint is its Sentry's, gofer's and stubs' PSS", { skip }, async () => {
    const instance = await runsc.launch({ job: { kind: 'sleep' }, limits: { memoryBytes: 256 * MiB } });
    try {
      await instance.ready;
      const commands = instance.hostPids().map((p) => readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0')[0] ?? '');
      assert.ok(commands.includes('runsc-sandbox'), commands.join(' '));
      assert.ok(commands.includes('runsc-gofer'), commands.join(' '));
      const f = await instance.footprint();
      assert.ok(f !== undefined && f.pssBytes > 8 * MiB, `PSS ${f?.pssBytes}`);
    } finally {
      await instance.stop();
    }
    assert.equal((await instance.result).status, 'ok');
  });

  test('two instances one after the other on one network both get its address', { skip }, async () => {
    const network = await makeNetwork('veth');
    try {
      const address = network.details['instanceAddress']?.split('/')[0] ?? '?';
      for (let i = 0; i < 2; i++) {
        const instance = await runsc.launch({ job: { kind: 'exec', argv: ['/bin/busybox', 'ip', '-4', '-o', 'addr'] }, network: network.attachment });
        const r = await instance.result;
        assert.equal(r.status, 'ok', r.tail.join('\n'));
        assert.ok(
          r.stdout.some((l) => l.includes(` ${address}/`)),
          `instance ${i + 1}: ${r.stdout.join(' | ')}`,
        );
      }
    } finally {
      await network.remove();
    }
  });

  test('teardown leaves no sandbox, state, mount, cgroup or process', { skip }, async () => {
    await runsc.teardown();
    assert.deepEqual(await settledLeftovers(process.pid), []);
  });
});
