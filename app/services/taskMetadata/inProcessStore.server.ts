import { LRUCache } from "lru-cache";
import { noopCacheEventSink, type CacheEventSink } from "~/domain/cacheEvents";
import type { TaskEntry, WorkerMetadataSnapshot } from "~/domain/taskMetadataEntry";
import type { LockedFill, LockedRequest, LockedTaskRead, PinnedTaskRead, TaskMetadataStore } from "~/services/taskMetadata/store.server";

/**
 * The in-process tier of the task metadata cache (docs/operations.md, "In-process tier and staleness bound";
 * docs/decisions/0020-in-process-tier-and-pub-sub-invalidation.md): a bounded LRU in front of the
 * Redis store, so a warm trigger costs a Map lookup instead of a round trip.
 *
 * What it holds: answers the store *found* — current-hash entries (a cached "task absent" too) and
 * locked answers (worker, entry and queue of one version). A store miss is never remembered: the Redis store answers
 * null for a missing field and for a failed or timed-out read alike, and neither may turn into a
 * "not found" served from memory. Values are frozen once when stored and handed out as they are
 * (no clone per hit).
 *
 * Staleness: every entry expires `ttlMs` after it was stored, whatever happens, so that is the
 * bound. Inside it, a replace of a current hash anywhere drops this environment's entries here
 * through the invalidation channel (invalidation.server.ts), which calls
 * {@link invalidateEnvironment}, and {@link setLive}(false) while that channel is not subscribed:
 * the tier is then flushed and bypassed until the subscription is confirmed again.
 *
 * A read that was in flight while an invalidation (or a flush) happened must not put back what it
 * read before it: each store is guarded by a generation counter that every invalidation bumps.
 */

export interface InProcessStoreOptions {
  store: TaskMetadataStore;
  maxEntries: number;
  ttlMs: number;
  events?: CacheEventSink;
  /** Clock of the TTLs (tests); `performance` by default. */
  clock?: { now(): number };
  /** Starts bypassed until the invalidation channel is subscribed; true for a tier without one (tests). */
  live?: boolean;
}

interface Stored {
  environmentId: string;
  value: TaskEntry | LockedTaskRead;
}

// Keys: environment id first (ours, never contains NUL), then a kind letter. A slug is caller input,
// so where another caller-chosen part follows it, its length is spelled out to keep keys unambiguous.
const currentKey = (environmentId: string, slug: string) => `${environmentId}\u0000c\u0000${slug}`;
const lockedKey = (environmentId: string, version: string, slug: string, queueName: string | undefined, kind = "l") =>
  queueName === undefined
    ? `${environmentId}\u0000${kind}\u0000${version.length}\u0000${version}\u0000${slug}`
    : `${environmentId}\u0000${kind}q\u0000${version.length}\u0000${version}\u0000${slug.length}\u0000${slug}\u0000${queueName}`;
/** A pinned answer (external id instead of version): the locked key's shape under its own kind letter. */
const pinnedKey = (environmentId: string, externalId: string, slug: string, queueName: string | undefined) =>
  lockedKey(environmentId, externalId, slug, queueName, "p");

export class InProcessTaskMetadataStore implements TaskMetadataStore {
  private readonly store: TaskMetadataStore;
  private readonly events: CacheEventSink;
  private readonly entries: LRUCache<string, Stored>;
  /** Keys per environment, so an invalidation costs the entries of that environment only. */
  private readonly byEnvironment = new Map<string, Set<string>>();
  private generation = 0;
  private isLive: boolean;

  constructor(options: InProcessStoreOptions) {
    this.store = options.store;
    this.events = options.events ?? noopCacheEventSink;
    this.isLive = options.live ?? false;
    this.entries = new LRUCache<string, Stored>({
      max: options.maxEntries,
      ttl: options.ttlMs,
      // Age counts from the store, never from the last hit: the TTL is the staleness bound.
      updateAgeOnGet: false,
      allowStale: false,
      perf: options.clock,
      // lru-cache reuses one reading of the clock for 1 ms; an injected clock is read every time.
      ttlResolution: options.clock ? 0 : 1,
      // Evicted, expired, overwritten or deleted: keep the environment index in step.
      dispose: (stored, key) => this.unindex(stored.environmentId, key),
    });
  }

  /** True while the tier answers reads (the invalidation channel is subscribed). */
  get live(): boolean {
    return this.isLive;
  }

  /** Entries held now (expired ones not yet purged included); for tests and the admin. */
  get size(): number {
    return this.entries.size;
  }

  /**
   * The invalidation channel is subscribed (true) or not (false). Going down flushes the tier:
   * messages may be lost from then on, so nothing held can be trusted beyond that moment.
   */
  setLive(live: boolean): void {
    if (!live) this.flush();
    this.generation++;
    this.isLive = live;
  }

  /** Drops every entry of one environment (a replace of its current hash, here or elsewhere). */
  invalidateEnvironment(environmentId: string): void {
    this.generation++;
    const keys = this.byEnvironment.get(environmentId);
    if (!keys) return;
    this.byEnvironment.delete(environmentId);
    for (const key of keys) this.entries.delete(key);
  }

  flush(): void {
    this.generation++;
    this.byEnvironment.clear();
    this.entries.clear();
  }

  // ---- reads -------------------------------------------------------------------------------

  async getCurrentTask(environmentId: string, slug: string): Promise<TaskEntry | null> {
    const key = currentKey(environmentId, slug);
    if (this.isLive) {
      const hit = this.entries.get(key);
      if (hit !== undefined) {
        const entry = hit.value as TaskEntry;
        this.events.record(entry.found ? "hit" : "negative_hit", "l1");
        return entry;
      }
    }
    this.events.record("miss", "l1");
    const generation = this.generation;
    const entry = await this.store.getCurrentTask(environmentId, slug);
    if (entry) this.remember(generation, environmentId, key, Object.freeze(entry));
    return entry;
  }

  /** Hits answered here; the misses together in one read of the store below. */
  async getCurrentTasks(environmentId: string, slugs: readonly string[]): Promise<(TaskEntry | null)[]> {
    const answers: (TaskEntry | null)[] = new Array(slugs.length).fill(null);
    const missed: number[] = [];
    for (let i = 0; i < slugs.length; i++) {
      const hit = this.isLive ? this.entries.get(currentKey(environmentId, slugs[i])) : undefined;
      if (hit === undefined) {
        missed.push(i);
        this.events.record("miss", "l1");
        continue;
      }
      const entry = hit.value as TaskEntry;
      this.events.record(entry.found ? "hit" : "negative_hit", "l1");
      answers[i] = entry;
    }
    if (missed.length === 0) return answers;
    const generation = this.generation;
    const fetched = await this.store.getCurrentTasks(environmentId, missed.map((i) => slugs[i]));
    missed.forEach((i, j) => {
      const entry = fetched[j];
      if (entry) this.remember(generation, environmentId, currentKey(environmentId, slugs[i]), Object.freeze(entry));
      answers[i] = entry;
    });
    return answers;
  }

  async getLockedTask(environmentId: string, version: string, slug: string, queueName?: string): Promise<LockedTaskRead> {
    const key = lockedKey(environmentId, version, slug, queueName);
    if (this.isLive) {
      const hit = this.entries.get(key);
      if (hit !== undefined) {
        const result = hit.value as LockedTaskRead;
        this.events.record(result.task!.found ? "hit" : "negative_hit", "l1");
        return result;
      }
    }
    this.events.record("miss", "l1");
    const generation = this.generation;
    const result = await this.store.getLockedTask(environmentId, version, slug, queueName);
    this.rememberLocked(generation, environmentId, key, queueName, result);
    return result;
  }

  /**
   * Like {@link getLockedTask}, keyed by external id. Only complete answers are kept: the negative
   * entry ("not deployed yet") is asked of Redis every time, so a deploy's pin is seen at once.
   */
  async getPinnedTask(environmentId: string, externalId: string, slug: string, queueName?: string): Promise<PinnedTaskRead> {
    const key = pinnedKey(environmentId, externalId, slug, queueName);
    if (this.isLive) {
      const hit = this.entries.get(key);
      if (hit !== undefined) {
        const result = hit.value as PinnedTaskRead;
        this.events.record(result.task!.found ? "hit" : "negative_hit", "l1");
        return result;
      }
    }
    this.events.record("miss", "l1");
    const generation = this.generation;
    const result = await this.store.getPinnedTask(environmentId, externalId, slug, queueName);
    this.rememberLocked(generation, environmentId, key, queueName, result);
    return result;
  }

  /** Hits answered here; the misses of the version together in one read of the store below. */
  async getLockedTasks(environmentId: string, version: string, requests: readonly LockedRequest[]): Promise<LockedTaskRead[]> {
    const answers: LockedTaskRead[] = new Array(requests.length);
    const missed: number[] = [];
    requests.forEach(({ slug, queueName }, i) => {
      const hit = this.isLive ? this.entries.get(lockedKey(environmentId, version, slug, queueName)) : undefined;
      if (hit === undefined) {
        missed.push(i);
        return this.events.record("miss", "l1");
      }
      const result = hit.value as LockedTaskRead;
      this.events.record(result.task!.found ? "hit" : "negative_hit", "l1");
      answers[i] = result;
    });
    if (missed.length === 0) return answers;
    const generation = this.generation;
    const fetched = await this.store.getLockedTasks(environmentId, version, missed.map((i) => requests[i]));
    missed.forEach((i, j) => {
      const { slug, queueName } = requests[i];
      this.rememberLocked(generation, environmentId, lockedKey(environmentId, version, slug, queueName), queueName, fetched[j]);
      answers[i] = fetched[j];
    });
    return answers;
  }

  /** Only a complete answer: an unknown version, a null task or an unanswered queue lookup is a miss (or a failure). */
  private rememberLocked(generation: number, environmentId: string, key: string, queueName: string | undefined, result: LockedTaskRead) {
    if (!result.workerId || !result.task || (queueName !== undefined && !result.queueId)) return;
    Object.freeze(result.task);
    this.remember(generation, environmentId, key, Object.freeze(result));
  }

  // ---- writes: through to Redis, then drop or refresh what this process holds ------------------

  async replaceCurrent(environmentId: string, snapshot: WorkerMetadataSnapshot): Promise<void> {
    // Dropped even when the replace fails: Redis may hold the new hash or the old one.
    try {
      await this.store.replaceCurrent(environmentId, snapshot);
    } finally {
      this.invalidateEnvironment(environmentId);
    }
  }

  async clearCurrent(environmentId: string): Promise<void> {
    try {
      await this.store.clearCurrent(environmentId);
    } finally {
      this.invalidateEnvironment(environmentId);
    }
  }

  async replaceWorker(environmentId: string, snapshot: WorkerMetadataSnapshot): Promise<void> {
    // A worker's entries never change after registration, so nothing held can be stale; dropping
    // the environment locally is cheap and keeps this tier from outliving any surprise.
    try {
      await this.store.replaceWorker(environmentId, snapshot);
    } finally {
      this.invalidateEnvironment(environmentId);
    }
  }

  async backfillCurrentTask(environmentId: string, ownerWorkerId: string | null, slug: string, entry: TaskEntry): Promise<boolean> {
    const generation = this.generation;
    const written = await this.store.backfillCurrentTask(environmentId, ownerWorkerId, slug, entry);
    // Written means the owner still matched: Redis now holds exactly this entry.
    if (written) this.remember(generation, environmentId, currentKey(environmentId, slug), Object.freeze(entry));
    return written;
  }

  async backfillCurrentTasks(
    environmentId: string,
    ownerWorkerId: string | null,
    entries: readonly { slug: string; entry: TaskEntry }[],
  ): Promise<boolean> {
    const generation = this.generation;
    const written = await this.store.backfillCurrentTasks(environmentId, ownerWorkerId, entries);
    if (written) {
      for (const { slug, entry } of entries) this.remember(generation, environmentId, currentKey(environmentId, slug), Object.freeze(entry));
    }
    return written;
  }

  backfillLocked(environmentId: string, version: string, workerId: string, fill: LockedFill): Promise<boolean> {
    // Nothing to drop (the read that missed here is why this fill happens) and locked answers are
    // cached per (version, slug, queue), which a fill of one half alone cannot build.
    return this.store.backfillLocked(environmentId, version, workerId, fill);
  }

  backfillPinned(environmentId: string, externalId: string, workerId: string, fill: LockedFill): Promise<boolean> {
    // As backfillLocked: the answer is cached per (id, slug, queue) by the next read.
    return this.store.backfillPinned(environmentId, externalId, workerId, fill);
  }

  markNotDeployed(environmentId: string, externalId: string): Promise<boolean> {
    return this.store.markNotDeployed(environmentId, externalId);
  }

  // ---- bookkeeping -------------------------------------------------------------------------

  /** Stores a value read at `generation`, unless the tier went down or was invalidated meanwhile. */
  private remember(generation: number, environmentId: string, key: string, value: Stored["value"]): void {
    if (!this.isLive || generation !== this.generation) return;
    this.entries.set(key, { environmentId, value });
    let keys = this.byEnvironment.get(environmentId);
    if (!keys) {
      keys = new Set();
      this.byEnvironment.set(environmentId, keys);
    }
    keys.add(key);
  }

  private unindex(environmentId: string, key: string): void {
    const keys = this.byEnvironment.get(environmentId);
    if (!keys) return;
    keys.delete(key);
    if (keys.size === 0) this.byEnvironment.delete(environmentId);
  }
}
