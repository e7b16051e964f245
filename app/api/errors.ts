import { z } from "zod";
import { HotpathError } from "~/domain/errors";
import { logger } from "~/services/logger.server";
import { json, type ApiResponse } from "./http";

/**
 * The one place where a thrown error becomes an HTTP response (SPEC §5): typed errors keep their
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

// Socket-level failures (pg and ioredis carry Node's errno codes).
const CONNECTION_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ENOTFOUND", "EAI_AGAIN", "EHOSTUNREACH", "EPIPE"]);
// Postgres SQLSTATEs meaning "the server cannot serve you now": 08xxx connection exceptions,
// 53300 too many connections, 57P01–57P03 shutdown/crash recovery, 3D000 database missing.
const POSTGRES_UNAVAILABLE = /^(08...|53300|57P0[123]|3D000)$/;
// Prisma: P1001 unreachable, P1002 timeout, P1003 database missing, P1008 operation timeout,
// P1017 server closed the connection, P2024 pool timeout.
const PRISMA_UNAVAILABLE = new Set(["P1001", "P1002", "P1003", "P1008", "P1017", "P2024"]);
// The pg driver adapter's classification of the same failures (in `meta.driverAdapterError.cause`).
const ADAPTER_UNAVAILABLE = new Set([
  "DatabaseNotReachable",
  "DatabaseDoesNotExist",
  "ConnectionClosed",
  "SocketTimeout",
  "TooManyConnections",
  "TlsConnectionError",
]);
const UNAVAILABLE_MESSAGES = /timeout exceeded when trying to connect|Connection terminated|Can't reach database server|Client has encountered a connection error/i;

/** True for errors that mean Postgres cannot be reached, whichever layer (pg, adapter, Prisma) raised them. */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && typeof e === "object" && depth < 5; depth++) {
    const candidate = e as { code?: unknown; message?: unknown; meta?: { driverAdapterError?: { cause?: { kind?: unknown } } }; cause?: unknown };
    const code = typeof candidate.code === "string" ? candidate.code : undefined;
    if (code && (CONNECTION_CODES.has(code) || POSTGRES_UNAVAILABLE.test(code) || PRISMA_UNAVAILABLE.has(code))) return true;
    const kind = candidate.meta?.driverAdapterError?.cause?.kind;
    if (typeof kind === "string" && ADAPTER_UNAVAILABLE.has(kind)) return true;
    if (typeof candidate.message === "string" && UNAVAILABLE_MESSAGES.test(candidate.message)) return true;
    e = candidate.cause;
  }
  return false;
}

export function errorResponse(error: unknown, request: { method: string; path: string }): ApiResponse {
  if (error instanceof HotpathError) {
    const body: ErrorBody = { error: error.message };
    if (error.details !== undefined) body.details = error.details;
    return json(error.status, body);
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
