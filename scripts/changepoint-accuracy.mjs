#!/usr/bin/env node
// The precision and recall table of docs/nightly.md ("Change points"): `npm run build`, then
// `node scripts/changepoint-accuracy.mjs [trials]` (default 1000 per cell). Seeded: the same table every time.
import { accuracy } from '../dist/test/fixtures/series.js';

const trials = Number(process.argv[2] ?? 1000);
const pct = (x) => `${(100 * x).toFixed(1)} %`;
console.log(`| noise (CV) | no step: series with any change point | step | recall (±1 night) | precision |`);
console.log('|---|---|---|---|---|');
for (const cv of [0.01, 0.03, 0.05, 0.1]) {
  const none = accuracy(trials, { step: 0, cv });
  for (const step of [0.05, 0.1, 0.2]) {
    const a = accuracy(trials, { step, cv });
    console.log(
      `| ${cv * 100} % | ${pct(none.anyReported / trials)} | +${step * 100} % | ${pct(a.found / trials)} | ${a.reported ? pct(a.correct / a.reported) : '—'} |`,
    );
  }
}
