import { isDatabaseUnavailable } from "~/domain/databaseOutage";
import { httpError } from "~/httpError.server";
import { logger } from "~/services/logger.server";

/**
 * Loads an admin page's read model and turns a Postgres outage into a 503 the page's error boundary
 * explains ("Postgres is unreachable…"), instead of a generic 500. Redis problems never come
 * through here: the presenters report those inside the data so the page still shows Postgres' side.
 */
export async function loadPageData<T>(page: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    if (error instanceof Response) throw error;
    if (isDatabaseUnavailable(error)) {
      logger.error("admin page unavailable: postgres unreachable", { page, error });
      throw httpError(503, "Postgres is unreachable, so this page cannot be shown. Check the database (GET /healthz says which dependency is down) and reload.");
    }
    throw error;
  }
}

/**
 * The notice an admin page shows when the cache's Redis cannot be read (the rest of the page,
 * from Postgres, still renders). Logged once per page load with the underlying error.
 */
export function redisUnavailableNotice(page: string, error: unknown): string {
  logger.warn("admin page: redis unavailable", { page, error });
  const code = (error as { code?: unknown })?.code;
  const reason =
    code === "ECONNREFUSED"
      ? "connection refused"
      : typeof code === "string"
        ? `connection failed (${code})`
        : error instanceof Error && /timed? ?out/i.test(error.message)
          ? "no answer in time"
          : error instanceof Error && /max retries|Connection is closed|enableOfflineQueue/i.test(error.message)
            ? "not connected"
            : "command failed";
  return `Redis (the task metadata cache) is unavailable: ${reason}. Cache contents cannot be shown until it is reachable again; everything from Postgres below is current.`;
}
