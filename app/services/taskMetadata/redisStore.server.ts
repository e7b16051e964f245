import { randomBytes } from "node:crypto";
import type { Cluster, Redis } from "ioredis";
import {
  environmentKeys,
  LOCKED_WORKER_FIELD,
  lockedQueueField,
  lockedTaskField,
  NO_CURRENT_WORKER,
  type EnvironmentKeys,
} from "~/domain/cacheKeys";
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
import { FailOpen, RepeatedErrorLog, type Outcome } from "~/services/taskMetadata/failOpen.server";
import { defineTaskMetadataScripts } from "~/services/taskMetadata/redisScripts";
import {
  TaskMetadataCacheError,
  type LockedFill,
  type LockedRequest,
  type LockedTaskRead,
  type TaskMetadataStore,
} from "~/services/taskMetadata/store.server";

/**
 * The Redis tier of the trigger hot path (docs/architecture.md).
 *
 * Reads fail open: a Redis error, a timeout, an open circuit breaker or an undecodable value is
 * reported as a miss (`null`), logged and counted, and the resolver asks Postgres (failOpen.server.ts).
 * Back-fills are best-effort for the same reason. Replaces (promotion, registration) throw,
 * because their caller must repair a committed change that did not reach the cache.
 *
 * The class never reads the environment: the wiring lives in instance.server.ts.
 */

export interface RedisStoreOptions {
  /** Hot-path client: short timeouts and no offline queue (see the instance module). */
  client: Redis | Cluster;
  /** Client for replaces, which move whole hashes; defaults to `client`. */
  writeClient?: Redis | Cluster;
  /** Every key starts with it (REDIS_KEY_PREFIX). */
  prefix: string;
  /** TTL of the current hash and owner after each replace; 0 = no expiry. */
  currentTtlSeconds: number;
  /** TTL of the locked hashes (one per worker), sliding on each write; 0 = no expiry. */
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
   * cross-instance invalidation (invalidation.server.ts). Must not throw.
   */
  onCurrentReplaced?: (environmentId: string) => Promise<unknown>;
}

const isAbsent = (entry: TaskEntry) => !entry.found;

export class RedisTaskMetadataStore implements TaskMetadataStore {
  private readonly prefix: string;
  private readonly currentTtlMs: number;
  private readonly workerTtlSeconds: number;
  private readonly writeTimeoutMs: number;
  private readonly events: CacheEventSink;
  private readonly stagingChunkSize: number;
  private readonly onCurrentReplaced: ((environmentId: string) => Promise<unknown>) | undefined;
  private readonly errorLog = new RepeatedErrorLog();
  private readonly redis: FailOpen;

  constructor(options: RedisStoreOptions) {
    const writeClient = options.writeClient ?? options.client;
    defineTaskMetadataScripts(options.client);
    defineTaskMetadataScripts(writeClient);
    this.prefix = options.prefix;
    this.currentTtlMs = options.currentTtlSeconds * 1000;
    this.workerTtlSeconds = options.workerTtlSeconds;
    this.writeTimeoutMs = options.writeTimeoutMs ?? Math.max(5_000, options.commandTimeoutMs);
    this.events = options.events ?? noopCacheEventSink;
    this.stagingChunkSize = options.stagingChunkSize ?? 1_000;
    this.onCurrentReplaced = options.onCurrentReplaced;
    this.redis = new FailOpen({
      readClient: options.client,
      writeClient,
      readTimeoutMs: options.commandTimeoutMs,
      writeTimeoutMs: this.writeTimeoutMs,
      breaker: options.breaker ?? new CircuitBreaker({ failureThreshold: 5, cooldownMs: 2_000 }),
      events: this.events,
      errorLog: this.errorLog,
    });
  }

  private readonly keysByEnvironment = new Map<string, EnvironmentKeys>();

  /**
   * Memoised per environment: building the key set validates the ids and builds the SCAN pattern
   * (≈3 µs of CPU, as much as the rest of a warm read), and every hot-path read needs it.
   */
  private keys(environmentId: string): EnvironmentKeys {
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
    const raw = await this.redis.read("getCurrentTask", "current", { environmentId, slug }, (client) =>
      client.hget(keys.current, slug),
    );
    return this.decodeRead("current", raw, decodeTaskEntry, { environmentId, slug, key: keys.current }, isAbsent);
  }

  async getCurrentTasks(environmentId: string, slugs: readonly string[]): Promise<(TaskEntry | null)[]> {
    if (slugs.length === 0) return [];
    const keys = this.keys(environmentId);
    const raw = await this.redis.read("getCurrentTasks", "current", { environmentId, slugs: slugs.length }, (client) =>
      client.hmget(keys.current, ...slugs),
    );
    if (!raw.ok) {
      this.events.record("miss", "current", slugs.length);
      return slugs.map(() => null);
    }
    return slugs.map((slug, i) =>
      this.decodeRead("current", { ok: true, value: raw.value[i] ?? null }, decodeTaskEntry, { environmentId, slug, key: keys.current }, isAbsent),
    );
  }

  getLockedTask(environmentId: string, version: string, slug: string, queueName?: string): Promise<LockedTaskRead> {
    return this.getLockedTasks(environmentId, version, [{ slug, queueName }]).then(([answer]) => answer);
  }

  /**
   * One HMGET of the version's locked hash (0055): `w`, then each distinct `t:<slug>` and
   * `q:<queue>` asked for, whatever the number of requests.
   */
  async getLockedTasks(environmentId: string, version: string, requests: readonly LockedRequest[]): Promise<LockedTaskRead[]> {
    const key = this.keys(environmentId).locked(version);
    const slugs = [...new Set(requests.map(({ slug }) => slug))];
    const queues = [...new Set(requests.flatMap(({ queueName }) => (queueName === undefined ? [] : [queueName])))];
    const context = { environmentId, version, key, ...(requests.length === 1 ? { slug: requests[0].slug } : { tasks: slugs.length }) };
    const raw = await this.redis.read("getLockedTask", "version", context, (client) =>
      client.hmget(key, LOCKED_WORKER_FIELD, ...slugs.map(lockedTaskField), ...queues.map(lockedQueueField)),
    );
    const unanswered = ({ queueName }: LockedRequest): LockedTaskRead => ({ workerId: null, task: null, queueId: queueName === undefined ? undefined : null });
    if (!raw.ok) {
      this.events.record("miss", "version");
      return requests.map(unanswered);
    }
    const workerId = this.decodeRead("version", { ok: true, value: raw.value[0] }, decodeWorkerId, context);
    if (workerId === null) return requests.map(unanswered);
    const field = (i: number) => ({ ok: true as const, value: raw.value[i] ?? null });
    const tasks = new Map(slugs.map((slug, i) => [slug, this.decodeRead("worker", field(1 + i), decodeTaskEntry, { ...context, slug }, isAbsent)]));
    const queueIds = new Map(queues.map((name, i) => [name, this.decodeRead("worker", field(1 + slugs.length + i), decodeQueueRef, { ...context, queue: name })]));
    return requests.map(({ slug, queueName }) => ({
      workerId,
      task: tasks.get(slug)!,
      queueId: queueName === undefined ? undefined : queueIds.get(queueName)!,
    }));
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
    const outcome = await this.redis.write("clearCurrent", "current", { environmentId }, (client) =>
      client.tmClearCurrent(keys.current, keys.owner, NO_CURRENT_WORKER, this.currentTtlMs),
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
    const stagedCurrent = keys.staging(`${token}:current`);
    const stagedLocked = keys.staging(`${token}:locked`);
    const { currentFields, lockedFields } = stagedFields(snapshot);
    const staging: [string, string[][]][] = [[stagedLocked, lockedFields]];
    if (withCurrent) staging.push([stagedCurrent, currentFields]);

    const outcome = await this.redis.write(operation, withCurrent ? "current" : "worker", { environmentId, workerId: snapshot.workerId, tasks: currentFields.length }, async (client) => {
      const pipeline = client.pipeline();
      for (const [key, fields] of staging) {
        for (let i = 0; i < fields.length; i += this.stagingChunkSize) {
          pipeline.hset(key, ...fields.slice(i, i + this.stagingChunkSize).flat());
        }
        // An abandoned staging key (process killed mid-replace) must not outlive the attempt.
        pipeline.pexpire(key, Math.max(60_000, this.writeTimeoutMs * 2));
      }
      pipeline.tmCommitReplace(
        stagedCurrent,
        stagedLocked,
        keys.locked(snapshot.version),
        keys.current,
        keys.owner,
        currentFields.length,
        lockedFields.length,
        snapshot.workerId,
        this.workerTtlSeconds,
        withCurrent ? "1" : "0",
        this.currentTtlMs,
      );
      const results = await pipeline.exec();
      if (!results) throw new TaskMetadataCacheError("pipeline returned no results");
      // The commit is last; its outcome is the replace's (a failed staging write shows up there as STAGING_INCOMPLETE).
      const [commitError] = results[results.length - 1];
      if (commitError) throw commitError;
    });
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
    const outcome = await this.redis.read("backfillCurrentTask", "current", { environmentId, slug }, (client) =>
      client.tmBackfillCurrent(
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

  async backfillCurrentTasks(
    environmentId: string,
    ownerWorkerId: string | null,
    entries: readonly { slug: string; entry: TaskEntry }[],
  ): Promise<boolean> {
    if (entries.length === 0) return true;
    const keys = this.keys(environmentId);
    const fields = entries.flatMap(({ slug, entry }) => [slug, encodeTaskEntry(entry)]);
    const outcome = await this.redis.read("backfillCurrentTasks", "current", { environmentId, fields: entries.length }, (client) =>
      client.tmBackfillCurrent(keys.current, keys.owner, ownerWorkerId ?? NO_CURRENT_WORKER, this.currentTtlMs, ...fields),
    );
    const written = outcome.ok && outcome.value === 1;
    if (written) this.events.record("backfill", "current", entries.length);
    return written;
  }

  async backfillLocked(environmentId: string, version: string, workerId: string, fill: LockedFill): Promise<boolean> {
    const key = this.keys(environmentId).locked(version);
    const fields = [
      ...(fill.tasks ?? []).flatMap(({ slug, entry }) => [lockedTaskField(slug), encodeTaskEntry(entry)]),
      ...(fill.queues ?? []).flatMap(({ name, id }) => [lockedQueueField(name), encodeQueueRef(id)]),
    ];
    const outcome = await this.redis.read("backfillLocked", "worker", { environmentId, version, workerId }, (client) =>
      client.tmBackfillLocked(key, workerId, this.workerTtlSeconds, ...fields),
    );
    const written = outcome.ok && outcome.value === 1;
    if (written) this.events.record("backfill", "worker", fill.tasks?.length || 1);
    return written;
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

/**
 * The fields a replace stages, each set deduplicated (a later duplicate wins, as HSET would): the
 * current hash's bare slugs, and the locked hash's worker id, prefixed slugs and queue names.
 */
function stagedFields(snapshot: WorkerMetadataSnapshot): { currentFields: string[][]; lockedFields: string[][] } {
  const tasks = new Map(snapshot.tasks.map(({ slug, entry }) => [slug, encodeTaskEntry(entry)]));
  const queues = new Map(snapshot.queues.map(({ name, id }) => [name, encodeQueueRef(id)]));
  const currentFields = [...tasks].map(([slug, value]) => [slug, value]);
  const lockedFields = [
    [LOCKED_WORKER_FIELD, snapshot.workerId],
    ...[...tasks].map(([slug, value]) => [lockedTaskField(slug), value]),
    ...[...queues].map(([name, value]) => [lockedQueueField(name), value]),
  ];
  return { currentFields, lockedFields };
}
