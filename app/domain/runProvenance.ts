/**
 * What the run detail page says about where a run's queue, TTL and kind came from (pure).
 *
 * A locked run records its worker. An unlocked run resolves through the environment's current
 * worker, whose version the hot path does not write per run (it would cost the warm path a Redis
 * read of the owner key): the page derives it from when the current worker became current. A run
 * created after that instant used it (give or take the in-process tier's staleness bound of a
 * couple of seconds); an older run used an earlier version.
 */

export type ResolvedVersion =
  | { how: "locked"; version: string }
  | { how: "current"; version: string; since: string }
  | { how: "earlier"; currentVersion: string; since: string }
  | { how: "none" };

export function resolvedVersion(input: {
  lockedVersion: string | null;
  createdAt: Date;
  /** The environment's current worker now, and when it became current. */
  current: { version: string; since: Date } | null;
}): ResolvedVersion {
  if (input.lockedVersion !== null) return { how: "locked", version: input.lockedVersion };
  if (!input.current) return { how: "none" };
  const since = input.current.since.toISOString();
  return input.createdAt >= input.current.since
    ? { how: "current", version: input.current.version, since }
    : { how: "earlier", currentVersion: input.current.version, since };
}

export type MetadataSource = "cache" | "database" | "unrecorded";

/** The stored column, read defensively: anything unexpected (or a run older than the column) is "unrecorded". */
export function metadataSource(stored: string | null): MetadataSource {
  return stored === "cache" || stored === "database" ? stored : "unrecorded";
}

/** A JSON value as the page prints it: pretty, or null when there is nothing. */
export function prettyJson(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  if (typeof value === "string") return value;
  return JSON.stringify(value, null, 2);
}
