import { isDatabaseUnavailable } from "~/domain/databaseOutage";
import { HotpathError } from "~/domain/errors";
import { httpError } from "~/httpError.server";
import { redirectWithFlash } from "~/services/flash.server";
import { logger } from "~/services/logger.server";

/**
 * Runs one admin action and answers the way every admin form expects: a redirect back to the page
 * with a flash message, success or failure, so a reload never repeats the POST. An unknown target
 * is a 404 page and a Postgres outage a 503 page; anything else (Redis down, a refused promotion)
 * is reported in the flash with its reason and logged once.
 */
export async function runAdminAction(
  what: string,
  redirectTo: string,
  run: () => Promise<string>,
): Promise<Response> {
  try {
    return await redirectWithFlash(redirectTo, { kind: "success", message: await run() });
  } catch (error) {
    if (error instanceof Response) throw error;
    if (error instanceof HotpathError && error.status === 404) {
      throw httpError(404, error.message);
    }
    if (isDatabaseUnavailable(error)) {
      logger.error("admin action failed: postgres unreachable", { action: what, error });
      throw httpError(503, `${what} failed: Postgres is unreachable. Nothing was changed in Postgres; try again once it is back.`);
    }
    if (!(error instanceof HotpathError)) logger.error("admin action failed", { action: what, error });
    return redirectWithFlash(redirectTo, { kind: "error", message: `${what} failed: ${reason(error)}` });
  }
}

function reason(error: unknown): string {
  if (error instanceof HotpathError) return error.message;
  const messages: string[] = [];
  for (let e: unknown = error; e instanceof Error && messages.length < 3; e = e.cause) messages.push(e.message);
  return messages.length ? messages.join(": ") : String(error);
}
