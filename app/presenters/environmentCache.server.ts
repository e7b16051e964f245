import { prisma, readOrPrimary, readPrisma } from "~/db.server";
import { lockedTaskField } from "~/domain/cacheKeys";
import { compareTaskField, type FieldState } from "~/domain/taskMetadataDrift";
import type { TaskEntry, TaskMetadata } from "~/domain/taskMetadataEntry";
import { environmentSummary, environmentSummarySelect, type EnvironmentSummary } from "~/presenters/environmentSummary.server";
import { redisUnavailableNotice } from "~/presenters/pageData.server";
import {
  DEFAULT_SCAN_COUNT,
  taskMetadataCacheAdmin,
  type CurrentHashStatus,
  type TaskMetadataCacheAdmin,
  findCurrentWorkerId,
  loadWorkerSnapshot,
} from "~/services/taskMetadata/index.server";

/**
 * /admin/environments/:envId/cache and its worker hash pages: the decoded contents of the
 * environment's hashes beside what Postgres says they should hold.
 *
 * Hashes are read a cursor step at a time (HSCAN with an optional field filter) and compared
 * field by field with the worker's tasks in Postgres; a step's cursor goes in the URL for "load
 * more". Postgres is read from the replica when there is one: drift is a hint for a human, and a
 * lagging replica shows up as drift that disappears on reload.
 */

export interface FieldRow {
  field: string;
  state: FieldState;
  /** The decoded value; null when it does not decode. */
  cached: TaskEntry | null;
  differences: string[];
  /** The stored value, pretty-printed when it is JSON. */
  rawJson: string;
}

export interface HashPage {
  /** The cursor this page started from ("0" = the beginning). */
  cursor: string;
  /** "0" when there is nothing more. */
  nextCursor: string;
  filter: string;
  rows: FieldRow[];
}

export interface HashQuery {
  cursor?: string;
  filter?: string;
  count?: number;
}

export interface WorkerRef {
  id: string;
  version: string;
}

export interface NotCachedYet {
  /** Slugs of the current worker (matching the filter) absent from the current hash, first ones only. */
  slugs: string[];
  total: number;
}

export interface WorkerHashRow {
  workerId: string;
  key: string;
  fieldCount: number;
  ttlSeconds: number;
  /** From Postgres; null when the worker no longer exists there. */
  version: string | null;
  isCurrent: boolean;
}

export interface EnvironmentCachePage {
  environment: EnvironmentSummary;
  /** Postgres' current worker (latest in DEVELOPMENT, promoted elsewhere). */
  currentWorker: (WorkerRef & { taskCount: number }) | null;
  keys: { current: string; owner: string };
  redis:
    | { ok: false; error: string }
    | {
        ok: true;
        status: CurrentHashStatus;
        /** The worker the hash was written for, with its version from Postgres when it still exists. */
        owner: { id: string; version: string | null } | null;
        /** The hash belongs to another worker than Postgres' current one (or exists without one). */
        ownerDrift: boolean;
        current: HashPage;
        notCachedYet: NotCachedYet | null;
        workerHashes: { cursor: string; nextCursor: string; items: WorkerHashRow[] };
      };
}

const NOT_CACHED_SHOWN = 50;

function prettyJson(raw: string): string {
  try {
    return JSON.stringify(JSON.parse(raw), null, 2);
  } catch {
    return raw;
  }
}

async function readEnvironmentSummary(environmentId: string): Promise<EnvironmentSummary | null> {
  const environment = await readOrPrimary((db) =>
    db.runtimeEnvironment.findUnique({ where: { id: environmentId }, select: environmentSummarySelect }),
  );
  return environment && environmentSummary(environment);
}

/** Slug → the entry the write path would store for it today (the cache's own Postgres mapping). */
async function expectedEntries(workerId: string | null): Promise<{ worker: WorkerRef | null; entries: Map<string, TaskMetadata> }> {
  const snapshot = workerId ? await readOrPrimary((db) => loadWorkerSnapshot(db, workerId)) : null;
  return {
    worker: snapshot && { id: snapshot.workerId, version: snapshot.version },
    entries: new Map(snapshot?.tasks.map((t) => [t.slug, t.entry]) ?? []),
  };
}

async function hashPage(
  admin: TaskMetadataCacheAdmin,
  key: string,
  expected: Map<string, TaskMetadata>,
  query: HashQuery,
  fieldPrefix?: string,
): Promise<HashPage> {
  const cursor = query.cursor ?? "0";
  const filter = query.filter ?? "";
  const step = await admin.scanHash(key, { cursor, filter, count: query.count ?? DEFAULT_SCAN_COUNT, fieldPrefix });
  return {
    cursor,
    nextCursor: step.nextCursor,
    filter,
    rows: step.items.map(({ field, value }) => {
      const comparison = compareTaskField(value, expected.get(field) ?? null);
      return { field, ...comparison, rawJson: prettyJson(value) };
    }),
  };
}

async function workerVersions(workerIds: string[]): Promise<Map<string, string>> {
  if (workerIds.length === 0) return new Map();
  const workers = await readPrisma().backgroundWorker.findMany({ where: { id: { in: workerIds } }, select: { id: true, version: true } });
  return new Map(workers.map((w) => [w.id, w.version]));
}

export interface EnvironmentCacheQuery extends HashQuery {
  /** SCAN cursor of the worker hash list. */
  workersCursor?: string;
  workersCount?: number;
}

/** Null when the environment does not exist. */
export async function environmentCachePage(
  environmentId: string,
  query: EnvironmentCacheQuery = {},
  deps: { admin?: TaskMetadataCacheAdmin } = {},
): Promise<EnvironmentCachePage | null> {
  const environment = await readEnvironmentSummary(environmentId);
  if (!environment) return null;
  const admin = deps.admin ?? taskMetadataCacheAdmin();
  const keys = admin.keys(environment.id);
  // The primary: the page compares Redis with the truth, and a lagging replica would report every
  // fresh promotion as drift (docs/decisions/0021-replica-not-found-is-rechecked-on-the-primary.md).
  const currentWorkerId = await findCurrentWorkerId(prisma(), environment);
  const { worker, entries } = await expectedEntries(currentWorkerId);
  const currentWorker = worker && { ...worker, taskCount: entries.size };
  const base = { environment, currentWorker, keys: { current: keys.current, owner: keys.owner } };

  try {
    const filter = query.filter ?? "";
    const [status, current, workerScan] = await Promise.all([
      admin.currentStatus(environment.id),
      hashPage(admin, keys.current, entries, query),
      admin.scanWorkerHashes(environment.id, query.workersCursor ?? "0", query.workersCount ?? DEFAULT_SCAN_COUNT),
    ]);

    // Tasks Postgres has and the hash lacks: the back-fill writes them on first use, so they are
    // listed apart, not as drift. Checked on the first step only (it covers the whole hash).
    let notCachedYet: NotCachedYet | null = null;
    if ((query.cursor ?? "0") === "0") {
      const candidates = [...entries.keys()].filter((slug) => slug.includes(filter)).sort();
      const values = await admin.getFields(keys.current, candidates);
      const missing = candidates.filter((_, i) => values[i] === null);
      notCachedYet = { slugs: missing.slice(0, NOT_CACHED_SHOWN), total: missing.length };
    }

    const versions = await workerVersions([
      ...workerScan.items.map((w) => w.workerId),
      ...(status.ownerWorkerId ? [status.ownerWorkerId] : []),
    ]);
    const owner = status.ownerWorkerId ? { id: status.ownerWorkerId, version: versions.get(status.ownerWorkerId) ?? null } : null;
    return {
      ...base,
      redis: {
        ok: true,
        status,
        owner,
        ownerDrift: status.exists && (owner?.id ?? null) !== (currentWorker?.id ?? null),
        current,
        notCachedYet,
        workerHashes: {
          cursor: query.workersCursor ?? "0",
          nextCursor: workerScan.nextCursor,
          items: workerScan.items.map((w) => ({
            ...w,
            version: versions.get(w.workerId) ?? null,
            isCurrent: w.workerId === currentWorker?.id,
          })),
        },
      },
    };
  } catch (error) {
    return { ...base, redis: { ok: false, error: redisUnavailableNotice("environment cache", error) } };
  }
}

export interface WorkerHashPage {
  environment: EnvironmentSummary;
  workerId: string;
  /** Null when the worker does not exist in Postgres (a key left behind). */
  worker: (WorkerRef & { taskCount: number; isCurrent: boolean }) | null;
  key: string;
  redis: { ok: false; error: string } | { ok: true; fieldCount: number; ttlSeconds: number; page: HashPage };
}

/** One worker's hash, compared with that worker's tasks. Null when the environment does not exist. */
export async function workerHashPage(
  environmentId: string,
  workerId: string,
  query: HashQuery = {},
  deps: { admin?: TaskMetadataCacheAdmin } = {},
): Promise<WorkerHashPage | null> {
  const environment = await readEnvironmentSummary(environmentId);
  if (!environment) return null;
  const admin = deps.admin ?? taskMetadataCacheAdmin();
  const [inEnvironment, currentWorkerId] = await Promise.all([
    readOrPrimary((db) => db.backgroundWorker.findFirst({ where: { id: workerId, environmentId: environment.id }, select: { id: true } })),
    findCurrentWorkerId(prisma(), environment),
  ]);
  // Another environment's worker id in this URL: compare against nothing rather than its tasks.
  const { worker, entries } = await expectedEntries(inEnvironment ? workerId : null);
  // The worker's locked hash, by its version (0055); without one, the key the layout before 0055 used.
  const keys = admin.keys(environment.id);
  const key = worker ? keys.locked(worker.version) : keys.worker(workerId);
  const fieldPrefix = worker ? lockedTaskField("") : undefined;
  const base = {
    environment,
    workerId,
    key,
    worker: worker && { ...worker, taskCount: entries.size, isCurrent: worker.id === currentWorkerId },
  };
  try {
    const [status, page] = await Promise.all([admin.hashStatus(key), hashPage(admin, key, entries, query, fieldPrefix)]);
    return { ...base, redis: { ok: true, ...status, page } };
  } catch (error) {
    return { ...base, redis: { ok: false, error: redisUnavailableNotice("worker hash", error) } };
  }
}
