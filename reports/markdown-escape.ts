/**
 * Markdown text from result strings: a table cell or a line that `|`, newlines,
 * HTML or emphasis in the string cannot break, and inline code that survives
 * backticks. Every Markdown output (the report summary, compare, history) uses it.
 */

/** Escapes text for a Markdown table cell (or a line of text): no `|`, no newline, no HTML, no emphasis. */
export function mdCell(text: string): string {
  return text
    .replace(/\\/g, '\\\\')
    .replace(/\r\n|\r|\n/g, ' ')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\|/g, '\\|')
    .replace(/([*_`[\]])/g, '\\$1');
}

/** Inline code (outside tables) that survives any backticks in the text and stays on one line. */
export function mdCode(text: string): string {
  const flat = text.replace(/\r\n|\r|\n/g, ' ');
  const longest = Math.max(0, ...[...flat.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}${/^`|`$/.test(flat) ? ` ${flat} ` : flat}${fence}`;
}
