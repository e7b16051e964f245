import { getEnv } from "~/env.server";
import { closeClient, createRedisClient, redisProfiles, whenReady, type RedisClient } from "~/redis.server";

/**
 * The API's own Redis connection, for the API-key cache and the webhook replay check. Commands are
 * never queued while disconnected and time out after TASK_META_CACHE_COMMAND_TIMEOUT_MS, so an
 * outage costs a request an immediate "unavailable" (auth then asks Postgres; a signed deploy gets
 * a 503) instead of waiting behind reconnect retries like the general client would.
 */

// Requests arriving while the first connection is set up wait this long for it instead of missing.
const CONNECT_WAIT_MS = 1_000;

let client: RedisClient | undefined;
let firstConnect: Promise<boolean> | undefined;

/** The connected client, or undefined while Redis is unreachable. Never throws. */
export async function apiRedis(): Promise<RedisClient | undefined> {
  if (!client) {
    const env = getEnv();
    client = createRedisClient(env.redis, redisProfiles.apiKeys(env.TASK_META_CACHE_COMMAND_TIMEOUT_MS), "api");
    const opening = whenReady(client, CONNECT_WAIT_MS);
    firstConnect = opening;
    void opening.finally(() => {
      if (firstConnect === opening) firstConnect = undefined;
    });
  }
  if (client.status === "ready") return client;
  // Only the first connection is waited for: while Redis is down, a request gets "unavailable" at once.
  const connected = firstConnect ? await firstConnect : false;
  return connected ? client : undefined;
}

/** Closes the connection (tests, scripts, shutdown); the next use opens a new one. */
export async function disconnectApiRedis(): Promise<void> {
  const current = client;
  client = undefined;
  firstConnect = undefined;
  if (current) await closeClient(current);
}
