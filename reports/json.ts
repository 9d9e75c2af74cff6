/** The JSON report: the result document itself, validated, pretty-printed. */
import { ResultSchema, type Result } from '../core/schema.js';
import { onlyResult, type ReportWriter } from './writer.js';

export function toJson(result: Result): string {
  return `${JSON.stringify(ResultSchema.parse(result), null, 2)}\n`;
}

/** results.json: the one result it is given. */
export const jsonWriter: ReportWriter = {
  format: 'json',
  extension: '.json',
  holds: 'one',
  render: (results) => toJson(onlyResult(results, 'json')),
};
