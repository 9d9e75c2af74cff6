import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseAgentLine, parseLauncherLine } from '../drivers/protocol.js';

test('agent events are found behind a kernel log prefix', () => {
  assert.deepEqual(parseAgentLine('[    1.234567] random: crng init done@tsb ready 1234567890'), { kind: 'ready', monoNs: 1234567890n });
  assert.deepEqual(parseAgentLine('@tsb init 5\r'), { kind: 'init', monoNs: 5n });
});

test('workload output keeps its spaces verbatim', () => {
  assert.deepEqual(parseAgentLine('@tsb out  two  spaces '), { kind: 'out', text: ' two  spaces ' });
  assert.deepEqual(parseAgentLine('@tsb err '), { kind: 'err', text: '' });
});

test('exit codes and signals are told apart', () => {
  assert.deepEqual(parseAgentLine('@tsb exit 3'), { kind: 'exit', code: 3, signal: null });
  assert.deepEqual(parseAgentLine('@tsb exit signal 9'), { kind: 'exit', code: 137, signal: 9 });
});

test('lines without the marker or with malformed numbers are ignored', () => {
  for (const line of ['hello', '@tsbready 1', '@tsb ready x', '@tsb rusage 1 2', '@tsb frobnicate 1', '@tsb exit']) {
    assert.equal(parseAgentLine(line), undefined, line);
  }
  assert.deepEqual(parseAgentLine('@tsb meminfo 262144 200000'), { kind: 'meminfo', totalKb: 262144, availableKb: 200000 });
  assert.deepEqual(parseAgentLine('@tsb rusage 10 20 30'), { kind: 'rusage', userUs: 10, systemUs: 20, maxRssKb: 30 });
});

test('launcher reports parse into start, exit, signal and error', () => {
  assert.deepEqual(parseLauncherLine('start 100 42'), { kind: 'start', monoNs: 100n, pid: 42 });
  assert.deepEqual(parseLauncherLine('exit 0 200 1 2 3'), { kind: 'exit', code: 0, signal: null, monoNs: 200n, userUs: 1, systemUs: 2, maxRssKb: 3 });
  assert.deepEqual(parseLauncherLine('signal 9 200 1 2 3'), { kind: 'exit', code: 137, signal: 9, monoNs: 200n, userUs: 1, systemUs: 2, maxRssKb: 3 });
  assert.deepEqual(parseLauncherLine('error exec /x: No such file or directory'), { kind: 'error', message: 'exec /x: No such file or directory' });
  assert.equal(parseLauncherLine('start x 1'), undefined);
});
