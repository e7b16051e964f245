import { z } from "zod";
import { isDatabaseUnavailable } from "~/domain/databaseOutage";
import { HotpathError, InProgressError, ServiceUnavailableError, TooManyRequestsError } from "~/domain/errors";
import { logger } from "~/services/logger.server";
import { json, type ApiResponse } from "./http";

/**
 * The one place where a thrown error becomes an HTTP response (docs/api.md, "Errors"): typed errors keep their
 * status and message, zod errors are 400s with their issues, a database outage is a 503 that says
 * so, and only a bug is a 500 — logged here once with the request it broke.
 */

export interface ErrorBody {
  error: string;
  details?: unknown;
}

export const DATABASE_UNAVAILABLE = "The database is unavailable; try again shortly";

/** zod issues as `{ path, message }` — stable, small, and free of zod's internal fields. */
export function zodDetails(error: z.ZodError) {
  return error.issues.map((issue) => ({ path: issue.path.join("."), message: issue.message }));
}

/**
 * The SDK retries 409s and 5xx unless told otherwise: a client error here is permanent, so it says
 * `x-should-retry: false`; an outage says when to come back (`retry-after`, seconds).
 */
export const PERMANENT = { "x-should-retry": "false" } as const;
export const RETRY_AFTER_SECONDS = 1;
const TRANSIENT = { "x-should-retry": "true", "retry-after": String(RETRY_AFTER_SECONDS) } as const;

/** zod's first issue as a sentence naming its field (`options.machine: Invalid option …`). */
function zodSummary(error: z.ZodError): string {
  const issue = error.issues[0];
  const path = issue?.path.join(".");
  return issue ? `Invalid request body: ${path ? `${path}: ` : ""}${issue.message}` : "Invalid request body";
}

export function errorResponse(error: unknown, request: { method: string; path: string }): ApiResponse {
  if (error instanceof HotpathError) {
    const body: ErrorBody = { error: error.message };
    if (error.details !== undefined) body.details = error.details;
    const headers =
      error instanceof TooManyRequestsError || error instanceof InProgressError || (error instanceof ServiceUnavailableError && error.retryAfterSeconds !== undefined)
        ? { "x-should-retry": "true", "retry-after": String(error.retryAfterSeconds!) }
        : error.status === 503
          ? TRANSIENT
          : PERMANENT;
    return json(error.status, body, headers);
  }
  if (error instanceof z.ZodError) {
    return json(400, { error: zodSummary(error), details: zodDetails(error) } satisfies ErrorBody, PERMANENT);
  }
  if (isDatabaseUnavailable(error)) {
    logger.error("api request failed: database unavailable", { method: request.method, path: request.path, error });
    return json(503, { error: DATABASE_UNAVAILABLE } satisfies ErrorBody, TRANSIENT);
  }
  logger.error("api request failed", { method: request.method, path: request.path, error });
  return json(500, { error: "Internal server error" } satisfies ErrorBody);
}
