/**
 * The task metadata cache: the only module the rest of the app imports from this folder.
 * docs/architecture.md walks through the files behind it.
 */

// The trigger hot path.
export { resolveTask, type ResolveInput, type ResolvedTask } from "~/services/taskMetadata/resolver.server";

// The store the write services replace hashes through, and its lifecycle.
export type { TaskMetadataStore } from "~/services/taskMetadata/store.server";
export {
  connectTaskMetadataCache,
  disconnectTaskMetadataCache,
  publishCurrentHashChange,
  setCacheEventSink,
  taskMetadataCache,
} from "~/services/taskMetadata/instance.server";

// Postgres' view of task metadata (write services, presenters).
export { findCurrentWorkerId, loadWorkerSnapshot } from "~/services/taskMetadata/sources.server";

// The resilient pub/sub subscriber, reused by the API-key tier's revocation channel.
export { InvalidationSubscriber, subscriberConnection } from "~/services/taskMetadata/invalidation.server";

// The admin browser, its repairs, and the sweep.
export {
  DEFAULT_SCAN_COUNT,
  disconnectTaskMetadataCacheAdmin,
  taskMetadataCacheAdmin,
  TaskMetadataCacheAdmin,
  type CurrentHashStatus,
} from "~/services/taskMetadata/admin.server";
export { deleteCurrentHashField, invalidateCurrentHash, rebuildCurrentHash } from "~/services/taskMetadata/repairs.server";
export { reconcileCurrentHashes, startCacheReconciler, stopCacheReconciler } from "~/services/taskMetadata/reconciler.server";

// A batch's items, resolved at once (one cache read per batch).
export {
  BatchResolver,
  resolveMany,
  type BatchResolveItem,
  type BatchResolveSummary,
  type ItemResolution,
} from "~/services/taskMetadata/batchResolver.server";
