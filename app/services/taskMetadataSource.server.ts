import type { PrismaClient } from "~/generated/prisma/client.ts";
import { ABSENT_TASK, type TaskEntry, type TaskMetadata, type WorkerMetadataSnapshot } from "~/domain/taskMetadataEntry";

/**
 * The Postgres side of task metadata: what the cache holds, read from the source of truth. Used
 * by the resolver on a miss and by the write services to build the hashes they replace. Each
 * function is one query with an explicit select (counted in test/integration/queueResolver.test.ts).
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

function toEntry(row: TaskRow | undefined | null): TaskEntry {
  return row ? toMetadata(row) : ABSENT_TASK;
}

/**
 * The current worker (SPEC §2: the latest registered worker in DEVELOPMENT, the promoted one
 * elsewhere) and the entry of `slug` on it, in one query. `workerId` is null when the
 * environment has no current worker.
 */
export async function findCurrentTask(
  db: PrismaClient,
  environment: EnvironmentRef,
  slug: string,
): Promise<{ workerId: string | null; entry: TaskEntry }> {
  const tasks = { where: { slug }, select: taskSelect, take: 1 } as const;
  if (environment.type === "DEVELOPMENT") {
    const worker = await db.backgroundWorker.findFirst({
      where: { environmentId: environment.id },
      orderBy: [{ createdAt: "desc" }, { id: "desc" }],
      select: { id: true, tasks },
    });
    return { workerId: worker?.id ?? null, entry: toEntry(worker?.tasks[0]) };
  }
  const promotion = await db.workerDeploymentPromotion.findUnique({
    where: { environmentId_label: { environmentId: environment.id, label: CURRENT_LABEL } },
    select: { workerId: true, worker: { select: { tasks } } },
  });
  return { workerId: promotion?.workerId ?? null, entry: toEntry(promotion?.worker.tasks[0]) };
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

export async function findWorkerIdByVersion(db: PrismaClient, environmentId: string, version: string): Promise<string | null> {
  const worker = await db.backgroundWorker.findUnique({
    where: { environmentId_version: { environmentId, version } },
    select: { id: true },
  });
  return worker?.id ?? null;
}

export async function findTaskOnWorker(db: PrismaClient, workerId: string, slug: string): Promise<TaskEntry> {
  const row = await db.backgroundWorkerTask.findUnique({
    where: { workerId_slug: { workerId, slug } },
    select: taskSelect,
  });
  return toEntry(row);
}

/** The queue named `queueName` in the environment, if a task of `workerId` runs on it. */
export async function findQueueUsedByWorker(
  db: PrismaClient,
  environmentId: string,
  workerId: string,
  queueName: string,
): Promise<string | null> {
  const queue = await db.taskQueue.findFirst({
    where: { environmentId, name: queueName, tasks: { some: { workerId } } },
    select: { id: true },
  });
  return queue?.id ?? null;
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
