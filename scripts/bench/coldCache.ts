import type { TaskMetadataStore } from "~/services/taskMetadata/index.server";

/**
 * The store of the `redis cache, cold` and `first miss` scenarios: the real Redis store, kept cold without touching the
 * timed calls.
 *
 * Reads go to the keys of an environment id that nothing ever writes, so every HGET is a real
 * round trip that misses. Back-fills run the real scripts with the real entries, but against the
 * keys of a second, "sink" environment id, so a back-fill never warms what the next call reads,
 * for as many calls as the run makes, sequential or at any concurrency, with no deletes between
 * calls. To the resolver this is a key whose back-fills do not stick: from its third miss it asks
 * Redis and Postgres at once and back-fills once a second (`redis cache, cold`); with the miss
 * streaks turned off, every call pays a first miss — the Redis miss, then the Postgres lookup,
 * then a back-fill in the background (`redis cache, first miss`).
 *
 * Both ids carry the benchmark environment's id, so they share its key prefix (cleaned after the
 * run) and their keys are built exactly like the real ones.
 */
export class ColdTaskMetadataCache implements TaskMetadataStore {
  constructor(private readonly redis: TaskMetadataStore) {}

  private readEnvironment(environmentId: string) {
    return `${environmentId}-cold-never-written`;
  }
  private sinkEnvironment(environmentId: string) {
    return `${environmentId}-cold-backfill-sink`;
  }

  getCurrentTask(environmentId: string, slug: string) {
    return this.redis.getCurrentTask(this.readEnvironment(environmentId), slug);
  }
  getCurrentTasks(environmentId: string, slugs: readonly string[]) {
    return this.redis.getCurrentTasks(this.readEnvironment(environmentId), slugs);
  }
  getLockedTask(environmentId: string, version: string, slug: string, queueName?: string) {
    return this.redis.getLockedTask(this.readEnvironment(environmentId), version, slug, queueName);
  }
  getPinnedTask(environmentId: string, externalId: string, slug: string, queueName?: string) {
    return this.redis.getPinnedTask(this.readEnvironment(environmentId), externalId, slug, queueName);
  }

  getLockedTasks(...[environmentId, ...rest]: Parameters<TaskMetadataStore["getLockedTasks"]>) {
    return this.redis.getLockedTasks(this.readEnvironment(environmentId), ...rest);
  }

  backfillCurrentTask(...[environmentId, ...rest]: Parameters<TaskMetadataStore["backfillCurrentTask"]>) {
    return this.redis.backfillCurrentTask(this.sinkEnvironment(environmentId), ...rest);
  }
  backfillCurrentTasks(...[environmentId, ...rest]: Parameters<TaskMetadataStore["backfillCurrentTasks"]>) {
    return this.redis.backfillCurrentTasks(this.sinkEnvironment(environmentId), ...rest);
  }
  backfillLocked(...[environmentId, ...rest]: Parameters<TaskMetadataStore["backfillLocked"]>) {
    return this.redis.backfillLocked(this.sinkEnvironment(environmentId), ...rest);
  }
  backfillPinned(...[environmentId, ...rest]: Parameters<TaskMetadataStore["backfillPinned"]>) {
    return this.redis.backfillPinned(this.sinkEnvironment(environmentId), ...rest);
  }
  markNotDeployed(...[environmentId, ...rest]: Parameters<TaskMetadataStore["markNotDeployed"]>) {
    return this.redis.markNotDeployed(this.sinkEnvironment(environmentId), ...rest);
  }

  // Replaces are not part of any timed call; refuse them rather than write somewhere surprising.
  async replaceCurrent(): Promise<void> {
    throw new Error("the cold benchmark store does not replace hashes");
  }
  async clearCurrent(): Promise<void> {
    throw new Error("the cold benchmark store does not replace hashes");
  }
  async replaceWorker(): Promise<void> {
    throw new Error("the cold benchmark store does not replace hashes");
  }
}
