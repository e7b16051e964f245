import { Cluster, Redis, type ClusterOptions, type RedisOptions } from "ioredis";
import { getEnv, type RedisConnectionConfig } from "~/env.server";
import { logger } from "~/services/logger.server";

/**
 * Redis connections. Nothing connects at import: `redis()` creates the general-purpose client on
 * first use (sessions, metrics buckets, webhook replay protection, admin pages), and
 * `createRedisClient` builds the other clients from one of the named {@link redisProfiles}.
 * `whenReady` and `closeClient` are the one way to wait for, and to close, any of them.
 */

export type RedisClient = Redis | Cluster;

/**
 * How each kind of connection behaves when Redis is slow or gone. One place, so that a reader can
 * compare them and no caller invents a fifth.
 */
export const redisProfiles = {
  /** Sessions, metrics buckets, login throttle: a command survives a blip (two retries, queued while reconnecting). */
  general: (): RedisOptions => ({ maxRetriesPerRequest: 2 }),

  /**
   * The task-metadata cache on the trigger path: fails fast (no offline queue, no retries, the
   * given command timeout), so Redis trouble costs a trigger one short wait, never a queue.
   */
  hotPath: (commandTimeoutMs: number): RedisOptions => ({
    lazyConnect: true,
    enableOfflineQueue: false,
    commandTimeout: commandTimeoutMs,
    maxRetriesPerRequest: 0,
    connectTimeout: 2_000,
  }),

  /**
   * The API-key cache and webhook replay check: never queued while disconnected, one retry, so an
   * outage costs a request an immediate "unavailable" (auth then asks Postgres).
   */
  apiKeys: (commandTimeoutMs: number): RedisOptions => ({
    lazyConnect: true,
    enableOfflineQueue: false,
    commandTimeout: commandTimeoutMs,
    maxRetriesPerRequest: 1,
  }),

  /**
   * The trigger buffer (general Redis) and its drainer: used while Postgres is down, so a Redis
   * that is down too must cost a trigger one short wait and a clear 503, never a queue.
   */
  triggerBuffer: (commandTimeoutMs: number): RedisOptions => ({
    lazyConnect: true,
    enableOfflineQueue: false,
    commandTimeout: commandTimeoutMs,
    maxRetriesPerRequest: 1,
    connectTimeout: 2_000,
    retryStrategy: (attempt) => Math.min(attempt * 100, 1_000),
  }),

  /**
   * Admin pages and repairs: fail within about a second when Redis is down so the page can say so
   * instead of hanging (a queued command fails after one more reconnect attempt, and attempts stay
   * 500 ms apart; ioredis' default back-off grows to 2 s, which a page load would wait through twice).
   */
  admin: (): RedisOptions => ({
    lazyConnect: true,
    commandTimeout: 3_000,
    connectTimeout: 2_000,
    maxRetriesPerRequest: 1,
    retryStrategy: (attempt) => Math.min(attempt * 100, 500),
  }),

  /**
   * A pub/sub subscriber that resubscribes itself (InvalidationSubscriber), so ioredis must not
   * replay anything. `rotating`: on a cluster, a seed node that stays unreachable is given up on
   * so that the next one is tried.
   */
  subscriber: (rotating: boolean): RedisOptions => ({
    lazyConnect: true,
    autoResubscribe: false,
    autoResendUnfulfilledCommands: false,
    enableOfflineQueue: false,
    connectTimeout: 2_000,
    // Bounds the wait for SUBSCRIBE's confirmation; without it the tier stays off.
    commandTimeout: 5_000,
    retryStrategy: (times) => (rotating && times > 5 ? null : Math.min(times * 100, 1_000)),
  }),
} as const;

export function createRedisClient(config: RedisConnectionConfig, profile: RedisOptions, name: string): RedisClient {
  const common: RedisOptions = {
    username: config.username,
    password: config.password,
    tls: config.tls ? {} : undefined,
    connectionName: `hotpath:${name}`,
    ...profile,
  };
  let client: RedisClient;
  if (config.clusterNodes?.length) {
    const clusterOptions: ClusterOptions = {
      redisOptions: common,
      enableOfflineQueue: profile.enableOfflineQueue ?? true,
      // ioredis reads lazyConnect per node from redisOptions; the cluster itself needs its own.
      lazyConnect: profile.lazyConnect ?? false,
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

/**
 * Waits until `client` can take a command: connects a lazy client, waits for one that is
 * (re)connecting. True once ready; false after `timeoutMs` or when the connection ends for good.
 * Never throws: a failed connect is logged by the client's error handler and the caller decides
 * (fail open, answer "unavailable").
 */
export function whenReady(client: RedisClient, timeoutMs: number): Promise<boolean> {
  if (client.status === "ready") return Promise.resolve(true);
  if (client.status === "end") return Promise.resolve(false);
  const waiting = new Promise<boolean>((resolve) => {
    const done = (ready: boolean) => {
      clearTimeout(timer);
      client.off("ready", onReady);
      client.off("end", onEnd);
      resolve(ready);
    };
    const onReady = () => done(true);
    const onEnd = () => done(false);
    const timer = setTimeout(() => done(false), timeoutMs);
    timer.unref();
    client.once("ready", onReady);
    client.once("end", onEnd);
  });
  if (client.status === "wait") client.connect().catch(() => {});
  return waiting;
}

// QUIT waits for Redis' reply, and a closing socket for its close; neither may hold a shutdown up.
const CLOSE_TIMEOUT_MS = 1_000;

/**
 * Closes `client` for good: QUIT when connected, so that replies still pending arrive first;
 * otherwise, or when QUIT gets no answer in time, the socket and any reconnect timer are dropped
 * at once. Resolves once a socket that was open has closed (status "end"). Never throws.
 */
export async function closeClient(client: RedisClient): Promise<void> {
  if (statusOf(client) === "end") return;
  const ended = new Promise<void>((resolve) => client.once("end", () => resolve()));
  if (client.status === "ready") await withinCloseTimeout(client.quit().then(() => ended, () => undefined));
  // A client between reconnect attempts has no socket: dropping its timer is all there is to close.
  const socketOpen = ["connect", "connecting", "ready"].includes(statusOf(client));
  if (statusOf(client) !== "end") client.disconnect();
  if (socketOpen) await withinCloseTimeout(ended);
}

async function withinCloseTimeout(promise: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_TIMEOUT_MS)));
  await Promise.race([promise, timeout]);
  clearTimeout(timer);
}

function statusOf(client: RedisClient): string {
  return client.status;
}

let general: RedisClient | undefined;

/** The general-purpose Redis client, created on first use. */
export function redis(): RedisClient {
  general ??= createRedisClient(getEnv().redis, redisProfiles.general(), "general");
  return general;
}

/** The prefix of every key Hotpath writes (`REDIS_KEY_PREFIX`, default `tr:`). */
export function keyPrefix(): string {
  return getEnv().REDIS_KEY_PREFIX;
}

export async function disconnectRedis() {
  const client = general;
  general = undefined;
  if (client) await closeClient(client);
}
