import { getEnv } from "~/env.server";
import { createRedisClient, type RedisClient } from "~/redis.server";
import { logger } from "~/services/logger.server";

/**
 * The API's own Redis connection, for the API-key cache and the webhook replay check. Commands are
 * never queued while disconnected and time out after TASK_META_CACHE_COMMAND_TIMEOUT_MS, so an
 * outage costs a request an immediate "unavailable" (auth then asks Postgres; a signed deploy gets
 * a 503) instead of waiting behind reconnect retries like the general client would.
 */

// Requests arriving while the first connection is set up wait this long for it instead of missing.
const CONNECT_WAIT_MS = 1_000;

let client: RedisClient | undefined;
let connecting: Promise<void> | undefined;

function isReady(c: RedisClient): boolean {
  return c.status === "ready";
}

/** The connected client, or undefined while Redis is unreachable. Never throws. */
export async function apiRedis(): Promise<RedisClient | undefined> {
  if (!client) {
    const env = getEnv();
    client = createRedisClient(
      env.redis,
      {
        lazyConnect: true,
        enableOfflineQueue: false,
        commandTimeout: env.TASK_META_CACHE_COMMAND_TIMEOUT_MS,
        maxRetriesPerRequest: 1,
      },
      "api",
    );
    connecting = client
      .connect()
      .catch((error: unknown) => logger.warn("api redis: first connect failed", { error }))
      .finally(() => (connecting = undefined));
  }
  if (isReady(client)) return client;
  if (connecting) {
    await Promise.race([connecting, new Promise((r) => setTimeout(r, CONNECT_WAIT_MS).unref())]);
    if (client && isReady(client)) return client;
  }
  return undefined;
}

/** Closes the connection (tests, scripts, shutdown); the next use opens a new one. */
export async function disconnectApiRedis(): Promise<void> {
  const current = client;
  client = undefined;
  connecting = undefined;
  if (current) await current.quit().catch(() => current.disconnect());
}
