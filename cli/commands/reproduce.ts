/**
 * `tsbench reproduce REPORT.html|RESULTS.json [--runs N] [--out DIR] [compare's
 * --threshold, --alpha, --calibration]`: runs the
 * original's scenarios, targets, rounds, limits, scenario options and seed on
 * this host through `tsbench run`'s own path (cli/run.ts), after saying what
 * cannot be matched here (the environment fingerprint of
 * reports/compare/fingerprint.ts, targets unknown or unavailable here, scenario
 * parameters), then writes one report with both runs side by side: each
 * series' medians with their intervals and compare's verdict on the
 * difference, and the claim verdicts of each run.
 *
 * DIR holds `original/results.json` (the original's bytes), `reproduction/`
 * (the new run's results.json, results.csv, report.html), and `report.html`,
 * `report.md` and `comparison.json` side by side. Exit 0: reproduced, no series
 * differs beyond the hosts' noise; 1: a series differs, or a target failed or
 * was unavailable (without --allow-missing); 2: bad input; 130: interrupted.
 */
import { basename, join, resolve } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../../core/errors.js';
import { parseResult, type LoadedResult } from '../../core/load.js';
import { readPageOrResults } from './verify.js';
import type { Result } from '../../core/schema.js';
import { MiB } from '../../core/units.js';
import { parseTargets, type DriverOptions, type Limits } from '../../drivers/index.js';
import { resultHeader } from '../../bench/header.js';
import { resolveScenarios } from '../../bench/scenarios/index.js';
import type { ScenarioOptions } from '../../bench/scenarios/types.js';
import { catalogue } from '../../reports/compare/index.js';
import { fingerprintDiffs } from '../../reports/compare/fingerprint.js';
import { formatComparison } from '../../reports/compare/render.js';
import { validateThresholds } from '../../reports/compare/thresholds.js';
import { addGateOptions, gateOptions, type GateFlags } from './compare.js';
import type { HostClaims } from '../../reports/claims/index.js';
import { claimsPerFile, reproductionComparison } from '../../reports/embedded.js';
import { reproductionDiffers } from '../../reports/html/reproduction.js';
import type { ComparisonSpec, ReportOptions } from '../../reports/writer.js';
import { reportWriter } from '../../reports/writers.js';
import { pageSources } from '../../reports/verify.js';
import { sha256Hex } from '../../core/load.js';
import { driverOptionsFromEnv } from '../env.js';
import { positiveInt } from '../options.js';
import { defaultOutDir, writeAtomic } from '../results.js';
import { EXIT, driverOptions, executePlan, type BeforeSamples, type RunPlan } from '../run.js';

interface ReproduceFlags extends GateFlags {
  source?: string;
  runs?: number;
  out?: string;
  allowMissing?: boolean;
}

/** The original: a results file, or one result file a report page embeds (its bytes as embedded; `source` picks one of several). */
export async function readOriginal(path: string, source?: string): Promise<{ text: string; label: string }> {
  const text = await readPageOrResults(path);
  if (
    !text
      .replace(/^\uFEFF/, '')
      .trimStart()
      .startsWith('<')
  ) {
    if (source !== undefined) throw new UsageError(`--source: ${path} is a results file, not a page holding several; drop --source`);
    return { text, label: path };
  }
  const sources = pageSources(text, path);
  const names = sources.map((s, i) => `${i + 1} (${s.jsonName})`).join(', ');
  let src = sources[0]!;
  if (source !== undefined) {
    const n = /^[1-9]\d*$/.test(source) ? Number(source) : undefined;
    const found = sources.find((s, i) => (n !== undefined ? i + 1 === n : s.path === source || s.jsonName === source || basename(s.path) === source));
    if (!found) throw new UsageError(`--source: ${path} holds no result file '${source}'; pass one of ${names}`);
    src = found;
  } else if (sources.length > 1) {
    throw new UsageError(`${path}: the page holds ${sources.length} result files; pass --source with the one to reproduce: ${names}`);
  }
  if (sha256Hex(src.json) !== src.sha256) {
    throw new UsageError(
      `${path}: the embedded ${src.path} does not match the SHA-256 the page states; the data was changed (tsbench verify ${path} says more)`,
    );
  }
  return { text: src.json, label: `${path} (${src.path})` };
}

/** Scenario options of an original: recorded since reproduce, else read back from the scenarios' parameters. */
export function scenarioOptionsOf(r: Result): ScenarioOptions {
  if (r.options.scenarioOptions) return r.options.scenarioOptions;
  const out: ScenarioOptions = {};
  const param = (scenario: string, key: string): unknown => r.scenarios.find((s) => s.name === scenario)?.parameters[key];
  const io = param('io', 'sizeBytes');
  if (typeof io === 'number') out['ioSizeBytes'] = io;
  const instances = param('density', 'instances');
  if (typeof instances === 'number') out['instances'] = instances;
  const net = param('net', 'netTimeS');
  if (typeof net === 'number') out['netTimeS'] = net;
  return out;
}

/** The VM machine type of an original: recorded since reproduce, else the one its VM targets' details name. */
function machineOf(r: Result): DriverOptions['machine'] | undefined {
  const m = r.options.machine ?? r.targets.find((t) => t.details?.['machine'] !== undefined)?.details?.['machine'];
  return m === 'microvm' || m === 'pc' || m === 'q35' ? m : undefined;
}

/**
 * The container settings an original ran with, read back from its targets' details (the environment chose them:
 * TSBENCH_CONFINEMENT, TSBENCH_CONTAINER_UPPER); the reproduction uses them whatever this environment says.
 */
export function containerSettingsOf(r: Result): Pick<DriverOptions, 'confinement' | 'upper'> {
  const out: Pick<DriverOptions, 'confinement' | 'upper'> = {};
  for (const t of r.targets) {
    // A target whose confinement is its own (container-unconfined) says nothing of the run's setting.
    const c = t.details?.['confinementSetBy'] === undefined ? t.details?.['confinement'] : undefined;
    const kind = typeof c === 'string' ? c.split(':')[0] : undefined;
    if (out.confinement === undefined && (kind === 'docker-default' || kind === 'unconfined')) out.confinement = kind;
    const u = t.details?.['upper'];
    if (out.upper === undefined && (u === 'tmpfs' || u === 'disk')) out.upper = u;
  }
  return out;
}

/** The variables of this environment that the plan's container settings (the original's) override, one line each. */
function overriddenHere(settings: Pick<DriverOptions, 'confinement' | 'upper'>, here: DriverOptions): string[] {
  const lines: string[] = [];
  if (settings.confinement !== undefined && here.confinement !== undefined && here.confinement !== settings.confinement)
    lines.push(`TSBENCH_CONFINEMENT=${here.confinement} here: the original's ${settings.confinement} is used`);
  if (settings.upper !== undefined && here.upper !== undefined && here.upper !== settings.upper)
    lines.push(`TSBENCH_CONTAINER_UPPER=${here.upper} here: the original's ${settings.upper} is used`);
  return lines;
}

/** The targets of an original: those it could run, those this tsbench does not know, and those it could not run there either. */
function targetsOf(r: Result): { run: string[]; unknown: string[]; unavailableThere: string[] } {
  const out = { run: [] as string[], unknown: [] as string[], unavailableThere: [] as string[] };
  for (const t of r.targets) {
    if (!t.available) {
      out.unavailableThere.push(t.name);
      continue;
    }
    try {
      out.run.push(...parseTargets(t.name));
    } catch {
      out.unknown.push(t.name);
    }
  }
  return out;
}

function sizeText(bytes: number): string {
  return bytes % MiB === 0 ? `${bytes / MiB}M` : String(bytes);
}

/** The plan that measures what `original` measured, on this host. */
export function planFromResult(original: Result, flags: ReproduceFlags, out: string): { plan: RunPlan; unknown: string[]; unavailableThere: string[] } {
  const scenarios = resolveScenarios(original.scenarios.map((s) => s.name));
  const targets = targetsOf(original);
  if (targets.run.length === 0) {
    throw new UsageError(`the original ran no target this tsbench can run (${original.targets.map((t) => t.name).join(', ')}); nothing to reproduce`);
  }
  const perScenario = new Map(original.scenarios.map((s) => [s.name, { runs: flags.runs ?? s.runs, warmup: s.warmup }]));
  const l = original.options.limits;
  const limits: Limits = { cpus: l.cpus, memoryBytes: l.memoryBytes, pids: l.pids };
  const scenarioOptions = scenarioOptionsOf(original);
  const machine = machineOf(original);
  const runs = flags.runs ?? original.options.runs;
  const maxRuns = original.options.maxRuns;
  const plan: RunPlan = {
    scenarios,
    targets: targets.run,
    runs,
    warmup: original.options.warmup,
    perScenario,
    seed: original.seed,
    limits,
    scenarioOptions,
    options: { ...driverOptions({ machine }), ...containerSettingsOf(original) },
    given: {
      cpus: limits.cpus !== undefined ? String(limits.cpus) : undefined,
      memory: limits.memoryBytes !== undefined ? sizeText(limits.memoryBytes) : undefined,
      ioSize: typeof scenarioOptions['ioSizeBytes'] === 'number' ? sizeText(scenarioOptions['ioSizeBytes']) : undefined,
      instances: typeof scenarioOptions['instances'] === 'number' ? String(scenarioOptions['instances']) : undefined,
    },
    out: join(out, 'reproduction'),
    allowMissing: flags.allowMissing === true,
    json: false,
    untilDecided: maxRuns !== undefined ? { maxRuns: Math.max(maxRuns, runs ?? 0) } : undefined,
    command: process.argv.slice(2),
  };
  return { plan, unknown: targets.unknown, unavailableThere: targets.unavailableThere };
}

/** What cannot be matched on this host, one line each: the environment, the targets, the scenarios' parameters. */
export function unmatched(original: Result, plan: RunPlan, seen: BeforeSamples, unknown: readonly string[]): string[] {
  // This host's header as the reproduction will record it (not complete: the fingerprint's completeness lines are skipped below).
  const here = resultHeader(
    {
      command: plan.command,
      seed: plan.seed,
      runs: plan.runs,
      warmup: plan.warmup,
      limits: plan.limits,
      scenarioOptions: plan.scenarioOptions,
      machine: plan.options.machine,
      host: seen.host,
      images: seen.images,
      drivers: seen.drivers,
      probes: seen.probes,
    },
    new Date().toISOString(),
  );
  const lines: string[] = [];
  for (const d of fingerprintDiffs(original, here)) {
    if (d.key === 'vmTargets' || d.key.startsWith('complete') || d.key === 'options') continue;
    lines.push(`${d.label}: ${d.base} there, ${d.head} here${d.accelerator ? ' (VM figures cannot be compared)' : ''}`);
  }
  for (const name of unknown) lines.push(`target ${name}: this tsbench has no such target; not run`);
  for (const t of here.targets) {
    const there = original.targets.find((x) => x.name === t.name);
    if (there?.available && !t.available) lines.push(`target ${t.name}: available there, unavailable here (${t.reason ?? 'no reason given'})`);
  }
  for (const sc of plan.scenarios) {
    const o = original.scenarios.find((s) => s.name === sc.name);
    const mine = sc.parameters(plan.scenarioOptions);
    if (o && JSON.stringify(o.parameters) !== JSON.stringify(mine))
      lines.push(`${sc.name} parameters: ${JSON.stringify(o.parameters)} there, ${JSON.stringify(mine)} here`);
  }
  return lines;
}

/** Each claim's verdict on the original and on the reproduction, one line per claim. */
function claimLines(claims: readonly HostClaims[]): string[] {
  const [a, b] = claims.map((h) => new Map(h.verdicts.map((v) => [v.id, v.verdict] as const)));
  const ids = [...new Set([...(a?.keys() ?? []), ...(b?.keys() ?? [])])];
  return ids.map((id) => `  ${id.padEnd(4)} ${(a?.get(id) ?? '—').padEnd(14)} → ${b?.get(id) ?? '—'}${a?.get(id) !== b?.get(id) ? '   (differs)' : ''}`);
}

export async function reproduceCommand(path: string, flags: ReproduceFlags): Promise<number> {
  const { text, label } = await readOriginal(path, flags.source);
  const parsed = parseResult(text, label);
  const original = parsed.result;
  // The gate's flags are checked against the original before anything runs: the reproduction has its scenarios and targets.
  const gate = await gateOptions(flags);
  validateThresholds(gate.thresholds, catalogue([original]));
  const out = resolve(flags.out ?? defaultOutDir());
  const { plan, unknown, unavailableThere } = planFromResult(original, flags, out);
  const originalPath = join(out, 'original', 'results.json');
  const done = await executePlan(plan, {
    beforeSamples: async (seen) => {
      const lines = [...overriddenHere(plan.options, driverOptionsFromEnv()), ...unmatched(original, plan, seen, unknown)];
      if (unavailableThere.length > 0) lines.push(`not reproduced, unavailable there too: ${unavailableThere.join(', ')}`);
      process.stderr.write(
        lines.length === 0
          ? "tsbench: reproduce: this host matches the original's environment (tool, CPU, kernel, cgroups, QEMU, KVM verdict, images, targets, parameters)\n"
          : `tsbench: reproduce: what cannot be matched on this host (figures may differ for these reasons):\n${lines.map((l) => `  ${l}\n`).join('')}`,
      );
      await writeAtomic(originalPath, text);
    },
  });
  if (done.code === EXIT.interrupted) return done.code;
  // Both as loaded, without reading them again: the original as parsed above (its bytes are what original/results.json
  // holds), the reproduction as the runner computed it (results.json holds exactly what the json writer makes of it).
  const reproduction = { path: done.paths.json, result: done.outcome.result };
  const loaded: LoadedResult[] = [
    { ...parsed, path: originalPath },
    { ...reproduction, text: reportWriter('json').render([reproduction]) },
  ];
  const spec: ComparisonSpec = {
    base: originalPath,
    head: done.paths.json,
    alpha: gate.alpha,
    seed: 1,
    threshold: gate.thresholds.fallback,
    thresholdRules: gate.thresholds.rules.length > 0 ? gate.thresholds.rules.map((r) => r.source) : undefined,
    calibration: gate.calibration,
  };
  const comparison = reproductionComparison(loaded, spec);
  // One judgement per file (each file is one host), shared by the page, the summary and the lines below.
  const claims = claimsPerFile(loaded);
  const options: ReportOptions = { claims, claimsBy: 'file', reproduction: { spec, comparison } };
  const [html, md] = [reportWriter('html').render(loaded, options), reportWriter('md').render(loaded, options)];
  const files = { html: join(out, 'report.html'), md: join(out, 'report.md'), json: join(out, 'comparison.json') };
  await writeAtomic(files.html, html);
  await writeAtomic(files.md, md);
  await writeAtomic(files.json, formatComparison(comparison, 'json'));
  process.stdout.write(`\nreproduction: ${done.paths.json} against the original ${label}\n${formatComparison(comparison, 'text')}`);
  process.stdout.write(`\nclaims (original → reproduction):\n${claimLines(claims).join('\n')}\n`);
  process.stdout.write(`\nside by side: ${files.html}\n              ${files.md}\n              ${files.json}\n`);
  const differs = reproductionDiffers(comparison);
  if (done.code !== EXIT.ok) return done.code;
  if (unknown.length > 0 && flags.allowMissing !== true) {
    process.stderr.write(`tsbench: target(s) ${unknown.join(', ')} of the original not run here; pass --allow-missing to accept that\n`);
    return EXIT.failed;
  }
  if (differs) {
    process.stderr.write('tsbench: reproduce: some series differ beyond the hosts’ own noise (see the report)\n');
    return EXIT.failed;
  }
  return EXIT.ok;
}

export function registerReproduceCommand(program: Command, setExit: (code: number) => void): void {
  addGateOptions(
    program
      .command('reproduce')
      .description(
        'run the scenarios, targets, limits and parameters of a report or results file on this host and write both side by side, with compare’s verdict per series and the claims of each',
      )
      .argument('<file>', 'a report.html or a results.json'),
  )
    .option('--source <name|n>', 'of a page holding several result files, the one to reproduce: its name or number (the Runs table’s order)')
    .option('-r, --runs <n>', 'measured samples per target (default: the original’s)', positiveInt('--runs', '30'))
    .option('-o, --out <dir>', 'output directory (default: results/<timestamp>)')
    .option('--allow-missing', 'exit 0 even when a target of the original is unavailable here (it is skipped either way)')
    .action(async (path: string, flags: ReproduceFlags) => setExit(await reproduceCommand(path, flags)));
}
