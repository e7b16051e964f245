import { pgPool, prisma } from "~/db.server";
import { parseDuration } from "~/domain/durations";
import { BadRequestError, ConflictError, NotFoundError } from "~/domain/errors";
import { defaultQueueName } from "~/domain/queueNames";
import { applyMetadataUpdate, type UpdateMetadataBody } from "~/domain/runMetadata";
import { canReschedule, parseDelay, WAITING_STATUSES, type RunStatus } from "~/domain/runSchedule";
import { retrieveRunView } from "~/domain/runView";
import { MAX_TAGS, type TriggerBody, type TriggerOptions } from "~/domain/triggerOptions";
import type { EnvironmentType } from "~/generated/prisma/enums";
import { findStoredRun } from "~/services/runQueries.server";
import { triggerRun } from "~/services/triggerRun.server";

/**
 * What the SDK can do to a stored run: cancel, reschedule, replay, add tags, update metadata,
 * reset an idempotency key. Each is scoped to the caller's environment (another environment's run
 * is a 404) and each state change is one conditional UPDATE, so a run the lifecycle moved meanwhile
 * is never overwritten.
 */

const notFound = (friendlyId: string) => new NotFoundError(`Run '${friendlyId}' not found`);

/** Cancels a run that has not started; a run already final is left as it is (the SDK's behaviour). */
export async function cancelRun(environmentId: string, friendlyId: string): Promise<{ id: string }> {
  const now = new Date();
  const updated = await prisma().taskRun.updateMany({
    where: { environmentId, friendlyId, status: { in: [...WAITING_STATUSES] } },
    data: { status: "CANCELED", canceledAt: now, updatedAt: now },
  });
  if (updated.count === 0 && !(await findStoredRun(environmentId, friendlyId))) throw notFound(friendlyId);
  return { id: friendlyId };
}

/** Moves a DELAYED run's start (and its expiry with it); any other status is a 400. */
export async function rescheduleRun(environmentId: string, friendlyId: string, delay: string | number) {
  const run = await prisma().taskRun.findFirst({ where: { environmentId, friendlyId }, select: { status: true, ttl: true } });
  if (!run) throw notFound(friendlyId);
  if (!canReschedule(run.status as RunStatus)) {
    throw new BadRequestError(`Run '${friendlyId}' is ${run.status}; only a DELAYED run can be rescheduled`, { field: "status" });
  }
  const now = new Date();
  const delayUntil = parseDelay(delay, now, "delay");
  if (!delayUntil) throw new BadRequestError("delay must be a time in the future", { field: "delay" });
  const ttlSeconds = run.ttl ? parseDuration(run.ttl, "ttl") : 0;
  const updated = await prisma().taskRun.updateMany({
    where: { environmentId, friendlyId, status: "DELAYED" },
    data: { delayUntil, expiresAt: ttlSeconds ? new Date(delayUntil.getTime() + ttlSeconds * 1000) : null, updatedAt: now },
  });
  if (updated.count === 0) throw new BadRequestError(`Run '${friendlyId}' is no longer DELAYED; only a DELAYED run can be rescheduled`, { field: "status" });
  return retrieveRunView((await findStoredRun(environmentId, friendlyId))!);
}

/** Both fields as JSON text: parsed here, and sent back as the compare-and-set's expected value. */
type RunState = { id: string; tags: string; metadata: string | null };

const READ_STATE = `SELECT "id", COALESCE(to_jsonb("tags"), '[]')::text AS "tags", "metadata"::text AS "metadata" FROM "TaskRun" WHERE "environmentId" = $1 AND "friendlyId" = $2`;
const MAX_ATTEMPTS = 20;

/**
 * A read-modify-write of one run's tags or metadata without holding a lock: read, compute, then
 * write only if the field still holds what was read (compare-and-set), else read again. Concurrent
 * updates of one run are therefore applied one after the other and none is lost.
 */
async function compareAndSet<T>(environmentId: string, friendlyId: string, attempt: (run: RunState) => Promise<T | null>): Promise<T> {
  for (let i = 0; i < MAX_ATTEMPTS; i++) {
    const { rows } = await pgPool().query<RunState>({ name: "run-state", text: READ_STATE, values: [environmentId, friendlyId] });
    if (!rows[0]) throw notFound(friendlyId);
    const result = await attempt(rows[0]);
    if (result !== null) return result;
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 5 * (i + 1)));
  }
  throw new ConflictError(`Run '${friendlyId}' is being updated by many requests at once; try again`);
}

const WRITE_TAGS = `UPDATE "TaskRun" SET "tags" = $2::text[], "updatedAt" = $3::timestamp WHERE "id" = $1 AND COALESCE(to_jsonb("tags"), '[]') = $4::jsonb`;
const WRITE_METADATA = `UPDATE "TaskRun" SET "metadata" = $2::jsonb, "updatedAt" = $3::timestamp WHERE "id" = $1 AND "metadata" IS NOT DISTINCT FROM $4::jsonb`;

/** Adds tags (duplicates ignored); more than the per-run limit in total is a 400. */
export async function addTags(environmentId: string, friendlyId: string, tags: string[]): Promise<{ message: string }> {
  return compareAndSet(environmentId, friendlyId, async (run) => {
    const merged = [...new Set([...(JSON.parse(run.tags) as string[]), ...tags])];
    if (merged.length > MAX_TAGS) throw new BadRequestError(`A run can have at most ${MAX_TAGS} tags; it would have ${merged.length}`, { field: "tags" });
    const written = await pgPool().query({ name: "run-write-tags", text: WRITE_TAGS, values: [run.id, merged, new Date().toISOString(), run.tags] });
    return written.rowCount === 1 ? { message: `Successfully set ${tags.length} new tags.` } : null;
  });
}

export async function updateMetadata(environmentId: string, friendlyId: string, body: UpdateMetadataBody) {
  return compareAndSet(environmentId, friendlyId, async (run) => {
    const metadata = applyMetadataUpdate(run.metadata === null ? null : JSON.parse(run.metadata), body);
    const values = [run.id, JSON.stringify(metadata), new Date().toISOString(), run.metadata];
    const written = await pgPool().query({ name: "run-write-metadata", text: WRITE_METADATA, values });
    return written.rowCount === 1 ? { metadata } : null;
  });
}

/** Releases the key from the task's runs, so the next trigger with it starts a new run. */
export async function resetIdempotencyKey(environmentId: string, taskIdentifier: string, key: string): Promise<{ id: string }> {
  const released = await prisma().taskRun.updateMany({
    where: { environmentId, taskIdentifier, idempotencyKey: key },
    data: { idempotencyKey: null, idempotencyKeyExpiresAt: null, updatedAt: new Date() },
  });
  if (released.count === 0) throw new NotFoundError(`No run of task '${taskIdentifier}' has the idempotency key '${key}'`);
  return { id: key };
}

/** The replay body's overrides (the SDK's `ReplayRunRequestBody`), already parsed. */
export type ReplayOverrides = Omit<TriggerOptions, "lockToVersion"> & { payload?: unknown; version?: string };

/** A new run of the same task with the same payload and options (overridable), triggered now. */
export async function replayRun(environment: { id: string; type: EnvironmentType }, friendlyId: string, overrides: ReplayOverrides) {
  const run = await prisma().taskRun.findFirst({ where: { environmentId: environment.id, friendlyId }, include: { lockedToVersion: { select: { version: true } } } });
  if (!run) throw notFound(friendlyId);
  const { payload, version, ...options } = overrides;
  const body: TriggerBody = {
    payload: payload !== undefined ? payload : run.payload,
    options: {
      // The stored queue is passed only when the original run chose one; otherwise it is resolved afresh.
      queue: run.queue === defaultQueueName(run.taskIdentifier) ? undefined : run.queue,
      concurrencyKey: run.concurrencyKey ?? undefined,
      ttl: run.ttl ?? undefined,
      tags: run.tags,
      metadata: (run.metadata as Record<string, unknown> | null) ?? undefined,
      metadataType: run.metadataType as TriggerOptions["metadataType"],
      maxAttempts: run.maxAttempts ?? undefined,
      maxDuration: run.maxDurationInSeconds ?? undefined,
      machine: (run.machinePreset as TriggerOptions["machine"]) ?? undefined,
      priority: run.priorityMs / 1000,
      region: run.region ?? undefined,
      test: run.isTest,
      payloadType: run.payloadType as TriggerOptions["payloadType"],
      lockToVersion: version ?? run.lockedToVersion?.version,
      // A pinned run still waiting for its id's deploy stays pinned to that id (once released it is locked to the worker's version).
      externalDeploymentId: version === undefined && !run.lockedToVersion ? (run.externalDeploymentId ?? undefined) : undefined,
      ...options,
    },
  };
  const created = await triggerRun({ environment, taskSlug: run.taskIdentifier, body, headers: {} });
  return { id: created.id };
}
