/**
 * The round journal beside a results file (`results.json` → `results.journal`): what keeps writing
 * results after every round constant in cost (docs/reliability.md, "Counts, sizes and the cost of a
 * round"). The runner writes the whole result atomically only at checkpoints (its start, each
 * scenario's start and end, whenever the run's samples have doubled since the last, and its end); every
 * round in between appends one line here, a few hundred bytes per target, whatever the round's number.
 *
 * The format: JSON lines. The first names the results file the rounds continue, by the SHA-256 of its
 * bytes (`{"journal":1,"base":"<hex>"}`); each further line is one round of the scenario being sampled
 * (`JournalRound`: its new samples and every target's state). A checkpoint replaces results.json, then
 * removes the journal; the next round starts a new one naming the new file. So a journal whose base is
 * not the file beside it is one whose rounds that file already holds (the run was killed between the
 * two steps), and is ignored. A last line cut short (no newline, or not JSON) is a write the run did
 * not finish, and is ignored too.
 *
 * `replayJournal` applies a journal to the result it continues: the reader of results
 * (core/load.ts) does, so a run killed between two checkpoints reads back with every round it wrote.
 */
import { z } from 'zod';
import { SampleSchema, ScenarioResultSchema, TargetResultSchema, type Result, type Sample, type ScenarioResult, type TargetResult } from './schema.js';

/** The journal's format version (its first line's `journal`). */
export const JOURNAL_VERSION = 1;

/** The journal beside a results file: `results.json` → `results.journal` (any other name: `NAME.journal`). */
export function journalPath(resultsPath: string): string {
  return resultsPath.endsWith('.json') ? `${resultsPath.slice(0, -'.json'.length)}.journal` : `${resultsPath}.journal`;
}

/** The first line: the results file (the SHA-256 of its bytes, hex) whose rounds the journal continues. */
export interface JournalHead {
  journal: typeof JOURNAL_VERSION;
  base: string;
}

const JournalHeadSchema = z.object({ journal: z.literal(JOURNAL_VERSION), base: z.string() });

/** One target in a round: its state after the round, and the sample it took (none in a warmup round or when it failed). */
const JournalTargetSchema = z.object({
  target: z.string(),
  state: TargetResultSchema.shape.state,
  error: z.string().optional(),
  errorTail: z.array(z.string()).optional(),
  sample: SampleSchema.optional(),
});

/** One round of the scenario being sampled: what changed in the result. */
export const JournalRoundSchema = z.object({
  /** the scenario's index in `result.scenarios`, and its name (checked on replay) */
  scenario: z.number().int().nonnegative(),
  name: z.string(),
  /** the result's `updatedAt` after this round */
  updatedAt: z.string(),
  /** every target sampled in this round */
  targets: z.array(JournalTargetSchema),
  /** --until-decided: the scenario's record after a look in this round */
  untilDecided: ScenarioResultSchema.shape.untilDecided,
});

export type JournalRound = z.infer<typeof JournalRoundSchema>;

/** The journal's first line (with its newline) for a results file whose bytes hash to `base`. */
export function journalHead(base: string): string {
  return `${JSON.stringify({ journal: JOURNAL_VERSION, base } satisfies JournalHead)}\n`;
}

/** One round's line (with its newline). */
export function journalLine(round: JournalRound): string {
  return `${JSON.stringify(round)}\n`;
}

/** What `replayJournal` did: the rounds applied, or why none were. */
export interface Replay {
  /** rounds applied */
  rounds: number;
  /** why the journal was not applied (not this file's, unreadable head), or where replay stopped early */
  note?: string;
}

/**
 * Applies the rounds of `text` (a journal) to `result`, the results file whose bytes hash to `sha256`, in place.
 * Nothing when the journal continues another file; replay stops at the first line that is not a round of this
 * result (a torn last write). Each target touched loses its stored `stats` and `ratioToNative`, as does every
 * target of its scenario (native's samples change every ratio), so that a reader recomputes them (core/figures.ts:
 * an absent block is recomputed silently). A sample is added only after the target's last one, so a round
 * already in the file is never added twice.
 */
export function replayJournal(result: Result, text: string, sha256: string): Replay {
  const lines = text.split('\n');
  // A line without its newline is a write that did not finish.
  lines.pop();
  const head = JournalHeadSchema.safeParse(parseJson(lines[0]));
  if (!head.success) return { rounds: 0, note: lines.length === 0 ? 'empty' : 'its first line is not a journal head' };
  if (head.data.base !== sha256) return { rounds: 0, note: 'it continues an earlier version of the file, whose rounds this one holds' };
  let rounds = 0;
  const touched = new Set<ScenarioResult>();
  for (let i = 1; i < lines.length; i++) {
    const parsed = JournalRoundSchema.safeParse(parseJson(lines[i]));
    const sc = parsed.success ? result.scenarios[parsed.data.scenario] : undefined;
    if (!parsed.success || sc === undefined || sc.name !== parsed.data.name) {
      return { rounds, note: `line ${i + 1} is not a round of this result; replayed the ${rounds} before it` };
    }
    applyRound(sc, parsed.data);
    touched.add(sc);
    result.updatedAt = parsed.data.updatedAt;
    rounds++;
  }
  for (const sc of touched) {
    for (const t of sc.targets) {
      t.stats = {};
      t.ratioToNative = {};
    }
  }
  return { rounds };
}

function applyRound(sc: ScenarioResult, round: JournalRound): void {
  for (const entry of round.targets) {
    const t = sc.targets.find((x) => x.target === entry.target);
    if (t === undefined) continue;
    setState(t, entry);
    if (entry.sample !== undefined) addSample(t, entry.sample);
  }
  if (round.untilDecided !== undefined) sc.untilDecided = round.untilDecided;
}

function setState(t: TargetResult, entry: z.infer<typeof JournalTargetSchema>): void {
  t.state = entry.state;
  if (entry.error !== undefined) t.error = entry.error;
  if (entry.errorTail !== undefined) t.errorTail = entry.errorTail;
}

function addSample(t: TargetResult, sample: Sample): void {
  const last = t.samples.at(-1);
  if (last === undefined || sample.round > last.round) t.samples.push(sample);
}

function parseJson(line: string | undefined): unknown {
  if (line === undefined) return undefined;
  try {
    return JSON.parse(line) as unknown;
  } catch {
    return undefined;
  }
}
