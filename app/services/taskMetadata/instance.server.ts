import type { Redis } from "ioredis";
import { prisma, readPrisma, type PrismaClient } from "~/db.server";
import { getEnv } from "~/env.server";
import { noopCacheEventSink, type CacheEventSink } from "~/domain/cacheEvents";
import { CircuitBreaker } from "~/domain/circuitBreaker";
import { closeClient, createRedisClient, redisProfiles, whenReady, type RedisClient } from "~/redis.server";
import { InProcessTaskMetadataStore } from "~/services/taskMetadata/inProcessStore.server";
import {
  defaultInvalidationChannel,
  InvalidationSubscriber,
  publishInvalidation,
  subscriberConnection,
} from "~/services/taskMetadata/invalidation.server";
import { RedisTaskMetadataStore } from "~/services/taskMetadata/redisStore.server";
import {
  findCurrentTask,
  findCurrentTasks,
  findLockedTask,
  findLockedTasks,
  replicaFirstSource,
  singleFlightSource,
  type TaskMetadataSource,
} from "~/services/taskMetadata/sources.server";
import { NoopTaskMetadataStore, type TaskMetadataStore } from "~/services/taskMetadata/store.server";
import { markCacheEvent, markSourceTier } from "~/services/taskMetadata/spans.server";

/**
 * The process's task metadata cache, wired from the environment on first use (importing this
 * module connects nothing). It has its own Redis connections, separate from the general client:
 * the hot-path one fails fast (no offline queue, `TASK_META_CACHE_COMMAND_TIMEOUT_MS`, no
 * retries), so a Redis outage costs a trigger at most one short timeout before Postgres answers,
 * and nothing once the breaker is open. Replaces move whole hashes and get a connection with a
 * longer timeout, opened only when the first replace happens.
 *
 * In front of Redis sits the in-process tier (TASK_META_CACHE_L1_ENABLED, on by default) with its
 * own subscriber connection to the invalidation channel, opened when the tier is built. Every
 * replace of a current hash publishes on that channel whether or not this instance has a tier:
 * other instances may.
 */

let sink: CacheEventSink = noopCacheEventSink;

/** Where cache events go (the metrics module installs its sink at start-up). */
export function setCacheEventSink(next: CacheEventSink): void {
  sink = next;
}

/** Forwards to whatever sink is installed now, so a sink set after the cache was built still counts. */
export const cacheEvents: CacheEventSink = {
  record: (event, keyspace, count) => {
    sink.record(event, keyspace, count);
    markCacheEvent(event, keyspace);
  },
  observeResolve: (source, durationMs, environmentId) => sink.observeResolve(source, durationMs, environmentId),
};

const WRITE_TIMEOUT_MS = 10_000;

interface Instance {
  store: RedisTaskMetadataStore;
  /** What callers get: `store`, or {@link readsDisabled} over it. */
  served: TaskMetadataStore;
  clients: RedisClient[];
  /** The in-process tier and its subscription, when enabled. */
  l1?: InProcessTaskMetadataStore;
  subscriber?: InvalidationSubscriber;
  channel: string;
  writeClient: RedisClient;
}

/**
 * TASK_META_CACHE_DISABLED=true: every read misses and back-fills are skipped, so every trigger
 * asks Postgres (a kill switch, and the no-op variant of `npm run bench:http`). Replaces still
 * reach Redis: a promotion made while the cache is off must not leave a stale hash behind for
 * when it is turned back on.
 */
function readsDisabled(store: TaskMetadataStore): TaskMetadataStore {
  const noop = new NoopTaskMetadataStore();
  return {
    getCurrentTask: () => noop.getCurrentTask(),
    getCurrentTasks: (environmentId, slugs) => noop.getCurrentTasks(environmentId, slugs),
    getLockedTask: () => noop.getLockedTask(),
    getPinnedTask: () => noop.getPinnedTask(),
    getLockedTasks: (environmentId, version, requests) => noop.getLockedTasks(environmentId, version, requests),
    backfillCurrentTask: () => noop.backfillCurrentTask(),
    backfillCurrentTasks: () => noop.backfillCurrentTasks(),
    backfillLocked: () => noop.backfillLocked(),
    backfillPinned: () => noop.backfillPinned(),
    markNotDeployed: () => noop.markNotDeployed(),
    replaceCurrent: (environmentId, snapshot) => store.replaceCurrent(environmentId, snapshot),
    clearCurrent: (environmentId) => store.clearCurrent(environmentId),
    replaceWorker: (environmentId, snapshot) => store.replaceWorker(environmentId, snapshot),
  };
}

let instance: Instance | undefined;

/** A cache connection with the hot-path profile; exported so the benchmark's clients pay exactly what production pays. */
export function createCacheRedisClient(name: string, commandTimeoutMs = getEnv().TASK_META_CACHE_COMMAND_TIMEOUT_MS): RedisClient {
  return createRedisClient(getEnv().taskMetaCacheRedis, redisProfiles.hotPath(commandTimeoutMs), name);
}

function build(): Instance {
  const env = getEnv();
  const readClient = createCacheRedisClient("task-meta-cache");
  const writeClient = createCacheRedisClient("task-meta-cache-writes", WRITE_TIMEOUT_MS);
  const channel = env.TASK_META_CACHE_INVALIDATION_CHANNEL ?? defaultInvalidationChannel(env.REDIS_KEY_PREFIX);
  const store = new RedisTaskMetadataStore({
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
    onCurrentReplaced: (environmentId) => publishInvalidation(writeClient, channel, environmentId),
  });
  const tier = env.TASK_META_CACHE_DISABLED || !env.TASK_META_CACHE_L1_ENABLED ? undefined : inProcessTier(env, store, channel);
  return {
    store,
    served: env.TASK_META_CACHE_DISABLED ? readsDisabled(store) : tier?.l1 ?? store,
    clients: [readClient, writeClient],
    ...tier,
    channel,
    writeClient,
  };
}

/** The tier starts bypassed; its subscriber turns it on once SUBSCRIBE is confirmed. */
function inProcessTier(env: ReturnType<typeof getEnv>, store: TaskMetadataStore, channel: string) {
  const l1 = new InProcessTaskMetadataStore({
    store,
    maxEntries: env.TASK_META_CACHE_L1_MAX_ENTRIES,
    ttlMs: env.TASK_META_CACHE_L1_TTL_MS,
    events: cacheEvents,
  });
  const subscriber = new InvalidationSubscriber({
    channel,
    target: l1,
    createClient: (attempt) =>
      createRedisClient(
        subscriberConnection(env.taskMetaCacheRedis, attempt),
        redisProfiles.subscriber(Boolean(env.taskMetaCacheRedis.clusterNodes?.length)),
        "task-meta-invalidation",
      ) as Redis,
  });
  subscriber.start();
  return { l1, subscriber };
}

/** The env-wired cache store of this process (reads disabled with TASK_META_CACHE_DISABLED=true). */
export function taskMetadataCache(): TaskMetadataStore {
  instance ??= build();
  return instance.served;
}

/**
 * Opens the hot-path connection before the first trigger (server start-up). Without it the first
 * read after a start finds the connection still opening and, with no offline queue, fails open to
 * Postgres and counts a Redis error. Resolves true once connected, false after `timeoutMs` (Redis
 * down: the server starts anyway and the cache fails open). Never throws.
 */
export async function connectTaskMetadataCache(timeoutMs = 2_000): Promise<boolean> {
  instance ??= build();
  const [readClient] = instance.clients;
  return whenReady(readClient, timeoutMs);
}

/**
 * After a change to an environment's current hash made outside the store (admin invalidate,
 * field delete): drops this process's entries at once and tells every other instance.
 */
export async function publishCurrentHashChange(environmentId: string): Promise<void> {
  instance ??= build();
  instance.l1?.invalidateEnvironment(environmentId);
  await publishInvalidation(instance.writeClient, instance.channel, environmentId);
}

/** The invalidation subscriber of this process, if the tier is enabled (tests). */
export function taskMetadataInvalidationSubscriber(): InvalidationSubscriber | undefined {
  instance ??= build();
  return instance.subscriber;
}

/** Closes the cache's connections (tests, graceful shutdown); the next use builds a new instance. */
export async function disconnectTaskMetadataCache(): Promise<void> {
  const current = instance;
  instance = undefined;
  if (!current) return;
  await current.subscriber?.close();
  await Promise.all(current.clients.map(closeClient));
}

// ---- the miss-path source ---------------------------------------------------------------------

/**
 * The process's miss-path source, wired from the environment on first use: single-flight in front
 * of the read replica (DATABASE_READ_REPLICA_URL) with its primary re-check, or of the primary
 * alone. Single-flight is outermost, so concurrent misses also share a re-check on the primary.
 */

/** Looks the client up on every call, so a reconnect after disconnectDb() is picked up. */
function onDatabase(db: () => PrismaClient, tier: "replica" | "primary"): TaskMetadataSource {
  return {
    findCurrentTask: (environment, slug) => (markSourceTier(tier), findCurrentTask(db(), environment, slug)),
    findCurrentTasks: (environment, slugs) => (markSourceTier(tier), findCurrentTasks(db(), environment, slugs)),
    findLockedTask: (environmentId, worker, slug, overrideQueueName) => (
      markSourceTier(tier), findLockedTask(db(), environmentId, worker, slug, overrideQueueName)
    ),
    findLockedTasks: (environmentId, worker, requests) => (markSourceTier(tier), findLockedTasks(db(), environmentId, worker, requests)),
  };
}

let source: TaskMetadataSource | undefined;

export function taskMetadataSource(): TaskMetadataSource {
  if (!source) {
    const primary = onDatabase(prisma, "primary");
    source = singleFlightSource(
      getEnv().DATABASE_READ_REPLICA_URL ? replicaFirstSource({ replica: onDatabase(readPrisma, "replica"), primary }) : primary,
    );
  }
  return source;
}
