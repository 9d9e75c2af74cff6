/**
 * A result's header: every top-level field but the scenarios — the tool, the
 * command, the seed, the options, the host, the images and the targets as
 * probed. Built here only: `tsbench run` starts its result with it
 * (bench/runner.ts), and `tsbench reproduce` builds this host's to set beside
 * the original's before anything runs.
 */
import type { NamedImage } from '../core/load.js';
import { SCHEMA_ID, SCHEMA_VERSION, type Host, type ImageInfo, type Result } from '../core/schema.js';
import { toolVersion } from '../core/version.js';
import type { Driver, Limits, Probe } from '../drivers/index.js';
import type { ScenarioOptions } from './scenarios/types.js';

export interface HeaderInput {
  command: string[];
  seed: number;
  /** measured rounds of every scenario, when given over each scenario's default */
  runs?: number;
  /** warmup rounds of every scenario, when given over each scenario's default */
  warmup?: number;
  /** the cap on measured rounds when sampling until decided */
  maxRuns?: number;
  limits: Limits;
  /** recorded only when some option was given */
  scenarioOptions: ScenarioOptions;
  /** the VM targets' machine type, when one was chosen (--machine) */
  machine?: string;
  host: Host;
  /** the image the targets use; with `images`, ignored */
  image?: ImageInfo;
  /** every image the targets use, each named; `image` becomes the lean one, or the only one */
  images?: NamedImage[];
  /** the requested targets in order, with their drivers */
  drivers: ReadonlyMap<string, Pick<Driver, 'imageName'>>;
  probes: ReadonlyMap<string, Probe>;
}

/** `image` of a result with `images`: the lean one, or the only one (what readers from before `images` understand). */
function legacyImage(images: readonly NamedImage[]): ImageInfo | undefined {
  return images.find((i) => i.name === 'lean') ?? (images.length === 1 ? images[0] : undefined);
}

/** The header of a result started at `now` (ISO 8601), not complete, with no scenario yet. */
export function resultHeader(h: HeaderInput, now: string): Result {
  return {
    schema: SCHEMA_ID,
    schemaVersion: SCHEMA_VERSION,
    tool: { name: 'tsbench', version: toolVersion() },
    command: h.command,
    seed: h.seed,
    startedAt: now,
    updatedAt: now,
    complete: false,
    options: {
      runs: h.runs,
      warmup: h.warmup,
      maxRuns: h.maxRuns,
      limits: h.limits,
      scenarioOptions: Object.keys(h.scenarioOptions).length > 0 ? h.scenarioOptions : undefined,
      machine: h.machine,
    },
    host: h.host,
    image: h.images ? legacyImage(h.images) : h.image,
    images: h.images && h.images.length > 0 ? h.images : undefined,
    targets: [...h.drivers].map(([name, driver]) => {
      const p = h.probes.get(name) ?? { available: false, reason: 'not probed' };
      // An empty reason is recorded as none.
      return { name, image: driver.imageName, available: p.available, reason: p.reason || undefined, details: p.details };
    }),
    scenarios: [],
  };
}
