/** C9: a union filesystem layers a thin writable layer over a shared image; a container's start copies no image. */
import { ratioBetween, type HostData, type Interval } from '../data.js';
import { figure, fmt, fmtIv, pct, type ClaimBuilder, type ClaimRule, type ThresholdDef, type Thresholds } from '../judge.js';
import { LEAN_PAIR, PAIRS, type Pair } from '../pairs.js';
import type { Verdict } from '../types.js';

export const C9_THRESHOLDS = {
  sameStartupFactor: {
    value: 1.1,
    unit: '×',
    claims: ['C9'],
    meaning: (v: number) =>
      `"startup independent of image size" = a container's median time to ready with the Debian image within this factor of the lean image's, either way (the CI of the ratio between 1/${v} and ${v}×). Why: mounting an overlay over a shared image costs the same whatever the image's size, so a start that copied or read the image would show as a multiple; ${pct(v)} leaves room for what differs besides size (the dynamic loader, the files a start opens) and for noise.`,
  },
  thinFraction: {
    value: 0.01,
    unit: 'fraction',
    claims: ['C9'],
    meaning: '"thin" = bytes written to the upper layer by starting at most this fraction of the image.',
  },
} as const satisfies Record<string, ThresholdDef>;

type T = Thresholds<keyof typeof C9_THRESHOLDS>;

export const C9: ClaimRule<keyof T> = {
  id: 'C9',
  thresholds: C9_THRESHOLDS,
  text: (t) => ({
    inWords: `"Thin": the bytes a container's start writes to its upper layer (isolation upperBytesAtStart) are at most ${t.thinFraction * 100} % of the image's root filesystem (rootfsBytes): confirmed when the CI's upper end is below that, refuted when its lower end is above. "Startup independent of image size": a container's time to ready (startup toReadyMs) with the Debian image (container@debian) against the lean image (container) — another image size, the same job — as the ratio of medians Debian ÷ lean with its bootstrap 95 % CI: confirmed when the whole CI lies within ${t.sameStartupFactor}× either way (between 1/${t.sameStartupFactor} and ${t.sameStartupFactor}×), refuted when it lies wholly above ${t.sameStartupFactor}× or wholly below 1/${t.sameStartupFactor}, inconclusive otherwise; both images' root filesystem sizes are shown beside. It decides once both images' containers are measured; with one only it is context, not measured.`,
    brief: `thin: upper CI upper end **< ${t.thinFraction * 100} %** of the image → confirmed; lower end ≥ ${t.thinFraction * 100} % → refuted. Startup independent of image size: container@debian ÷ container time to ready, CI within **1/${t.sameStartupFactor} – ${t.sameStartupFactor}×** → confirmed, wholly above or below → refuted (decides once both images ran; context until then).`,
    why: `"Thin" = a copy of the image would be 100 %; ${t.thinFraction * 100} % leaves room for the files a start must write. "Independent" = within ${pct(t.sameStartupFactor)}: an overlay mount costs the same whatever the image's size, so a start that copied or read the image would show as a multiple, not as ${pct(t.sameStartupFactor)}.`,
  }),
  judge(c, h, t) {
    const up = h.metric('isolation', 'container', 'upperBytesAtStart');
    const label = 'thin writable layer, no image copy';
    if (!up.ok) c.missing({ label, targets: ['container'] }, up.reason, 'isolation', ['native', 'container']);
    else {
      c.use(up.found);
      const img = h.image(up.found.source);
      c.fig(figure('upper layer written at start', up.found.interval, 'bytes', 'container'));
      if (!img) c.missing({ label, targets: ['container'] }, 'no result of this host records the image size', 'isolation', ['native', 'container']);
      else {
        if (img.source !== up.found.source) c.useFile(img.source, 'image');
        const root = img.image.rootfsBytes;
        const frac: Interval = { value: up.found.interval.value / root, lo: up.found.interval.lo / root, hi: up.found.interval.hi / root };
        c.fig({ label: 'image root filesystem', value: root, unit: 'bytes', target: 'container' });
        c.fig(figure('upper layer / image', { value: frac.value * 100, lo: frac.lo * 100, hi: frac.hi * 100 }, '%', 'container'));
        const verdict: Verdict = frac.hi < t.thinFraction ? 'confirmed' : frac.lo >= t.thinFraction ? 'refuted' : 'inconclusive';
        c.part({
          label,
          verdict,
          evidence: `starting a container wrote ${fmtIv(up.found.interval, 'bytes')} to its upper layer over a ${fmt(root, 'bytes')} image (${fmt(frac.value * 100, '%')}; the bound is ${t.thinFraction * 100} %).`,
          targets: ['container'],
        });
      }
    }
    startupBySize(c, h, t);
  },
};

/**
 * C9's "startup independent of image size": a container's time to ready with the lean image and
 * with the Debian image (another size, the same job). Decides when both are measured; until then
 * context, not measured, with the run that would measure it.
 */
function startupBySize(c: ClaimBuilder, h: HostData, t: T): void {
  const label = 'startup independent of image size';
  const [lean, other] = [LEAN_PAIR, PAIRS[1] as Pair];
  const targets = [lean.container, other.container];
  const a = h.metric('startup', other.container, 'toReadyMs');
  const b = h.metric('startup', lean.container, 'toReadyMs');
  const r = a.ok && b.ok ? ratioBetween(a.found, b.found) : undefined;
  if (!a.ok || !b.ok || !r) {
    const why = !b.ok ? b.reason : !a.ok ? a.reason : 'no sample of either has a time to ready';
    c.missing({ label, bearing: 'context', targets }, why, 'startup', ['native', ...targets]);
    return;
  }
  c.use(a.found, b.found);
  c.fig(figure('time to ready', b.found.interval, 'ms', lean.container));
  c.fig(figure('time to ready', a.found.interval, 'ms', other.container));
  const sizes = [lean, other].map((p, i) => {
    const img = h.image((i === 0 ? b : a).found.source, p.image);
    if (!img) return undefined;
    if (img.source !== (i === 0 ? b : a).found.source) c.useFile(img.source, `${p.image} image`);
    c.fig({ label: 'image root filesystem', value: img.image.rootfsBytes, unit: 'bytes', target: p.container });
    return img.image.rootfsBytes;
  });
  c.fig(figure(`${other.container} / ${lean.container} time to ready`, r, '×', other.container));
  const band = t.sameStartupFactor;
  const verdict: Verdict = r.lo >= 1 / band && r.hi <= band ? 'confirmed' : r.lo > band || r.hi < 1 / band ? 'refuted' : 'inconclusive';
  const size = (bytes: number | undefined): string => (bytes === undefined ? 'size not recorded' : fmt(bytes, 'bytes'));
  c.part({
    label,
    verdict,
    evidence: `a container of the ${other.image} image (root filesystem ${size(sizes[1])}) is ready in ${fmtIv(a.found.interval, 'ms')}, of the lean image (${size(sizes[0])}) in ${fmtIv(b.found.interval, 'ms')}: ${fmtIv(r, '×')} — the rule asks between ${fmt(1 / band, '×')} and ${fmt(band, '×')}.`,
    targets,
  });
}
