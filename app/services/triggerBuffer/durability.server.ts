import { getEnv } from "~/env.server";
import { parseRedisInfo } from "~/domain/redisInfo";
import { logger } from "~/services/logger.server";
import { readyBufferRedis } from "~/services/triggerBuffer/buffer.server";

/**
 * Whether the general Redis would keep buffered triggers through its own restart
 * (docs/operations.md, "Postgres outage"): AOF on. Without it, a Redis restart during a Postgres
 * outage loses everything buffered since the last snapshot.
 */

export const NO_PERSISTENCE_WARNING =
  "trigger buffering is on but the general Redis has no append-only file (appendonly no): buffered triggers would not survive a Redis restart";

/** The warning to show, or null (buffering off, AOF on, or Redis unreachable: /healthz reports that separately). */
export async function persistenceWarning(): Promise<string | null> {
  if (!getEnv().TRIGGER_BUFFER_ENABLED) return null;
  const redis = await readyBufferRedis();
  const info = parseRedisInfo(await redis.info("persistence"));
  return info.aof_enabled === "1" ? null : NO_PERSISTENCE_WARNING;
}

/** The startup log's warning; never throws. */
export async function warnWithoutPersistence(): Promise<void> {
  try {
    const warning = await persistenceWarning();
    if (warning) logger.warn(warning);
  } catch (error) {
    logger.warn("could not check the general Redis' persistence for the trigger buffer", { error });
  }
}
