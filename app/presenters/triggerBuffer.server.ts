import { getEnv } from "~/env.server";
import { logger } from "~/services/logger.server";
import { bufferStats } from "~/services/triggerBuffer/buffer.server";
import { persistenceWarning } from "~/services/triggerBuffer/durability.server";

/** The admin overview's trigger buffer section: depth, oldest entry, drain rate, durability. */
export type TriggerBufferOverview =
  | { enabled: false }
  | { enabled: true; available: false }
  | { enabled: true; available: true; depth: number; oldestAgeSeconds: number; drainedPerSecond: number; warning: string | null; max: number; shards: number };

export async function getTriggerBufferOverview(): Promise<TriggerBufferOverview> {
  const env = getEnv();
  if (!env.TRIGGER_BUFFER_ENABLED) return { enabled: false };
  try {
    const [stats, warning] = await Promise.all([bufferStats(), persistenceWarning()]);
    return {
      enabled: true,
      available: true,
      depth: stats.depth,
      oldestAgeSeconds: Math.round(stats.oldestAgeMs / 1000),
      drainedPerSecond: Math.round(stats.drainedPerSecond * 10) / 10,
      warning,
      max: env.TRIGGER_BUFFER_MAX,
      shards: env.TRIGGER_BUFFER_SHARDS,
    };
  } catch (error) {
    logger.warn("admin overview: trigger buffer unreadable", { error });
    return { enabled: true, available: false };
  }
}
