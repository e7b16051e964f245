import { z } from "zod";
import { isDatabaseUnavailable } from "~/domain/databaseOutage";
import { HotpathError, TooManyRequestsError } from "~/domain/errors";
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

export function errorResponse(error: unknown, request: { method: string; path: string }): ApiResponse {
  if (error instanceof HotpathError) {
    const body: ErrorBody = { error: error.message };
    if (error.details !== undefined) body.details = error.details;
    return json(error.status, body, error instanceof TooManyRequestsError ? { "retry-after": String(error.retryAfterSeconds) } : {});
  }
  if (error instanceof z.ZodError) {
    return json(400, { error: "Invalid request body", details: zodDetails(error) } satisfies ErrorBody);
  }
  if (isDatabaseUnavailable(error)) {
    logger.error("api request failed: database unavailable", { method: request.method, path: request.path, error });
    return json(503, { error: DATABASE_UNAVAILABLE } satisfies ErrorBody);
  }
  logger.error("api request failed", { method: request.method, path: request.path, error });
  return json(500, { error: "Internal server error" } satisfies ErrorBody);
}
