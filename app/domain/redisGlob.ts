/**
 * Redis `SCAN`/`HSCAN` MATCH patterns are globs: `*`, `?`, `[`, `]` and `\` are special. A key
 * prefix or a filter typed by a user must match literally, so those characters are escaped.
 */
export function escapeGlob(literal: string): string {
  return literal.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}

/** MATCH pattern for fields containing `text` anywhere; everything when `text` is empty. */
export function containsPattern(text: string): string {
  return text === "" ? "*" : `*${escapeGlob(text)}*`;
}
