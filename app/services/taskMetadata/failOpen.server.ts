import { ReplyError, type Cluster, type Redis } from "ioredis";
import type { CacheEventSink, Keyspace } from "~/domain/cacheEvents";
import type { CircuitBreaker } from "~/domain/circuitBreaker";
import { logger } from "~/services/logger.server";
import { markBreakerOpen } from "~/services/taskMetadata/spans.server";
import { TaskMetadataCacheError } from "~/services/taskMetadata/store.server";

/**
 * How the Redis store talks to Redis without ever failing a trigger: every call goes through a
 * circuit breaker with a deadline, and a failure comes back as an outcome (logged, rate-limited,
 * and counted) instead of an exception. Reads and back-fills use the hot-path client and its short
 * timeout; replaces use the write client and its longer one.
 */

export type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

class TimeoutError extends Error {
  constructor(operation: string, ms: number) {
    super(`task metadata cache ${operation} timed out after ${ms} ms`);
    this.name = "TimeoutError";
  }
}

/**
 * Logs a swallowed error once per (operation, message) and window, then how many repeats were
 * suppressed: while Redis is down every trigger fails the same way, and one line per trigger
 * would drown the logs.
 */
export class RepeatedErrorLog {
  private readonly seen = new Map<string, { until: number; suppressed: number }>();
  constructor(private readonly windowMs = 30_000) {}

  warn(operation: string, error: unknown, context: Record<string, unknown>) {
    const message = error instanceof Error ? error.message : String(error);
    const key = `${operation}\u0000${message}`;
    const now = Date.now();
    const entry = this.seen.get(key);
    if (entry && now < entry.until) {
      entry.suppressed += 1;
      return;
    }
    const suppressed = entry?.suppressed ?? 0;
    if (this.seen.size > 1000) this.seen.clear();
    this.seen.set(key, { until: now + this.windowMs, suppressed: 0 });
    logger.warn("task metadata cache error, falling back", {
      operation,
      error,
      ...context,
      ...(suppressed ? { suppressedSinceLastLog: suppressed } : {}),
    });
  }
}

export interface FailOpenOptions {
  readClient: Redis | Cluster;
  writeClient: Redis | Cluster;
  readTimeoutMs: number;
  writeTimeoutMs: number;
  breaker: CircuitBreaker;
  events: CacheEventSink;
  errorLog: RepeatedErrorLog;
}

type Call<T> = (client: Redis | Cluster) => Promise<T>;

export class FailOpen {
  private readonly readyWaits = new WeakMap<object, Promise<void>>();

  constructor(private readonly options: FailOpenOptions) {}

  /** A read or a back-fill: the hot-path client and its short deadline. */
  read<T>(operation: string, keyspace: Keyspace, context: Record<string, unknown>, call: Call<T>): Promise<Outcome<T>> {
    return this.run(operation, keyspace, context, this.options.readClient, this.options.readTimeoutMs, call);
  }

  /** A replace or clear: the write client and its longer deadline (it moves whole hashes). */
  write<T>(operation: string, keyspace: Keyspace, context: Record<string, unknown>, call: Call<T>): Promise<Outcome<T>> {
    return this.run(operation, keyspace, context, this.options.writeClient, this.options.writeTimeoutMs, call);
  }

  /**
   * Runs one Redis call through the breaker with a deadline. Never throws: the outcome says
   * whether it worked, and a failure is already logged (rate-limited) and counted.
   */
  private async run<T>(
    operation: string,
    keyspace: Keyspace,
    context: Record<string, unknown>,
    client: Redis | Cluster,
    timeoutMs: number,
    call: Call<T>,
  ): Promise<Outcome<T>> {
    const { breaker, events } = this.options;
    if (!breaker.tryAcquire()) {
      markBreakerOpen();
      return { ok: false, error: new TaskMetadataCacheError("circuit breaker open") };
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      const pending = this.connecting(client);
      const value =
        !pending && clientTimesOut(client, timeoutMs)
          ? await call(client)
          : await Promise.race([
              pending ? pending.then(() => call(client)) : call(client),
              new Promise<never>((_, reject) => {
                timer = setTimeout(() => reject(new TimeoutError(operation, timeoutMs)), timeoutMs);
              }),
            ]);
      breaker.recordSuccess();
      return { ok: true, value };
    } catch (error) {
      events.record("redis_error", keyspace);
      // An error reply (e.g. a script refusing a partial staging) means Redis is up and answering;
      // only timeouts and connection failures count towards opening the breaker.
      if (error instanceof ReplyError) breaker.recordSuccess();
      else if (breaker.recordFailure()) {
        events.record("breaker_open", keyspace);
        logger.warn("task metadata cache circuit breaker opened", { operation, error, ...context });
      }
      this.options.errorLog.warn(operation, error, context);
      return { ok: false, error };
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * While a client makes its first connection, calls wait for it (within their deadline) instead
   * of failing at once: without an offline queue, a burst of triggers at start-up would otherwise
   * all fail and open the breaker. A client that is reconnecting after losing Redis is not waited
   * for: its commands fail fast and the breaker takes over. Returns undefined when ready.
   */
  private connecting(client: Redis | Cluster): Promise<void> | undefined {
    const status = client.status;
    if (status === "ready" || (status !== "wait" && status !== "connecting" && status !== "connect")) return undefined;
    let wait = this.readyWaits.get(client);
    if (!wait) {
      wait = new Promise<void>((resolve) => {
        const done = () => {
          client.off("ready", done);
          client.off("close", done);
          client.off("end", done);
          this.readyWaits.delete(client);
          resolve();
        };
        client.on("ready", done);
        client.on("close", done);
        client.on("end", done);
      });
      this.readyWaits.set(client, wait);
      // A failed connect surfaces through the command that follows; the client keeps retrying.
      if (status === "wait") client.connect().catch(() => {});
    }
    return wait;
  }
}

/**
 * Whether a ready client already rejects every command of a call within `timeoutMs`: a
 * standalone ioredis client with `commandTimeout` (the instance module sets it on both of its
 * clients) starts that timer when each command is sent, and a call here is one command or one
 * pipeline. Then a second timer and race per call is pure cost — a third of a warm resolve's CPU
 * beyond the HGET (scripts/bench.ts under --cpu-prof). Ours still bounds the wait for a first
 * connection, Cluster clients (redirections) and clients without a timeout of their own.
 */
function clientTimesOut(client: Redis | Cluster, timeoutMs: number): boolean {
  if (client.isCluster) return false;
  const own = (client as Redis).options.commandTimeout;
  return typeof own === "number" && own <= timeoutMs;
}
