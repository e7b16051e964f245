/**
 * The names of Hotpath's spans and of the attributes it puts on them (docs/operations.md,
 * "Traces", explains each). Span names are fixed strings or a route pattern, never an id, a slug
 * or a key: their cardinality is bounded by this file and the route table.
 */

export const SPAN = {
  /** Child of the request span: the API key's authentication. */
  auth: "hotpath.auth",
  /** Child of the request span: the task's queue, TTL and lock through the cache tiers. */
  resolve: "hotpath.resolve",
  /** Child of the request span (database client conventions): the run's INSERT. */
  runInsert: "INSERT TaskRun",
  /** Child of the request span (a batch's item stream): one chunk's items through the cache tiers at once. */
  batchResolve: "hotpath.batch.resolve",
  /** Child of the request span (database client conventions): one chunk's runs in one statement. */
  batchInsert: "BATCH INSERT TaskRun",
  /** Linked to the triggers it writes: one chunk of the trigger buffer moved into Postgres. */
  bufferDrain: "hotpath.trigger_buffer.drain",
  /** Linked to the request whose miss scheduled it: writing Postgres' answer into the cache. */
  backfill: "hotpath.cache.backfill",
  /** Linked to the request (promotion, registration, repair) that changed the current worker. */
  cacheReplace: "hotpath.cache.replace_current",
  /** Linked to the span that changed a current hash: the invalidation message sent to the instances. */
  invalidationPublish: "hotpath.cache.invalidation publish",
  /** A root span per invalidation message heard (no context travels with the message). */
  invalidationReceive: "hotpath.cache.invalidation receive",
  /** One run of the current-hash sweep. */
  sweep: "hotpath.cache.sweep",
  /** One tick of the run lifecycle scheduler. */
  lifecycleTick: "hotpath.run_lifecycle.tick",
} as const;

export const ATTR = {
  /** Which lane served the request: "node" (lean) or "remix". */
  lane: "hotpath.lane",
  /** Where the key's environment came from: "l1", "redis" or "postgres". */
  authTier: "hotpath.auth.tier",
  /** Where the task metadata came from: "l1", "redis", "replica" or "primary" (the last tier asked). */
  cacheTier: "hotpath.cache.tier",
  /** True when the metadata came from a cache tier (l1 or redis). */
  cacheHit: "hotpath.cache.hit",
  /** True when the cache's answer was a cached "task absent". */
  cacheNegative: "hotpath.cache.negative",
  /** The task metadata cache's circuit breaker: "closed", or "open" when a Redis call was skipped. */
  cacheBreaker: "hotpath.cache.breaker",
  /** True when the trigger is locked to a worker version (`lockToVersion`). */
  taskLocked: "hotpath.task.locked",
  /** Whether a back-fill or replace wrote the cache. */
  cacheWritten: "hotpath.cache.written",
  /** The cache keyspace of a back-fill: "current" (unlocked) or "worker" (locked). */
  cacheKeyspace: "hotpath.cache.keyspace",
  /** Whether the insert found an existing run for the idempotency key (the trigger is answered with it). */
  runCached: "hotpath.run.cached",
  /** Items in a batch's chunk (resolve). */
  batchItems: "hotpath.batch.items",
  /** Groups of a chunk, each one cache read: the current hash's, and one per locked version. */
  batchCurrentGroups: "hotpath.batch.groups.current",
  batchLockedGroups: "hotpath.batch.groups.locked",
  /** Items of a chunk that failed their rules (a 4xx of their own), or answered from Postgres. */
  batchFailed: "hotpath.batch.failed",
  batchFromDatabase: "hotpath.batch.from_database",
  /** Runs the chunk's statement inserted (the rest were already stored or held by an idempotency key). */
  batchInserted: "hotpath.batch.inserted",
  /** Trigger buffer drain: the stream drained, and the runs inserted or aliased to an existing run. */
  bufferStream: "hotpath.trigger_buffer.stream",
  bufferInserted: "hotpath.trigger_buffer.inserted",
  bufferAliased: "hotpath.trigger_buffer.aliased",
  /** Run lifecycle: runs moved by the tick; sweep: hashes rebuilt; drain: entries settled. */
  count: "hotpath.count",
} as const;

export type AuthTier = "l1" | "redis" | "postgres";
export type CacheTier = "l1" | "redis" | "replica" | "primary";
