import type { Span } from "@opentelemetry/api";
import { randomUUID } from "node:crypto";
import { pgPool } from "~/db.server";
import { defaultQueueName } from "~/domain/queueNames";
import { dueDelayedStatus, lockTtlMs, runLifecycleLockKey } from "~/domain/runLifecycle";
import { ATTR, SPAN } from "~/domain/traceAttributes";
import { getEnv } from "~/env.server";
import type { EnvironmentType } from "~/generated/prisma/enums";
import { keyPrefix, redis } from "~/redis.server";
import { drainStatement } from "~/services/drainStatement.server";
import { logger } from "~/services/logger.server";
import { resolveTask } from "~/services/taskMetadata/index.server";
import { expirePinnedPastDeadline, releasePinnedRuns } from "~/services/pinnedRuns.server";
import { inLinkedSpan } from "~/services/tracing.server";

/**
 * The run lifecycle (docs/decisions/0035-run-lifecycle-scheduler.md): every
 * RUN_LIFECYCLE_INTERVAL_MS one instance (a Redis lock) moves what is due, a bounded batch per
 * statement, off the hot path:
 *   1. DELAYED → QUEUED at `delayUntil` (→ PENDING_VERSION when its task is not deployed);
 *   2. QUEUED / PENDING_VERSION → EXPIRED at `expiresAt`;
 *   3. PENDING_VERSION → QUEUED once a deploy makes its task exist;
 *   4. runs pinned to an external deployment id: released once a deploy registers the id, EXPIRED
 *      past their deadline (pinnedRuns.server.ts).
 * Tasks are looked up through the trigger's own resolver (cache included). Every UPDATE repeats
 * the status it expects, so a run canceled meanwhile is never moved.
 */

export interface LifecycleReport {
  /** Another instance holds the lock for this tick. */
  skipped: boolean;
  queued: number;
  pendingVersion: number;
  expired: number;
  released: number;
  durationMs: number;
}

export interface LifecycleOptions {
  now?: Date;
  batchSize?: number;
  /** Take the lock first (the scheduler does; tests calling a tick directly may not). */
  lock?: boolean;
}

interface TaskRef {
  environmentId: string;
  type: EnvironmentType;
  taskIdentifier: string;
}

const groupKey = (ref: { environmentId: string; taskIdentifier: string }) => `${ref.environmentId}\u0000${ref.taskIdentifier}`;

/** The task as a trigger now would resolve it; a resolver error is logged and counts as "not deployed". */
async function resolveRef(ref: TaskRef) {
  try {
    return await resolveTask({ environment: { id: ref.environmentId, type: ref.type }, taskSlug: ref.taskIdentifier });
  } catch (error) {
    logger.warn("run lifecycle: task lookup failed; its runs wait for a deploy", { ...ref, error });
    return null;
  }
}

const DUE_DELAYED = `
  SELECT r."id", r."environmentId", e."type", r."taskIdentifier", r."lockedToVersionId" IS NOT NULL AS "locked",
         r."lockedToVersionId" IS NULL AND r."externalDeploymentId" IS NOT NULL AS "awaiting"
    FROM "TaskRun" r JOIN "RuntimeEnvironment" e ON e."id" = r."environmentId"
   WHERE r."status" = 'DELAYED' AND r."delayUntil" <= $1::timestamp
   ORDER BY r."delayUntil" LIMIT $2`;

const MOVE_DELAYED = `
  UPDATE "TaskRun" SET "status" = (CASE WHEN "id" = ANY($1::text[]) THEN 'QUEUED' ELSE 'PENDING_VERSION' END)::"TaskRunStatus",
         "updatedAt" = $3::timestamp
   WHERE "id" = ANY($2::text[]) AND "status" = 'DELAYED'
  RETURNING "status"`;

/** Step 1, one batch: returns [queued, pendingVersion, selected]. */
async function moveDueDelayed(now: string, batchSize: number): Promise<[number, number, number]> {
  const due = await pgPool().query<TaskRef & { id: string; locked: boolean; awaiting: boolean }>({ name: "lifecycle-due-delayed", text: DUE_DELAYED, values: [now, batchSize] });
  if (due.rows.length === 0) return [0, 0, 0];
  const found = new Map<string, boolean>();
  for (const row of due.rows) {
    // A pinned run whose id had no worker yet waits for it (step 4 releases it), whatever is current.
    if (row.locked || row.awaiting || found.has(groupKey(row))) continue;
    found.set(groupKey(row), (await resolveRef(row))?.taskFound ?? false);
  }
  const taskFound = (row: (typeof due.rows)[number]) => (row.awaiting ? false : (found.get(groupKey(row)) ?? true));
  const queued = due.rows.filter((row) => dueDelayedStatus({ lockedToVersion: row.locked, taskFound: taskFound(row) }) === "QUEUED").map((r) => r.id);
  const moved = await pgPool().query<{ status: string }>({ name: "lifecycle-move-delayed", text: MOVE_DELAYED, values: [queued, due.rows.map((r) => r.id), now] });
  const queuedCount = moved.rows.filter((r) => r.status === "QUEUED").length;
  return [queuedCount, moved.rows.length - queuedCount, due.rows.length];
}

const EXPIRE_DUE = `
  UPDATE "TaskRun" SET "status" = 'EXPIRED', "expiredAt" = $1::timestamp, "updatedAt" = $1::timestamp
   WHERE "id" IN (SELECT "id" FROM "TaskRun"
                   WHERE "status" IN ('QUEUED', 'PENDING_VERSION') AND "expiresAt" <= $1::timestamp
                   ORDER BY "expiresAt" LIMIT $2)
     AND "status" IN ('QUEUED', 'PENDING_VERSION')`;

const PENDING_TASKS = `
  SELECT DISTINCT r."environmentId", e."type", r."taskIdentifier"
    FROM "TaskRun" r JOIN "RuntimeEnvironment" e ON e."id" = r."environmentId"
   WHERE r."status" = 'PENDING_VERSION' AND r."externalDeploymentId" IS NULL
   LIMIT $1`;

/** A run that waited on the default queue takes the deployed task's queue; a chosen queue is kept. */
const RELEASE_PENDING = `
  UPDATE "TaskRun" SET "status" = 'QUEUED', "updatedAt" = $4::timestamp,
         "queue" = CASE WHEN "queue" = $5 THEN $6 ELSE "queue" END
   WHERE "environmentId" = $1 AND "taskIdentifier" = $2 AND "status" = 'PENDING_VERSION' AND "externalDeploymentId" IS NULL
     AND ("expiresAt" IS NULL OR "expiresAt" > $4::timestamp) AND "id" IN (
       SELECT "id" FROM "TaskRun" WHERE "environmentId" = $1 AND "taskIdentifier" = $2 AND "status" = 'PENDING_VERSION'
          AND "externalDeploymentId" IS NULL LIMIT $3)`;

/** Step 3: each task with waiting runs is resolved once; deployed ones release a batch of runs. */
async function releasePendingVersion(now: string, batchSize: number): Promise<number> {
  const tasks = await pgPool().query<TaskRef>({ name: "lifecycle-pending-tasks", text: PENDING_TASKS, values: [batchSize] });
  let released = 0;
  for (const task of tasks.rows) {
    const resolved = await resolveRef(task);
    if (!resolved?.taskFound) continue;
    const values = [task.environmentId, task.taskIdentifier, batchSize, now, defaultQueueName(task.taskIdentifier), resolved.queueName];
    released += await drainStatement({ name: "lifecycle-release-pending", text: RELEASE_PENDING, values }, batchSize);
  }
  return released;
}


/** One tick: everything due at `now`, in bounded batches. */
export async function runLifecycleTick(options: LifecycleOptions = {}): Promise<LifecycleReport> {
  const started = performance.now();
  const batchSize = options.batchSize ?? getEnv().RUN_LIFECYCLE_BATCH_SIZE;
  const now = (options.now ?? new Date()).toISOString();
  const report: LifecycleReport = { skipped: false, queued: 0, pendingVersion: 0, expired: 0, released: 0, durationMs: 0 };
  const release = options.lock ? await acquireLock() : async () => {};
  if (!release) return { ...report, skipped: true };
  try {
    for (;;) {
      const [queued, pending, selected] = await moveDueDelayed(now, batchSize);
      report.queued += queued;
      report.pendingVersion += pending;
      if (selected < batchSize) break;
    }
    report.expired = await drainStatement({ name: "lifecycle-expire", text: EXPIRE_DUE, values: [now, batchSize] }, batchSize);
    report.released = await releasePendingVersion(now, batchSize);
    report.expired += await expirePinnedPastDeadline(now, batchSize);
    report.released += await releasePinnedRuns(now, batchSize);
  } finally {
    await release();
  }
  report.durationMs = performance.now() - started;
  return report;
}

const RELEASE_LOCK = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`;

/** The tick's lock, or null when another instance holds it; returns its release. */
async function acquireLock(): Promise<(() => Promise<void>) | null> {
  const key = runLifecycleLockKey(keyPrefix());
  const token = randomUUID();
  const taken = await redis().set(key, token, "PX", lockTtlMs(getEnv().RUN_LIFECYCLE_INTERVAL_MS), "NX");
  if (taken === null) return null;
  return async () => {
    try {
      await redis().eval(RELEASE_LOCK, 1, key, token);
    } catch (error) {
      logger.warn("run lifecycle: releasing the lock failed; it expires by itself", { key, error });
    }
  };
}

let timer: NodeJS.Timeout | undefined;
let stopped = true;
/** The tick in progress, which a shutdown waits for before the pools it uses close. */
let running: Promise<void> | undefined;

const TICK_SPAN = {
  onResult: (span: Span, report: LifecycleReport) =>
    span.setAttribute(ATTR.count, report.queued + report.pendingVersion + report.expired + report.released),
};

/** Ticks every RUN_LIFECYCLE_INTERVAL_MS (0: never), the next one after the previous ends; a failed tick is logged and the next runs as planned. */
export function startRunLifecycle(): void {
  const intervalMs = getEnv().RUN_LIFECYCLE_INTERVAL_MS;
  if (intervalMs === 0 || !stopped) return;
  stopped = false;
  // An outage fails every tick: log the first failure and the recovery, not one line per interval.
  let failedTicks = 0;
  const tick = async () => {
    running = runOnce();
    await running;
    running = undefined;
    if (!stopped) {
      timer = setTimeout(() => void tick(), intervalMs);
      timer.unref();
    }
  };
  const runOnce = async () => {
    try {
      const report = await inLinkedSpan(SPAN.lifecycleTick, TICK_SPAN, () => runLifecycleTick({ lock: true }));
      if (failedTicks > 0) logger.info("run lifecycle recovered", { failedTicks });
      failedTicks = 0;
      if (report.queued || report.pendingVersion || report.expired || report.released) logger.info("run lifecycle", { ...report });
    } catch (error) {
      if (failedTicks++ === 0) logger.warn("run lifecycle tick failed; retrying every interval (logged again on recovery)", { intervalMs, error });
    }
  };
  timer = setTimeout(() => void tick(), intervalMs);
  timer.unref();
}

/** Stops ticking; resolves once a tick in progress has finished. */
export async function stopRunLifecycle(): Promise<void> {
  stopped = true;
  if (timer) clearTimeout(timer);
  timer = undefined;
  await running;
}
