/**
 * Claim C14 (issue 34) on crafted results: a VM restored from a snapshot starts about as fast as a
 * container — decided by kvm-restore, with tcg-restore as context only — and a RAM template lowers a
 * restored VM's memory per instance.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { around, claim, one, part } from './helpers/claims.js';

/** startup and firstwork of the container and restored VMs (ms), density PSS per instance (MiB) of restored VMs. */
function results(ready: Record<string, number>, pssMiB: Record<string, number> = {}, extra: Parameters<typeof one>[1] = {}) {
  const startup = Object.fromEntries(Object.entries(ready).map(([t, ms]) => [t, { toReadyMs: around(ms) }]));
  const firstwork = Object.fromEntries(Object.entries(ready).map(([t, ms]) => [t, { toReadyMs: around(ms), toFirstWorkMs: around(ms + 30) }]));
  const density = Object.fromEntries(Object.entries(pssMiB).map(([t, mib]) => [t, { pssPerInstanceBytes: around(mib * 2 ** 20) }]));
  return one({ startup, firstwork, ...(Object.keys(density).length > 0 ? { density } : {}) }, extra);
}

describe('C14: a restored microVM starts about as fast as a container', () => {
  test('a KVM restore twice the container and a template at half the memory confirm it, decided by KVM', () => {
    const v = claim('C14', results({ container: 8, 'kvm-restore': 16 }, { 'kvm-restore': 40, 'kvm-restore-template': 20 }));
    assert.equal(v.verdict, 'confirmed', v.evidence);
    assert.equal(part(v, 'restored VM ready about as fast as a container (kvm)').bearing, 'decides');
    assert.equal(part(v, 'a template shares guest RAM (kvm)').verdict, 'confirmed');
    assert.ok(v.reference?.includes('8 ms'), 'Firecracker’s resume latency is the reference');
  });

  test('a KVM restore ten times the container refutes it', () => {
    const v = claim('C14', results({ container: 8, 'kvm-restore': 80 }, { 'kvm-restore': 40, 'kvm-restore-template': 20 }));
    assert.equal(v.verdict, 'refuted');
    assert.equal(part(v, 'restored VM ready about as fast as a container (kvm)').verdict, 'refuted');
  });

  test('a TCG restore is context either way: the claim waits for kvm', () => {
    const v = claim('C14', results({ container: 8, 'tcg-restore': 16 }, { 'tcg-restore': 40, 'tcg-restore-template': 20 }));
    assert.equal(part(v, 'restored VM ready about as fast as a container (tcg)').bearing, 'context');
    assert.equal(part(v, 'a template shares guest RAM (tcg)').bearing, 'context');
    assert.equal(part(v, 'restored VM ready about as fast as a container (kvm)').verdict, 'not measured');
    assert.equal(v.verdict, 'not measured');
  });

  test('KVM nested under TCG is context too', () => {
    const v = claim('C14', results({ container: 8, 'kvm-restore': 16 }, {}, { nestedUnder: 'tcg' }));
    assert.equal(part(v, 'restored VM ready about as fast as a container (kvm nested under TCG)').bearing, 'context');
    assert.notEqual(v.verdict, 'confirmed');
  });

  test('no restored VM is not measured, naming the run that would measure it', () => {
    const v = claim('C14', one({}));
    assert.equal(v.verdict, 'not measured');
    assert.match(v.evidence, /tsbench run \w+ --targets/);
  });
});
