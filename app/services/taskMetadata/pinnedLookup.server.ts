import type { TaskEntry } from "~/domain/taskMetadataEntry";
import { CacheMiss, type Lookup } from "~/services/taskMetadata/readThrough.server";
import type { LockedLookup, TaskMetadataSource } from "~/services/taskMetadata/sources.server";
import type { TaskMetadataStore } from "~/services/taskMetadata/store.server";

/**
 * A pinned trigger's lookup (`options.externalDeploymentId`): the worker registered with that
 * external id, the task on it and the override's queue association, in ONE read of the id's
 * pinned hash (docs/decisions/0070-pinned-hash-by-external-id.md) — the locked lookup's shape,
 * keyed by external id instead of version.
 *
 * Unlike an unknown version, an id no worker has yet is not an error: the run waits for its deploy
 * (PENDING_VERSION). That answer is cached as a short negative entry, written only where nothing
 * is, so the deploy that registers the id (which overwrites it) is seen by the next read.
 */

export interface PinnedArgs {
  environmentId: string;
  externalId: string;
  slug: string;
  queueName: string | undefined;
}

export interface PinnedAnswer {
  workerId: string;
  entry: TaskEntry;
  queueId: string | null;
}

/** The cache's "no worker has this id yet". */
export const NOT_DEPLOYED_YET = Object.freeze({ notDeployed: true as const });
export type NotDeployedYet = typeof NOT_DEPLOYED_YET;

interface LookupIo {
  readonly cache: TaskMetadataStore;
  readonly source: TaskMetadataSource;
}

export function pinnedTaskLookup(io: LookupIo): Lookup<PinnedArgs, PinnedAnswer | NotDeployedYet, LockedLookup | null, string> {
  return {
    key: ({ environmentId, externalId, slug, queueName }) => `${environmentId}\0p\0${externalId}\0${slug}\0${queueName ?? ""}`,
    context: ({ environmentId, externalId, slug }) => ({ environmentId, externalId, slug }),
    fromCache: async ({ environmentId, externalId, slug, queueName }) => {
      const cached = await io.cache.getPinnedTask(environmentId, externalId, slug, queueName);
      if (cached.notDeployed) return NOT_DEPLOYED_YET;
      const { workerId, task } = cached;
      if (!workerId) return null;
      if (!task || (queueName !== undefined && !cached.queueId)) return new CacheMiss(workerId);
      return { workerId, entry: task, queueId: cached.queueId ?? null };
    },
    fromSource: ({ environmentId, externalId, slug, queueName }, cachedWorkerId) =>
      io.source.findLockedTask(environmentId, cachedWorkerId ? { id: cachedWorkerId } : { externalDeploymentId: externalId }, slug, queueName),
    backfill: ({ environmentId, externalId, slug, queueName }, found) =>
      found
        ? () =>
            io.cache.backfillPinned(environmentId, externalId, found.workerId, {
              tasks: [{ slug, entry: found.entry }],
              queues: queueName !== undefined && found.overrideQueueId ? [{ name: queueName, id: found.overrideQueueId }] : [],
            })
        : () => io.cache.markNotDeployed(environmentId, externalId),
  };
}
