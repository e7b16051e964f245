import { Cluster, type Redis, type Result } from "ioredis";
import {
  deltaArguments,
  deltaChunks,
  mergeLowest,
  ROLLUP_SHARDS,
  rollupBase,
  rollupShard,
  type RankedEnvironment,
} from "~/domain/hitRateRollup";
import type { MetricsWindow } from "~/domain/metricsMath";
import type { RedisClient } from "~/redis.server";

/**
 * Redis side of the per-environment hit-rate roll-ups (app/domain/hitRateRollup.ts, decision
 * 0076). One script per shard call, all of whose keys carry the shard's hash tag (so it runs on
 * one Cluster node): it first slides the shard's windows to the current minute, subtracting the
 * buckets that left them, then adds the environments' lookups to the minute and ten-minute buckets
 * and to each window, and re-ranks those environments.
 */

/** At most this many environments per script call, so one call never blocks Redis for long. */
const CHUNK = 500;
/** Seconds an idle shard's windows, ranks and ten-minute buckets are kept (the 24 h window and some). */
const KEEP_SECONDS = 26 * 3600;
/** Seconds a minute bucket is kept: it is subtracted from the 1 h window 60 minutes after it was written. */
const MINUTE_KEEP_SECONDS = 2 * 3600;

/**
 * KEYS: state (`<base>state`). ARGV: base, minute, then (environment, cache, database) triples.
 * The other keys are built from `base` and share its hash tag. The minute never goes back: a
 * writer whose clock is behind adds to the latest minute the shard has seen, so a bucket already
 * subtracted from a window is never added to again.
 */
const ROLLUP = `
local base = ARGV[1]
local state = KEYS[1]
local now = tonumber(ARGV[2])
local latest = tonumber(redis.call('HGET', state, 'latest'))
if latest and now <= latest then now = latest else redis.call('HSET', state, 'latest', now) end
local windows = { {'5m', 1, 5, 'm:'}, {'1h', 1, 60, 'm:'}, {'24h', 10, 144, 't:'} }

local function rerank(name, env)
  local w = base .. 'w:' .. name
  local c = tonumber(redis.call('HGET', w, 'c:' .. env) or '0')
  local d = tonumber(redis.call('HGET', w, 'd:' .. env) or '0')
  if c + d <= 0 then
    redis.call('HDEL', w, 'c:' .. env, 'd:' .. env)
    redis.call('ZREM', base .. 'r:' .. name, env)
  else
    redis.call('ZADD', base .. 'r:' .. name, c / (c + d), env)
  end
end

local function subtract(name, bucket)
  local flat = redis.call('HGETALL', bucket)
  local w = base .. 'w:' .. name
  local touched = {}
  for i = 1, #flat, 2 do
    redis.call('HINCRBY', w, flat[i], -tonumber(flat[i + 1]))
    touched[string.sub(flat[i], 3)] = true
  end
  for env in pairs(touched) do rerank(name, env) end
end

for _, win in ipairs(windows) do
  local name, unit, span, series = win[1], win[2], win[3], win[4]
  local target = math.floor(now / unit) - span
  local rolled = tonumber(redis.call('HGET', state, 'r' .. name))
  if rolled == nil or target - rolled >= span then
    redis.call('DEL', base .. 'w:' .. name, base .. 'r:' .. name)
  else
    for b = rolled + 1, target do subtract(name, base .. series .. b) end
  end
  if rolled == nil or target > rolled then redis.call('HSET', state, 'r' .. name, target) end
end

if #ARGV < 5 then return 0 end
local mkey = base .. 'm:' .. now
local tkey = base .. 't:' .. math.floor(now / 10)
local into = { mkey, tkey, base .. 'w:5m', base .. 'w:1h', base .. 'w:24h' }
for i = 3, #ARGV, 3 do
  local env, c, d = ARGV[i], tonumber(ARGV[i + 1]), tonumber(ARGV[i + 2])
  for _, key in ipairs(into) do
    if c > 0 then redis.call('HINCRBY', key, 'c:' .. env, c) end
    if d > 0 then redis.call('HINCRBY', key, 'd:' .. env, d) end
  end
  for _, win in ipairs(windows) do rerank(win[1], env) end
end
redis.call('EXPIRE', mkey, ${MINUTE_KEEP_SECONDS})
for _, key in ipairs({ tkey, state, base .. 'w:5m', base .. 'w:1h', base .. 'w:24h', base .. 'r:5m', base .. 'r:1h', base .. 'r:24h' }) do
  redis.call('EXPIRE', key, ${KEEP_SECONDS})
end
return (#ARGV - 2) / 3
`;

declare module "ioredis" {
  interface RedisCommander<Context> {
    hpHitRateRollup(state: string, base: string, minute: number, ...triples: string[]): Result<number, Context>;
  }
}

const registered = new WeakSet<object>();

function withScript(client: Redis | Cluster): Redis | Cluster {
  if (!registered.has(client)) {
    client.defineCommand("hpHitRateRollup", { numberOfKeys: 1, lua: ROLLUP });
    registered.add(client);
  }
  return client;
}

/**
 * Adds per-environment lookups of `minute` to the roll-ups: one script call per shard and chunk,
 * all sent at once. Returns the lookups of the calls that failed (for the next flush) and the
 * first error; calls that succeeded are not repeated.
 */
export async function writeEnvironmentLookups(
  client: RedisClient,
  prefix: string,
  minute: number,
  environments: Record<string, { cache: number; database: number }>,
): Promise<{ unwritten: Record<string, { cache: number; database: number }>; error: unknown }> {
  const scripted = withScript(client);
  const chunks = deltaChunks(environments, CHUNK);
  const results = await Promise.allSettled(
    chunks.map(({ shard, lookups }) => {
      const base = rollupBase(prefix, shard);
      return scripted.hpHitRateRollup(`${base}state`, base, minute, ...deltaArguments(lookups));
    }),
  );
  const unwritten: Record<string, { cache: number; database: number }> = {};
  let error: unknown;
  results.forEach((result, i) => {
    if (result.status === "fulfilled") return;
    error ??= result.reason;
    for (const l of chunks[i].lookups) unwritten[l.environmentId] = { cache: l.cache, database: l.database };
  });
  return { unwritten, error };
}

export interface LowestHitRates {
  /** The lowest hit rates of the window, lowest first, with their lookups in the window. */
  environments: (RankedEnvironment & { cache: number; database: number })[];
  /** Environments with at least one lookup in the window. */
  active: number;
}

/**
 * The `k` environments with the lowest hit rate in `window`: per shard, slide the windows to
 * `minute`, read its lowest `k` and its size (one pipeline per shard), merge; then their counts.
 */
export async function readLowestHitRates(
  client: RedisClient,
  prefix: string,
  window: MetricsWindow,
  minute: number,
  k: number,
): Promise<LowestHitRates> {
  const scripted = withScript(client);
  const shards = Array.from({ length: ROLLUP_SHARDS }, (_, shard) => rollupBase(prefix, shard));
  const perShard = await Promise.all(
    shards.map(async (base) => {
      const replies = await scripted
        .pipeline()
        .hpHitRateRollup(`${base}state`, base, minute)
        .zrange(`${base}r:${window}`, "0", String(k - 1), "WITHSCORES")
        .zcard(`${base}r:${window}`)
        .exec();
      if (!replies) throw new Error("the hit-rate pipeline returned no replies");
      for (const [error] of replies) if (error) throw error;
      return { lowest: replies[1][1] as string[], size: Number(replies[2][1]) };
    }),
  );
  const lowest = mergeLowest(
    perShard.map((s) => s.lowest),
    k,
  );
  const counts = await Promise.all(
    lowest.map(({ environmentId }) => {
      const base = rollupBase(prefix, rollupShard(environmentId));
      return client.hmget(`${base}w:${window}`, `c:${environmentId}`, `d:${environmentId}`);
    }),
  );
  return {
    environments: lowest.map((entry, i) => ({ ...entry, cache: Number(counts[i][0] ?? 0), database: Number(counts[i][1] ?? 0) })),
    active: perShard.reduce((sum, s) => sum + s.size, 0),
  };
}

/** One environment's lookups in `window` as the roll-ups hold them (as of the shard's last write or read). */
export async function environmentLookups(
  client: RedisClient,
  prefix: string,
  window: MetricsWindow,
  environmentId: string,
): Promise<{ cache: number; database: number }> {
  const base = rollupBase(prefix, rollupShard(environmentId));
  const [cache, database] = await client.hmget(`${base}w:${window}`, `c:${environmentId}`, `d:${environmentId}`);
  return { cache: Number(cache ?? 0), database: Number(database ?? 0) };
}
