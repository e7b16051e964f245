import { randomBytes, randomUUID } from "node:crypto";
import { pgPool, prisma } from "~/db.server";
import type { TaskKind } from "~/domain/environments";

/**
 * Task runs: the trigger's single write, and the runs API's read.
 *
 * The insert is raw SQL through the shared pg pool, as a named prepared statement: measured about
 * 3–5× faster than Prisma's `create` on this stack (docs/decisions/0016-prisma-vs-raw-sql-on-the-hot-path.md),
 * and it can say ON CONFLICT DO NOTHING, which makes idempotency one statement instead of a
 * failed insert plus a lookup. The read is Prisma: it is not on the hot path.
 */

export type RunStatus = "PENDING" | "DELAYED" | "WAITING_FOR_DEPLOY";

export interface NewRun {
  environmentId: string;
  taskIdentifier: string;
  payload: unknown;
  metadata: unknown;
  queue: string;
  lockedQueueId: string | null;
  lockedToVersionId: string | null;
  ttl: string | null;
  expiresAt: Date | null;
  taskKind: TaskKind;
  tags: string[];
  delayUntil: Date | null;
  status: RunStatus;
  idempotencyKey: string | null;
  createdAt: Date;
}

export interface CreatedRun {
  /** The friendly id (`run_…`). */
  id: string;
  /** True when an existing run with the same idempotency key was returned instead. */
  isCached: boolean;
}

const FRIENDLY_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz";

/** `run_` + 24 base-36 characters (~124 bits). */
export function friendlyRunId(): string {
  let id = "run_";
  // 256 % 36 leaves a bias of 4/256 on a few characters; irrelevant for uniqueness at this length.
  for (const byte of randomBytes(24)) id += FRIENDLY_ALPHABET[byte % FRIENDLY_ALPHABET.length];
  return id;
}

/** JSON for a jsonb parameter: SQL NULL when absent or null (so reads see `null` either way). */
function jsonParam(value: unknown): string | null {
  return value === undefined || value === null ? null : JSON.stringify(value);
}

/**
 * Timestamps are `timestamp(3)` in UTC (Prisma's convention). An ISO string ending in `Z` is read
 * by Postgres as that wall-clock time whatever the session time zone is; a JS Date would be sent in
 * the server's local zone and shift.
 */
function timestampParam(value: Date | null): string | null {
  return value ? value.toISOString() : null;
}

const INSERT_RUN = `
  INSERT INTO "TaskRun" ("id", "friendlyId", "environmentId", "taskIdentifier", "payload", "metadata", "queue",
    "lockedQueueId", "lockedToVersionId", "ttl", "expiresAt", "taskKind", "tags", "delayUntil", "status",
    "idempotencyKey", "createdAt")
  VALUES ($1, $2, $3, $4, $5::jsonb, $6::jsonb, $7, $8, $9, $10, $11::timestamp, $12::"TaskTriggerSource", $13::text[],
    $14::timestamp, $15::"TaskRunStatus", $16, $17::timestamp)
  ON CONFLICT ("environmentId", "taskIdentifier", "idempotencyKey") DO NOTHING
  RETURNING "friendlyId"`;

const EXISTING_RUN = `
  SELECT "friendlyId" FROM "TaskRun"
   WHERE "environmentId" = $1 AND "taskIdentifier" = $2 AND "idempotencyKey" = $3`;

/**
 * Inserts the run, or returns the existing run of the same (environment, task, idempotency key).
 * One statement for a new run. Concurrent requests with one key are serialised by the unique
 * index: the losers' INSERT waits for the winner's commit, does nothing, and the follow-up SELECT
 * sees the winner's row — exactly one run, every caller gets its id.
 */
export async function createRun(run: NewRun): Promise<CreatedRun> {
  const pool = pgPool();
  const inserted = await pool.query<{ friendlyId: string }>({
    name: "insert-task-run",
    text: INSERT_RUN,
    values: [
      randomUUID(),
      friendlyRunId(),
      run.environmentId,
      run.taskIdentifier,
      jsonParam(run.payload),
      jsonParam(run.metadata),
      run.queue,
      run.lockedQueueId,
      run.lockedToVersionId,
      run.ttl,
      timestampParam(run.expiresAt),
      run.taskKind,
      run.tags,
      timestampParam(run.delayUntil),
      run.status,
      run.idempotencyKey,
      timestampParam(run.createdAt),
    ],
  });
  if (inserted.rows[0]) return { id: inserted.rows[0].friendlyId, isCached: false };
  const existing = await pool.query<{ friendlyId: string }>({
    name: "existing-task-run",
    text: EXISTING_RUN,
    values: [run.environmentId, run.taskIdentifier, run.idempotencyKey],
  });
  if (!existing.rows[0]) {
    // Only reachable if the conflicting run was deleted between the two statements.
    throw new Error("Idempotent run vanished between insert and lookup");
  }
  return { id: existing.rows[0].friendlyId, isCached: true };
}

/** What `GET /api/v1/runs/:runId` returns (docs/api.md). */
export interface RunView {
  id: string;
  taskIdentifier: string;
  status: string;
  queue: string;
  ttl: string | null;
  expiresAt: string | null;
  taskKind: TaskKind;
  lockedToVersion: string | null;
  idempotencyKey: string | null;
  tags: string[];
  payload: unknown;
  metadata: unknown;
  delayUntil: string | null;
  createdAt: string;
}

/** The run with this friendly id in this environment; null for unknown ids and other environments' runs alike. */
export async function getRun(environmentId: string, friendlyId: string): Promise<RunView | null> {
  const run = await prisma().taskRun.findFirst({
    where: { friendlyId, environmentId },
    select: {
      friendlyId: true,
      taskIdentifier: true,
      status: true,
      queue: true,
      ttl: true,
      expiresAt: true,
      taskKind: true,
      lockedToVersion: { select: { version: true } },
      idempotencyKey: true,
      tags: true,
      payload: true,
      metadata: true,
      delayUntil: true,
      createdAt: true,
    },
  });
  if (!run) return null;
  return {
    id: run.friendlyId,
    taskIdentifier: run.taskIdentifier,
    status: run.status,
    queue: run.queue,
    ttl: run.ttl,
    expiresAt: run.expiresAt?.toISOString() ?? null,
    taskKind: run.taskKind,
    lockedToVersion: run.lockedToVersion?.version ?? null,
    idempotencyKey: run.idempotencyKey,
    tags: run.tags,
    payload: run.payload ?? null,
    metadata: run.metadata ?? null,
    delayUntil: run.delayUntil?.toISOString() ?? null,
    createdAt: run.createdAt.toISOString(),
  };
}
