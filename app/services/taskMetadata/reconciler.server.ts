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
 * For each environment it compares the owner key (the worker the hash was written for) with
 * Postgres' current worker, and rebuilds the hash where they differ; where they agree it compares
 * the contents (contentDrift.server.ts: a digest, then field by field) and repairs by policy. An absent owner needs
 * nothing: the first miss back-fills from Postgres. Off the hot path: environments are read a
 * batch at a time with one statement each, owners with one GET per environment on the admin
 * connection, and a Redis lock lets one instance sweep per interval.
 */

const BATCH = 500;

export interface ReconcileReport {
  /** Another instance holds the sweep's lock for this interval. */
  skipped: boolean;
  checked: number;
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

/** Postgres' current worker of each environment, a batch in id order: one statement. */
function currentWorkers(after: string): Promise<EnvironmentRow[]> {
  return prisma().$queryRaw<EnvironmentRow[]>`
    SELECT e.id, e.type::text AS type, ${currentWorkerIdSql(Prisma.sql`e.id`, Prisma.sql`e.type`)} AS "workerId"
    FROM "RuntimeEnvironment" e
    WHERE e.id > ${after}
    ORDER BY e.id
    LIMIT ${BATCH}`;
}

/**
 * One sweep over every environment. With `lockMs`, it first takes the sweep's lock for that long
 * and is skipped when another instance holds it.
 */
export async function reconcileCurrentHashes(options: { lockMs?: number; admin?: TaskMetadataCacheAdmin } = {}): Promise<ReconcileReport> {
  const admin = options.admin ?? taskMetadataCacheAdmin();
  const report: ReconcileReport = { skipped: false, checked: 0, repaired: [], failed: [], drift: [] };
  if (options.lockMs) {
    // Never released: the lock is the interval, so that one instance sweeps per interval.
    if (!(await admin.takeReconcileLock(options.lockMs, randomUUID()))) return { ...report, skipped: true };
  }

  for (let after = ""; ; ) {
    const batch = await currentWorkers(after);
    if (batch.length === 0) break;
    after = batch[batch.length - 1].id;
    const owners = await admin.currentOwners(batch.map((environment) => environment.id));
    report.checked += batch.length;
    for (const [i, environment] of batch.entries()) {
      const owner = owners[i];
      // No owner: nothing to repair, the first miss back-fills from Postgres.
      if (owner === null) continue;
      if (owner.workerId === environment.workerId) {
        await checkContents(admin, environment, { mismatch: false }, report);
        continue;
      }
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
    if (batch.length < BATCH) break;
  }
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
