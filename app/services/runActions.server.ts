import { prisma } from "~/db.server";
import { parseDuration } from "~/domain/durations";
import { BadRequestError, NotFoundError } from "~/domain/errors";
import { defaultQueueName } from "~/domain/queueNames";
import { applyMetadataUpdate, type UpdateMetadataBody } from "~/domain/runMetadata";
import { canReschedule, parseDelay, WAITING_STATUSES, type RunStatus } from "~/domain/runSchedule";
import { retrieveRunView } from "~/domain/runView";
import { MAX_TAGS, type TriggerBody, type TriggerOptions } from "~/domain/triggerOptions";
import type { Prisma } from "~/generated/prisma/client";
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

type LockedRun = { id: string; tags: string[]; metadata: unknown };

/**
 * Runs `change` on the run's row locked (`FOR UPDATE`) inside a transaction, so that concurrent
 * read-modify-writes of one run (tags, metadata) are applied one after the other.
 */
async function withLockedRun<T>(environmentId: string, friendlyId: string, change: (run: LockedRun, tx: Prisma.TransactionClient) => Promise<T>): Promise<T> {
  return prisma().$transaction(async (tx) => {
    const [run] = await tx.$queryRaw<LockedRun[]>`
      SELECT "id", "tags", "metadata" FROM "TaskRun" WHERE "environmentId" = ${environmentId} AND "friendlyId" = ${friendlyId} FOR UPDATE`;
    if (!run) throw notFound(friendlyId);
    return change(run, tx);
  });
}

/** Adds tags (duplicates ignored); more than the per-run limit in total is a 400. */
export async function addTags(environmentId: string, friendlyId: string, tags: string[]): Promise<{ message: string }> {
  return withLockedRun(environmentId, friendlyId, async (run, tx) => {
    const merged = [...new Set([...run.tags, ...tags])];
    if (merged.length > MAX_TAGS) throw new BadRequestError(`A run can have at most ${MAX_TAGS} tags; it would have ${merged.length}`, { field: "tags" });
    await tx.taskRun.update({ where: { id: run.id }, data: { tags: merged, updatedAt: new Date() } });
    return { message: `Successfully set ${tags.length} new tags.` };
  });
}

export async function updateMetadata(environmentId: string, friendlyId: string, body: UpdateMetadataBody) {
  return withLockedRun(environmentId, friendlyId, async (run, tx) => {
    const metadata = applyMetadataUpdate(run.metadata, body);
    await tx.taskRun.update({ where: { id: run.id }, data: { metadata: metadata as object, updatedAt: new Date() } });
    return { metadata };
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
      ...options,
    },
  };
  const created = await triggerRun({ environment, taskSlug: run.taskIdentifier, body, headers: {} });
  return { id: created.id };
}
