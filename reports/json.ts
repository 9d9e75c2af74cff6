/** The JSON report: the result document itself, validated, pretty-printed. */
import { ResultSchema, type Result } from '../core/schema.js';

export function toJson(result: Result): string {
  return `${JSON.stringify(ResultSchema.parse(result), null, 2)}\n`;
}
