import { Prisma, type PrismaClient } from "~/generated/prisma/client.ts";
import { ABSENT_TASK, type TaskEntry, type TaskMetadata, type WorkerMetadataSnapshot } from "~/domain/taskMetadataEntry";

/**
 * The Postgres side of task metadata: what the cache holds, read from the source of truth. Used
 * by the resolver on a miss and by the write services to build the hashes they replace. The
 * resolver's lookups are one statement each (counted in test/integration/queueResolver.test.ts).
 */

export type EnvironmentType = "DEVELOPMENT" | "STAGING" | "PRODUCTION" | "PREVIEW";

export interface EnvironmentRef {
  id: string;
  type: EnvironmentType;
}

export const CURRENT_LABEL = "current";

const taskSelect = {
  ttl: true,
  triggerSource: true,
  queue: { select: { id: true, name: true } },
} as const;

type TaskRow = { ttl: string | null; triggerSource: TaskMetadata["kind"]; queue: { id: string; name: string } | null };

function toMetadata(row: TaskRow): TaskMetadata {
  return {
    found: true,
    kind: row.triggerSource,
    ttl: row.ttl,
    queueId: row.queue?.id ?? null,
    queueName: row.queue?.name ?? null,
  };
}

interface TaskJoinRow {
  workerId: string;
  taskId: string | null;
  ttl: string | null;
  triggerSource: TaskMetadata["kind"] | null;
  queueId: string | null;
  queueName: string | null;
}

function rowEntry(row: TaskJoinRow | undefined): TaskEntry {
  if (!row?.taskId || !row.triggerSource) return ABSENT_TASK;
  return toMetadata({
    ttl: row.ttl,
    triggerSource: row.triggerSource,
    queue: row.queueId && row.queueName ? { id: row.queueId, name: row.queueName } : null,
  });
}

/**
 * The current worker (SPEC §2: the latest registered worker in DEVELOPMENT, the promoted one
 * elsewhere) and the entry of `slug` on it. One statement: Prisma's nested selects would cost one
 * query per relation (4 here), and this is the cold path of every trigger. `workerId` is null
 * when the environment has no current worker.
 */
export async function findCurrentTask(
  db: PrismaClient,
  environment: EnvironmentRef,
  slug: string,
): Promise<{ workerId: string | null; entry: TaskEntry }> {
  const rows =
    environment.type === "DEVELOPMENT"
      ? await db.$queryRaw<TaskJoinRow[]>`
          SELECT w.id AS "workerId", t.id AS "taskId", t.ttl, t."triggerSource"::text AS "triggerSource",
                 q.id AS "queueId", q.name AS "queueName"
          FROM (SELECT id FROM "BackgroundWorker" WHERE "environmentId" = ${environment.id}
                ORDER BY "createdAt" DESC, id DESC LIMIT 1) w
          LEFT JOIN "BackgroundWorkerTask" t ON t."workerId" = w.id AND t.slug = ${slug}
          LEFT JOIN "TaskQueue" q ON q.id = t."queueId"`
      : await db.$queryRaw<TaskJoinRow[]>`
          SELECT p."workerId", t.id AS "taskId", t.ttl, t."triggerSource"::text AS "triggerSource",
                 q.id AS "queueId", q.name AS "queueName"
          FROM "WorkerDeploymentPromotion" p
          LEFT JOIN "BackgroundWorkerTask" t ON t."workerId" = p."workerId" AND t.slug = ${slug}
          LEFT JOIN "TaskQueue" q ON q.id = t."queueId"
          WHERE p."environmentId" = ${environment.id} AND p.label = ${CURRENT_LABEL}`;
  return { workerId: rows[0]?.workerId ?? null, entry: rowEntry(rows[0]) };
}

/** The id of the current worker only (write services, repairs). */
export async function findCurrentWorkerId(db: PrismaClient, environment: EnvironmentRef): Promise<string | null> {
  if (environment.type === "DEVELOPMENT") {
    const worker = await db.backgroundWorker.findFirst({
      where: { environmentId: environment.id },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      select: { id: true },
    });
    return worker?.id ?? null;
  }
  const promotion = await db.workerDeploymentPromotion.findUnique({
    where: { environmentId_label: { environmentId: environment.id, label: CURRENT_LABEL } },
    select: { workerId: true },
  });
  return promotion?.workerId ?? null;
}

export interface LockedLookup {
  workerId: string;
  entry: TaskEntry;
  /** Id of the queue named by the override if a task of this worker runs on it; undefined without an override. */
  overrideQueueId: string | null | undefined;
}

/**
 * Everything a version-locked trigger needs, in one statement: the worker (by version or id),
 * the task on it, and, for a queue override, whether that queue exists in the environment and is
 * used by the worker. Null when no such worker exists.
 */
export async function findLockedTask(
  db: PrismaClient,
  environmentId: string,
  worker: { version: string } | { id: string },
  slug: string,
  overrideQueueName?: string,
): Promise<LockedLookup | null> {
  // Two spellings of the filter rather than one CASE, so each uses its unique index.
  const whichWorker = "version" in worker ? Prisma.sql`w.version = ${worker.version}` : Prisma.sql`w.id = ${worker.id}`;
  const queueName = overrideQueueName ?? null;
  const rows = await db.$queryRaw<(TaskJoinRow & { overrideQueueId: string | null })[]>`
    SELECT w.id AS "workerId", t.id AS "taskId", t.ttl, t."triggerSource"::text AS "triggerSource",
           q.id AS "queueId", q.name AS "queueName",
           (SELECT o.id FROM "TaskQueue" o
             WHERE o."environmentId" = w."environmentId" AND o.name = ${queueName}::text
               AND EXISTS (SELECT 1 FROM "BackgroundWorkerTask" u WHERE u."queueId" = o.id AND u."workerId" = w.id)
           ) AS "overrideQueueId"
    FROM "BackgroundWorker" w
    LEFT JOIN "BackgroundWorkerTask" t ON t."workerId" = w.id AND t.slug = ${slug}
    LEFT JOIN "TaskQueue" q ON q.id = t."queueId"
    WHERE w."environmentId" = ${environmentId} AND ${whichWorker}`;
  const row = rows[0];
  if (!row) return null;
  return {
    workerId: row.workerId,
    entry: rowEntry(row),
    overrideQueueId: overrideQueueName === undefined ? undefined : row.overrideQueueId,
  };
}

/** Everything a replace writes for one worker; null when the worker does not exist. */
export async function loadWorkerSnapshot(db: PrismaClient, workerId: string): Promise<WorkerMetadataSnapshot | null> {
  const worker = await db.backgroundWorker.findUnique({
    where: { id: workerId },
    select: { id: true, version: true, tasks: { select: { slug: true, ...taskSelect } } },
  });
  if (!worker) return null;
  const queues = new Map<string, string>();
  const tasks = worker.tasks.map((task) => {
    if (task.queue) queues.set(task.queue.name, task.queue.id);
    return { slug: task.slug, entry: toMetadata(task) };
  });
  return {
    workerId: worker.id,
    version: worker.version,
    tasks,
    queues: [...queues].map(([name, id]) => ({ name, id })),
  };
}

/**
 * The miss-path lookups the resolver needs, as an object so a wrapper (single-flight, a read
 * replica with a primary re-check) can stand in front of Postgres without touching the resolver.
 */
export interface TaskMetadataSource {
  findCurrentTask(environment: EnvironmentRef, slug: string): Promise<{ workerId: string | null; entry: TaskEntry }>;
  findLockedTask(
    environmentId: string,
    worker: { version: string } | { id: string },
    slug: string,
    overrideQueueName?: string,
  ): Promise<LockedLookup | null>;
}

export function postgresTaskMetadataSource(db: PrismaClient): TaskMetadataSource {
  return {
    findCurrentTask: (environment, slug) => findCurrentTask(db, environment, slug),
    findLockedTask: (environmentId, worker, slug, overrideQueueName) =>
      findLockedTask(db, environmentId, worker, slug, overrideQueueName),
  };
}
