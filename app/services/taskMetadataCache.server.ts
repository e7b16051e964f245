import { randomBytes } from "node:crypto";
import { ReplyError, type Cluster, type Redis } from "ioredis";
import { environmentKeys, NO_CURRENT_WORKER, type EnvironmentKeys } from "~/domain/cacheKeys";
import { noopCacheEventSink, type CacheEventSink, type Keyspace } from "~/domain/cacheEvents";
import { CircuitBreaker } from "~/domain/circuitBreaker";
import {
  decodeQueueRef,
  decodeTaskEntry,
  decodeWorkerId,
  encodeQueueRef,
  encodeTaskEntry,
  type Decoded,
  type TaskEntry,
  type WorkerMetadataSnapshot,
} from "~/domain/taskMetadataEntry";
import { logger } from "~/services/logger.server";
import { defineTaskMetadataScripts } from "~/services/taskMetadataCacheScripts";

/**
 * The task metadata cache (SPEC §4): the Redis tier of the trigger hot path.
 *
 * Reads fail open: a Redis error, a timeout, an open circuit breaker or an undecodable value is
 * reported as a miss (`null`), logged and counted, and the resolver asks Postgres. Back-fills
 * are best-effort for the same reason. Replaces (promotion, registration) throw, because their
 * caller must repair a committed change that did not reach the cache.
 *
 * The class never reads the environment: the wiring lives in taskMetadataCacheInstance.server.ts.
 */

/** The operations the resolver and the write services need; an in-process tier or a no-op implements the same. */
export interface TaskMetadataCacheStore {
  /** The entry of `slug` for the environment's current worker; null on a miss. */
  getCurrentTask(environmentId: string, slug: string): Promise<TaskEntry | null>;
  /** The worker id registered as `version`; null on a miss. */
  getWorkerIdForVersion(environmentId: string, version: string): Promise<string | null>;
  /**
   * The entry of `slug` on one worker and, when `queueName` is given, the id of that queue if the
   * worker's tasks use it. `queueId` is null on a miss and undefined when not asked for.
   */
  getWorkerTask(
    environmentId: string,
    workerId: string,
    slug: string,
    queueName?: string,
  ): Promise<{ task: TaskEntry | null; queueId: string | null | undefined }>;

  /** Promotion / dev registration: current hash, the worker's hashes, owner and version, atomically. Throws on failure. */
  replaceCurrent(environmentId: string, snapshot: WorkerMetadataSnapshot): Promise<void>;
  /** The environment has no current worker any more (or never had one). Throws on failure. */
  clearCurrent(environmentId: string): Promise<void>;
  /** Non-dev registration: one worker's hashes and its version. Throws on failure. */
  replaceWorker(environmentId: string, snapshot: WorkerMetadataSnapshot): Promise<void>;

  /** Writes one current-hash field if the owner is still `ownerWorkerId` (null = no current worker). */
  backfillCurrentTask(environmentId: string, ownerWorkerId: string | null, slug: string, entry: TaskEntry): Promise<boolean>;
  backfillWorker(
    environmentId: string,
    workerId: string,
    fill: { task?: { slug: string; entry: TaskEntry }; queue?: { name: string; id: string } },
  ): Promise<boolean>;
  backfillVersion(environmentId: string, version: string, workerId: string): Promise<boolean>;
}

export interface TaskMetadataCacheOptions {
  /** Hot-path client: short timeouts and no offline queue (see the instance module). */
  client: Redis | Cluster;
  /** Client for replaces, which move whole hashes; defaults to `client`. */
  writeClient?: Redis | Cluster;
  /** Every key starts with it (REDIS_KEY_PREFIX). */
  prefix: string;
  /** TTL of the current hash and owner after each replace; 0 = no expiry. */
  currentTtlSeconds: number;
  /** TTL of worker, queue and version hashes, sliding on each write; 0 = no expiry. */
  workerTtlSeconds: number;
  /** Upper bound of one read or back-fill; the caller then asks Postgres. */
  commandTimeoutMs: number;
  /** Upper bound of one replace (staging plus commit). */
  writeTimeoutMs?: number;
  breaker?: CircuitBreaker;
  events?: CacheEventSink;
  /** Fields per staging HSET; small enough to keep each command short. */
  stagingChunkSize?: number;
  /**
   * Called after a replace or clear of an environment's current hash succeeded: publishes the
   * cross-instance invalidation (taskMetadataInvalidation.server.ts). Must not throw.
   */
  onCurrentReplaced?: (environmentId: string) => Promise<unknown>;
}

export class TaskMetadataCacheError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TaskMetadataCacheError";
  }
}

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
class RepeatedErrorLog {
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

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };

const isAbsent = (entry: TaskEntry) => !entry.found;

export class TaskMetadataCache implements TaskMetadataCacheStore {
  readonly breaker: CircuitBreaker;
  private readonly client: Redis | Cluster;
  private readonly writeClient: Redis | Cluster;
  private readonly prefix: string;
  private readonly currentTtlMs: number;
  private readonly workerTtlSeconds: number;
  private readonly commandTimeoutMs: number;
  private readonly writeTimeoutMs: number;
  private readonly events: CacheEventSink;
  private readonly stagingChunkSize: number;
  private readonly onCurrentReplaced: ((environmentId: string) => Promise<unknown>) | undefined;
  private readonly errorLog = new RepeatedErrorLog();

  constructor(options: TaskMetadataCacheOptions) {
    this.client = options.client;
    this.writeClient = options.writeClient ?? options.client;
    defineTaskMetadataScripts(this.client);
    defineTaskMetadataScripts(this.writeClient);
    this.prefix = options.prefix;
    this.currentTtlMs = options.currentTtlSeconds * 1000;
    this.workerTtlSeconds = options.workerTtlSeconds;
    this.commandTimeoutMs = options.commandTimeoutMs;
    this.writeTimeoutMs = options.writeTimeoutMs ?? Math.max(5_000, options.commandTimeoutMs);
    this.breaker = options.breaker ?? new CircuitBreaker({ failureThreshold: 5, cooldownMs: 2_000 });
    this.events = options.events ?? noopCacheEventSink;
    this.stagingChunkSize = options.stagingChunkSize ?? 1_000;
    this.onCurrentReplaced = options.onCurrentReplaced;
  }

  private readonly keysByEnvironment = new Map<string, EnvironmentKeys>();

  /**
   * Memoised per environment: building the key set validates the ids and builds the SCAN pattern
   * (≈3 µs of CPU, as much as the rest of a warm read), and every hot-path read needs it.
   */
  keys(environmentId: string): EnvironmentKeys {
    let keys = this.keysByEnvironment.get(environmentId);
    if (!keys) {
      keys = environmentKeys(this.prefix, environmentId);
      // Bounded without bookkeeping: refilling costs one build per environment.
      if (this.keysByEnvironment.size >= 10_000) this.keysByEnvironment.clear();
      this.keysByEnvironment.set(environmentId, keys);
    }
    return keys;
  }

  // ---- reads -------------------------------------------------------------------------------

  async getCurrentTask(environmentId: string, slug: string): Promise<TaskEntry | null> {
    const keys = this.keys(environmentId);
    const raw = await this.attempt("getCurrentTask", "current", { environmentId, slug }, this.commandTimeoutMs, () =>
      this.client.hget(keys.current, slug),
    );
    return this.decodeRead("current", raw, decodeTaskEntry, { environmentId, slug, key: keys.current }, isAbsent);
  }

  async getWorkerIdForVersion(environmentId: string, version: string): Promise<string | null> {
    const keys = this.keys(environmentId);
    const raw = await this.attempt("getWorkerIdForVersion", "version", { environmentId, version }, this.commandTimeoutMs, () =>
      this.client.hget(keys.versions, version),
    );
    return this.decodeRead("version", raw, decodeWorkerId, { environmentId, version, key: keys.versions });
  }

  async getWorkerTask(
    environmentId: string,
    workerId: string,
    slug: string,
    queueName?: string,
  ): Promise<{ task: TaskEntry | null; queueId: string | null | undefined }> {
    const keys = this.keys(environmentId);
    const workerKey = keys.worker(workerId);
    const context = { environmentId, workerId, slug };
    if (queueName === undefined) {
      const raw = await this.attempt("getWorkerTask", "worker", context, this.commandTimeoutMs, () =>
        this.client.hget(workerKey, slug),
      );
      return { task: this.decodeRead("worker", raw, decodeTaskEntry, { ...context, key: workerKey }, isAbsent), queueId: undefined };
    }
    const queuesKey = keys.queues(workerId);
    // One round trip for both fields; both keys share the environment's slot.
    const raw = await this.attempt("getWorkerTask", "worker", context, this.commandTimeoutMs, async () => {
      const results = await this.client.pipeline().hget(workerKey, slug).hget(queuesKey, queueName).exec();
      if (!results) throw new TaskMetadataCacheError("pipeline returned no results");
      return results.map(([error, value]) => {
        if (error) throw error;
        return value as string | null;
      });
    });
    if (!raw.ok) {
      this.events.record("miss", "worker", 2);
      return { task: null, queueId: null };
    }
    const [rawTask, rawQueue] = raw.value;
    return {
      task: this.decodeRead("worker", { ok: true, value: rawTask }, decodeTaskEntry, { ...context, key: workerKey }, isAbsent),
      queueId: this.decodeRead("worker", { ok: true, value: rawQueue }, decodeQueueRef, { ...context, queueName, key: queuesKey }),
    };
  }

  // ---- replaces ----------------------------------------------------------------------------

  async replaceCurrent(environmentId: string, snapshot: WorkerMetadataSnapshot): Promise<void> {
    await this.replace("replaceCurrent", environmentId, snapshot, true);
  }

  async replaceWorker(environmentId: string, snapshot: WorkerMetadataSnapshot): Promise<void> {
    await this.replace("replaceWorker", environmentId, snapshot, false);
  }

  async clearCurrent(environmentId: string): Promise<void> {
    const keys = this.keys(environmentId);
    const outcome = await this.attempt(
      "clearCurrent",
      "current",
      { environmentId },
      this.writeTimeoutMs,
      () => this.writeClient.tmClearCurrent(keys.current, keys.owner, NO_CURRENT_WORKER, this.currentTtlMs),
      this.writeClient,
    );
    if (!outcome.ok) throw new TaskMetadataCacheError("clearing the current hash failed", { cause: outcome.error });
    await this.onCurrentReplaced?.(environmentId);
  }

  private async replace(
    operation: string,
    environmentId: string,
    snapshot: WorkerMetadataSnapshot,
    withCurrent: boolean,
  ): Promise<void> {
    const keys = this.keys(environmentId);
    const token = randomBytes(8).toString("hex");
    const stagedTasks = keys.staging(`${token}:tasks`);
    const stagedQueues = keys.staging(`${token}:queues`);
    const taskFields = snapshot.tasks.map(({ slug, entry }) => [slug, encodeTaskEntry(entry)] as const);
    const queueFields = snapshot.queues.map(({ name, id }) => [name, encodeQueueRef(id)] as const);
    const expectedTasks = new Set(taskFields.map(([slug]) => slug)).size;
    const expectedQueues = new Set(queueFields.map(([name]) => name)).size;

    const outcome = await this.attempt(operation, withCurrent ? "current" : "worker", { environmentId, workerId: snapshot.workerId, tasks: expectedTasks }, this.writeTimeoutMs, async () => {
      const pipeline = this.writeClient.pipeline();
      for (const [key, fields] of [[stagedTasks, taskFields], [stagedQueues, queueFields]] as const) {
        for (let i = 0; i < fields.length; i += this.stagingChunkSize) {
          pipeline.hset(key, ...fields.slice(i, i + this.stagingChunkSize).flat());
        }
        // An abandoned staging key (process killed mid-replace) must not outlive the attempt.
        pipeline.pexpire(key, Math.max(60_000, this.writeTimeoutMs * 2));
      }
      pipeline.tmCommitReplace(
        stagedTasks,
        stagedQueues,
        keys.worker(snapshot.workerId),
        keys.queues(snapshot.workerId),
        keys.versions,
        keys.current,
        keys.owner,
        expectedTasks,
        expectedQueues,
        snapshot.workerId,
        snapshot.version,
        this.workerTtlSeconds,
        withCurrent ? "1" : "0",
        this.currentTtlMs,
      );
      const results = await pipeline.exec();
      if (!results) throw new TaskMetadataCacheError("pipeline returned no results");
      // The commit is last; its outcome is the replace's (a failed staging write shows up there as STAGING_INCOMPLETE).
      const [commitError] = results[results.length - 1];
      if (commitError) throw commitError;
    }, this.writeClient);
    if (!outcome.ok) {
      throw new TaskMetadataCacheError(`${operation} for environment ${environmentId} failed`, { cause: outcome.error });
    }
    if (withCurrent) await this.onCurrentReplaced?.(environmentId);
  }

  // ---- back-fills --------------------------------------------------------------------------

  async backfillCurrentTask(
    environmentId: string,
    ownerWorkerId: string | null,
    slug: string,
    entry: TaskEntry,
  ): Promise<boolean> {
    const keys = this.keys(environmentId);
    const outcome = await this.attempt("backfillCurrentTask", "current", { environmentId, slug }, this.commandTimeoutMs, () =>
      this.client.tmBackfillCurrent(
        keys.current,
        keys.owner,
        ownerWorkerId ?? NO_CURRENT_WORKER,
        this.currentTtlMs,
        slug,
        encodeTaskEntry(entry),
      ),
    );
    const written = outcome.ok && outcome.value === 1;
    if (written) this.events.record("backfill", "current");
    return written;
  }

  async backfillWorker(
    environmentId: string,
    workerId: string,
    fill: { task?: { slug: string; entry: TaskEntry }; queue?: { name: string; id: string } },
  ): Promise<boolean> {
    const keys = this.keys(environmentId);
    const context = { environmentId, workerId };
    const writes: Promise<Outcome<number>>[] = [];
    if (fill.task) {
      const { slug, entry } = fill.task;
      writes.push(this.attempt("backfillWorker", "worker", context, this.commandTimeoutMs, () =>
        this.client.tmBackfillSliding(keys.worker(workerId), this.workerTtlSeconds, slug, encodeTaskEntry(entry)),
      ));
    }
    if (fill.queue) {
      const { name, id } = fill.queue;
      writes.push(this.attempt("backfillWorker", "worker", context, this.commandTimeoutMs, () =>
        this.client.tmBackfillSliding(keys.queues(workerId), this.workerTtlSeconds, name, encodeQueueRef(id)),
      ));
    }
    const outcomes = await Promise.all(writes);
    const written = outcomes.filter((o) => o.ok).length;
    if (written) this.events.record("backfill", "worker", written);
    return written === outcomes.length;
  }

  async backfillVersion(environmentId: string, version: string, workerId: string): Promise<boolean> {
    const keys = this.keys(environmentId);
    const outcome = await this.attempt("backfillVersion", "version", { environmentId, version }, this.commandTimeoutMs, () =>
      this.client.tmBackfillSliding(keys.versions, this.workerTtlSeconds, version, workerId),
    );
    if (outcome.ok) this.events.record("backfill", "version");
    return outcome.ok;
  }

  // ---- fail-open plumbing ------------------------------------------------------------------

  /**
   * Runs one Redis call through the breaker with a deadline. Never throws: the outcome says
   * whether it worked, and a failure is already logged (rate-limited) and counted.
   */
  private async attempt<T>(
    operation: string,
    keyspace: Keyspace,
    context: Record<string, unknown>,
    timeoutMs: number,
    call: () => Promise<T>,
    client: Redis | Cluster = this.client,
  ): Promise<Outcome<T>> {
    if (!this.breaker.tryAcquire()) {
      return { ok: false, error: new TaskMetadataCacheError("circuit breaker open") };
    }
    let timer: NodeJS.Timeout | undefined;
    try {
      const pending = this.connecting(client);
      const value =
        !pending && this.clientTimesOut(client, timeoutMs)
          ? await call()
          : await Promise.race([
              pending ? pending.then(call) : call(),
              new Promise<never>((_, reject) => {
                timer = setTimeout(() => reject(new TimeoutError(operation, timeoutMs)), timeoutMs);
              }),
            ]);
      this.breaker.recordSuccess();
      return { ok: true, value };
    } catch (error) {
      this.events.record("redis_error", keyspace);
      // An error reply (e.g. a script refusing a partial staging) means Redis is up and answering;
      // only timeouts and connection failures count towards opening the breaker.
      if (error instanceof ReplyError) this.breaker.recordSuccess();
      else if (this.breaker.recordFailure()) {
        this.events.record("breaker_open", keyspace);
        logger.warn("task metadata cache circuit breaker opened", { operation, error, ...context });
      }
      this.errorLog.warn(operation, error, context);
      return { ok: false, error };
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Whether a ready client already rejects every command of `call` within `timeoutMs`: a
   * standalone ioredis client with `commandTimeout` (the instance module sets it on both of its
   * clients) starts that timer when each command is sent, and a call here is one command or one
   * pipeline. Then a second timer and race per call is pure cost — a third of a warm resolve's CPU
   * beyond the HGET (scripts/bench.ts under --cpu-prof). Ours still bounds the wait for a first
   * connection, Cluster clients (redirections) and clients without a timeout of their own.
   */
  private clientTimesOut(client: Redis | Cluster, timeoutMs: number): boolean {
    if (client.isCluster) return false;
    const own = (client as Redis).options.commandTimeout;
    return typeof own === "number" && own <= timeoutMs;
  }

  private readonly readyWaits = new WeakMap<object, Promise<void>>();

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

  private readonly decodedValues = new WeakMap<object, Map<string, unknown>>();

  /**
   * Decodes each distinct stored value once. Stored values are few (one per task, queue and
   * version of the workers in use) and the same ones come back on every hit, while JSON.parse and
   * the zod check cost a third of a warm read's CPU beyond the HGET itself (scripts/bench.ts,
   * `cpu/call`). Results are frozen, since every reader shares them. Only successful decodes are
   * kept: a bad value is decoded, counted and logged again on each read until a back-fill
   * overwrites it.
   */
  private decodeOnce<T>(decode: (raw: string) => Decoded<T>, raw: string): Decoded<T> {
    let byRaw = this.decodedValues.get(decode) as Map<string, T> | undefined;
    if (!byRaw) this.decodedValues.set(decode, (byRaw = new Map<string, T>()));
    const known = byRaw.get(raw);
    if (known !== undefined) return { ok: true, value: known };
    const decoded = decode(raw);
    if (decoded.ok) {
      // Bounded without bookkeeping: refilling costs one decode per value.
      if (byRaw.size >= 10_000) byRaw.clear();
      byRaw.set(raw, Object.freeze(decoded.value));
    }
    return decoded;
  }

  private decodeRead<T>(
    keyspace: Keyspace,
    raw: Outcome<string | null>,
    decode: (raw: string) => Decoded<T>,
    context: Record<string, unknown>,
    isNegative: (value: T) => boolean = () => false,
  ): T | null {
    if (!raw.ok || raw.value === null) {
      this.events.record("miss", keyspace);
      return null;
    }
    const decoded = this.decodeOnce(decode, raw.value);
    if (!decoded.ok) {
      this.events.record("decode_error", keyspace);
      this.events.record("miss", keyspace);
      this.errorLog.warn("decode", new TaskMetadataCacheError(decoded.error), context);
      return null;
    }
    this.events.record(isNegative(decoded.value) ? "negative_hit" : "hit", keyspace);
    return decoded.value;
  }
}

/** Same interface, no storage: every read misses. The benchmark's baseline and a kill switch. */
export class NoopTaskMetadataCache implements TaskMetadataCacheStore {
  async getCurrentTask() {
    return null;
  }
  async getWorkerIdForVersion() {
    return null;
  }
  async getWorkerTask() {
    return { task: null, queueId: null };
  }
  async replaceCurrent() {}
  async clearCurrent() {}
  async replaceWorker() {}
  async backfillCurrentTask() {
    return false;
  }
  async backfillWorker() {
    return false;
  }
  async backfillVersion() {
    return false;
  }
}
