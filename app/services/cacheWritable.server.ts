import { logger } from "~/services/logger.server";
import { taskMetadataCacheAdmin, type TaskMetadataCacheAdmin } from "~/services/taskMetadata/admin.server";

/**
 * Whether the admin's write actions (promote, roll back, rebuild, invalidate, delete a field)
 * can reach the cache's Redis now: a PING on the admin connection, bounded so a hung Redis costs
 * a page at most `timeoutMs`. Null when writable, otherwise the reason a page shows beside the
 * disabled buttons.
 */

const DEFAULT_TIMEOUT_MS = 500;

export async function cacheWriteBlocker(deps: { admin?: TaskMetadataCacheAdmin; timeoutMs?: number } = {}): Promise<string | null> {
  const admin = deps.admin ?? taskMetadataCacheAdmin();
  const timeoutMs = deps.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      admin.client.ping(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]);
    return null;
  } catch (error) {
    logger.warn("admin write actions disabled: the cache's Redis does not answer", { error });
    const why = error instanceof Error && /no answer within/.test(error.message) ? "it did not answer in time" : "it cannot be reached";
    return `Disabled while Redis (the task metadata cache) is unreachable: ${why}. These actions write the cache; try again once GET /healthz reports Redis up.`;
  } finally {
    clearTimeout(timer);
  }
}
