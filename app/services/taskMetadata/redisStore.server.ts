import { randomBytes } from "node:crypto";
import type { Cluster, Redis } from "ioredis";
import {
  environmentKeys,
  LOCKED_WORKER_FIELD,
  lockedQueueField,
  lockedTaskField,
  NO_CURRENT_WORKER,
  NOT_DEPLOYED,
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
  type TaskEntry,
  type WorkerMetadataSnapshot,
} from "~/domain/taskMetadataEntry";
import { FailOpen, RepeatedErrorLog } from "~/services/taskMetadata/failOpen.server";
import { defineTaskMetadataScripts } from "~/services/taskMetadata/redisScripts";
import { StoredValues } from "~/services/taskMetadata/storedValues.server";
import {
  TaskMetadataCacheError,
  type LockedFill,
  type LockedRequest,
  type LockedTaskRead,
  type PinnedTaskRead,
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
  /** Lifetime of the negative entry of an external id no worker has yet (0070); 20 s by default. */
  notDeployedTtlMs?: number;
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
  private readonly notDeployedTtlMs: number;
  private readonly onCurrentReplaced: ((environmentId: string) => Promise<unknown>) | undefined;
  private readonly errorLog = new RepeatedErrorLog();
  private readonly redis: FailOpen;
  private readonly values: StoredValues;

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
    this.notDeployedTtlMs = options.notDeployedTtlMs ?? 20_000;
    this.onCurrentReplaced = options.onCurrentReplaced;
    this.values = new StoredValues(this.events, this.errorLog);
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
    return this.values.decodeRead("current", raw, decodeTaskEntry, { environmentId, slug, key: keys.current }, isAbsent);
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
      this.values.decodeRead("current", { ok: true, value: raw.value[i] ?? null }, decodeTaskEntry, { environmentId, slug, key: keys.current }, isAbsent),
    );
  }

  getLockedTask(environmentId: string, version: string, slug: string, queueName?: string): Promise<LockedTaskRead> {
    return this.getLockedTasks(environmentId, version, [{ slug, queueName }]).then(([answer]) => answer);
  }

  /** Many (task, queue) pairs of one version in one read of its locked hash (0055). */
  async getLockedTasks(environmentId: string, version: string, requests: readonly LockedRequest[]): Promise<LockedTaskRead[]> {
    const key = this.keys(environmentId).locked(version);
    return (await this.readWorkerHash("getLockedTask", key, { environmentId, version }, requests)).reads;
  }

  async getPinnedTask(environmentId: string, externalId: string, slug: string, queueName?: string): Promise<PinnedTaskRead> {
    const key = this.keys(environmentId).pinned(externalId);
    const { notDeployed, reads } = await this.readWorkerHash("getPinnedTask", key, { environmentId, externalId }, [{ slug, queueName }]);
    return { ...reads[0], notDeployed };
  }

  /**
   * One HMGET of one worker's hash (locked 0055, pinned 0070): `w`, then each distinct `t:<slug>`
   * and `q:<queue>` asked for, whatever the number of requests. `notDeployed`: the pinned hash's
   * negative entry (no worker has that external id yet).
   */
  private async readWorkerHash(
    operation: string,
    key: string,
    fields: Record<string, string>,
    requests: readonly LockedRequest[],
  ): Promise<{ notDeployed: boolean; reads: LockedTaskRead[] }> {
    const slugs = [...new Set(requests.map(({ slug }) => slug))];
    const queues = [...new Set(requests.flatMap(({ queueName }) => (queueName === undefined ? [] : [queueName])))];
    const context = { ...fields, key, ...(requests.length === 1 ? { slug: requests[0].slug } : { tasks: slugs.length }) };
    const raw = await this.redis.read(operation, "version", context, (client) =>
      client.hmget(key, LOCKED_WORKER_FIELD, ...slugs.map(lockedTaskField), ...queues.map(lockedQueueField)),
    );
    const unanswered = ({ queueName }: LockedRequest): LockedTaskRead => ({ workerId: null, task: null, queueId: queueName === undefined ? undefined : null });
    if (!raw.ok) {
      this.events.record("miss", "version");
      return { notDeployed: false, reads: requests.map(unanswered) };
    }
    if (raw.value[0] === NOT_DEPLOYED) {
      this.events.record("negative_hit", "version");
      return { notDeployed: true, reads: requests.map(unanswered) };
    }
    const workerId = this.values.decodeRead("version", { ok: true, value: raw.value[0] }, decodeWorkerId, context);
    if (workerId === null) return { notDeployed: false, reads: requests.map(unanswered) };
    const field = (i: number) => ({ ok: true as const, value: raw.value[i] ?? null });
    const tasks = new Map(slugs.map((slug, i) => [slug, this.values.decodeRead("worker", field(1 + i), decodeTaskEntry, { ...context, slug }, isAbsent)]));
    const queueIds = new Map(queues.map((name, i) => [name, this.values.decodeRead("worker", field(1 + slugs.length + i), decodeQueueRef, { ...context, queue: name })]));
    const reads = requests.map(({ slug, queueName }) => ({
      workerId,
      task: tasks.get(slug)!,
      queueId: queueName === undefined ? undefined : queueIds.get(queueName)!,
    }));
    return { notDeployed: false, reads };
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
      // The external id's pinned hash, from the locked hash just committed (0070); refused, changing nothing, when a newer generation holds it.
      const external = snapshot.external;
      if (external) {
        pipeline.tmPinExternal(keys.locked(snapshot.version), keys.pinned(external.id), snapshot.workerId, snapshot.version, external.generation, this.workerTtlSeconds);
      }
      const results = await pipeline.exec();
      if (!results) throw new TaskMetadataCacheError("pipeline returned no results");
      // The commit's outcome (and the pin's) is the replace's (a failed staging write shows up there as STAGING_INCOMPLETE).
      for (const [error] of results.slice(external ? -2 : -1)) if (error) throw error;
    });
    if (!outcome.ok) {
      throw new TaskMetadataCacheError(`${operation} for environment ${environmentId} failed`, { cause: outcome.error });
    }
    // A pin may have moved an id to another worker: other instances' in-process tiers drop their answers too.
    if (withCurrent || snapshot.external) await this.onCurrentReplaced?.(environmentId);
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

  backfillLocked(environmentId: string, version: string, workerId: string, fill: LockedFill): Promise<boolean> {
    const key = this.keys(environmentId).locked(version);
    return this.backfillWorkerHash("backfillLocked", key, workerId, fill, { environmentId, version, workerId });
  }

  private async backfillWorkerHash(operation: string, key: string, workerId: string, fill: LockedFill, context: Record<string, unknown>): Promise<boolean> {
    const fields = [
      ...(fill.tasks ?? []).flatMap(({ slug, entry }) => [lockedTaskField(slug), encodeTaskEntry(entry)]),
      ...(fill.queues ?? []).flatMap(({ name, id }) => [lockedQueueField(name), encodeQueueRef(id)]),
    ];
    const outcome = await this.redis.read(operation, "worker", context, (client) =>
      client.tmBackfillLocked(key, workerId, this.workerTtlSeconds, ...fields),
    );
    const written = outcome.ok && outcome.value === 1;
    if (written) this.events.record("backfill", "worker", fill.tasks?.length || 1);
    return written;
  }

  async backfillPinned(environmentId: string, externalId: string, workerId: string, fill: LockedFill): Promise<boolean> {
    const key = this.keys(environmentId).pinned(externalId);
    return this.backfillWorkerHash("backfillPinned", key, workerId, fill, { environmentId, externalId, workerId });
  }

  async markNotDeployed(environmentId: string, externalId: string): Promise<boolean> {
    const key = this.keys(environmentId).pinned(externalId);
    const outcome = await this.redis.read("markNotDeployed", "version", { environmentId, externalId }, (client) =>
      client.tmPinAbsent(key, NOT_DEPLOYED, this.notDeployedTtlMs),
    );
    return outcome.ok && outcome.value === 1;
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
