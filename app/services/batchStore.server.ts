import { randomUUID } from "node:crypto";
import { pgPool } from "~/db.server";
import { COLUMNS, friendlyRunId, type NewRun } from "~/services/runs.server";

/**
 * A batch's rows in Postgres (docs/api.md, "Batches"): raw SQL through the shared pool, like the
 * single trigger's insert. A chunk of up to {@link CHUNK_SIZE} runs is ONE statement: it releases
 * expired idempotency keys, inserts every run with ON CONFLICT DO NOTHING (an index already stored
 * for this batch, or an unexpired key, is skipped) and advances the batch's counters and seal.
 */

export const CHUNK_SIZE = 500;

export interface BatchRow {
  id: string;
  friendlyId: string;
  environmentId: string;
  runCount: number;
  itemsAccepted: number;
  sealed: boolean;
  sealedAt: Date | null;
  cachedIndices: number[];
  cachedRunIds: string[];
  errorIndices: number[];
  errors: BatchItemError[];
  idempotencyKey: string | null;
  idempotencyKeyExpiresAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface BatchItemError {
  index: number;
  taskIdentifier: string;
  error: string;
  errorCode?: string;
}

export interface BatchCounters {
  itemsAccepted: number;
  errorCount: number;
  runCount: number;
  sealed: boolean;
}

const BATCH_COLUMNS = `id, "friendlyId", "environmentId", "runCount", "itemsAccepted", sealed, "sealedAt", "cachedIndices",
  "cachedRunIds", "errorIndices", errors, "idempotencyKey", "idempotencyKeyExpiresAt", "createdAt", "updatedAt"`;

const COUNTERS = `"itemsAccepted", cardinality("errorIndices")::int AS "errorCount", "runCount", sealed`;

/** Advances the counters by `added` accepted items and `failed` failed ones, sealing once every index is in. */
const ADVANCE = (added: string, failed: string, now: string) => `"itemsAccepted" = "itemsAccepted" + ${added},
  sealed = "itemsAccepted" + ${added} + cardinality("errorIndices") + ${failed} >= "runCount",
  "sealedAt" = CASE WHEN "itemsAccepted" + ${added} + cardinality("errorIndices") + ${failed} >= "runCount"
    THEN COALESCE("sealedAt", ${now}) ELSE NULL END,
  "updatedAt" = ${now}`;

export async function findBatch(environmentId: string, friendlyId: string): Promise<BatchRow | null> {
  const { rows } = await pgPool().query<BatchRow>({
    name: "find-batch",
    text: `SELECT ${BATCH_COLUMNS} FROM "BatchTaskRun" WHERE "friendlyId" = $1 AND "environmentId" = $2`,
    values: [friendlyId, environmentId],
  });
  return rows[0] ?? null;
}

/**
 * A new batch, or the one holding the same unexpired idempotency key (`isCached`). An expired key
 * is released first, as for runs.
 */
export async function insertBatch(input: {
  environmentId: string;
  runCount: number;
  idempotencyKey: string | null;
  idempotencyKeyExpiresAt: Date | null;
  now: Date;
}): Promise<{ batch: BatchRow; isCached: boolean }> {
  const pool = pgPool();
  const now = input.now.toISOString();
  if (input.idempotencyKey !== null) {
    await pool.query(
      `UPDATE "BatchTaskRun" SET "idempotencyKey" = NULL, "idempotencyKeyExpiresAt" = NULL
        WHERE "environmentId" = $1 AND "idempotencyKey" = $2 AND "idempotencyKeyExpiresAt" <= $3::timestamp`,
      [input.environmentId, input.idempotencyKey, now],
    );
  }
  const inserted = await pool.query<BatchRow>(
    `INSERT INTO "BatchTaskRun" (id, "friendlyId", "environmentId", "runCount", "idempotencyKey", "idempotencyKeyExpiresAt", "createdAt", "updatedAt")
     VALUES ($1, $2, $3, $4, $5, $6::timestamp, $7::timestamp, $7::timestamp)
     ON CONFLICT DO NOTHING RETURNING ${BATCH_COLUMNS}`,
    [randomUUID(), friendlyRunId("batch_"), input.environmentId, input.runCount, input.idempotencyKey, input.idempotencyKeyExpiresAt?.toISOString() ?? null, now],
  );
  if (inserted.rows[0]) return { batch: inserted.rows[0], isCached: false };
  const existing = await pool.query<BatchRow>(
    `SELECT ${BATCH_COLUMNS} FROM "BatchTaskRun" WHERE "environmentId" = $1 AND "idempotencyKey" = $2`,
    [input.environmentId, input.idempotencyKey],
  );
  if (!existing.rows[0]) throw new Error("Idempotent batch vanished between insert and lookup");
  return { batch: existing.rows[0], isCached: true };
}

/** Runs inserted by one chunk: index → friendly id; the batch's counters after it. */
export interface ChunkResult {
  inserted: Map<number, string>;
  counters: BatchCounters;
}

/**
 * One statement for up to CHUNK_SIZE runs of one batch (see the module comment). The rows go as
 * one array per column through `unnest` — 34 parameters whatever the chunk size, where a VALUES
 * list would be 34 per row for Postgres to parse and plan. `tags` (an array per row) travels as
 * JSON text and is rebuilt in SQL, since `unnest` would flatten a two-dimensional array.
 */
export async function insertRunChunk(batchId: string, environmentId: string, runs: NewRun[], now: Date): Promise<ChunkResult> {
  const keyed = runs.filter((run) => run.idempotencyKey !== null);
  const values: unknown[] = [environmentId, now.toISOString(), batchId, keyed.map((run) => run.taskIdentifier), keyed.map((run) => run.idempotencyKey)];
  const columns = COLUMNS.map(([column, type, value]) => {
    values.push(runs.map((run) => (column === "tags" ? JSON.stringify(value(run)) : value(run))));
    return { column, param: `$${values.length}::${column === "tags" ? "text" : type}[]` };
  });
  const columnList = columns.map(({ column }) => `"${column}"`).join(", ");
  const selected = columns.map(({ column }) => (column === "tags" ? `ARRAY(SELECT jsonb_array_elements_text(v."tags"::jsonb))` : `v."${column}"`)).join(", ");
  const text = `
    WITH released AS (
      UPDATE "TaskRun" r SET "idempotencyKey" = NULL, "idempotencyKeyExpiresAt" = NULL, "updatedAt" = $2::timestamp
        FROM unnest($4::text[], $5::text[]) AS k(task, key)
       WHERE r."environmentId" = $1::text AND r."taskIdentifier" = k.task AND r."idempotencyKey" = k.key
         AND r."idempotencyKeyExpiresAt" <= $2::timestamp
      RETURNING 1),
    ins AS (
      INSERT INTO "TaskRun" (${columnList})
      SELECT ${selected} FROM unnest(${columns.map(({ param }) => param).join(", ")}) AS v(${columnList})
       WHERE (SELECT count(*) FROM released) >= 0
      ON CONFLICT DO NOTHING
      RETURNING "batchIndex", "friendlyId"),
    upd AS (
      UPDATE "BatchTaskRun" SET ${ADVANCE("(SELECT count(*) FROM ins)::int", "0", "$2::timestamp")}
       WHERE id = $3::text
      RETURNING ${COUNTERS})
    SELECT (SELECT json_agg(json_build_array("batchIndex", "friendlyId")) FROM ins) AS inserted, upd.* FROM upd`;
  const { rows: result } = await pgPool().query<BatchCounters & { inserted: [number, string][] | null }>(text, values);
  const row = result[0];
  return { inserted: new Map(row.inserted ?? []), counters: row };
}

/** The runs holding these (task, key) pairs now (items whose key returned an existing run). */
export async function findKeyedRuns(environmentId: string, pairs: { task: string; key: string }[]) {
  const { rows } = await pgPool().query<{ friendlyId: string; taskIdentifier: string; idempotencyKey: string; batchId: string | null; batchIndex: number | null }>(
    `SELECT "friendlyId", "taskIdentifier", "idempotencyKey", "batchId", "batchIndex" FROM "TaskRun"
      WHERE "environmentId" = $1 AND ("taskIdentifier", "idempotencyKey") IN (SELECT * FROM unnest($2::text[], $3::text[]))`,
    [environmentId, pairs.map((p) => p.task), pairs.map((p) => p.key)],
  );
  return rows;
}

/** Records items answered by an existing run and items that failed, then (re)computes the seal. */
export async function recordOutcomes(
  batchId: string,
  cached: { index: number; runId: string }[],
  errors: BatchItemError[],
  now: Date,
): Promise<BatchCounters> {
  const { rows } = await pgPool().query<BatchCounters>(
    `UPDATE "BatchTaskRun" SET
       "cachedIndices" = "cachedIndices" || $2::int[], "cachedRunIds" = "cachedRunIds" || $3::text[],
       "errorIndices" = "errorIndices" || $4::int[], errors = errors || $5::jsonb,
       ${ADVANCE("cardinality($2::int[])", "cardinality($4::int[])", "$6::timestamp")}
     WHERE id = $1 RETURNING ${COUNTERS}`,
    [batchId, cached.map((c) => c.index), cached.map((c) => c.runId), errors.map((e) => e.index), JSON.stringify(errors), now.toISOString()],
  );
  return rows[0];
}

/** The batch's runs (friendly ids) by index, its own and those answered by an idempotency key. */
export async function batchRunIds(batch: BatchRow): Promise<string[]> {
  const { rows } = await pgPool().query<{ batchIndex: number; friendlyId: string }>({
    name: "batch-run-ids",
    text: `SELECT "batchIndex", "friendlyId" FROM "TaskRun" WHERE "batchId" = $1`,
    values: [batch.id],
  });
  const byIndex = new Map<number, string>(rows.map((r) => [r.batchIndex, r.friendlyId]));
  batch.cachedIndices.forEach((index, i) => byIndex.set(index, batch.cachedRunIds[i]));
  return [...byIndex.entries()].sort(([a], [b]) => a - b).map(([, id]) => id);
}
