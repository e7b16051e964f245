import { readOrPrimary, type PrismaClient } from "~/db.server";
import { metadataSource, prettyJson, resolvedVersion, type MetadataSource, type ResolvedVersion } from "~/domain/runProvenance";
import { decodedPayload } from "~/domain/runView";
import type { TaskKind } from "~/domain/environments";
import type { TaskRunStatus } from "~/generated/prisma/enums.ts";
import { environmentSummary, environmentSummarySelect, type EnvironmentSummary } from "~/presenters/environmentSummary.server";

/**
 * The run detail page (/admin/runs/:runId): everything stored about one run, where its metadata
 * came from (domain/runProvenance.ts), and its idempotency key's reuse. Two reads: the run with
 * its environment, locked worker and batch, then the environment's current worker.
 */

export interface RunDetail {
  friendlyId: string;
  environment: EnvironmentSummary & { label: string };
  taskIdentifier: string;
  status: TaskRunStatus;
  taskKind: TaskKind;
  queue: string;
  lockedQueueName: string | null;
  resolved: ResolvedVersion;
  metadataSource: MetadataSource;
  payload: string | null;
  payloadType: string;
  metadata: string | null;
  metadataType: string;
  tags: string[];
  idempotency: { key: string; expiresAt: string | null; reuseCount: number; lastReusedAt: string | null } | null;
  delayUntil: string | null;
  ttl: string | null;
  expiresAt: string | null;
  expiredAt: string | null;
  canceledAt: string | null;
  createdAt: string;
  updatedAt: string;
  batch: { friendlyId: string; index: number | null } | null;
  options: { label: string; value: string }[];
}

const iso = (d: Date | null) => d?.toISOString() ?? null;

async function findRun(db: PrismaClient, friendlyId: string) {
  return db.taskRun.findUnique({
    where: { friendlyId },
    include: {
      environment: { select: environmentSummarySelect },
      lockedToVersion: { select: { version: true } },
      batch: { select: { friendlyId: true } },
    },
  });
}

/** The environment's current worker now and since when (DEVELOPMENT: the newest registration). */
async function currentWorker(db: PrismaClient, environment: { id: string; type: string }) {
  if (environment.type === "DEVELOPMENT") {
    const worker = await db.backgroundWorker.findFirst({
      where: { environmentId: environment.id },
      orderBy: { createdAt: "desc" },
      select: { version: true, createdAt: true },
    });
    return worker ? { version: worker.version, since: worker.createdAt } : null;
  }
  const promotion = await db.workerDeploymentPromotion.findUnique({
    where: { environmentId_label: { environmentId: environment.id, label: "current" } },
    select: { updatedAt: true, worker: { select: { version: true } } },
  });
  return promotion ? { version: promotion.worker.version, since: promotion.updatedAt } : null;
}

/** Options a trigger may set that the page lists only when they were given. */
function givenOptions(run: NonNullable<Awaited<ReturnType<typeof findRun>>>): { label: string; value: string }[] {
  const options: [string, unknown][] = [
    ["Concurrency key", run.concurrencyKey],
    ["Max attempts", run.maxAttempts],
    ["Max duration", run.maxDurationInSeconds === null ? null : `${run.maxDurationInSeconds}s`],
    ["Machine", run.machinePreset],
    ["Priority", run.priorityMs ? `${run.priorityMs / 1000}s` : null],
    ["Region", run.region],
    ["Test run", run.isTest ? "yes" : null],
    ["SDK version", run.sdkVersion],
    ["Client", run.triggerClient],
    ["Trace parent", run.traceparent],
  ];
  return options.filter(([, value]) => value !== null && value !== undefined).map(([label, value]) => ({ label, value: String(value) }));
}

/** Null when no run has this friendly id. */
export async function runDetail(friendlyId: string): Promise<RunDetail | null> {
  let db: PrismaClient | undefined;
  const run = await readOrPrimary(async (source) => {
    db = source;
    return findRun(source, friendlyId);
  });
  if (!run || !db) return null;
  const [current, lockedQueue] = await Promise.all([
    run.lockedToVersion ? null : currentWorker(db, run.environment),
    run.lockedQueueId ? db.taskQueue.findUnique({ where: { id: run.lockedQueueId }, select: { name: true } }) : null,
  ]);
  const environment = environmentSummary(run.environment);
  return {
    friendlyId: run.friendlyId,
    environment: { ...environment, label: `${environment.projectSlug} / ${environment.slug}` },
    taskIdentifier: run.taskIdentifier,
    status: run.status,
    taskKind: run.taskKind,
    queue: run.queue,
    lockedQueueName: lockedQueue?.name ?? null,
    resolved: resolvedVersion({ lockedVersion: run.lockedToVersion?.version ?? null, createdAt: run.createdAt, current }),
    metadataSource: metadataSource(run.metadataSource),
    payload: prettyJson(decodedPayload(run.payload, run.payloadType)),
    payloadType: run.payloadType,
    metadata: prettyJson(decodedPayload(run.metadata, run.metadataType)),
    metadataType: run.metadataType,
    tags: run.tags,
    idempotency: run.idempotencyKey
      ? {
          key: run.idempotencyKey,
          expiresAt: iso(run.idempotencyKeyExpiresAt),
          reuseCount: run.idempotencyReuseCount,
          lastReusedAt: iso(run.idempotencyLastReusedAt),
        }
      : null,
    delayUntil: iso(run.delayUntil),
    ttl: run.ttl,
    expiresAt: iso(run.expiresAt),
    expiredAt: iso(run.expiredAt),
    canceledAt: iso(run.canceledAt),
    createdAt: run.createdAt.toISOString(),
    updatedAt: run.updatedAt.toISOString(),
    batch: run.batch ? { friendlyId: run.batch.friendlyId, index: run.batchIndex } : null,
    options: givenOptions(run),
  };
}
