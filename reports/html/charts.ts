/**
 * Chart specifications for the report page: chart.js configurations (plain
 * JSON, embedded in the page) plus what the page's small script adds to them —
 * confidence-interval whiskers and median marks, a reference line, category
 * labels on index axes, number formatting. See client.ts.
 */
import { valueOf, valuesOf } from '../../core/samples.js';
import { sorted, type Stats } from '../../core/stats.js';
import { targetColor } from './common.js';
import { medianPhases, type ReportScenario, type Series } from '../model.js';

/** A median with its interval, drawn at `pos` on the index axis. */
export interface Whisker {
  pos: number;
  lo: number;
  hi: number;
  mid: number;
  color: string;
}

export interface ChartSpec {
  /** id of the canvas element */
  id: string;
  /** chart.js configuration: type, data and options, JSON only */
  config: Record<string, unknown>;
  /** the axis that carries values ('y' for vertical charts); tooltips print it with `unit` */
  valueAxis: 'x' | 'y';
  unit: string;
  /** logarithmic axes, whose ticks are labelled 1-2-5 */
  logAxes: ('x' | 'y')[];
  /** an index axis: ticks at 0…n-1 labelled with these names */
  indexLabels?: { axis: 'x' | 'y'; labels: string[] };
  whiskers?: Whisker[];
  /** a dashed reference line at this value of the value axis (ratio 1 = native) */
  refLine?: number;
}

/** Above this spread (max / min) a value axis is logarithmic: native 0.5 ms beside a 3 s VM boot. */
export const LOG_SPREAD = 50;

export function wantsLog(values: readonly number[]): boolean {
  const v = values.filter((x) => Number.isFinite(x));
  if (v.length === 0 || v.some((x) => x <= 0)) return false;
  return Math.max(...v) / Math.min(...v) > LOG_SPREAD;
}

/** Axis bounds that keep every whisker inside the plot (chart.js sizes axes to the points only); positive ends only on a log axis. */
function whiskerBounds(whiskers: readonly Whisker[], log: boolean): Record<string, number> {
  const ends = whiskers.flatMap((w) => [w.lo, w.hi, w.mid]).filter((x) => Number.isFinite(x) && (!log || x > 0));
  if (ends.length === 0) return {};
  return { suggestedMin: Math.min(...ends), suggestedMax: Math.max(...ends) };
}

const POINT_STYLES = ['circle', 'triangle', 'rect', 'rectRot', 'star', 'crossRot'];
const PHASE_COLORS: Record<string, string> = {
  qemu: '#7f7f7f',
  kernel: '#56B4E9',
  agent: '#009E73',
  exit: '#CC79A7',
  // The launcher's phases (drivers/process.ts launcherPhases).
  fork: '#E69F00',
  clone: '#E69F00',
  exec: '#0072B2',
  mounts: '#D55E00',
  seccomp: '#F0E442',
};
const SPARE_PHASE = ['#bcbd22', '#17becf', '#8c564b', '#9467bd', '#e377c2', '#aec7e8', '#ffbb78', '#98df8a'];

/**
 * One order for the phases of every series, each series' own order kept: a phase new to the list goes right after
 * the series' phase before it, or, when it is the series' first, just before the first later one already listed.
 * Stacked bars stack in the datasets' order, so a target's phases then read left to right as they happened.
 */
export function phaseOrder(lists: string[][]): string[] {
  const names: string[] = [];
  for (const list of lists) {
    list.forEach((name, i) => {
      if (names.includes(name)) return;
      if (i > 0) {
        names.splice(names.indexOf(list[i - 1] as string) + 1, 0, name);
        return;
      }
      const next = list.slice(1).find((n) => names.includes(n));
      names.splice(next === undefined ? names.length : names.indexOf(next), 0, name);
    });
  }
  return names;
}

/** Charts show bytes in MiB (tables keep exact binary units). */
function chartUnit(unit: string): { unit: string; scale: number } {
  return unit === 'bytes' ? { unit: 'MiB', scale: 1 / 1048576 } : { unit, scale: 1 };
}

/** A stable, even spread of points across a category (golden-ratio sequence), so screenshots do not change. */
function jitter(k: number): number {
  return (((k * 0.6180339887) % 1) - 0.5) * 0.5;
}

function axisTitle(text: string, log: boolean): Record<string, unknown> {
  return { display: true, text: log ? `${text}, log scale` : text };
}

function pointColor(hex: string): string {
  return `${hex}99`;
}

/**
 * A scatter chart's spec: every chart of the report but the timeline is one.
 * `log` makes the value axis logarithmic (the caller's scales say how).
 */
function scatterSpec(
  id: string,
  axes: { valueAxis: 'x' | 'y'; unit: string; log: boolean },
  extra: Pick<ChartSpec, 'indexLabels' | 'whiskers' | 'refLine'>,
  data: Record<string, unknown>,
  legend: Record<string, unknown>,
  scales: Record<string, unknown>,
): ChartSpec {
  return {
    id,
    valueAxis: axes.valueAxis,
    unit: axes.unit,
    logAxes: axes.log ? [axes.valueAxis] : [],
    ...extra,
    config: { type: 'scatter', data, options: { plugins: { legend }, scales } },
  };
}

/** One metric: every value that counts per target (jittered dots; core/samples.ts), the median as a bar and its 95 % CI as whiskers. */
export function metricChart(id: string, sc: ReportScenario, metricName: string): ChartSpec | undefined {
  const metric = sc.metrics.find((m) => m.name === metricName);
  if (!metric) return undefined;
  const { unit, scale } = chartUnit(metric.unit);
  const shown = sc.series.filter((s) => s.stats[metricName] || valuesOf(s, metricName).length > 0);
  if (shown.length === 0) return undefined;
  const all: number[] = [];
  const whiskers: Whisker[] = [];
  const datasets = shown.map((s, i) => {
    const color = targetColor(s.target);
    const st = s.stats[metricName];
    if (st) {
      whiskers.push({ pos: i, lo: st.ciLow * scale, hi: st.ciHigh * scale, mid: st.median * scale, color });
      all.push(st.ciLow * scale, st.ciHigh * scale);
    }
    const values = valuesOf(s, metricName).map((v) => v * scale);
    all.push(...values);
    return {
      label: s.label,
      data: values.map((y, k) => ({ x: i + jitter(k), y })),
      backgroundColor: pointColor(color),
      borderColor: color,
      pointStyle: POINT_STYLES[s.hostIndex % POINT_STYLES.length],
      pointRadius: 3,
      pointHoverRadius: 5,
    };
  });
  const log = wantsLog(all);
  return scatterSpec(
    id,
    { valueAxis: 'y', unit, log },
    { indexLabels: { axis: 'x', labels: shown.map((s) => s.label) }, whiskers },
    { datasets },
    { display: false },
    {
      x: { type: 'linear', min: -0.5, max: shown.length - 0.5, grid: { display: false }, title: { display: true, text: 'target' } },
      y: {
        type: log ? 'logarithmic' : 'linear',
        beginAtZero: log ? undefined : true,
        ...whiskerBounds(whiskers, log),
        title: axisTitle(`${metric.name} (${unit})`, log),
      },
    },
  );
}

/** Every metric's ratio of medians to native with its CI, one row per metric and non-native target. */
export function ratioChart(id: string, sc: ReportScenario): ChartSpec | undefined {
  const rows: string[] = [];
  const whiskers: Whisker[] = [];
  const all: number[] = [1];
  const bySeries = new Map<Series, { x: number; y: number }[]>();
  for (const m of sc.metrics) {
    for (const s of sc.series) {
      const r = s.ratioToNative[m.name];
      if (!r) continue;
      const row = rows.length;
      rows.push(`${m.name} · ${s.label}`);
      const color = targetColor(s.target);
      whiskers.push({ pos: row, lo: r.ciLow, hi: r.ciHigh, mid: r.ratio, color });
      // An interval end at or below 0 (a difference metric) must not veto a log axis the ratios need: it is drawn to the edge.
      all.push(r.ratio, ...[r.ciLow, r.ciHigh].filter((x) => x > 0 || r.ratio <= 0));
      bySeries.set(s, [...(bySeries.get(s) ?? []), { x: r.ratio, y: row }]);
    }
  }
  if (rows.length === 0) return undefined;
  const log = wantsLog(all);
  return scatterSpec(
    id,
    { valueAxis: 'x', unit: '×', log },
    { indexLabels: { axis: 'y', labels: rows }, whiskers, refLine: 1 },
    {
      datasets: [...bySeries].map(([s, data]) => ({
        label: s.label,
        data,
        backgroundColor: targetColor(s.target),
        borderColor: targetColor(s.target),
        pointStyle: POINT_STYLES[s.hostIndex % POINT_STYLES.length],
        pointRadius: 4,
      })),
    },
    { display: true, position: 'bottom' },
    {
      x: {
        type: log ? 'logarithmic' : 'linear',
        ...whiskerBounds([...whiskers, { pos: 0, lo: 1, hi: 1, mid: 1, color: '' }], log),
        title: axisTitle('median(target) / median(native) (×; 1 = native)', log),
      },
      y: { type: 'linear', reverse: true, min: -0.5, max: rows.length - 0.5, grid: { display: false } },
    },
  );
}

/** Rows of the ratio chart, to size its canvas. */
export function ratioRows(sc: ReportScenario): number {
  let n = 0;
  for (const m of sc.metrics) for (const s of sc.series) if (s.ratioToNative[m.name]) n++;
  return n;
}

/** The startup timeline: the median of each phase, stacked, per target that records phases (a VM's boot, the launcher's steps). */
export function timelineChart(id: string, sc: ReportScenario): ChartSpec | undefined {
  const withPhases = sc.series.map((s) => ({ s, phases: medianPhases(s) })).filter((x) => x.phases.length > 0);
  if (withPhases.length === 0) return undefined;
  const names = phaseOrder(withPhases.map((x) => x.phases.map((p) => p.name)));
  let spare = 0;
  return {
    id,
    valueAxis: 'x',
    unit: 'ms',
    logAxes: [],
    config: {
      type: 'bar',
      data: {
        labels: withPhases.map((x) => x.s.label),
        datasets: names.map((name) => ({
          label: name,
          data: withPhases.map((x) => x.phases.find((p) => p.name === name)?.ms ?? 0),
          backgroundColor: PHASE_COLORS[name] ?? SPARE_PHASE[spare++ % SPARE_PHASE.length],
        })),
      },
      options: {
        indexAxis: 'y',
        plugins: { legend: { display: true, position: 'bottom' } },
        scales: {
          x: { stacked: true, beginAtZero: true, title: { display: true, text: 'time since launch (ms; median of each phase)' } },
          y: { stacked: true },
        },
      },
    },
  };
}

interface DensityExtra {
  toReadyMs?: unknown;
}

function readyTimes(sample: { extra?: Record<string, unknown> }): number[] | undefined {
  const v = (sample.extra as DensityExtra | undefined)?.toReadyMs;
  return Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'number') ? sorted(v as number[]) : undefined;
}

/** Density: how many instances are ready after how long, one step line per sample (all started at once). */
export function densityReadyChart(id: string, sc: ReportScenario): ChartSpec | undefined {
  const datasets: Record<string, unknown>[] = [];
  const all: number[] = [];
  for (const s of sc.series) {
    let first = true;
    for (const sample of s.samples) {
      if (sample.status !== 'ok') continue;
      const ready = readyTimes(sample);
      if (!ready) continue;
      all.push(...ready);
      const color = targetColor(s.target);
      datasets.push({
        label: s.label,
        // one legend entry per target, not per sample
        hideInLegend: !first,
        data: ready.map((x, k) => ({ x, y: k + 1 })),
        showLine: true,
        stepped: true,
        borderColor: color,
        backgroundColor: color,
        borderWidth: 1.5,
        pointRadius: 0,
        pointHitRadius: 4,
      });
      first = false;
    }
  }
  if (datasets.length === 0) return undefined;
  const log = wantsLog(all);
  return scatterSpec(
    id,
    { valueAxis: 'x', unit: 'ms', log },
    {},
    { datasets },
    { display: true, position: 'bottom' },
    {
      x: { type: log ? 'logarithmic' : 'linear', title: axisTitle('time from launch to ready (ms)', log) },
      y: { type: 'linear', beginAtZero: true, title: { display: true, text: 'instances ready (count)' } },
    },
  );
}

/** Density: host memory of all instances (their summed PSS) against instances running, one point per sample. */
export function densityMemoryChart(id: string, sc: ReportScenario): ChartSpec | undefined {
  const datasets: Record<string, unknown>[] = [];
  const all: number[] = [];
  for (const s of sc.series) {
    const data: { x: number; y: number }[] = [];
    for (const sample of s.samples) {
      const n = valueOf(sample, 'instances');
      // PSS rather than the MemAvailable drop: the drop is host-wide and can come out negative for tiny instances.
      const per = valueOf(sample, 'pssPerInstanceBytes');
      if (n === undefined || per === undefined) continue;
      data.push({ x: n, y: (per * n) / 1048576 });
    }
    if (data.length === 0) continue;
    all.push(...data.map((d) => d.y));
    const color = targetColor(s.target);
    datasets.push({
      label: s.label,
      data,
      backgroundColor: pointColor(color),
      borderColor: color,
      pointStyle: POINT_STYLES[s.hostIndex % POINT_STYLES.length],
      pointRadius: 4,
    });
  }
  if (datasets.length === 0) return undefined;
  const log = wantsLog(all);
  return scatterSpec(
    id,
    { valueAxis: 'y', unit: 'MiB', log },
    {},
    { datasets },
    { display: true, position: 'bottom' },
    {
      x: { type: 'linear', beginAtZero: true, title: { display: true, text: 'instances running at once (count)' } },
      y: { type: log ? 'logarithmic' : 'linear', beginAtZero: log ? undefined : true, title: axisTitle('PSS of all instances (MiB)', log) },
    },
  );
}

/** The summary's compact chart of one metric: each target's median (dot) and its 95 % CI (whiskers), one row per target. */
export function summaryChart(id: string, sc: ReportScenario, metricName: string): ChartSpec | undefined {
  const metric = sc.metrics.find((m) => m.name === metricName);
  if (!metric) return undefined;
  const { unit, scale } = chartUnit(metric.unit);
  const shown = sc.series.filter((s) => s.stats[metricName]);
  if (shown.length === 0) return undefined;
  const whiskers: Whisker[] = [];
  const all: number[] = [];
  const datasets = shown.map((s, i) => {
    const st = s.stats[metricName] as Stats;
    const color = targetColor(s.target);
    whiskers.push({ pos: i, lo: st.ciLow * scale, hi: st.ciHigh * scale, mid: st.median * scale, color });
    all.push(st.median * scale, st.ciLow * scale, st.ciHigh * scale);
    return {
      label: s.label,
      data: [{ x: st.median * scale, y: i }],
      backgroundColor: color,
      borderColor: color,
      pointStyle: POINT_STYLES[s.hostIndex % POINT_STYLES.length],
      pointRadius: 4,
    };
  });
  const log = wantsLog(all);
  return scatterSpec(
    id,
    { valueAxis: 'x', unit, log },
    { indexLabels: { axis: 'y', labels: shown.map((s) => s.label) }, whiskers },
    { datasets },
    { display: false },
    {
      x: {
        type: log ? 'logarithmic' : 'linear',
        beginAtZero: log ? undefined : true,
        ...whiskerBounds(whiskers, log),
        title: axisTitle(`${metric.name} (${unit}, ${metric.better} is better)`, log),
      },
      y: { type: 'linear', reverse: true, min: -0.5, max: shown.length - 0.5, grid: { display: false } },
    },
  );
}
