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
 * KEYS: stagedTasks, stagedQueues, worker, queues, versions, current, owner
 * ARGV: expectedTasks, expectedQueues, workerId, version, workerTtlSeconds, withCurrent ("1"/"0"), currentTtlMs
 * Returns the number of task fields now in place. Fails with STAGING_INCOMPLETE (changing nothing
 * but dropping the staged keys) when the staged hashes do not hold the expected number of fields
 * (a staging write failed, or the staged keys expired).
 */
const COMMIT_REPLACE = `
local expectedTasks = tonumber(ARGV[1])
local expectedQueues = tonumber(ARGV[2])
if redis.call('HLEN', KEYS[1]) ~= expectedTasks or redis.call('HLEN', KEYS[2]) ~= expectedQueues then
  redis.call('DEL', KEYS[1], KEYS[2])
  return redis.error_reply('STAGING_INCOMPLETE staged hashes do not hold the expected fields')
end
local workerId = ARGV[3]
local version = ARGV[4]
local workerTtl = tonumber(ARGV[5])
local withCurrent = ARGV[6] == '1'
local currentTtl = tonumber(ARGV[7])

local function expireSeconds(key, ttl)
  if ttl > 0 then redis.call('EXPIRE', key, ttl) else redis.call('PERSIST', key) end
end

if expectedTasks > 0 then
  if withCurrent then
    redis.call('COPY', KEYS[1], KEYS[6], 'REPLACE')
    if currentTtl > 0 then redis.call('PEXPIRE', KEYS[6], currentTtl) else redis.call('PERSIST', KEYS[6]) end
  end
  redis.call('RENAME', KEYS[1], KEYS[3])
  expireSeconds(KEYS[3], workerTtl)
else
  redis.call('DEL', KEYS[3])
  if withCurrent then redis.call('DEL', KEYS[6]) end
end

if expectedQueues > 0 then
  redis.call('RENAME', KEYS[2], KEYS[4])
  expireSeconds(KEYS[4], workerTtl)
else
  redis.call('DEL', KEYS[4])
end

redis.call('HSET', KEYS[5], version, workerId)
expireSeconds(KEYS[5], workerTtl)

if withCurrent then
  if currentTtl > 0 then redis.call('SET', KEYS[7], workerId, 'PX', currentTtl) else redis.call('SET', KEYS[7], workerId) end
end
return expectedTasks
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
 * Upserts into a per-worker hash (worker, queues or versions) and slides its TTL.
 * KEYS: hash   ARGV: ttlSeconds, field1, value1, ...
 */
const BACKFILL_SLIDING = `
for i = 2, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
local ttl = tonumber(ARGV[1])
if ttl > 0 then redis.call('EXPIRE', KEYS[1], ttl) end
return 1
`;

declare module "ioredis" {
  interface RedisCommander<Context> {
    tmCommitReplace(
      stagedTasks: string,
      stagedQueues: string,
      worker: string,
      queues: string,
      versions: string,
      current: string,
      owner: string,
      expectedTasks: number,
      expectedQueues: number,
      workerId: string,
      version: string,
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
    tmBackfillSliding(hash: string, ttlSeconds: number, ...fieldsAndValues: string[]): Result<number, Context>;
  }
}

const registered = new WeakSet<object>();

/** Defines the scripts on `client` once (idempotent per client). */
export function defineTaskMetadataScripts(client: Redis | Cluster): void {
  if (registered.has(client)) return;
  client.defineCommand("tmCommitReplace", { numberOfKeys: 7, lua: COMMIT_REPLACE });
  client.defineCommand("tmClearCurrent", { numberOfKeys: 2, lua: CLEAR_CURRENT });
  client.defineCommand("tmBackfillCurrent", { numberOfKeys: 2, lua: BACKFILL_CURRENT });
  client.defineCommand("tmBackfillSliding", { numberOfKeys: 1, lua: BACKFILL_SLIDING });
  registered.add(client);
}
