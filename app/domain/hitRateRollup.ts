import type { MetricsWindow } from "~/domain/metricsMath";

/**
 * Per-environment hit rates for the overview as a bounded structure kept up to date as counts
 * arrive (docs/decisions/0076-hit-rate-rollups.md): environments are spread over SHARDS Redis
 * hash tags; in each shard, per window, a hash of lookups in the window (`c:<env>` from the cache,
 * `d:<env>` from Postgres) and a sorted set of hit rates. The overview reads the lowest K of each
 * shard and merges them, never the per-minute counts of every environment.
 *
 * A window slides by subtracting the bucket that leaves it: per-minute buckets for 5 min and 1 h,
 * per-10-minute buckets for 24 h (so the 24 h figure covers 143 whole tens plus the running one).
 * Pure here: names, shards and the merge; the script is in app/services/hitRateRollup.server.ts.
 */

export const ROLLUP_SHARDS = 16;

export interface RollupWindow {
  /** Minutes per bucket of this window. */
  unitMinutes: number;
  /** Buckets in the window, the running one included. */
  span: number;
  /** Which bucket series it subtracts: `m` (minutes) or `t` (tens of minutes). */
  series: "m" | "t";
}

export const ROLLUP_WINDOWS: Record<MetricsWindow, RollupWindow> = {
  "5m": { unitMinutes: 1, span: 5, series: "m" },
  "1h": { unitMinutes: 1, span: 60, series: "m" },
  "24h": { unitMinutes: 10, span: 144, series: "t" },
};

/** FNV-1a of the id, modulo the shard count: stable across processes and versions. */
export function rollupShard(environmentId: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < environmentId.length; i++) {
    hash ^= environmentId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % ROLLUP_SHARDS;
}

/** Every key of shard `shard` starts with this; `{me:<shard>}` is its Cluster hash tag. */
export function rollupBase(prefix: string, shard: number): string {
  return `${prefix}metrics:{me:${shard}}:`;
}

export interface EnvironmentLookups {
  environmentId: string;
  cache: number;
  database: number;
}

/** Lookups grouped by shard, in chunks of at most `chunk` environments (one script call each). */
export function deltaChunks(
  environments: Record<string, { cache: number; database: number }>,
  chunk: number,
): { shard: number; lookups: EnvironmentLookups[] }[] {
  const byShard = new Map<number, EnvironmentLookups[]>();
  for (const [environmentId, counts] of Object.entries(environments)) {
    if (!counts.cache && !counts.database) continue;
    const shard = rollupShard(environmentId);
    let list = byShard.get(shard);
    if (!list) byShard.set(shard, (list = []));
    list.push({ environmentId, cache: counts.cache, database: counts.database });
  }
  const chunks: { shard: number; lookups: EnvironmentLookups[] }[] = [];
  for (const [shard, list] of byShard) {
    for (let i = 0; i < list.length; i += chunk) chunks.push({ shard, lookups: list.slice(i, i + chunk) });
  }
  return chunks;
}

/** Script arguments of a chunk: environment id, cache lookups, database lookups, repeated. */
export function deltaArguments(lookups: readonly EnvironmentLookups[]): string[] {
  return lookups.flatMap((l) => [l.environmentId, String(l.cache), String(l.database)]);
}

export interface RankedEnvironment {
  environmentId: string;
  hitRate: number;
}

/**
 * The lowest `k` of every shard's lowest `k` (ZRANGE … WITHSCORES replies): exactly the lowest
 * `k` overall, since each of those is among its own shard's lowest. Ties by id.
 */
export function mergeLowest(replies: readonly (readonly string[])[], k: number): RankedEnvironment[] {
  const all: RankedEnvironment[] = [];
  for (const flat of replies) {
    for (let i = 0; i + 1 < flat.length; i += 2) all.push({ environmentId: flat[i], hitRate: Number(flat[i + 1]) });
  }
  all.sort((a, b) => a.hitRate - b.hitRate || (a.environmentId < b.environmentId ? -1 : a.environmentId > b.environmentId ? 1 : 0));
  return all.slice(0, k);
}
