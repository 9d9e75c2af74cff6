import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { ResultSchema, resultJsonSchema } from '../core/schema.js';
import type { Stats } from '../core/stats.js';
import { loadImage } from '../drivers/image/index.js';
import { liveLaunchCount } from '../drivers/process.js';
import { createDriver } from '../drivers/registry.js';
import { tsbench, tsbenchBackground, waitForSamples } from './helpers/cli.js';
import { jsonSchemaErrors } from './helpers/schema.js';

const work = mkdtempSync(join(tmpdir(), 'tsbench-cli-test-'));
after(() => rmSync(work, { recursive: true, force: true }));

describe('usage errors', () => {
  const cases: [string, string[], RegExp][] = [
    ['an unknown scenario', ['run', 'bogus', '--targets', 'native'], /unknown scenario 'bogus'; valid scenarios: startup/],
    ['an unknown target', ['run', 'startup', '--targets', 'native,vmware'], /--targets: unknown target 'vmware'; valid targets: native/],
    ['a zero --runs', ['run', 'startup', '--targets', 'native', '--runs', '0'], /--runs must be a positive integer, e.g. --runs 30/],
    ['a non-numeric --runs', ['run', 'startup', '--targets', 'native', '--runs', 'many'], /--runs must be a positive integer/],
    ['a bad --memory', ['run', 'startup', '--targets', 'native', '--memory', '12Q'], /--memory must be a size such as 512M/],
    ['a missing --targets', ['run', 'startup'], /--targets/],
    ['an unwritable --out', ['run', 'startup', '--targets', 'native', '--out', '/proc/tsbench-nope'], /--out: cannot create/],
    [
      'an unknown --image',
      ['run', 'startup', '--targets', 'native,container', '--image', 'bogus'],
      /^tsbench: --image: unknown image 'bogus'; valid images: lean, debian$/m,
    ],
    [
      'an unknown image in --targets',
      ['run', 'startup', '--targets', 'native,container@bogus'],
      /target container@bogus: unknown image 'bogus'; valid images: lean, debian/,
    ],
    [
      'an image for native',
      ['run', 'startup', '--targets', 'native@debian'],
      /--targets: native runs the host's own binaries and has no image; give it as native/,
    ],
    [
      '--max-runs without --until-decided',
      ['run', 'startup', '--targets', 'native', '--max-runs', '50'],
      /--max-runs caps --until-decided; pass --until-decided too/,
    ],
    [
      'a --max-runs below --runs',
      ['run', 'startup', '--targets', 'native', '--runs', '20', '--until-decided', '--max-runs', '10'],
      /--max-runs 10 is below the 20 rounds startup starts with \(--runs\); pass --max-runs 20 or more, or a smaller --runs/,
    ],
    [
      'a --max-runs below a scenario default',
      ['run', 'startup', '--targets', 'native', '--until-decided', '--max-runs', '10'],
      /--max-runs 10 is below the 30 rounds startup starts with \(its default --runs\)/,
    ],
    ['a zero --max-runs', ['run', 'startup', '--targets', 'native', '--until-decided', '--max-runs', '0'], /--max-runs must be a positive integer/],
    ['an unknown --image of exec', ['exec', '--target', 'container', '--image', 'bogus', '--', 'true'], /^tsbench: --image: unknown image 'bogus'/m],
  ];
  for (const [what, args, message] of cases) {
    test(`${what} exits with 2 and a one-line message naming the fix`, async () => {
      const r = await tsbench(args);
      assert.equal(r.exitCode, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.doesNotMatch(r.stderr, /at .*\.js:\d+/, 'no stack trace');
    });
  }
});

test('the committed JSON Schema file matches the zod schema', () => {
  const committed = JSON.parse(readFileSync(new URL('../../schema/result.schema.json', import.meta.url), 'utf8')) as unknown;
  assert.deepEqual(committed, JSON.parse(JSON.stringify(resultJsonSchema())));
});

test('scenarios and targets are listed with their metrics and availability', async () => {
  const s = await tsbench(['scenarios', '--json']);
  assert.equal(s.exitCode, 0);
  const scenarios = JSON.parse(s.stdout) as { name: string; metrics: { name: string; unit: string }[] }[];
  assert.deepEqual(
    scenarios.find((x) => x.name === 'startup')?.metrics.map((m) => m.name),
    ['toReadyMs', 'toExitMs'],
  );
  const t = await tsbench(['targets', '--json']);
  assert.equal(t.exitCode, 0);
  const targets = JSON.parse(t.stdout) as { name: string; image?: string; available: boolean; reason: string }[];
  assert.equal(targets.find((x) => x.name === 'native')?.available, true);
  assert.equal(targets.find((x) => x.name === 'native')?.image, undefined, 'native runs no image');
  assert.equal(targets.find((x) => x.name === 'container')?.image, 'lean');
  for (const x of targets) if (!x.available) assert.ok(x.reason.length > 0, `${x.name} is unavailable without a reason`);
  const text = await tsbench(['targets']);
  assert.equal(text.exitCode, 0);
  assert.match(
    text.stdout,
    /^TARGET@debian runs the debian image instead: Debian bookworm image with systemd .*--image debian.*`tsbench targets --image debian` probes them\.$/m,
  );
});

test('--image debian runs every target named without @ on the Debian image, native keeping its name, and the result says so', async () => {
  const out = join(work, 'image-debian');
  const r = await tsbench([
    'run',
    'startup',
    '--targets',
    'native,container',
    '--image',
    'debian',
    '--runs',
    '1',
    '--warmup',
    '0',
    '--allow-missing',
    '--out',
    out,
  ]);
  // Whether container@debian can run here (the Debian image built, root) decides 0 or 1, never usage.
  assert.ok(r.exitCode === 0 || r.exitCode === 1, `exit ${r.exitCode}: ${r.stderr}`);
  const doc = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as unknown;
  assert.equal(jsonSchemaErrors(doc), '');
  const result = ResultSchema.parse(doc);
  assert.deepEqual(
    result.targets.map((t) => [t.name, t.image]),
    [
      ['native', undefined],
      ['container@debian', 'debian'],
    ],
  );
  assert.deepEqual(
    result.scenarios[0]?.targets.map((t) => [t.target, t.image]),
    [
      ['native', undefined],
      ['container@debian', 'debian'],
    ],
  );
  // Only the images the targets use are recorded, each named: the Debian one where it is built, never the lean one.
  for (const i of result.images ?? []) assert.equal(i.name, 'debian');
  assert.notEqual(result.image?.name ?? 'none', 'lean');
});

test('a real native startup run writes a JSON that validates and a CSV that matches it', async () => {
  const out = join(work, 'native');
  const r = await tsbench(['run', 'startup', '--targets', 'native', '--runs', '8', '--warmup', '2', '--out', out]);
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(r.stdout, /toExitMs/);
  const doc = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as unknown;
  assert.equal(jsonSchemaErrors(doc), '');
  const result = ResultSchema.parse(doc);
  assert.equal(result.complete, true);
  assert.deepEqual(result.command, ['run', 'startup', '--targets', 'native', '--runs', '8', '--warmup', '2', '--out', out]);
  assert.ok(result.host.cpuCores > 0 && result.host.kernel.length > 0 && result.host.memoryBytes > 0);
  const native = result.scenarios[0]?.targets[0];
  assert.equal(native?.state, 'completed');
  assert.equal(native?.samples.length, 8);
  for (const s of native?.samples ?? []) {
    const ready = s.values.toReadyMs ?? NaN;
    const exit = s.values.toExitMs ?? NaN;
    assert.ok(ready > 0 && ready < exit && exit < 1000, `implausible sample ${ready} / ${exit}`);
  }
  const rows = parse(readFileSync(join(out, 'results.csv'), 'utf8'), { columns: true }) as Record<string, string>[];
  assert.equal(rows.length, 2);
  for (const row of rows) {
    const stats: Stats | undefined = native?.stats[row.metric ?? ''];
    assert.ok(stats, `CSV metric ${row.metric} has no statistics in the JSON`);
    assert.equal(row.scenario, 'startup');
    assert.equal(row.target, 'native');
    assert.equal(Number(row.n), stats.n);
    assert.equal(Number(row.median), stats.median);
    assert.equal(Number(row.p95), stats.p95);
  }
});

test('--until-decided stops at the first look when the run decides every claim part its targets can decide, and says so', async () => {
  const out = join(work, 'until');
  const r = await tsbench([
    'run',
    'startup',
    '--targets',
    'native,container',
    '--runs',
    '3',
    '--warmup',
    '0',
    '--until-decided',
    '--max-runs',
    '8',
    '--out',
    out,
  ]);
  assert.equal(r.exitCode, 0, r.stderr);
  assert.match(
    r.stdout,
    /until decided: startup took 3 measured round\(s\) of at most 8 \(1 look\(s\) at the claims\): every claim part its targets can decide is decided/,
  );
  const result = ResultSchema.parse(JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')));
  assert.deepEqual(result.scenarios[0]?.untilDecided, { maxRuns: 8, rounds: 3, looks: 1, decided: true, pending: [] });
  assert.equal(result.options.maxRuns, 8);
});

test('the table is replaced by the result JSON with --json', async () => {
  const out = join(work, 'json');
  const r = await tsbench(['run', 'startup', '--targets', 'native', '--runs', '2', '--warmup', '0', '--out', out, '--json']);
  assert.equal(r.exitCode, 0, r.stderr);
  assert.equal(ResultSchema.parse(JSON.parse(r.stdout)).scenarios[0]?.targets[0]?.samples.length, 2);
  assert.equal(r.stderr, '');
});

test('SIGINT mid-run leaves a valid partial JSON and exits with 130', async () => {
  const out = join(work, 'sigint');
  const child = tsbenchBackground(['run', 'startup', '--targets', 'native', '--runs', '40000', '--warmup', '0', '--out', out]);
  const json = join(out, 'results.json');
  await waitForSamples(json, 3, 30_000);
  child.kill('SIGINT');
  const r = await child;
  assert.equal(r.exitCode, 130, r.stderr);
  assert.match(r.stderr, /interrupted by SIGINT/);
  const doc = JSON.parse(readFileSync(json, 'utf8')) as unknown;
  assert.equal(jsonSchemaErrors(doc), '');
  const result = ResultSchema.parse(doc);
  assert.equal(result.complete, false);
  assert.equal(result.interrupted, 'interrupted by SIGINT');
  const t = result.scenarios[0]?.targets[0];
  assert.equal(t?.state, 'cancelled');
  assert.ok((t?.samples.length ?? 0) >= 3);
  assert.ok(t?.stats.toExitMs, 'statistics of the partial samples are there');
  assert.equal(liveLaunchCount(), 0);
});

describe('tsbench exec runs a bare command name like docker run', () => {
  /** Why a target cannot run here, from its probe; undefined when it can. */
  const unavailable = async (target: string): Promise<string | undefined> => {
    const probe = await (await createDriver(target)).probe();
    return probe.available ? undefined : `${target} unavailable: ${probe.reason ?? ''}`;
  };
  const PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

  test('cat /etc/os-release on native prints the host’s file', async () => {
    const r = await tsbench(['exec', '--target', 'native', '--', 'cat', '/etc/os-release']);
    assert.equal(r.exitCode, 0, r.stderr);
    assert.equal(r.stdout, readFileSync('/etc/os-release', 'utf8').trimEnd());
  });

  for (const target of ['container', 'runc', 'tcg']) {
    test(`cat /etc/os-release on ${target} prints the image’s file, naming the image by its hash`, async (t) => {
      const why = await unavailable(target);
      if (why !== undefined) return t.skip(why);
      const r = await tsbench(['exec', '--target', target, '--', 'cat', '/etc/os-release']);
      assert.equal(r.exitCode, 0, r.stderr);
      assert.match(r.stdout, /^ID=tsbench$/m);
      assert.match(r.stdout, new RegExp(`^IMAGE_VERSION=${(await loadImage()).hash}$`, 'm'));
    });
  }

  for (const target of ['native', 'container', 'runc', 'tcg']) {
    test(`an unknown command on ${target} exits 127 saying it is not on PATH`, async (t) => {
      const why = await unavailable(target);
      if (why !== undefined) return t.skip(why);
      const r = await tsbench(['exec', '--target', target, '--', 'tsbench-no-such-command', '--flag']);
      assert.equal(r.exitCode, 127, r.stderr);
      assert.equal(r.stdout, '');
      // Native keeps the host's PATH; inside the image it is the usual one (a VM's init gets none and the agent sets it).
      const path = target === 'native' ? '\\S+' : PATH;
      assert.match(r.stderr, new RegExp(`^tsbench: \\[${target}\\] agent: exec tsbench-no-such-command: command not found in PATH=${path}$`));
    });
  }
});
