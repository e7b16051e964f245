import { ServiceUnavailableError } from "~/domain/errors";
import {
  bufferShard,
  claimTtlSeconds,
  decodeBufferedRun,
  drainedCountKey,
  drainRatePerSecond,
  encodeBufferedRun,
  entryAgeMs,
  idempotencyClaimKey,
  shardKeys,
  type BufferedRun,
} from "~/domain/triggerBuffer";
import { getEnv } from "~/env.server";
import { closeClient, createRedisClient, keyPrefix, redisProfiles, whenReady, type RedisClient } from "~/redis.server";
import { logger } from "~/services/logger.server";

/**
 * The trigger buffer (docs/decisions/0060-trigger-buffer.md): while Postgres cannot take the run
 * insert, a trigger whose metadata came from the cache is appended to a Redis Stream in the
 * GENERAL Redis (the cache Redis may evict), one stream per shard of environments, and answered
 * with its run id. The drainer (drainer.server.ts) writes it to Postgres later, exactly once.
 *
 * Nothing here runs while Postgres is up: the hot path's normal case sends no command to this Redis.
 */

export const BUFFER_FULL = "The trigger buffer is full while the database is unavailable; retry later";
export const BUFFER_REDIS_DOWN = "The database and the trigger buffer (Redis) are both unavailable; try again shortly";
export const METADATA_NOT_CACHED =
  "The database is unavailable and this task's metadata is not cached, so the trigger cannot be buffered; try again shortly";

// Appends unless the stream is at its bound; indexes the run's id so it can be read back.
const APPEND = `
if redis.call('XLEN', KEYS[1]) >= tonumber(ARGV[1]) then return false end
local id = redis.call('XADD', KEYS[1], '*', 'run', ARGV[2])
redis.call('HSET', KEYS[2], ARGV[3], id)
return id`;

let client: RedisClient | undefined;

/** The buffer's own connection to the general Redis, created on first use. */
export function bufferRedis(): RedisClient {
  client ??= createRedisClient(getEnv().redis, redisProfiles.triggerBuffer(getEnv().TRIGGER_BUFFER_COMMAND_TIMEOUT_MS), "trigger-buffer");
  return client;
}

/** The buffer client once connected; throws when it cannot connect within the command timeout. */
export async function readyBufferRedis(): Promise<RedisClient> {
  const redis = bufferRedis();
  if (redis.status !== "ready" && !(await whenReady(redis, getEnv().TRIGGER_BUFFER_COMMAND_TIMEOUT_MS))) {
    throw new Error(`trigger buffer redis is ${redis.status}`);
  }
  return redis;
}

export async function disconnectTriggerBuffer(): Promise<void> {
  const open = client;
  client = undefined;
  if (open) await closeClient(open);
}

export function keysOf(environmentId: string) {
  return shardKeys(keyPrefix(), bufferShard(environmentId, getEnv().TRIGGER_BUFFER_SHARDS));
}

export function allShardKeys() {
  return Array.from({ length: getEnv().TRIGGER_BUFFER_SHARDS }, (_, shard) => shardKeys(keyPrefix(), shard));
}

// ---- buffered mode: log lines and counters -------------------------------------------------

export const bufferCounters = { buffered: 0, drained: 0, aliased: 0, rejectedFull: 0, rejectedRedis: 0, rejectedNotCached: 0 };
let buffering = false;

/** Whether this process buffered or is draining (between the two log lines). */
export function isBuffering(): boolean {
  return buffering;
}

/** First buffered trigger of an outage in this process: one log line. */
function noteBuffered(): void {
  bufferCounters.buffered += 1;
  if (buffering) return;
  buffering = true;
  logger.warn("entering buffered mode: the run insert cannot be done, triggers go to the Redis buffer");
}

/** The drainer saw every stream empty: one log line when this process had been buffering or draining. */
export function noteBufferEmpty(): void {
  if (!buffering) return;
  buffering = false;
  logger.info("leaving buffered mode: the trigger buffer is drained", { drained: bufferCounters.drained });
}

/** Called by the drainer when it finds work, so a process that only drains also logs both lines. */
export function noteDraining(): void {
  if (buffering) return;
  buffering = true;
  logger.warn("entering buffered mode: draining buffered triggers into Postgres");
}

// ---- append ---------------------------------------------------------------------------------

export interface BufferResult {
  id: string;
  isCached: boolean;
}

/**
 * Buffers `run` (ids, dates and resolved fields already final). With an idempotency key, the key
 * is claimed first (`SET NX GET` with the key's TTL): a repeat answers the claimed run's id.
 */
export async function bufferRun(run: BufferedRun): Promise<BufferResult> {
  let redis: RedisClient;
  try {
    redis = await readyBufferRedis();
  } catch (error) {
    return rejectRedisDown(run, error);
  }
  const claim =
    run.idempotencyKey === null ? null : idempotencyClaimKey(keyPrefix(), run.environmentId, run.taskIdentifier, run.idempotencyKey);
  try {
    if (claim) {
      const ttl = claimTtlSeconds(run.idempotencyKeyExpiresAt ?? new Date(run.createdAt.getTime() + 86_400_000), run.createdAt);
      const holder = (await redis.call("SET", claim, run.friendlyId, "NX", "GET", "EX", String(ttl))) as string | null;
      if (holder) return { id: holder, isCached: true };
    }
    const keys = keysOf(run.environmentId);
    const env = getEnv();
    const added = await redis.eval(APPEND, 2, keys.stream, keys.index, String(env.TRIGGER_BUFFER_MAX), encodeBufferedRun(run), run.friendlyId);
    if (added === null) {
      if (claim) await redis.del(claim);
      bufferCounters.rejectedFull += 1;
      throw new ServiceUnavailableError(BUFFER_FULL, env.TRIGGER_BUFFER_RETRY_AFTER_SECONDS);
    }
  } catch (error) {
    if (error instanceof ServiceUnavailableError) throw error;
    return rejectRedisDown(run, error);
  }
  noteBuffered();
  return { id: run.friendlyId, isCached: false };
}

/** The run that claimed this trigger's idempotency key in the buffer, if one did. */
export async function claimedRunId(run: { environmentId: string; taskIdentifier: string; idempotencyKey: string | null }): Promise<string | null> {
  if (run.idempotencyKey === null) return null;
  const redis = await readyBufferRedis();
  return redis.get(idempotencyClaimKey(keyPrefix(), run.environmentId, run.taskIdentifier, run.idempotencyKey));
}

function rejectRedisDown(run: BufferedRun, error: unknown): never {
  bufferCounters.rejectedRedis += 1;
  logger.error("trigger could not be buffered: redis unavailable", { environmentId: run.environmentId, task: run.taskIdentifier, error });
  throw new ServiceUnavailableError(BUFFER_REDIS_DOWN);
}

export function rejectNotCached(context: { environmentId: string; task: string }): never {
  bufferCounters.rejectedNotCached += 1;
  logger.warn("trigger not buffered: postgres unavailable and task metadata not cached", context);
  throw new ServiceUnavailableError(METADATA_NOT_CACHED);
}

// ---- reads ----------------------------------------------------------------------------------

/** A run still in the buffer, by its friendly id; null when it is not (or belongs to another environment). */
export async function findBufferedRun(environmentId: string, friendlyId: string): Promise<BufferedRun | null> {
  const redis = await readyBufferRedis();
  const keys = keysOf(environmentId);
  const entryId = await redis.hget(keys.index, friendlyId);
  if (!entryId) return null;
  const entries = (await redis.xrange(keys.stream, entryId, entryId)) as [string, string[]][];
  const fields = entries[0]?.[1];
  const text = fields ? fields[fields.indexOf("run") + 1] : undefined;
  const run = text ? decodeBufferedRun(text) : null;
  return run && run.environmentId === environmentId ? run : null;
}

export interface BufferStats {
  depth: number;
  oldestAgeMs: number;
  /** Over every instance, from the per-minute counts the drainers write. */
  drainedPerSecond: number;
}

const DRAINED_COUNT_TTL_SECONDS = 600;

/** Adds a drained chunk to this minute's count (one command per chunk, only while draining). */
export async function recordDrained(redis: RedisClient, count: number, now = Date.now()): Promise<void> {
  if (count <= 0) return;
  const key = drainedCountKey(keyPrefix(), Math.floor(now / 60_000));
  await redis.multi().incrby(key, count).expire(key, DRAINED_COUNT_TTL_SECONDS).exec();
}

/** Entries waiting over every shard, and the age of the oldest. */
export async function bufferStats(now = Date.now()): Promise<BufferStats> {
  const redis = await readyBufferRedis();
  let depth = 0;
  let oldestAgeMs = 0;
  for (const keys of allShardKeys()) {
    const [length, first] = await Promise.all([redis.xlen(keys.stream), redis.xrange(keys.stream, "-", "+", "COUNT", 1)]);
    depth += length;
    const firstId = (first as [string, string[]][])[0]?.[0];
    if (firstId) oldestAgeMs = Math.max(oldestAgeMs, entryAgeMs(firstId, now));
  }
  const minute = Math.floor(now / 60_000);
  // Two GETs, not MGET: the two minutes' keys may live on different Cluster nodes.
  const [previous, current] = await Promise.all([redis.get(drainedCountKey(keyPrefix(), minute - 1)), redis.get(drainedCountKey(keyPrefix(), minute))]);
  return { depth, oldestAgeMs, drainedPerSecond: drainRatePerSecond(Number(previous ?? 0), Number(current ?? 0), now % 60_000) };
}
