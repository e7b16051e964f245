import type { Cluster, Redis, Result } from "ioredis";

/**
 * Lua scripts of the task metadata cache, registered on a client with ioredis `defineCommand`.
 * Every script receives only keys of one environment (one hash tag, so one Cluster slot).
 *
 * Replaces never carry a worker's tasks as script arguments: the caller first stages the new
 * hashes under temporary keys of the same tag with chunked HSETs (no argument-count or Lua
 * `unpack` limit, no long-running script), then `tmCommitReplace` checks the staged field counts
 * and RENAMEs them into place. Readers see the old hash or the new one, never a partial or empty
 * intermediate state.
 */

/**
 * KEYS: stagedCurrent, stagedLocked, locked, current, owner
 * ARGV: expectedCurrent, expectedLocked, workerId, workerTtlSeconds, withCurrent ("1"/"0"), currentTtlMs
 * The staged locked hash holds the worker id, its tasks and its queue associations (cacheKeys.ts);
 * the staged current hash (promotions only) the same tasks under their bare slugs. Returns the
 * number of current-hash fields now in place. Fails with STAGING_INCOMPLETE (changing nothing but
 * dropping the staged keys) when a staged hash does not hold the expected number of fields (a
 * staging write failed, or the staged keys expired).
 */
const COMMIT_REPLACE = `
local expectedCurrent = tonumber(ARGV[1])
local withCurrent = ARGV[5] == '1'
if redis.call('HLEN', KEYS[2]) ~= tonumber(ARGV[2]) or (withCurrent and redis.call('HLEN', KEYS[1]) ~= expectedCurrent) then
  redis.call('DEL', KEYS[1], KEYS[2])
  return redis.error_reply('STAGING_INCOMPLETE staged hashes do not hold the expected fields')
end
local workerId = ARGV[3]
local workerTtl = tonumber(ARGV[4])
local currentTtl = tonumber(ARGV[6])

if withCurrent then
  if expectedCurrent > 0 then
    redis.call('RENAME', KEYS[1], KEYS[4])
    if currentTtl > 0 then redis.call('PEXPIRE', KEYS[4], currentTtl) else redis.call('PERSIST', KEYS[4]) end
  else
    redis.call('DEL', KEYS[4])
  end
  if currentTtl > 0 then redis.call('SET', KEYS[5], workerId, 'PX', currentTtl) else redis.call('SET', KEYS[5], workerId) end
end

redis.call('RENAME', KEYS[2], KEYS[3])
if workerTtl > 0 then redis.call('EXPIRE', KEYS[3], workerTtl) else redis.call('PERSIST', KEYS[3]) end
return expectedCurrent
`;

/**
 * The environment has no current worker: empty the current hash and record that in the owner, so
 * back-fills of "no such task" can still be cached until a worker becomes current.
 * KEYS: current, owner   ARGV: noWorkerMarker, currentTtlMs
 */
const CLEAR_CURRENT = `
redis.call('DEL', KEYS[1])
local ttl = tonumber(ARGV[2])
if ttl > 0 then redis.call('SET', KEYS[2], ARGV[1], 'PX', ttl) else redis.call('SET', KEYS[2], ARGV[1]) end
return 1
`;

/**
 * Single-field upserts into the current hash, applied only while the owner is the worker the
 * back-filler read from Postgres, so a promotion that replaced the hash in the meantime wins.
 * Without an owner (the hash expired or was invalidated) the back-filler's worker becomes the
 * owner of a fresh hash. A back-fill never extends the hash's TTL; a hash it creates inherits
 * the owner's remaining TTL.
 * KEYS: current, owner   ARGV: expectedOwner, currentTtlMs, field1, value1, ...
 * Returns 1 when written, 0 when the owner did not match.
 */
const BACKFILL_CURRENT = `
local owner = redis.call('GET', KEYS[2])
if not owner then
  redis.call('DEL', KEYS[1])
  local ttl = tonumber(ARGV[2])
  if ttl > 0 then redis.call('SET', KEYS[2], ARGV[1], 'PX', ttl) else redis.call('SET', KEYS[2], ARGV[1]) end
elseif owner ~= ARGV[1] then
  return 0
end
for i = 3, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
if redis.call('PTTL', KEYS[1]) == -1 then
  local ownerTtl = redis.call('PTTL', KEYS[2])
  if ownerTtl > 0 then redis.call('PEXPIRE', KEYS[1], ownerTtl) end
end
return 1
`;

/**
 * Upserts into a locked hash, guarded by its worker: written only when the hash belongs to the
 * worker the back-filler read from Postgres, or holds no worker yet (then it becomes that worker's).
 * Slides the hash's TTL.
 * KEYS: locked   ARGV: workerId, ttlSeconds, field1, value1, ...
 * Returns 1 when written, 0 when the hash belongs to another worker.
 */
const BACKFILL_LOCKED = `
local owner = redis.call('HGET', KEYS[1], 'w')
if owner and owner ~= ARGV[1] then return 0 end
if not owner then redis.call('HSET', KEYS[1], 'w', ARGV[1]) end
for i = 3, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
local ttl = tonumber(ARGV[2])
if ttl > 0 then redis.call('EXPIRE', KEYS[1], ttl) end
return 1
`;

/**
 * Points an external deployment id at a worker whose locked hash was just committed: copies the
 * locked hash to the pinned key and records the version and generation there
 * (docs/decisions/0070-pinned-hash-by-external-id.md). Set-if-newer: a pinned hash holding a
 * higher generation is left alone, so an older deploy's late write never undoes a forced
 * re-deploy. A negative entry (`w` = "-") or a back-filled hash (no generation) is replaced.
 * KEYS: locked, pinned   ARGV: workerId, version, generation, ttlSeconds
 * Returns 1 when written, 0 when refused (the locked hash is not that worker's, or newer is held).
 */
const PIN_EXTERNAL = `
if redis.call('HGET', KEYS[1], 'w') ~= ARGV[1] then return 0 end
local held = tonumber(redis.call('HGET', KEYS[2], 's') or '0')
if held > tonumber(ARGV[3]) then return 0 end
redis.call('COPY', KEYS[1], KEYS[2], 'REPLACE')
redis.call('HSET', KEYS[2], 'v', ARGV[2], 's', ARGV[3])
local ttl = tonumber(ARGV[4])
if ttl > 0 then redis.call('EXPIRE', KEYS[2], ttl) else redis.call('PERSIST', KEYS[2]) end
return 1
`;

/**
 * The short negative entry of an external id no worker has yet: written only where nothing is, so
 * a deploy's pin that landed first is never hidden. KEYS: pinned   ARGV: marker, ttlMs
 * Returns 1 when written.
 */
const PIN_ABSENT = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'w', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`;

declare module "ioredis" {
  interface RedisCommander<Context> {
    tmCommitReplace(
      stagedCurrent: string,
      stagedLocked: string,
      locked: string,
      current: string,
      owner: string,
      expectedCurrent: number,
      expectedLocked: number,
      workerId: string,
      workerTtlSeconds: number,
      withCurrent: "1" | "0",
      currentTtlMs: number,
    ): Result<number, Context>;
    tmClearCurrent(current: string, owner: string, noWorkerMarker: string, currentTtlMs: number): Result<number, Context>;
    tmBackfillCurrent(
      current: string,
      owner: string,
      expectedOwner: string,
      currentTtlMs: number,
      ...fieldsAndValues: string[]
    ): Result<number, Context>;
    tmBackfillLocked(locked: string, workerId: string, ttlSeconds: number, ...fieldsAndValues: string[]): Result<number, Context>;
    tmPinExternal(locked: string, pinned: string, workerId: string, version: string, generation: number, ttlSeconds: number): Result<number, Context>;
    tmPinAbsent(pinned: string, marker: string, ttlMs: number): Result<number, Context>;
  }
}

const registered = new WeakSet<object>();

/** Defines the scripts on `client` once (idempotent per client). */
export function defineTaskMetadataScripts(client: Redis | Cluster): void {
  if (registered.has(client)) return;
  client.defineCommand("tmCommitReplace", { numberOfKeys: 5, lua: COMMIT_REPLACE });
  client.defineCommand("tmClearCurrent", { numberOfKeys: 2, lua: CLEAR_CURRENT });
  client.defineCommand("tmBackfillCurrent", { numberOfKeys: 2, lua: BACKFILL_CURRENT });
  client.defineCommand("tmBackfillLocked", { numberOfKeys: 1, lua: BACKFILL_LOCKED });
  client.defineCommand("tmPinExternal", { numberOfKeys: 2, lua: PIN_EXTERNAL });
  client.defineCommand("tmPinAbsent", { numberOfKeys: 1, lua: PIN_ABSENT });
  registered.add(client);
}
