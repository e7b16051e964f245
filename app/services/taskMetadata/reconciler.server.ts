import type { Span } from "@opentelemetry/api";
import { randomUUID } from "node:crypto";
import { prisma } from "~/db.server";
import type { EnvironmentType } from "~/domain/environments";
import { ATTR, SPAN } from "~/domain/traceAttributes";
import { Prisma } from "~/generated/prisma/client.ts";
import { getEnv } from "~/env.server";
import { logger } from "~/services/logger.server";
import { taskMetadataCacheAdmin, type TaskMetadataCacheAdmin } from "~/services/taskMetadata/admin.server";
import { checkSweptEnvironment } from "~/services/taskMetadata/contentDrift.server";
import { currentWorkerIdSql } from "~/services/taskMetadata/sources.server";
import { inLinkedSpan } from "~/services/tracing.server";
import { rebuildCurrentCache } from "~/services/workers.server";

/**
 * The sweep that brings every environment's current hash back in line with Postgres when nothing
 * else would: a promotion whose cache write failed in a process that died before its repair (the
 * repair lives in that process's memory), a Redis restored from an old snapshot, a hand edit.
 *
 * For each environment it checks, it compares the owner key (the worker the hash was written for)
 * with Postgres' current worker, and rebuilds the hash where they differ; where they agree it
 * compares the contents (contentDrift.server.ts: a digest, then field by field) and repairs by
 * policy. An absent owner needs nothing: the first miss back-fills from Postgres.
 *
 * Which environments a pass checks (decision 0075), so that its cost follows change, not the
 * size of the fleet:
 * - the *changed* ones: every environment with a promotion updated, or a worker registered, since
 *   the previous pass began minus one interval (Postgres' own rows are the change log: they are
 *   committed with the change, so a Redis that refused the hash write cannot lose them too);
 * - a *rolling* slice of the rest: the next RECONCILE_ENVS_PER_SECOND × interval environments in
 *   id order after the previous pass's cursor, wrapping at the end.
 * A hash made stale by a promotion or registration is repaired by the first or second pass after
 * it commits (within 2 intervals); any other stale hash within ⌈N ÷ (rate × interval)⌉ intervals.
 * Off the hot path: a statement per 500 environments, one GET per environment on the admin
 * connection, and a Redis lock lets one instance sweep per interval.
 */

const BATCH = 500;
/** How far back the change window may stay while rebuilds keep failing. */
const MAX_RETRY_INTERVALS = 10;

export interface ReconcileReport {
  /** Another instance holds the sweep's lock for this interval. */
  skipped: boolean;
  checked: number;
  /** Of those, environments changed since the previous pass, and the rolling pass's share. */
  changed: number;
  rolled: number;
  /** Environments whose current hash was rebuilt. */
  repaired: string[];
  /** Environments whose rebuild failed (Redis down, say); the next sweep tries again. */
  failed: string[];
  /** Environments whose current hash held fields that disagree with Postgres (contentDrift.server.ts). */
  drift: { environmentId: string; fields: number }[];
}

interface EnvironmentRow {
  id: string;
  type: EnvironmentType;
  /** Postgres' current worker: the promoted one, or in DEVELOPMENT the latest registered. */
  workerId: string | null;
}

const selectCurrent = Prisma.sql`SELECT e.id, e.type::text AS type, ${currentWorkerIdSql(Prisma.sql`e.id`, Prisma.sql`e.type`)} AS "workerId"
    FROM "RuntimeEnvironment" e`;

/** Postgres' current worker of the next environments in id order after `after`: one statement. */
function currentWorkers(after: string, limit = BATCH): Promise<EnvironmentRow[]> {
  return prisma().$queryRaw<EnvironmentRow[]>`${selectCurrent}
    WHERE e.id > ${after}
    ORDER BY e.id
    LIMIT ${limit}`;
}

/**
 * The same for environments with a promotion or a registration after `since` (ms), a batch in id
 * order: one statement, served by the indexes on those times. Timestamps are stored as UTC.
 */
function changedWorkers(since: number, after: string): Promise<EnvironmentRow[]> {
  const at = new Date(since).toISOString();
  return prisma().$queryRaw<EnvironmentRow[]>`${selectCurrent}
    WHERE e.id > ${after} AND e.id IN (
      SELECT p."environmentId" FROM "WorkerDeploymentPromotion" p WHERE p."updatedAt" > ${at}::timestamp
      UNION SELECT w."environmentId" FROM "BackgroundWorker" w WHERE w."createdAt" > ${at}::timestamp)
    ORDER BY e.id
    LIMIT ${BATCH}`;
}

/**
 * The per-environment check: rebuilds the current hash when its owner is not Postgres' current
 * worker, then checks its contents. `owner` is null when the environment has no owner key.
 */
export async function checkEnvironment(
  admin: TaskMetadataCacheAdmin,
  environment: EnvironmentRow,
  owner: { workerId: string | null } | null,
  report: ReconcileReport,
): Promise<void> {
  // No owner: nothing to repair, the first miss back-fills from Postgres.
  if (owner === null) return;
  if (owner.workerId === environment.workerId) return checkContents(admin, environment, { mismatch: false }, report);
  logger.warn("current hash written for another worker than Postgres' current; rebuilding it", {
    environmentId: environment.id,
    cachedOwner: owner.workerId,
    currentWorkerId: environment.workerId,
  });
  // The rebuild reads Postgres again, so a promotion that lands meanwhile is what gets written.
  const rebuilt = await rebuildCurrentCache({ id: environment.id, type: environment.type });
  if (rebuilt) report.repaired.push(environment.id);
  else report.failed.push(environment.id);
  await checkContents(admin, environment, { mismatch: true, repaired: rebuilt }, report);
}

/**
 * Reads the batch's owners (one GET each) and checks every environment of it not checked yet in
 * this pass (`seen`: a changed environment may come round in the rolling slice too).
 */
async function checkBatch(rows: EnvironmentRow[], admin: TaskMetadataCacheAdmin, report: ReconcileReport, seen: Set<string>): Promise<void> {
  const batch = rows.filter((environment) => !seen.has(environment.id));
  if (batch.length === 0) return;
  for (const environment of batch) seen.add(environment.id);
  const owners = await admin.currentOwners(batch.map((environment) => environment.id));
  report.checked += batch.length;
  for (const [i, environment] of batch.entries()) await checkEnvironment(admin, environment, owners[i], report);
}

/** Checks every environment changed since `since`; returns how many. */
async function checkChanged(since: number, admin: TaskMetadataCacheAdmin, report: ReconcileReport, seen: Set<string>): Promise<number> {
  let count = 0;
  for (let after = ""; ; ) {
    const batch = await changedWorkers(since, after);
    await checkBatch(batch, admin, report, seen);
    count += batch.length;
    if (batch.length < BATCH) return count;
    after = batch[batch.length - 1].id;
  }
}

/**
 * Checks up to `budget` environments after `cursor` in id order; returns how many and the next
 * cursor ("" once the end is reached: the next pass starts again from the first).
 */
async function checkRolling(cursor: string, budget: number, admin: TaskMetadataCacheAdmin, report: ReconcileReport, seen: Set<string>) {
  let count = 0;
  let after = cursor;
  while (count < budget) {
    const want = Math.min(BATCH, budget - count);
    const batch = await currentWorkers(after, want);
    await checkBatch(batch, admin, report, seen);
    count += batch.length;
    if (batch.length < want) return { count, cursor: "" };
    after = batch[batch.length - 1].id;
  }
  return { count, cursor: after };
}

export interface ReconcileOptions {
  /** Take the sweep's lock for this long first; skipped when another instance holds it. */
  lockMs?: number;
  admin?: TaskMetadataCacheAdmin;
  /** The sweep's interval (the change window's overlap and the rolling budget); the setting by default. */
  intervalMs?: number;
  /** The rolling pass's rate; TASK_META_CACHE_RECONCILE_ENVS_PER_SECOND by default. */
  envsPerSecond?: number;
  now?: () => number;
}

/** One pass: the environments changed since the previous pass, then a rolling slice of the rest. */
export async function reconcileCurrentHashes(options: ReconcileOptions = {}): Promise<ReconcileReport> {
  const admin = options.admin ?? taskMetadataCacheAdmin();
  const env = getEnv();
  const intervalMs = options.intervalMs ?? (env.TASK_META_CACHE_RECONCILE_INTERVAL_MS || 60_000);
  const envsPerSecond = options.envsPerSecond ?? env.TASK_META_CACHE_RECONCILE_ENVS_PER_SECOND;
  const report: ReconcileReport = { skipped: false, checked: 0, changed: 0, rolled: 0, repaired: [], failed: [], drift: [] };
  if (options.lockMs) {
    // Never released: the lock is the interval, so that one instance sweeps per interval.
    if (!(await admin.takeReconcileLock(options.lockMs, randomUUID()))) return { ...report, skipped: true };
  }
  const startedAt = (options.now ?? Date.now)();
  const state = await admin.readSweepState();
  // First pass (or a lost state): the last two intervals' changes; the rolling pass covers the rest.
  const since = state.since ?? startedAt - 2 * intervalMs;
  const seen = new Set<string>();
  report.changed = await checkChanged(since, admin, report, seen);
  const rolling = await checkRolling(state.cursor, Math.max(1, Math.round((envsPerSecond * intervalMs) / 1000)), admin, report, seen);
  report.rolled = rolling.count;
  // One interval of overlap: a change committed late, or stamped by a clock a little behind, is
  // still seen by the next pass. A failed rebuild keeps the window (at most MAX_RETRY_INTERVALS
  // back; the rolling pass covers what is older), so it is retried.
  const next = report.failed.length ? Math.max(since, startedAt - MAX_RETRY_INTERVALS * intervalMs) : startedAt - intervalMs;
  await admin.writeSweepState({ since: next, cursor: rolling.cursor });
  return report;
}

/**
 * Contents drift and the per-environment record (contentDrift.server.ts). A failure there is one
 * environment's: logged, counted as failed, and the sweep goes on.
 */
async function checkContents(admin: TaskMetadataCacheAdmin, environment: EnvironmentRow, owner: Parameters<typeof checkSweptEnvironment>[2], report: ReconcileReport) {
  try {
    const check = await checkSweptEnvironment(admin, environment, owner);
    if (check.fields > 0) report.drift.push({ environmentId: environment.id, fields: check.fields });
    if (!owner.mismatch && check.repaired) report.repaired.push(environment.id);
    if (!owner.mismatch && check.failed) report.failed.push(environment.id);
  } catch (error) {
    logger.warn("current hash contents check failed; the next sweep tries again", { environmentId: environment.id, error });
    if (!report.failed.includes(environment.id)) report.failed.push(environment.id);
  }
}

let timer: NodeJS.Timeout | undefined;
let running: Promise<void> | undefined;

/**
 * Sweeps at start and then every TASK_META_CACHE_RECONCILE_INTERVAL_MS (0: never), in the
 * background: a failed sweep is logged and the next one runs as planned.
 */
const SWEEP_SPAN = { onResult: (span: Span, report: ReconcileReport) => span.setAttribute(ATTR.count, report.repaired.length) };

export function startCacheReconciler(): void {
  const intervalMs = getEnv().TASK_META_CACHE_RECONCILE_INTERVAL_MS;
  if (intervalMs === 0 || timer) return;
  const sweep = async () => {
    try {
      const report = await inLinkedSpan(SPAN.sweep, SWEEP_SPAN, () => reconcileCurrentHashes({ lockMs: intervalMs }));
      if (report.repaired.length || report.failed.length || report.drift.length) logger.info("current hash sweep", { ...report });
    } catch (error) {
      logger.warn("current hash sweep failed; the next one runs in its interval", { intervalMs, error });
    }
  };
  const run = () => {
    // A sweep slower than the interval is not started twice.
    running ??= sweep().finally(() => (running = undefined));
  };
  timer = setInterval(run, intervalMs);
  timer.unref();
  run();
}

/** Stops the timer and waits for a sweep in progress, so that shutdown closes its connections after it. */
export async function stopCacheReconciler(): Promise<void> {
  if (timer) clearInterval(timer);
  timer = undefined;
  await running;
}
