/**
 * The runs list pages by keyset over (createdAt desc, id desc): a cursor is the position of one
 * row, opaque in the URL. Keyset pages stay correct while new runs arrive (an offset would shift)
 * and cost one index range scan on (environmentId, createdAt) however deep the page.
 */

export interface RunCursor {
  createdAt: Date;
  id: string;
}

export function encodeRunCursor(cursor: RunCursor): string {
  return Buffer.from(`${cursor.createdAt.toISOString()}|${cursor.id}`, "utf8").toString("base64url");
}

/** The position encoded in `value`, or null when it is not a cursor this module wrote. */
export function decodeRunCursor(value: string): RunCursor | null {
  if (!/^[A-Za-z0-9_-]+$/.test(value)) return null;
  const text = Buffer.from(value, "base64url").toString("utf8");
  const separator = text.indexOf("|");
  if (separator < 0) return null;
  const iso = text.slice(0, separator);
  const id = text.slice(separator + 1);
  const createdAt = new Date(iso);
  if (Number.isNaN(createdAt.getTime()) || createdAt.toISOString() !== iso) return null;
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(id)) return null;
  return { createdAt, id };
}
