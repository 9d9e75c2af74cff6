#!/usr/bin/env node
// Runs a shell script inside the nested KVM test host (test/helpers/testhost.ts): a TCG VM with
// emulated AMD SVM, so that tsbench's kvm targets boot for real inside it. Needs `npm run build`
// and what scripts/setup.sh caches (the kernel, the lean kernel, the lean image).
//
//   node scripts/testhost.mjs [--out DIR] [--timeout SECONDS] [--memory MIB] [--init systemd] [--carry PATH,...] -- 'tsbench targets'
//
// --init systemd boots it with systemd as PID 1 (a pure cgroup v2 host systemd manages) instead of its own init.
// --carry puts these binaries (with their libraries, at their host paths) on its disk too, e.g. docker's:
//   --carry /usr/sbin/dockerd,/usr/bin/docker,/usr/bin/containerd,/usr/bin/containerd-shim-runc-v2
//
// The console streams to stderr as it comes; the script's files (written in its working
// directory, /io/out) are copied to --out; the exit status is the script's (124 on a timeout,
// 77 when the test host cannot run KVM here, with the reason).
import { cp } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { assembleTestHost, kvmUnavailable, runInTestHost } from '../dist/test/helpers/testhost.js';

const { values, positionals } = parseArgs({
  options: {
    out: { type: 'string' },
    timeout: { type: 'string', default: '900' },
    memory: { type: 'string', default: '2048' },
    init: { type: 'string', default: 'init' },
    carry: { type: 'string', default: '' },
  },
  allowPositionals: true,
});
if (positionals.length === 0) {
  console.error("testhost: give the script to run after --, e.g. node scripts/testhost.mjs -- 'tsbench targets'");
  process.exit(2);
}
const carry = values.carry.split(',').filter((p) => p.length > 0);
const host = await assembleTestHost((line) => console.error(`testhost: ${line}`), carry);
if ('unavailable' in host) {
  console.error(`testhost: ${host.unavailable}`);
  process.exit(77);
}
console.error(`testhost: ${host.cached ? 'cached' : 'assembled'} ${host.hash} in ${(host.assembleMs / 1000).toFixed(1)} s`);
const result = await runInTestHost(host, {
  script: positionals.join(' ') + '\n',
  timeoutMs: Number(values.timeout) * 1000,
  memoryMiB: Number(values.memory),
  init: values.init === 'systemd' ? 'systemd' : 'init',
});
process.stderr.write(result.console);
if (values.out !== undefined) await cp(result.out, values.out, { recursive: true });
const why = kvmUnavailable(result);
await result.dispose();
console.error(`testhost: ${(result.wallMs / 1000).toFixed(1)} s; ${why ?? 'kvm available inside'}`);
if (result.timedOut) process.exit(124);
process.exit(why !== undefined && result.exitCode === undefined ? 77 : (result.exitCode ?? 1));
