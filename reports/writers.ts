/** Every report writer, looked up by format: the CLI's one way to a report format. */
import { csvWriter } from './csv.js';
import { htmlWriter } from './html/index.js';
import { jsonWriter } from './json.js';
import { markdownWriter } from './markdown.js';
import type { ReportFormat, ReportWriter } from './writer.js';

const WRITERS: Readonly<Record<ReportFormat, ReportWriter>> = { json: jsonWriter, csv: csvWriter, html: htmlWriter, md: markdownWriter };

/** The writer of a format. */
export function reportWriter(format: ReportFormat): ReportWriter {
  return WRITERS[format];
}

/** The formats whose writers hold `holds` (every format when not given), in the order json, csv, html, md. */
export function reportFormats(holds?: ReportWriter['holds']): ReportFormat[] {
  return Object.values(WRITERS)
    .filter((w) => holds === undefined || w.holds === holds)
    .map((w) => w.format);
}
