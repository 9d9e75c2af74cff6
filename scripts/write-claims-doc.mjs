// Writes docs/claims.md from the claims and rules in reports/claims/ (run `npm run build` first;
// `npm run docs:claims` does both). test/claims-doc.test.ts fails when the file is out of date.
import { writeFileSync } from 'node:fs';
import { claimsMarkdown } from '../dist/reports/claims/doc.js';

const out = new URL('../docs/claims.md', import.meta.url);
writeFileSync(out, claimsMarkdown());
