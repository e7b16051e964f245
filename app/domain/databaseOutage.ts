/**
 * Whether a thrown error means "Postgres cannot be reached" (a 503 for the API, an explained error
 * page for the admin), whichever layer raised it: pg, the Prisma driver adapter or Prisma itself.
 * Pure: it only inspects the error's fields.
 */

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
