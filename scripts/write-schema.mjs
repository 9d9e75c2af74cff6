// Writes schema/result.schema.json from the zod schema in bench/schema.ts (run by `npm run build`).
import { writeFileSync } from 'node:fs';
import { resultJsonSchema } from '../dist/core/schema.js';

const out = new URL('../schema/result.schema.json', import.meta.url);
writeFileSync(out, `${JSON.stringify(resultJsonSchema(), null, 2)}\n`);
