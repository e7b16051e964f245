import { prisma } from "~/db.server";
import { CURRENT_LABEL, type EnvironmentType } from "~/domain/environments";
import { NotFoundError, ValidationError } from "~/domain/errors";
import { diffTasks, type DiffTask, type TaskDiff } from "~/domain/promotionDiff";

/**
 * The impact of promoting a version before it happens (the admin confirmation and the API's
 * `?dryRun=1` show the same): the task diff against the current version, the PENDING_VERSION runs
 * it would release, and how often the tasks it removes were triggered in the last hour. Reads
 * the primary: the preview must describe what the promotion would act on.
 */

export const VOLUME_WINDOW_MINUTES = 60;

export interface VersionRef {
  workerId: string;
  version: string;
}

export interface PromotionPreview {
  environment: { id: string; slug: string; type: EnvironmentType };
  from: VersionRef | null;
  to: VersionRef;
  /** "current": the target is already current (promoting it again only re-writes the cache). */
  kind: "promote" | "rollback" | "current";
  tasks: TaskDiff;
  /** PENDING_VERSION runs of tasks the target has: the lifecycle queues them once it is current. */
  releasedRuns: { total: number; byTask: { slug: string; runs: number }[] };
  /** Triggers in the last hour of the tasks the promotion removes: they would wait for a deploy. */
  removedTaskTriggers: { windowMinutes: number; total: number; byTask: { slug: string; triggers: number }[] };
}

const workerSelect = {
  id: true,
  version: true,
  createdAt: true,
  tasks: { select: { slug: true, ttl: true, triggerSource: true, queue: { select: { name: true } } } },
} as const;

type WorkerRow = { id: string; version: string; createdAt: Date; tasks: { slug: string; ttl: string | null; triggerSource: DiffTask["kind"]; queue: { name: string } | null }[] };

function diffTasksOf(worker: WorkerRow | null): DiffTask[] {
  return (worker?.tasks ?? []).map((t) => ({ slug: t.slug, queueName: t.queue?.name ?? null, ttl: t.ttl, kind: t.triggerSource }));
}

function counted<K extends string>(rows: { taskIdentifier: string; _count: { _all: number } }[], name: K) {
  return rows
    .map((r) => ({ slug: r.taskIdentifier, [name]: r._count._all }) as { slug: string } & Record<K, number>)
    .sort((a, b) => b[name] - a[name] || a.slug.localeCompare(b.slug));
}

export async function previewPromotion(input: { environmentId: string; version: string; now?: Date }): Promise<PromotionPreview> {
  const db = prisma();
  const environment = await db.runtimeEnvironment.findUnique({ where: { id: input.environmentId }, select: { id: true, slug: true, type: true } });
  if (!environment) throw new NotFoundError("Environment not found.");
  if (environment.type === "DEVELOPMENT") {
    throw new ValidationError(`Environment '${environment.slug}' is a DEVELOPMENT environment: its most recently registered worker is always current, so there are no deployments to promote.`);
  }
  const [target, promotion] = await Promise.all([
    db.backgroundWorker.findUnique({
      where: { environmentId_version: { environmentId: environment.id, version: input.version } },
      select: { ...workerSelect, deployment: { select: { id: true } } },
    }),
    db.workerDeploymentPromotion.findUnique({
      where: { environmentId_label: { environmentId: environment.id, label: CURRENT_LABEL } },
      select: { worker: { select: workerSelect } },
    }),
  ]);
  if (!target?.deployment) throw new NotFoundError(`No deployment found with version '${input.version}'.`);
  const current = (promotion?.worker ?? null) as WorkerRow | null;
  const tasks = diffTasks(diffTasksOf(current), diffTasksOf(target as WorkerRow));

  const targetSlugs = new Set(target.tasks.map((t) => t.slug));
  const now = input.now ?? new Date();
  const [pending, volume] = await Promise.all([
    // Waiting runs of the environment by task (a short list: one row per task with waiting runs).
    db.taskRun.groupBy({
      by: ["taskIdentifier"],
      where: { environmentId: environment.id, status: "PENDING_VERSION", OR: [{ expiresAt: null }, { expiresAt: { gt: now } }] },
      _count: { _all: true },
    }),
    tasks.removed.length
      ? db.taskRun.groupBy({
          by: ["taskIdentifier"],
          where: {
            environmentId: environment.id,
            taskIdentifier: { in: tasks.removed.map((t) => t.slug) },
            createdAt: { gte: new Date(now.getTime() - VOLUME_WINDOW_MINUTES * 60_000) },
          },
          _count: { _all: true },
        })
      : Promise.resolve([]),
  ]);
  const released = counted(pending.filter((row) => targetSlugs.has(row.taskIdentifier)), "runs");
  const triggers = counted(volume, "triggers");

  return {
    environment,
    from: current && { workerId: current.id, version: current.version },
    to: { workerId: target.id, version: target.version },
    kind: current?.id === target.id ? "current" : current && target.createdAt < current.createdAt ? "rollback" : "promote",
    tasks,
    releasedRuns: { total: released.reduce((sum, r) => sum + r.runs, 0), byTask: released },
    removedTaskTriggers: { windowMinutes: VOLUME_WINDOW_MINUTES, total: triggers.reduce((sum, r) => sum + r.triggers, 0), byTask: triggers },
  };
}
