import { getEnv } from "~/env.server";
import { noopCacheEventSink, type CacheEventSink } from "~/domain/cacheEvents";
import { CircuitBreaker } from "~/domain/circuitBreaker";
import { createRedisClient, type RedisClient } from "~/redis.server";
import { TaskMetadataCache, type TaskMetadataCacheStore } from "~/services/taskMetadataCache.server";

/**
 * The process's task metadata cache, wired from the environment on first use (importing this
 * module connects nothing). It has its own Redis connections, separate from the general client:
 * the hot-path one fails fast (no offline queue, `TASK_META_CACHE_COMMAND_TIMEOUT_MS`, no
 * retries), so a Redis outage costs a trigger at most one short timeout before Postgres answers,
 * and nothing once the breaker is open. Replaces move whole hashes and get a connection with a
 * longer timeout, opened only when the first replace happens.
 */

let sink: CacheEventSink = noopCacheEventSink;

/** Where cache events go (the metrics module installs its sink at start-up). */
export function setCacheEventSink(next: CacheEventSink): void {
  sink = next;
}

/** Forwards to whatever sink is installed now, so a sink set after the cache was built still counts. */
export const cacheEvents: CacheEventSink = {
  record: (event, keyspace, count) => sink.record(event, keyspace, count),
  observeResolve: (source, durationMs, environmentId) => sink.observeResolve(source, durationMs, environmentId),
};

const WRITE_TIMEOUT_MS = 10_000;

interface Instance {
  store: TaskMetadataCache;
  clients: RedisClient[];
}

let instance: Instance | undefined;

function build(): Instance {
  const env = getEnv();
  const readClient = createRedisClient(
    env.taskMetaCacheRedis,
    {
      lazyConnect: true,
      enableOfflineQueue: false,
      commandTimeout: env.TASK_META_CACHE_COMMAND_TIMEOUT_MS,
      maxRetriesPerRequest: 0,
      connectTimeout: 2_000,
    },
    "task-meta-cache",
  );
  const writeClient = createRedisClient(
    env.taskMetaCacheRedis,
    {
      lazyConnect: true,
      enableOfflineQueue: false,
      commandTimeout: WRITE_TIMEOUT_MS,
      maxRetriesPerRequest: 0,
      connectTimeout: 2_000,
    },
    "task-meta-cache-writes",
  );
  const store = new TaskMetadataCache({
    client: readClient,
    writeClient,
    prefix: env.REDIS_KEY_PREFIX,
    currentTtlSeconds: env.TASK_META_CACHE_CURRENT_ENV_TTL_SECONDS,
    workerTtlSeconds: env.TASK_META_CACHE_BY_WORKER_TTL_SECONDS,
    commandTimeoutMs: env.TASK_META_CACHE_COMMAND_TIMEOUT_MS,
    writeTimeoutMs: WRITE_TIMEOUT_MS,
    breaker: new CircuitBreaker({
      failureThreshold: env.TASK_META_CACHE_BREAKER_FAILURES,
      cooldownMs: env.TASK_META_CACHE_BREAKER_COOLDOWN_MS,
    }),
    events: cacheEvents,
  });
  return { store, clients: [readClient, writeClient] };
}

/** The env-wired cache store of this process. */
export function taskMetadataCache(): TaskMetadataCacheStore {
  instance ??= build();
  return instance.store;
}

/** Closes the cache's connections (tests, graceful shutdown); the next use builds a new instance. */
export async function disconnectTaskMetadataCache(): Promise<void> {
  const current = instance;
  instance = undefined;
  if (!current) return;
  await Promise.all(
    current.clients.map((client) =>
      client.status === "wait" || client.status === "end"
        ? client.disconnect()
        : client.quit().then(() => undefined, () => client.disconnect()),
    ),
  );
}
