/**
 * The result file's schema, versioned. One JSON document per `tsbench run`,
 * rewritten atomically after every round, so a partial file is always valid
 * (`complete: false`). `schema/result.schema.json` is generated from this file
 * by `npm run build` for readers outside TypeScript.
 */
import { z } from 'zod';

export const SCHEMA_ID = 'tsbench/result';
export const SCHEMA_VERSION = 1;

const ms = z.number().describe('milliseconds');

export const StatsSchema = z
  .object({
    n: z.number().int().positive().describe('number of samples'),
    min: z.number(),
    max: z.number(),
    mean: z.number(),
    sd: z.number().describe('sample standard deviation (n-1); 0 for one sample'),
    median: z.number(),
    p95: z.number().describe('95th percentile, linear interpolation (R type 7)'),
    p99: z.number().describe('99th percentile, linear interpolation (R type 7)'),
    ciLow: z.number().describe('seeded bootstrap 95% CI of the median, lower end'),
    ciHigh: z.number().describe('seeded bootstrap 95% CI of the median, upper end'),
    outliers: z.number().int().nonnegative().describe('samples with modified z-score > 3.5'),
  })
  .describe('statistics of one metric, in the metric’s unit');

export const RatioSchema = z.object({
  ratio: z.number().describe('median(target) / median(native)'),
  ciLow: z.number(),
  ciHigh: z.number(),
});

export const MetricSpecSchema = z.object({
  name: z.string().describe('metric name; ends with its unit, e.g. toExitMs'),
  unit: z.string().describe('unit of every value of this metric: ms, bytes, MiB/s, IOPS, …'),
  better: z.enum(['lower', 'higher']),
  description: z.string(),
  headline: z.boolean().optional().describe("the scenario's headline figure: what a report's summary shows for it (none marked: the first metric)"),
});

export const PhaseSchema = z.object({ name: z.string(), ms });

export const SampleSchema = z.object({
  round: z.number().int().nonnegative().describe('round index, warmup rounds excluded'),
  status: z.enum(['ok', 'failed', 'oom-killed', 'timeout', 'killed']),
  reason: z.string().optional(),
  values: z.record(z.string(), z.number()).describe('metric name → value in the metric’s unit'),
  timeline: z
    .object({
      harnessMs: ms.describe('Node spawning the launcher, up to its fork; not part of any figure'),
      toReadyMs: ms.optional(),
      toExitMs: ms.optional(),
      phases: z.array(PhaseSchema),
    })
    .optional(),
  accounting: z
    .object({
      cpuUserMs: ms.optional(),
      cpuSystemMs: ms.optional(),
      peakMemoryBytes: z.number().optional(),
      ioReadBytes: z.number().optional(),
      ioWriteBytes: z.number().optional(),
      oomKills: z.number().optional(),
    })
    .optional(),
  extra: z.record(z.string(), z.unknown()).optional().describe('scenario-specific details'),
});

/**
 * The workload images a result can name (drivers/image/names.ts `IMAGE_NAMES`, which a test keeps equal):
 * `lean` tsbench's own, `debian` Debian bookworm with systemd.
 */
export const ImageNameSchema = z.enum(['lean', 'debian']);

const targetImage = ImageNameSchema.optional().describe(
  'the workload image the target ran (its name is TARGET@IMAGE for any but lean); absent: lean, or no image (native), and in results from before images had names',
);

export const TargetResultSchema = z.object({
  target: z.string(),
  image: targetImage,
  state: z.enum(['completed', 'running', 'errored', 'skipped', 'cancelled']),
  error: z.string().optional().describe('why the target errored or was skipped'),
  errorTail: z.array(z.string()).optional().describe('last lines of output before the error'),
  samples: z.array(SampleSchema),
  stats: z.record(z.string(), StatsSchema).describe('metric name → statistics (only metrics with samples)'),
  ratioToNative: z.record(z.string(), RatioSchema).describe('metric name → ratio of medians to native'),
});

export const ScenarioResultSchema = z.object({
  name: z.string(),
  description: z.string(),
  metrics: z.array(MetricSpecSchema),
  parameters: z.record(z.string(), z.unknown()),
  runs: z.number().int().nonnegative(),
  warmup: z.number().int().nonnegative(),
  untilDecided: z
    .object({
      maxRuns: z.number().int().positive().describe('the cap on measured rounds'),
      rounds: z.number().int().nonnegative().describe('measured rounds taken'),
      looks: z.number().int().nonnegative().describe('times the claims were judged to decide whether to go on'),
      decided: z.boolean().describe('every claim part the targets can decide was confirmed or refuted at the last look'),
      pending: z.array(z.string()).describe('the claim parts still inconclusive at the last look, with the samples each would need'),
    })
    .optional()
    .describe('--until-decided: rounds were added after `runs` until the claims were decided or `maxRuns` was reached'),
  targets: z.array(TargetResultSchema),
});

export const HostSchema = z.object({
  hostname: z.string(),
  cpuModel: z.string(),
  cpuCores: z.number().int(),
  memoryBytes: z.number(),
  os: z.string(),
  kernel: z.string(),
  arch: z.string(),
  cgroup: z.enum(['v1', 'v2', 'hybrid', 'none']).describe('hybrid: v1 controllers plus a v2 mount at unified/'),
  node: z.string(),
  qemuVersion: z.string().optional(),
  virtualization: z.string().optional().describe('what systeminformation says; informative only, never used to judge kvm'),
  kvm: z.object({ available: z.boolean(), reason: z.string().optional() }).optional().describe('the kvm target’s probe-boot verdict'),
  nestedUnder: z
    .literal('tcg')
    .optional()
    .describe(
      "this host is itself a VM whose CPU QEMU's TCG emulates (its model name says so), e.g. the nested KVM test host: its kvm targets ran the real KVM code path, but every timing here is a figure of emulation, never a KVM or native one",
    ),
});

export const ImageInfoSchema = z
  .object({
    name: ImageNameSchema.optional().describe('which image (absent in results from before images had names: the lean image)'),
    boot: z
      .enum(['agent', 'systemd'])
      .optional()
      .describe("how a VM boots it: the agent as init (lean) or the image's systemd up to tsbench-agent.service (debian)"),
    hash: z.string().describe('content hash of the image inputs (its cache entry)'),
    packing: z.string().describe('how VMs receive the image, e.g. "read-only ext4 root disk (root.ext4); initramfs.cpio for the stock kernel\'s modules"'),
    rootfsBytes: z.number().describe('bytes of the root filesystem a container uses (no kernel)'),
    rootDiskBytes: z
      .number()
      .optional()
      .describe(
        "bytes of the VMs' root disk: lean, the same root filesystem as ext4; debian, the whole disk (userland, kernel, modules, initrd); absent in results from before the root disk",
      ),
    rootDiskAllocatedBytes: z
      .number()
      .optional()
      .describe("bytes the root disk's sparse file takes on the host, where it keeps free space to write (debian): what storing the disk costs"),
    initramfsBytes: z
      .number()
      .describe("bytes of the initramfs a VM boots, as stored: lean, the stock kernel's module loader (since the root disk); debian, Debian's initrd"),
    kernelBytes: z.number().describe('bytes of the guest kernel (vmlinuz)'),
    modulesBytes: z.number().describe('bytes of the kernel modules: lean, inside the initramfs; debian, on the root disk (not in the initrd)'),
    kernelRelease: z.string().describe('the guest kernel release'),
  })
  .describe('a workload image the targets of the run used');

export const TargetInfoSchema = z.object({
  name: z.string(),
  image: targetImage,
  available: z.boolean(),
  reason: z.string().optional(),
  details: z.record(z.string(), z.string()).optional(),
});

export const ResultSchema = z.object({
  schema: z.literal(SCHEMA_ID),
  schemaVersion: z.literal(SCHEMA_VERSION),
  tool: z.object({ name: z.literal('tsbench'), version: z.string() }),
  command: z.array(z.string()).describe('argv of the run'),
  seed: z.number().int(),
  startedAt: z.string().describe('ISO 8601'),
  updatedAt: z.string().describe('ISO 8601, last write'),
  complete: z.boolean().describe('false while running or when interrupted'),
  interrupted: z.string().optional().describe('signal or error that stopped the run early'),
  options: z.object({
    runs: z.number().int().positive().optional(),
    warmup: z.number().int().nonnegative().optional(),
    maxRuns: z.number().int().positive().optional().describe('--until-decided: the cap on measured rounds per scenario'),
    limits: z.object({ cpus: z.number().optional(), memoryBytes: z.number().optional(), pids: z.number().optional() }),
    scenarioOptions: z
      .record(z.string(), z.unknown())
      .optional()
      .describe(
        "the scenario options given (ioSizeBytes, instances, netTimeS), as `tsbench reproduce` gives them again; absent when none was given, and in results from before reproduce (it then reads them from the scenarios' parameters)",
      ),
    machine: z
      .string()
      .optional()
      .describe(
        "the VM targets' machine type when --machine chose one; absent: the default (TSBENCH_QEMU_MACHINE, else microvm), as the VM targets' details record",
      ),
  }),
  host: HostSchema,
  image: ImageInfoSchema.optional().describe(
    'the lean image, or the only image the run used, for readers from before `images`; absent when no image was built (native-only runs may lack one)',
  ),
  images: z
    .array(ImageInfoSchema.extend({ name: ImageNameSchema }))
    .optional()
    .describe("every image the run's targets used, each with its name (lean first); absent in results from before images had names"),
  targets: z.array(TargetInfoSchema),
  scenarios: z.array(ScenarioResultSchema),
});

export type Result = z.infer<typeof ResultSchema>;
export type ScenarioResult = z.infer<typeof ScenarioResultSchema>;
export type TargetResult = z.infer<typeof TargetResultSchema>;
export type Sample = z.infer<typeof SampleSchema>;
export type Host = z.infer<typeof HostSchema>;
export type ImageInfo = z.infer<typeof ImageInfoSchema>;
export type MetricSpec = z.infer<typeof MetricSpecSchema>;

/** The JSON Schema (draft 2020-12) of a result file. */
export function resultJsonSchema(): unknown {
  return { $id: 'https://tsbench.dev/schema/result-v1.json', ...z.toJSONSchema(ResultSchema, { target: 'draft-2020-12' }) };
}
