import { pgPool } from "~/db.server";
import type { BufferedRun } from "~/domain/triggerBuffer";
import { logger } from "~/services/logger.server";
import { insertRunsIgnoringConflicts } from "~/services/runs.server";

/**
 * One drained chunk, one transaction: keys that expired before a buffered run was triggered are
 * released (as the live insert does), the runs are inserted skipping any conflict, and a keyed run
 * whose key another run already holds — a run that existed before the outage — is recorded as an
 * alias of that run instead of a second run.
 */

const RELEASE_EXPIRED_KEYS = `
  UPDATE "TaskRun" t SET "idempotencyKey" = NULL, "idempotencyKeyExpiresAt" = NULL, "updatedAt" = b.at
    FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamp[]) AS b(env, task, key, at)
   WHERE t."environmentId" = b.env AND t."taskIdentifier" = b.task AND t."idempotencyKey" = b.key
     AND t."idempotencyKeyExpiresAt" <= b.at`;

const ALREADY_DRAINED = `SELECT "friendlyId" FROM "TaskRun" WHERE "friendlyId" = ANY($1::text[])`;

const RECORD_ALIAS = `
  INSERT INTO "TaskRunAlias" ("friendlyId", "environmentId", "runFriendlyId")
  SELECT $1, $2, "friendlyId" FROM "TaskRun"
   WHERE "environmentId" = $2 AND "taskIdentifier" = $3 AND "idempotencyKey" = $4
  ON CONFLICT DO NOTHING`;

export interface ChunkOutcome {
  inserted: number;
  aliased: number;
}

export async function insertBufferedChunk(runs: BufferedRun[]): Promise<ChunkOutcome> {
  if (runs.length === 0) return { inserted: 0, aliased: 0 };
  const client = await pgPool().connect();
  let broken = false;
  try {
    await client.query("BEGIN");
    const keyed = runs.filter((r) => r.idempotencyKey !== null);
    if (keyed.length > 0) {
      await client.query(RELEASE_EXPIRED_KEYS, [
        keyed.map((r) => r.environmentId),
        keyed.map((r) => r.taskIdentifier),
        keyed.map((r) => r.idempotencyKey),
        keyed.map((r) => r.createdAt.toISOString()),
      ]);
    }
    const inserted = await insertRunsIgnoringConflicts(
      client,
      runs.map((run) => ({ ...run, payload: run.payload, metadata: run.metadata })),
    );
    const skipped = runs.filter((r) => !inserted.has(r.friendlyId));
    let aliased = 0;
    if (skipped.length > 0) {
      const drained = await client.query<{ friendlyId: string }>(ALREADY_DRAINED, [skipped.map((r) => r.friendlyId)]);
      const before = new Set(drained.rows.map((row) => row.friendlyId));
      for (const run of skipped.filter((r) => !before.has(r.friendlyId))) {
        if (run.idempotencyKey === null) {
          logger.error("buffered run conflicted without an idempotency key; not inserted", { friendlyId: run.friendlyId, environmentId: run.environmentId });
          continue;
        }
        const alias = await client.query(RECORD_ALIAS, [run.friendlyId, run.environmentId, run.taskIdentifier, run.idempotencyKey]);
        aliased += alias.rowCount ?? 0;
      }
    }
    await client.query("COMMIT");
    return { inserted: inserted.size, aliased };
  } catch (error) {
    broken = true;
    await client.query("ROLLBACK").catch((rollbackError) => logger.warn("drain rollback failed", { error: rollbackError }));
    throw error;
  } finally {
    // A connection that failed mid-transaction is discarded, not handed to the next caller.
    client.release(broken);
  }
}
