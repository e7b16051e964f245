import { randomBytes, randomUUID } from "node:crypto";
import type pg from "pg";
import { pgPool, prisma } from "~/db.server";
import type { InitialRunStatus } from "~/domain/runSchedule";
import type { TaskKind } from "~/domain/environments";
import type { PacketType } from "~/domain/triggerOptions";

/**
 * Task runs: the trigger's single write, and the runs API's v1 read.
 *
 * The insert is raw SQL through the shared pg pool, as a named prepared statement: measured about
 * 3–5× faster than Prisma's `create` on this stack (docs/decisions/0016-prisma-vs-raw-sql-on-the-hot-path.md),
 * and it can say ON CONFLICT DO NOTHING, which makes idempotency one statement instead of a
 * failed insert plus a lookup. The read is Prisma: it is not on the hot path.
 */

export interface NewRun {
  /** Chosen by the caller when the run may be buffered first (it must keep its ids); fresh otherwise. */
  id?: string;
  friendlyId?: string;
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
  status: InitialRunStatus;
  idempotencyKey: string | null;
  createdAt: Date;
  /** Required with an idempotency key: after it, the key starts a new run. */
  idempotencyKeyExpiresAt?: Date | null;
  concurrencyKey?: string | null;
  maxAttempts?: number | null;
  maxDurationInSeconds?: number | null;
  machinePreset?: string | null;
  priorityMs?: number;
  region?: string | null;
  isTest?: boolean;
  payloadType?: PacketType;
  metadataType?: PacketType;
  traceparent?: string | null;
  tracestate?: string | null;
  sdkVersion?: string | null;
  triggerClient?: string | null;
  /** Pinned to an external deployment id, and (while no worker has it) when waiting for it ends. */
  externalDeploymentId?: string | null;
  versionDeadlineAt?: Date | null;
  /** Where the resolver found the task metadata (shown on the run's admin page). */
  metadataSource?: "cache" | "database" | null;
  /** A batch item: its batch (internal id) and index. */
  batchId?: string | null;
  batchIndex?: number | null;
}

export interface CreatedRun {
  /** The friendly id (`run_…`). */
  id: string;
  /** True when an existing run with the same unexpired idempotency key was returned instead. */
  isCached: boolean;
}

const FRIENDLY_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz";

const ID_BYTES = 24;
/** Random bytes drawn for many ids at once: one `randomBytes` call per 256 ids instead of one per id (a batch makes 500 at a time). */
let randomPool = Buffer.alloc(0);
let randomOffset = 0;

/** `run_` + 24 base-36 characters (~124 bits). */
export function friendlyRunId(prefix = "run_"): string {
  if (randomOffset + ID_BYTES > randomPool.length) {
    randomPool = randomBytes(ID_BYTES * 256);
    randomOffset = 0;
  }
  let id = prefix;
  // 256 % 36 leaves a bias of 4/256 on a few characters; irrelevant for uniqueness at this length.
  for (let i = randomOffset; i < randomOffset + ID_BYTES; i++) id += FRIENDLY_ALPHABET[randomPool[i] % FRIENDLY_ALPHABET.length];
  randomOffset += ID_BYTES;
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
function timestampParam(value: Date | null | undefined): string | null {
  return value ? value.toISOString() : null;
}

/** The inserted columns, their SQL types, and how each is read from a {@link NewRun}; one list so the two cannot drift. */
export const COLUMNS: [column: string, sqlType: string, value: (run: NewRun) => unknown][] = [
  ["id", "text", (r) => r.id ?? randomUUID()],
  ["friendlyId", "text", (r) => r.friendlyId ?? friendlyRunId()],
  ["environmentId", "text", (r) => r.environmentId],
  ["taskIdentifier", "text", (r) => r.taskIdentifier],
  ["payload", "jsonb", (r) => jsonParam(r.payload)],
  ["metadata", "jsonb", (r) => jsonParam(r.metadata)],
  ["queue", "text", (r) => r.queue],
  ["lockedQueueId", "text", (r) => r.lockedQueueId],
  ["lockedToVersionId", "text", (r) => r.lockedToVersionId],
  ["ttl", "text", (r) => r.ttl],
  ["expiresAt", "timestamp", (r) => timestampParam(r.expiresAt)],
  ["taskKind", `"TaskTriggerSource"`, (r) => r.taskKind],
  ["tags", "text[]", (r) => r.tags],
  ["delayUntil", "timestamp", (r) => timestampParam(r.delayUntil)],
  ["status", `"TaskRunStatus"`, (r) => r.status],
  ["idempotencyKey", "text", (r) => r.idempotencyKey],
  ["idempotencyKeyExpiresAt", "timestamp", (r) => timestampParam(r.idempotencyKeyExpiresAt)],
  ["concurrencyKey", "text", (r) => r.concurrencyKey ?? null],
  ["maxAttempts", "integer", (r) => r.maxAttempts ?? null],
  ["maxDurationInSeconds", "integer", (r) => r.maxDurationInSeconds ?? null],
  ["machinePreset", "text", (r) => r.machinePreset ?? null],
  ["priorityMs", "integer", (r) => r.priorityMs ?? 0],
  ["region", "text", (r) => r.region ?? null],
  ["isTest", "boolean", (r) => r.isTest ?? false],
  ["payloadType", "text", (r) => r.payloadType ?? "application/json"],
  ["metadataType", "text", (r) => r.metadataType ?? "application/json"],
  ["traceparent", "text", (r) => r.traceparent ?? null],
  ["tracestate", "text", (r) => r.tracestate ?? null],
  ["sdkVersion", "text", (r) => r.sdkVersion ?? null],
  ["triggerClient", "text", (r) => r.triggerClient ?? null],
  ["metadataSource", "text", (r) => r.metadataSource ?? null],
  ["batchId", "text", (r) => r.batchId ?? null],
  ["batchIndex", "integer", (r) => r.batchIndex ?? null],
  ["externalDeploymentId", "text", (r) => r.externalDeploymentId ?? null],
  ["versionDeadlineAt", "timestamp", (r) => timestampParam(r.versionDeadlineAt)],
  ["createdAt", "timestamp", (r) => timestampParam(r.createdAt)],
  ["updatedAt", "timestamp", (r) => timestampParam(r.createdAt)],
];

const COLUMN_LIST = COLUMNS.map(([column]) => `"${column}"`).join(", ");
const TYPED_PARAMS = COLUMNS.map(([, type], i) => `$${i + 1}::${type}`).join(", ");
const p = (column: string) => `$${COLUMNS.findIndex(([c]) => c === column) + 1}`;

const INSERT_RUN = `INSERT INTO "TaskRun" (${COLUMN_LIST}) VALUES (${TYPED_PARAMS}) RETURNING "friendlyId"`;

/**
 * With an idempotency key, still one statement: the CTE first releases the key from a run whose key
 * has expired (as the SDK's server does: that run keeps existing, without the key), then the insert
 * either claims the key or, when an unexpired run holds it, does nothing. The `count(*)` makes the
 * CTE run before the insert; the released row is invisible to the insert's conflict check because
 * this statement itself updated it.
 */
const INSERT_KEYED_RUN = `
  WITH released AS (
    UPDATE "TaskRun" SET "idempotencyKey" = NULL, "idempotencyKeyExpiresAt" = NULL, "updatedAt" = ${p("createdAt")}::timestamp
     WHERE "environmentId" = ${p("environmentId")}::text AND "taskIdentifier" = ${p("taskIdentifier")}::text
       AND "idempotencyKey" = ${p("idempotencyKey")}::text AND "idempotencyKeyExpiresAt" <= ${p("createdAt")}::timestamp
    RETURNING 1)
  INSERT INTO "TaskRun" (${COLUMN_LIST})
  SELECT ${TYPED_PARAMS} WHERE (SELECT count(*) FROM released) >= 0
  ON CONFLICT ("environmentId", "taskIdentifier", "idempotencyKey") DO NOTHING
  RETURNING "friendlyId"`;

/**
 * The follow-up of a keyed insert that did nothing: the run holding the key, counted as reused.
 * An UPDATE in place of the SELECT it replaced, so the reuse shown on the run's page costs no
 * extra statement.
 */
const EXISTING_RUN = `
  UPDATE "TaskRun" SET "idempotencyReuseCount" = "idempotencyReuseCount" + 1, "idempotencyLastReusedAt" = $4::timestamp
   WHERE "environmentId" = $1 AND "taskIdentifier" = $2 AND "idempotencyKey" = $3
  RETURNING "friendlyId"`;

/**
 * Inserts the run, or returns the existing run of the same (environment, task, unexpired
 * idempotency key). One statement for a new run. Concurrent requests with one key are serialised
 * by the unique index: the losers' INSERT waits for the winner's commit, does nothing, and the
 * follow-up (which counts the reuse) finds the winner's row — exactly one run, every caller gets its id.
 */
export async function createRun(run: NewRun): Promise<CreatedRun> {
  const pool = pgPool();
  const values = COLUMNS.map(([, , value]) => value(run));
  const keyed = run.idempotencyKey !== null;
  const inserted = await pool.query<{ friendlyId: string }>({
    name: keyed ? "insert-task-run-keyed" : "insert-task-run",
    text: keyed ? INSERT_KEYED_RUN : INSERT_RUN,
    values,
  });
  if (inserted.rows[0]) return { id: inserted.rows[0].friendlyId, isCached: false };
  const existing = await pool.query<{ friendlyId: string }>({
    name: "reuse-task-run",
    text: EXISTING_RUN,
    values: [run.environmentId, run.taskIdentifier, run.idempotencyKey, timestampParam(run.createdAt)],
  });
  if (!existing.rows[0]) {
    // Only reachable if the conflicting run was deleted (or its key reset) between the two statements.
    throw new Error("Idempotent run vanished between insert and lookup");
  }
  return { id: existing.rows[0].friendlyId, isCached: true };
}

/**
 * The drain's insert (services/triggerBuffer/drainer.server.ts): many buffered runs in one
 * statement on the given connection (inside the drain's transaction). Any conflict — the same id
 * drained before, or an idempotency key another run holds — is skipped; the caller learns which
 * rows went in from the returned friendly ids.
 */
export async function insertRunsIgnoringConflicts(client: pg.PoolClient, runs: NewRun[]): Promise<Set<string>> {
  if (runs.length === 0) return new Set();
  const values: unknown[] = [];
  const rows = runs.map((run) => {
    const placeholders = COLUMNS.map(([, type, value]) => {
      values.push(value(run));
      return `$${values.length}::${type}`;
    });
    return `(${placeholders.join(", ")})`;
  });
  const inserted = await client.query<{ friendlyId: string }>(
    `INSERT INTO "TaskRun" (${COLUMN_LIST}) VALUES ${rows.join(", ")} ON CONFLICT DO NOTHING RETURNING "friendlyId"`,
    values,
  );
  return new Set(inserted.rows.map((row) => row.friendlyId));
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
  /** The trigger's `externalDeploymentId` (docs/api.md "Version skew"). */
  externalDeploymentId: string | null;
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
      externalDeploymentId: true,
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
    externalDeploymentId: run.externalDeploymentId,
    idempotencyKey: run.idempotencyKey,
    tags: run.tags,
    payload: run.payload ?? null,
    metadata: run.metadata ?? null,
    delayUntil: run.delayUntil?.toISOString() ?? null,
    createdAt: run.createdAt.toISOString(),
  };
}
