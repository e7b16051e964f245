import { Cluster, Redis, type ClusterOptions, type RedisOptions } from "ioredis";
import { getEnv, type RedisConnectionConfig } from "~/env.server";
import { logger } from "~/services/logger.server";

/**
 * Redis connections. Nothing connects at import: `redis()` creates the general-purpose client on
 * first use (sessions, metrics buckets, webhook replay protection, admin pages), and
 * `createRedisClient` builds clients with caller-chosen options (the task metadata cache uses short
 * timeouts and no offline queue; see services/taskMetadata/instance.server.ts).
 */

export type RedisClient = Redis | Cluster;

export function createRedisClient(
  config: RedisConnectionConfig,
  options: RedisOptions = {},
  name = "redis",
): RedisClient {
  const common: RedisOptions = {
    username: config.username,
    password: config.password,
    tls: config.tls ? {} : undefined,
    connectionName: `hotpath:${name}`,
    ...options,
  };
  let client: RedisClient;
  if (config.clusterNodes?.length) {
    const clusterOptions: ClusterOptions = {
      redisOptions: common,
      enableOfflineQueue: options.enableOfflineQueue ?? true,
      // ioredis reads lazyConnect per node from redisOptions; the cluster itself needs its own.
      lazyConnect: options.lazyConnect ?? false,
      // Route reads and writes to masters: replicas may lag behind a replace.
      scaleReads: "master",
    };
    client = new Cluster(config.clusterNodes, clusterOptions);
  } else if (config.url) {
    client = new Redis(config.url, common);
  } else {
    client = new Redis({ host: config.host, port: config.port, ...common });
  }
  // ioredis emits "error" on every failed reconnect; log the first of a streak, not each one.
  let failing = false;
  client.on("error", (error: Error) => {
    if (failing) return;
    failing = true;
    logger.warn("redis connection error", { client: name, error });
  });
  client.on("ready", () => {
    if (failing) logger.info("redis connection restored", { client: name });
    failing = false;
  });
  return client;
}

let general: RedisClient | undefined;

/** The general-purpose Redis client, created on first use. */
export function redis(): RedisClient {
  general ??= createRedisClient(getEnv().redis, { maxRetriesPerRequest: 2 }, "general");
  return general;
}

/** The prefix of every key Hotpath writes (`REDIS_KEY_PREFIX`, default `tr:`). */
export function keyPrefix(): string {
  return getEnv().REDIS_KEY_PREFIX;
}

export async function disconnectRedis() {
  const client = general;
  general = undefined;
  if (client) await client.quit().catch(() => client.disconnect());
}
