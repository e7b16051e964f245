import { pgPool } from "~/db.server";
import { isDatabaseUnavailable } from "~/domain/databaseOutage";
import type { BufferedRun } from "~/domain/triggerBuffer";
import type { StoredRun } from "~/domain/runView";
import type { RunView } from "~/services/runs.server";
import { getEnv } from "~/env.server";
import { logger } from "~/services/logger.server";
import { findBufferedRun } from "~/services/triggerBuffer/buffer.server";

/**
 * Reading a run by id while some runs are still in the trigger buffer: Postgres first (and the
 * alias a drain recorded), then the buffer; a run is acknowledged in the buffer only after its
 * insert committed, so a miss in both is asked of Postgres once more before it is a 404. While
 * Postgres is down, the buffer alone answers.
 */

const ALIAS_TARGET = `SELECT "runFriendlyId" FROM "TaskRunAlias" WHERE "friendlyId" = $1 AND "environmentId" = $2`;

export async function readRunThroughBuffer<T>(
  environmentId: string,
  friendlyId: string,
  fromPostgres: (friendlyId: string) => Promise<T | null>,
  fromBuffer: (run: BufferedRun) => T,
): Promise<T | null> {
  if (!getEnv().TRIGGER_BUFFER_ENABLED) return fromPostgres(friendlyId);
  const fromDatabase = async () => {
    const found = await fromPostgres(friendlyId);
    if (found) return found;
    const alias = await pgPool().query<{ runFriendlyId: string }>(ALIAS_TARGET, [friendlyId, environmentId]);
    return alias.rows[0] ? fromPostgres(alias.rows[0].runFriendlyId) : null;
  };
  try {
    const found = await fromDatabase();
    if (found) return found;
  } catch (error) {
    if (!isDatabaseUnavailable(error)) throw error;
    const buffered = await bufferedOrNull(environmentId, friendlyId);
    if (buffered) return fromBuffer(buffered);
    throw error;
  }
  const buffered = await bufferedOrNull(environmentId, friendlyId);
  return buffered ? fromBuffer(buffered) : fromDatabase();
}

async function bufferedOrNull(environmentId: string, friendlyId: string): Promise<BufferedRun | null> {
  try {
    return await findBufferedRun(environmentId, friendlyId);
  } catch (error) {
    logger.warn("trigger buffer unreadable; answering from Postgres only", { environmentId, friendlyId, error });
    return null;
  }
}

/** A buffered run as the runs API's stored shape: what the drain will write (the locked version's name is not kept). */
export function bufferedStoredRun(run: BufferedRun): StoredRun {
  return {
    friendlyId: run.friendlyId,
    status: run.status,
    taskIdentifier: run.taskIdentifier,
    idempotencyKey: run.idempotencyKey,
    version: null,
    isTest: run.isTest ?? false,
    createdAt: run.createdAt,
    updatedAt: run.createdAt,
    delayUntil: run.delayUntil,
    ttl: run.ttl,
    expiredAt: null,
    canceledAt: null,
    tags: run.tags,
    metadata: run.metadata ?? null,
    taskKind: run.taskKind,
    region: run.region ?? null,
    payload: run.payload ?? null,
    payloadType: run.payloadType ?? "application/json",
    externalDeploymentId: run.externalDeploymentId ?? null,
  };
}

/** A buffered run as `GET /api/v1/runs/:id` shows it. */
export function bufferedRunView(run: BufferedRun): RunView {
  return {
    id: run.friendlyId,
    taskIdentifier: run.taskIdentifier,
    status: run.status,
    queue: run.queue,
    ttl: run.ttl,
    expiresAt: run.expiresAt?.toISOString() ?? null,
    taskKind: run.taskKind,
    lockedToVersion: null,
    externalDeploymentId: run.externalDeploymentId ?? null,
    idempotencyKey: run.idempotencyKey,
    tags: run.tags,
    payload: run.payload ?? null,
    metadata: run.metadata ?? null,
    delayUntil: run.delayUntil?.toISOString() ?? null,
    createdAt: run.createdAt.toISOString(),
  };
}
