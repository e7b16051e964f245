/**
 * What the task metadata cache reports to metrics. Labels are bounded (keyspace, event, source),
 * never an environment id or a slug. The sink is called on the hot path, so implementations must
 * only bump in-memory counters.
 */

export type Keyspace = "current" | "worker" | "version" | "l1";

export type CacheEvent =
  | "hit"
  | "miss"
  | "backfill"
  | "negative_hit"
  | "decode_error"
  | "redis_error"
  | "breaker_open";

export interface CacheEventSink {
  record(event: CacheEvent, keyspace: Keyspace, count?: number): void;
  /**
   * One resolver call and where its metadata came from. `environmentId` feeds the overview's
   * per-environment hit rate (kept in Redis buckets, never a Prometheus label).
   */
  observeResolve(source: "cache" | "database", durationMs: number, environmentId?: string): void;
}

export const noopCacheEventSink: CacheEventSink = {
  record() {},
  observeResolve() {},
};
