import type { TaskEntry, WorkerMetadataSnapshot } from "~/domain/taskMetadataEntry";

/**
 * What the resolver and the write services need from the task metadata cache. Three
 * implementations: RedisTaskMetadataStore (redisStore.server.ts), the in-process tier in front of
 * it (InProcessTaskMetadataStore, inProcessStore.server.ts) and NoopTaskMetadataStore below.
 */
export interface TaskMetadataStore {
  /** The entry of `slug` for the environment's current worker; null on a miss. */
  getCurrentTask(environmentId: string, slug: string): Promise<TaskEntry | null>;
  /**
   * The entries of many slugs of the current hash in ONE read (an HMGET; every key of one
   * environment shares its `{envId}` hash tag, so this is Cluster-safe); null per miss, in order.
   */
  getCurrentTasks(environmentId: string, slugs: readonly string[]): Promise<(TaskEntry | null)[]>;
  /**
   * A locked caller's lookup, in one read: the worker registered as `version`, the entry of `slug`
   * on it and, when `queueName` is given, the id of that queue if the worker's tasks use it.
   */
  getLockedTask(environmentId: string, version: string, slug: string, queueName?: string): Promise<LockedTaskRead>;
  /**
   * A pinned caller's lookup (`externalDeploymentId`), in one read of the id's pinned hash: the same
   * answer as {@link getLockedTask}, or `notDeployed` while the short negative entry says no worker has the id.
   */
  getPinnedTask(environmentId: string, externalId: string, slug: string, queueName?: string): Promise<PinnedTaskRead>;
  /**
   * {@link getLockedTask} for many (task, queue) pairs of ONE version, in one read (an HMGET of that
   * version's locked hash, 0055): one answer per request, in order.
   */
  getLockedTasks(environmentId: string, version: string, requests: readonly LockedRequest[]): Promise<LockedTaskRead[]>;

  /** Promotion / dev registration: current hash, the worker's hashes, owner and version, atomically. Throws on failure. */
  replaceCurrent(environmentId: string, snapshot: WorkerMetadataSnapshot): Promise<void>;
  /** The environment has no current worker any more (or never had one). Throws on failure. */
  clearCurrent(environmentId: string): Promise<void>;
  /** Non-dev registration: one worker's locked hash. Throws on failure. */
  replaceWorker(environmentId: string, snapshot: WorkerMetadataSnapshot): Promise<void>;

  /** Writes one current-hash field if the owner is still `ownerWorkerId` (null = no current worker). */
  backfillCurrentTask(environmentId: string, ownerWorkerId: string | null, slug: string, entry: TaskEntry): Promise<boolean>;
  /** {@link backfillCurrentTask} for many fields, in one script call. */
  backfillCurrentTasks(
    environmentId: string,
    ownerWorkerId: string | null,
    entries: readonly { slug: string; entry: TaskEntry }[],
  ): Promise<boolean>;
  /** Writes into the locked hash of `version` if it belongs to `workerId` (or to no worker yet). */
  backfillLocked(environmentId: string, version: string, workerId: string, fill: LockedFill): Promise<boolean>;
  /** Writes into the pinned hash of `externalId` if it belongs to `workerId` (or to no worker yet). */
  backfillPinned(environmentId: string, externalId: string, workerId: string, fill: LockedFill): Promise<boolean>;
  /** The short negative entry of an external id no worker has; never over a hash that exists. */
  markNotDeployed(environmentId: string, externalId: string): Promise<boolean>;
}

export interface LockedTaskRead {
  /** Null on a miss of the version itself (then `task` is null too). */
  workerId: string | null;
  task: TaskEntry | null;
  /** Null on a miss, undefined when no queue was asked for. */
  queueId: string | null | undefined;
}

export interface PinnedTaskRead extends LockedTaskRead {
  /** The negative entry: no worker had this external id a moment ago (then `workerId` is null). */
  notDeployed: boolean;
}

/** One locked lookup: a task of the version and, for a queue override, that queue's association. */
export interface LockedRequest {
  slug: string;
  queueName?: string;
}

/** What a locked back-fill writes into one version's hash (tasks, absent ones included, and queue associations). */
export interface LockedFill {
  tasks?: readonly { slug: string; entry: TaskEntry }[];
  queues?: readonly { name: string; id: string }[];
}

/** A replace or clear that did not reach the cache: its caller must repair the committed change. */
export class TaskMetadataCacheError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "TaskMetadataCacheError";
  }
}

/** Same interface, no storage: every read misses. The benchmark's baseline and a kill switch. */
export class NoopTaskMetadataStore implements TaskMetadataStore {
  async getCurrentTask() {
    return null;
  }
  async getCurrentTasks(_environmentId: string, slugs: readonly string[]) {
    return slugs.map(() => null);
  }
  async getLockedTask(): Promise<LockedTaskRead> {
    return { workerId: null, task: null, queueId: null };
  }
  async getPinnedTask(): Promise<PinnedTaskRead> {
    return { workerId: null, task: null, queueId: null, notDeployed: false };
  }
  async getLockedTasks(_environmentId: string, _version: string, requests: readonly LockedRequest[]): Promise<LockedTaskRead[]> {
    return requests.map(({ queueName }) => ({ workerId: null, task: null, queueId: queueName === undefined ? undefined : null }));
  }
  async replaceCurrent() {}
  async clearCurrent() {}
  async replaceWorker() {}
  async backfillCurrentTask() {
    return false;
  }
  async backfillCurrentTasks() {
    return false;
  }
  async backfillLocked() {
    return false;
  }
  async backfillPinned() {
    return false;
  }
  async markNotDeployed() {
    return false;
  }
}
