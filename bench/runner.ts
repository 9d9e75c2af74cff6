/**
 * The runner: probes the targets, then for each scenario takes samples round by
 * round, every available target once per round in the order given (A B C A B C
 * …), so that drift on a noisy machine hits all of them alike. Each round is a
 * tinybench run with a fixed count (one iteration per target, `time: 0`, no
 * tinybench warmup: our warmup rounds are whole rounds whose samples are
 * dropped). With `untilDecided`, rounds go on after the scenario's runs until
 * a callback (the CLI's claims judge: this layer knows no claims) says every
 * claim the targets can decide is decided, or the cap is reached; it looks
 * after `runs` rounds and then each time the samples have grown by a tenth.
 * After every round the result is saved, so a crash or Ctrl-C keeps everything
 * measured so far: given `append`, the round alone (its samples and the targets'
 * states, a constant cost) and the whole result, with its statistics, only at
 * checkpoints spaced so that their total cost stays in proportion to the run's
 * samples (`isCheckpoint`); without it, the whole result every round. A target
 * that fails gets a reason and is dropped from the scenario; the others go on.
 */
import { setMaxListeners } from 'node:events';
import { Bench } from 'tinybench';
import type { Driver, Limits, Probe } from '../drivers/index.js';
import { CancelledError, TargetError, describeError } from '../core/errors.js';
import type { Scenario, ScenarioOptions } from './scenarios/types.js';
import type { Host, ImageInfo, Result, ScenarioResult, TargetResult } from '../core/schema.js';
import type { NamedImage } from '../core/load.js';
import type { JournalRound } from '../core/journal.js';
import { computeStats } from '../core/figures.js';
import { resultHeader } from './header.js';

export interface Progress {
  scenario: string;
  target: string;
  /** 1-based sample index within the scenario, warmups included. */
  round: number;
  rounds: number;
  warmup: boolean;
  /** Seconds the scenario has taken so far, to estimate what is left. */
  elapsedS: number;
}

export interface RunOptions {
  scenarios: readonly Scenario[];
  /** Requested targets in order, with their drivers. */
  drivers: ReadonlyMap<string, Driver>;
  /** Overrides each scenario's default measured rounds. */
  runs?: number;
  /** Overrides each scenario's default warmup rounds. */
  warmup?: number;
  /** Rounds of each scenario by name, over `runs` and `warmup` (a reproduction takes each scenario's from its original). */
  perScenario?: ReadonlyMap<string, { runs: number; warmup: number }>;
  /** The VM targets' machine type when one was chosen (--machine), recorded in the result. */
  machine?: string;
  seed: number;
  limits: Limits;
  scenarioOptions: ScenarioOptions;
  command: string[];
  host: Host;
  /** The image the targets use, recorded in the result (C4 reads its sizes); with `images`, ignored. */
  image?: ImageInfo;
  /** Every image the targets use, each named (C4 reads their sizes, C9 compares their startup); `image` becomes the lean one, or the only one. */
  images?: NamedImage[];
  /** Probe results already known (the CLI probes before creating the writer). */
  probes?: ReadonlyMap<string, Probe>;
  /** Writes the whole result: after every round, or, with `append`, at checkpoints only (`isCheckpoint`). */
  write?: (result: Result) => Promise<void>;
  /**
   * Appends one round between two checkpoints (core/journal.ts), so that a round's write costs the same at round
   * 5,000 as at round 5. The result's statistics are recomputed only before a full write and a look of `untilDecided`.
   */
  append?: (round: JournalRound) => Promise<void>;
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
  /** Sampling until decided: go on past `runs` until `decide` says so, at most `maxRuns` measured rounds per scenario. */
  untilDecided?: UntilDecided;
}

/** What `decide` reports at each look: whether to stop, and what is still open. */
export interface Decision {
  decided: boolean;
  /** What is still undecided, in words (recorded in the result). */
  pending: string[];
  /** Stop although not decided: more rounds cannot decide what is left (a target it needs failed). */
  stop?: boolean;
}

export interface UntilDecided {
  /** The cap on measured rounds per scenario (at least its runs). */
  maxRuns: number;
  /** Judges the result so far; `scenario` is the one being sampled. */
  decide: (result: Result, scenario: ScenarioResult) => Decision | Promise<Decision>;
}

/** After a look at n measured rounds, the next look: once the samples have grown by a tenth (at least one round). */
export function nextLook(n: number): number {
  return Math.max(n + 1, Math.ceil((n * 11) / 10));
}

/**
 * Whether a round with `samples` samples in the run (every scenario's) is a checkpoint, a full write, after the
 * last at `atLast`: once the samples have doubled (the first sample of a run, the 2nd, 4th, 8th … after it). The
 * cost of a full write grows with the samples it writes, so doubling keeps the total cost of all of them under
 * twice the last one's, in proportion to the run's samples: a constant share per round. Pure.
 */
export function isCheckpoint(samples: number, atLast: number): boolean {
  return samples > atLast && samples >= 2 * atLast;
}

export interface RunOutcome {
  result: Result;
  /** Targets that errored in at least one scenario. */
  failed: string[];
  /** Targets that were unavailable. */
  missing: string[];
  cancelled: boolean;
}

/** Probes every driver, in parallel; a probe that throws counts as unavailable with its message. */
export async function probeAll(drivers: ReadonlyMap<string, Driver>, signal?: AbortSignal): Promise<Map<string, Probe>> {
  const entries = await Promise.all(
    [...drivers].map(async ([name, d]): Promise<[string, Probe]> => {
      try {
        return [name, await d.probe(signal)];
      } catch (e) {
        return [name, { available: false, reason: `probe failed: ${describeError(e)}` }];
      }
    }),
  );
  return new Map(entries);
}

export async function run(opts: RunOptions): Promise<RunOutcome> {
  const signal = opts.signal ?? new AbortController().signal;
  // Every live instance listens on the run's signal (density starts dozens at once); each removes its listener when it ends.
  setMaxListeners(0, signal);
  const probes = opts.probes ?? (await probeAll(opts.drivers));
  const now = (): string => new Date().toISOString();
  const result = resultHeader({ ...opts, maxRuns: opts.untilDecided?.maxRuns, probes }, now());
  /** samples taken in the run, and how many the last full write held */
  let samples = 0;
  let savedSamples = 0;
  const save = async (): Promise<void> => {
    result.updatedAt = now();
    savedSamples = samples;
    await opts.write?.(result);
  };
  const failed = new Set<string>();
  const missing = result.targets.filter((t) => !t.available).map((t) => t.name);
  const prepared = new Set<string>();

  try {
    await save();
    for (const scenario of opts.scenarios) {
      if (signal.aborted) break;
      const own = opts.perScenario?.get(scenario.name);
      const runs = own?.runs ?? opts.runs ?? scenario.defaults.runs;
      const warmup = own?.warmup ?? opts.warmup ?? scenario.defaults.warmup;
      const sc: ScenarioResult = {
        name: scenario.name,
        description: scenario.description,
        metrics: [...scenario.metrics],
        parameters: scenario.parameters(opts.scenarioOptions),
        runs,
        warmup,
        targets: result.targets.map((t): TargetResult => ({
          target: t.name,
          ...(t.image ? { image: t.image } : {}),
          state: t.available ? 'running' : 'skipped',
          ...(t.available ? {} : { error: t.reason ?? 'unavailable' }),
          samples: [],
          stats: {},
          ratioToNative: {},
        })),
      };
      result.scenarios.push(sc);
      const fail = (t: TargetResult, e: unknown): void => {
        t.state = 'errored';
        t.error = describeError(e);
        if (e instanceof TargetError && e.tail.length > 0) t.errorTail = e.tail;
        failed.add(t.target);
      };

      for (const t of sc.targets) {
        if (t.state !== 'running' || prepared.has(t.target)) continue;
        try {
          await opts.drivers.get(t.target)?.prepare({ limits: opts.limits, signal });
          prepared.add(t.target);
        } catch (e) {
          fail(t, e);
        }
      }
      await save();

      const index = result.scenarios.length - 1;
      const started = performance.now();
      const until = opts.untilDecided;
      const cap = until ? Math.max(runs, until.maxRuns) : runs;
      const total = warmup + cap;
      let look = runs;
      let looks = 0;
      for (let i = 0; i < total && !signal.aborted; i++) {
        const live = sc.targets.filter((t) => t.state === 'running');
        if (live.length === 0) break;
        const round = i - warmup;
        const outcomes = new Map<string, Awaited<ReturnType<Scenario['sample']>>>();
        const bench = new Bench({ iterations: 1, time: 0, warmup: false, warmupIterations: 0, retainSamples: true, throws: false });
        for (const t of live) {
          const driver = opts.drivers.get(t.target) as Driver;
          bench.add(t.target, async () => {
            opts.onProgress?.({
              scenario: scenario.name,
              target: t.target,
              round: i + 1,
              rounds: total,
              warmup: round < 0,
              elapsedS: (performance.now() - started) / 1000,
            });
            outcomes.set(t.target, await scenario.sample(driver, { round, limits: opts.limits, signal, options: opts.scenarioOptions }));
          });
        }
        await bench.run();
        const entry: JournalRound = { scenario: index, name: sc.name, updatedAt: '', targets: [] };
        for (const t of live) {
          const res = bench.getTask(t.target)?.result;
          const outcome = outcomes.get(t.target);
          let sample: TargetResult['samples'][number] | undefined;
          if (signal.aborted) {
            t.state = 'cancelled';
          } else if (res?.state === 'errored' || !outcome) {
            fail(t, res?.state === 'errored' ? res.error : new Error('the sample produced no outcome'));
          } else if (round >= 0) {
            sample = { round, ...outcome };
            t.samples.push(sample);
            samples++;
          }
          entry.targets.push({ target: t.target, state: t.state, error: t.error, errorTail: t.errorTail, sample });
        }
        const measured = round + 1;
        if (until && !signal.aborted && measured > 0 && (measured >= look || measured === cap)) {
          computeStats(sc, opts.seed);
          const d = await until.decide(result, sc);
          looks++;
          look = nextLook(measured);
          sc.untilDecided = { maxRuns: cap, rounds: measured, looks, decided: d.decided, pending: d.pending };
          entry.untilDecided = sc.untilDecided;
          // The scenario's last write follows the loop.
          if (d.decided || d.stop === true) break;
        }
        if (opts.append === undefined || isCheckpoint(samples, savedSamples)) {
          computeStats(sc, opts.seed);
          await save();
        } else {
          result.updatedAt = entry.updatedAt = now();
          await opts.append(entry);
        }
      }
      for (const t of sc.targets) if (t.state === 'running') t.state = signal.aborted ? 'cancelled' : 'completed';
      computeStats(sc, opts.seed);
      await save();
    }
  } finally {
    await Promise.all([...opts.drivers.values()].map((d) => d.teardown().catch(() => {})));
  }
  const cancelled = signal.aborted;
  result.complete = !cancelled;
  if (cancelled) result.interrupted = signal.reason instanceof CancelledError ? signal.reason.message : describeError(signal.reason);
  await save();
  return { result, failed: [...failed], missing, cancelled };
}
