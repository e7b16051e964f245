import { pgPool } from "~/db.server";
import { HotpathError } from "~/domain/errors";
import { defaultQueueName } from "~/domain/queueNames";
import type { EnvironmentType } from "~/generated/prisma/enums";
import { drainStatement } from "~/services/drainStatement.server";
import { logger } from "~/services/logger.server";
import { resolveTask, type ResolvedTask } from "~/services/taskMetadata/index.server";

/**
 * The run lifecycle's step for runs pinned to an external deployment id that no worker had when
 * they were triggered (PENDING_VERSION with a deadline; docs/api.md "Version skew"):
 *   - past `versionDeadlineAt` a run is EXPIRED, its error naming the id;
 *   - each waiting (environment, id, task, queue) is resolved through the trigger's own resolver
 *     (cache included): once the deploy that registers the id has committed, its runs are QUEUED
 *     on that worker exactly as a trigger now would be. A resolver 4xx (the task is not on that
 *     worker, the chosen queue is not its) can never change for that worker: those runs are
 *     EXPIRED with the resolver's message.
 * Every UPDATE repeats the status it expects, so a run canceled meanwhile is never moved. A run
 * triggered after its group was looked at is picked up by the next tick: none is left behind.
 */

interface PinnedGroup {
  environmentId: string;
  type: EnvironmentType;
  externalDeploymentId: string;
  taskIdentifier: string;
  queue: string;
}

const PINNED_GROUPS = `
  SELECT DISTINCT r."environmentId", e."type", r."externalDeploymentId", r."taskIdentifier", r."queue"
    FROM "TaskRun" r JOIN "RuntimeEnvironment" e ON e."id" = r."environmentId"
   WHERE r."status" = 'PENDING_VERSION' AND r."externalDeploymentId" IS NOT NULL
   LIMIT $1`;

/** The group's waiting runs, still within their TTL and deadline, a batch at a time. */
const GROUP_BATCH = `
  SELECT "id" FROM "TaskRun"
   WHERE "status" = 'PENDING_VERSION' AND "externalDeploymentId" = $1 AND "environmentId" = $2
     AND "taskIdentifier" = $3 AND "queue" = $4
     AND ("expiresAt" IS NULL OR "expiresAt" > $5::timestamp) AND ("versionDeadlineAt" IS NULL OR "versionDeadlineAt" > $5::timestamp)
   LIMIT $6`;

const RELEASE_PINNED = `
  UPDATE "TaskRun" SET "status" = 'QUEUED', "updatedAt" = $5::timestamp, "queue" = $7, "lockedToVersionId" = $8,
         "lockedQueueId" = $9, "taskKind" = $10::"TaskTriggerSource", "versionDeadlineAt" = NULL
   WHERE "id" IN (${GROUP_BATCH}) AND "status" = 'PENDING_VERSION'`;

const REFUSE_PINNED = `
  UPDATE "TaskRun" SET "status" = 'EXPIRED', "expiredAt" = $5::timestamp, "updatedAt" = $5::timestamp, "error" = $7
   WHERE "id" IN (${GROUP_BATCH}) AND "status" = 'PENDING_VERSION'`;

const EXPIRE_PAST_DEADLINE = `
  UPDATE "TaskRun" SET "status" = 'EXPIRED', "expiredAt" = $1::timestamp, "updatedAt" = $1::timestamp,
         "error" = format('No deployment with external id %L was registered before the run''s deadline.', "externalDeploymentId")
   WHERE "id" IN (SELECT "id" FROM "TaskRun"
                   WHERE "status" = 'PENDING_VERSION' AND "versionDeadlineAt" <= $1::timestamp
                   ORDER BY "versionDeadlineAt" LIMIT $2)
     AND "status" = 'PENDING_VERSION'`;

/** Waiting pinned runs past their deadline → EXPIRED; returns how many. */
export async function expirePinnedPastDeadline(now: string, batchSize: number): Promise<number> {
  return drainStatement({ name: "lifecycle-pinned-deadline", text: EXPIRE_PAST_DEADLINE, values: [now, batchSize] }, batchSize);
}

/** Releases (or refuses) the waiting pinned runs whose id a deploy has registered; returns how many were QUEUED. */
export async function releasePinnedRuns(now: string, batchSize: number): Promise<number> {
  const groups = await pgPool().query<PinnedGroup>({ name: "lifecycle-pinned-groups", text: PINNED_GROUPS, values: [batchSize] });
  let released = 0;
  for (const group of groups.rows) {
    const outcome = await resolveGroup(group);
    if (!outcome) continue;
    const match = [group.externalDeploymentId, group.environmentId, group.taskIdentifier, group.queue, now, batchSize];
    if ("refused" in outcome) {
      await drainStatement({ name: "lifecycle-pinned-refuse", text: REFUSE_PINNED, values: [...match, outcome.refused] }, batchSize);
      continue;
    }
    const r = outcome.resolved;
    const values = [...match, r.queueName, r.lockedWorkerId, r.lockedQueueId, r.taskKind];
    released += await drainStatement({ name: "lifecycle-pinned-release", text: RELEASE_PINNED, values }, batchSize);
  }
  return released;
}

/** The group as a trigger now would resolve it; null while the id has no worker (or the lookup failed: next tick). */
async function resolveGroup(group: PinnedGroup): Promise<{ resolved: ResolvedTask } | { refused: string } | null> {
  // A run that waited on its task's default queue had no override; any other queue was chosen.
  const queue = group.queue === defaultQueueName(group.taskIdentifier) ? undefined : group.queue;
  try {
    const resolved = await resolveTask({
      environment: { id: group.environmentId, type: group.type },
      taskSlug: group.taskIdentifier,
      queue,
      externalDeploymentId: group.externalDeploymentId,
    });
    return resolved.awaitingDeployment ? null : { resolved };
  } catch (error) {
    if (error instanceof HotpathError && error.status < 500) return { refused: error.message };
    logger.warn("run lifecycle: pinned task lookup failed; its runs wait for the next tick", { ...group, error });
    return null;
  }
}

