import { Prisma, type PrismaClient } from "~/generated/prisma/client.ts";
import { CircuitBreaker } from "~/domain/circuitBreaker";
import { CURRENT_LABEL, type EnvironmentRef } from "~/domain/environments";
import { SingleFlight } from "~/domain/singleFlight";
import { ABSENT_TASK, type TaskEntry, type TaskMetadata, type WorkerMetadataSnapshot } from "~/domain/taskMetadataEntry";
import { logger } from "~/services/logger.server";
import type { LockedRequest } from "~/services/taskMetadata/store.server";

/**
 * The Postgres side of task metadata: what the cache holds, read from the source of truth. Used
 * by the resolver on a miss and by the write services to build the hashes they replace. The
 * resolver's lookups are one statement each (counted in test/integration/queueResolver.test.ts).
 */

const taskSelect = {
  ttl: true,
  triggerSource: true,
  queue: { select: { id: true, name: true } },
} as const;

type TaskRow = { ttl: string | null; triggerSource: TaskMetadata["kind"]; queue: { id: string; name: string } | null };

function toMetadata(row: TaskRow): TaskMetadata {
  return {
    found: true,
    kind: row.triggerSource,
    ttl: row.ttl,
    queueId: row.queue?.id ?? null,
    queueName: row.queue?.name ?? null,
  };
}

interface TaskJoinRow {
  workerId: string;
  taskId: string | null;
  ttl: string | null;
  triggerSource: TaskMetadata["kind"] | null;
  queueId: string | null;
  queueName: string | null;
}

function rowEntry(row: TaskJoinRow | undefined): TaskEntry {
  if (!row?.taskId || !row.triggerSource) return ABSENT_TASK;
  return toMetadata({
    ttl: row.ttl,
    triggerSource: row.triggerSource,
    queue: row.queueId && row.queueName ? { id: row.queueId, name: row.queueName } : null,
  });
}

/**
 * Postgres' current worker of one environment, as a SQL expression (the rule and its preloaded-rows
 * twin: `currentWorkerOf` in domain/environments.ts): the latest registered worker in
 * DEVELOPMENT, the promoted one elsewhere; NULL when there is none. `environmentId` and
 * `environmentType` are SQL too, so a statement over many environments can pass columns. Every
 * statement that needs the current worker uses this.
 */
export function currentWorkerIdSql(environmentId: Prisma.Sql, environmentType: Prisma.Sql): Prisma.Sql {
  return Prisma.sql`CASE WHEN (${environmentType})::text = 'DEVELOPMENT'
    THEN (SELECT w.id FROM "BackgroundWorker" w WHERE w."environmentId" = ${environmentId}
          ORDER BY w."createdAt" DESC, w.id DESC LIMIT 1)
    ELSE (SELECT p."workerId" FROM "WorkerDeploymentPromotion" p
          WHERE p."environmentId" = ${environmentId} AND p.label = ${CURRENT_LABEL})
  END`;
}

const currentWorkerOfRef = (environment: EnvironmentRef) =>
  currentWorkerIdSql(Prisma.sql`${environment.id}`, Prisma.sql`${environment.type}`);

/**
 * The current worker and the entry of `slug` on it. One statement: Prisma's nested selects would
 * cost one query per relation (4 here), and this is the cold path of every trigger. `workerId` is
 * null when the environment has no current worker.
 */
export async function findCurrentTask(
  db: PrismaClient,
  environment: EnvironmentRef,
  slug: string,
): Promise<{ workerId: string | null; entry: TaskEntry }> {
  const rows = await db.$queryRaw<TaskJoinRow[]>`
    SELECT c."workerId", t.id AS "taskId", t.ttl, t."triggerSource"::text AS "triggerSource",
           q.id AS "queueId", q.name AS "queueName"
    FROM (SELECT ${currentWorkerOfRef(environment)} AS "workerId") c
    LEFT JOIN "BackgroundWorkerTask" t ON t."workerId" = c."workerId" AND t.slug = ${slug}
    LEFT JOIN "TaskQueue" q ON q.id = t."queueId"`;
  return { workerId: rows[0]?.workerId ?? null, entry: rowEntry(rows[0]) };
}

/** {@link findCurrentTask} for many slugs in one statement (a batch): one entry per slug, in order. */
export async function findCurrentTasks(
  db: PrismaClient,
  environment: EnvironmentRef,
  slugs: readonly string[],
): Promise<CurrentTasksLookup> {
  const rows = await db.$queryRaw<(TaskJoinRow & { slug: string })[]>`
    SELECT c."workerId", s.slug, t.id AS "taskId", t.ttl, t."triggerSource"::text AS "triggerSource",
           q.id AS "queueId", q.name AS "queueName"
    FROM (SELECT ${currentWorkerOfRef(environment)} AS "workerId") c
    CROSS JOIN unnest(${[...slugs]}::text[]) AS s(slug)
    LEFT JOIN "BackgroundWorkerTask" t ON t."workerId" = c."workerId" AND t.slug = s.slug
    LEFT JOIN "TaskQueue" q ON q.id = t."queueId"`;
  const bySlug = new Map(rows.map((row) => [row.slug, row]));
  return { workerId: rows[0]?.workerId ?? null, entries: slugs.map((slug) => rowEntry(bySlug.get(slug))) };
}

export interface CurrentTasksLookup {
  workerId: string | null;
  entries: TaskEntry[];
}

/** The id of the current worker only (write services, repairs). */
export async function findCurrentWorkerId(db: PrismaClient, environment: EnvironmentRef): Promise<string | null> {
  const rows = await db.$queryRaw<{ workerId: string | null }[]>`SELECT ${currentWorkerOfRef(environment)} AS "workerId"`;
  return rows[0]?.workerId ?? null;
}

/** Which worker a locked (by version) or pinned (by external deployment id) trigger names; by id once a cache read knew it. */
export type WorkerSelector = { version: string } | { externalDeploymentId: string } | { id: string };

// One spelling of the filter per selector rather than one CASE, so each uses its unique index.
function whichWorker(worker: WorkerSelector): Prisma.Sql {
  if ("version" in worker) return Prisma.sql`w.version = ${worker.version}`;
  if ("externalDeploymentId" in worker) return Prisma.sql`w."externalDeploymentId" = ${worker.externalDeploymentId}`;
  return Prisma.sql`w.id = ${worker.id}`;
}

export interface LockedLookup {
  workerId: string;
  entry: TaskEntry;
  /** Id of the queue named by the override if a task of this worker runs on it; undefined without an override. */
  overrideQueueId: string | null | undefined;
}

/**
 * Everything a version-locked trigger needs, in one statement: the worker (by version or id),
 * the task on it, and, for a queue override, whether that queue exists in the environment and is
 * used by the worker. Null when no such worker exists.
 */
export async function findLockedTask(
  db: PrismaClient,
  environmentId: string,
  worker: WorkerSelector,
  slug: string,
  overrideQueueName?: string,
): Promise<LockedLookup | null> {
  const queueName = overrideQueueName ?? null;
  const rows = await db.$queryRaw<(TaskJoinRow & { overrideQueueId: string | null })[]>`
    SELECT w.id AS "workerId", t.id AS "taskId", t.ttl, t."triggerSource"::text AS "triggerSource",
           q.id AS "queueId", q.name AS "queueName",
           (SELECT o.id FROM "TaskQueue" o
             WHERE o."environmentId" = w."environmentId" AND o.name = ${queueName}::text
               AND EXISTS (SELECT 1 FROM "BackgroundWorkerTask" u WHERE u."queueId" = o.id AND u."workerId" = w.id)
           ) AS "overrideQueueId"
    FROM "BackgroundWorker" w
    LEFT JOIN "BackgroundWorkerTask" t ON t."workerId" = w.id AND t.slug = ${slug}
    LEFT JOIN "TaskQueue" q ON q.id = t."queueId"
    WHERE w."environmentId" = ${environmentId} AND ${whichWorker(worker)}`;
  const row = rows[0];
  if (!row) return null;
  return {
    workerId: row.workerId,
    entry: rowEntry(row),
    overrideQueueId: overrideQueueName === undefined ? undefined : row.overrideQueueId,
  };
}

/**
 * {@link findLockedTask} for many (task, queue) pairs of one worker, in one statement (a batch's
 * locked group): one answer per request, in order; null when no such worker exists.
 */
export async function findLockedTasks(
  db: PrismaClient,
  environmentId: string,
  worker: WorkerSelector,
  requests: readonly LockedRequest[],
): Promise<LockedLookup[] | null> {
  const slugs = [...new Set(requests.map(({ slug }) => slug))];
  const queues = [...new Set(requests.flatMap(({ queueName }) => (queueName === undefined ? [] : [queueName])))];
  const rows = await db.$queryRaw<{ workerId: string; tasks: (TaskJoinRow & { slug: string })[] | null; queues: { name: string; id: string }[] | null }[]>`
    SELECT w.id AS "workerId",
      (SELECT json_agg(json_build_object('slug', s.slug, 'taskId', t.id, 'ttl', t.ttl, 'triggerSource', t."triggerSource"::text,
                                         'queueId', q.id, 'queueName', q.name))
         FROM unnest(${slugs}::text[]) AS s(slug)
         LEFT JOIN "BackgroundWorkerTask" t ON t."workerId" = w.id AND t.slug = s.slug
         LEFT JOIN "TaskQueue" q ON q.id = t."queueId") AS tasks,
      (SELECT json_agg(json_build_object('name', o.name, 'id', o.id)) FROM "TaskQueue" o
        WHERE o."environmentId" = w."environmentId" AND o.name = ANY(${queues}::text[])
          AND EXISTS (SELECT 1 FROM "BackgroundWorkerTask" u WHERE u."queueId" = o.id AND u."workerId" = w.id)) AS queues
    FROM "BackgroundWorker" w
    WHERE w."environmentId" = ${environmentId} AND ${whichWorker(worker)}`;
  const row = rows[0];
  if (!row) return null;
  const tasks = new Map((row.tasks ?? []).map((task) => [task.slug, task]));
  const queueIds = new Map((row.queues ?? []).map(({ name, id }) => [name, id]));
  return requests.map(({ slug, queueName }) => ({
    workerId: row.workerId,
    entry: rowEntry(tasks.get(slug)),
    overrideQueueId: queueName === undefined ? undefined : (queueIds.get(queueName) ?? null),
  }));
}

/** Everything a replace writes for one worker; null when the worker does not exist. */
export async function loadWorkerSnapshot(db: PrismaClient, workerId: string): Promise<WorkerMetadataSnapshot | null> {
  const worker = await db.backgroundWorker.findUnique({
    where: { id: workerId },
    select: {
      id: true,
      version: true,
      externalDeploymentId: true,
      externalIdGeneration: true,
      tasks: { select: { slug: true, ...taskSelect } },
    },
  });
  if (!worker) return null;
  const queues = new Map<string, string>();
  const tasks = worker.tasks.map((task) => {
    if (task.queue) queues.set(task.queue.name, task.queue.id);
    return { slug: task.slug, entry: toMetadata(task) };
  });
  return {
    workerId: worker.id,
    version: worker.version,
    tasks,
    queues: [...queues].map(([name, id]) => ({ name, id })),
    external:
      worker.externalDeploymentId === null ? null : { id: worker.externalDeploymentId, generation: worker.externalIdGeneration ?? 1 },
  };
}

/**
 * The miss-path lookups the resolver needs, as an object so a wrapper (single-flight, a read
 * replica with a primary re-check) can stand in front of Postgres without touching the resolver.
 */
export interface TaskMetadataSource {
  findCurrentTask(environment: EnvironmentRef, slug: string): Promise<{ workerId: string | null; entry: TaskEntry }>;
  findCurrentTasks(environment: EnvironmentRef, slugs: readonly string[]): Promise<CurrentTasksLookup>;
  findLockedTask(environmentId: string, worker: WorkerSelector, slug: string, overrideQueueName?: string): Promise<LockedLookup | null>;
  findLockedTasks(environmentId: string, worker: WorkerSelector, requests: readonly LockedRequest[]): Promise<LockedLookup[] | null>;
}

export function postgresTaskMetadataSource(db: PrismaClient): TaskMetadataSource {
  return {
    findCurrentTask: (environment, slug) => findCurrentTask(db, environment, slug),
    findCurrentTasks: (environment, slugs) => findCurrentTasks(db, environment, slugs),
    findLockedTask: (environmentId, worker, slug, overrideQueueName) =>
      findLockedTask(db, environmentId, worker, slug, overrideQueueName),
    findLockedTasks: (environmentId, worker, requests) => findLockedTasks(db, environmentId, worker, requests),
  };
}

// ---- in front of Postgres: single-flight, replica first ---------------------------------------

/**
 * Per-process single-flight in front of the miss-path lookups: when a hot task's cache entry is
 * missing (cold start, expiry, a replace that dropped a negative entry), every concurrent trigger
 * of it in this process waits for one Postgres statement instead of sending its own. The key is
 * everything the statement depends on, so two callers only share an answer they would both have
 * got. Callers must treat the shared answer as read-only (the resolver does).
 */
export function singleFlightSource(source: TaskMetadataSource, flights = new SingleFlight()): TaskMetadataSource {
  return {
    findCurrentTask: (environment, slug) =>
      flights.run(JSON.stringify(["current", environment.id, slug]), () => source.findCurrentTask(environment, slug)),
    findCurrentTasks: (environment, slugs) =>
      flights.run(JSON.stringify(["currentMany", environment.id, slugs]), () => source.findCurrentTasks(environment, slugs)),
    findLockedTask: (environmentId, worker, slug, overrideQueueName) =>
      flights.run(
        JSON.stringify([
          "locked",
          environmentId,
          Object.entries(worker)[0],
          slug,
          overrideQueueName ?? null,
        ]),
        () => source.findLockedTask(environmentId, worker, slug, overrideQueueName),
      ),
    findLockedTasks: (environmentId, worker, requests) =>
      flights.run(JSON.stringify(["lockedMany", environmentId, worker, requests]), () => source.findLockedTasks(environmentId, worker, requests)),
  };
}

/**
 * Miss-path lookups on a read replica, with the primary as the authority for anything the replica
 * says does not exist (docs/decisions/0021-replica-not-found-is-rechecked-on-the-primary.md).
 *
 * A replica lags its primary. An answer that shows a row is at worst as stale as the cache itself
 * may be (an older current worker for a moment after a promotion). An answer that says "not
 * found" would be worse: a worker registered a moment ago is a 422 for a locked trigger, and a
 * task of a freshly promoted worker would start a run PENDING_VERSION. So every "not found"
 * is asked again on the primary, whose answer is returned. Those are the rare paths; a warm
 * miss path sends nothing to the primary.
 *
 * The replica is an optimisation, never a dependency: when it fails (down, restarting, a query
 * cancelled by a recovery conflict) the primary answers, and a breaker stops paying the replica's
 * connect timeout on every miss while it stays down.
 */

export interface ReplicaFirstSourceOptions {
  replica: TaskMetadataSource;
  primary: TaskMetadataSource;
  breaker?: CircuitBreaker;
}

/** The current worker is unknown, or the task is not on it: both may be the replica lagging. */
function currentNeedsPrimary(answer: { workerId: string | null; entry: TaskEntry }): boolean {
  return answer.workerId === null || !answer.entry.found;
}

/** No such worker, no such task on it, or the override's queue is not associated with it. */
function lockedNeedsPrimary(answer: LockedLookup | null, overrideQueueName: string | undefined): boolean {
  return answer === null || !answer.entry.found || (overrideQueueName !== undefined && !answer.overrideQueueId);
}

export function replicaFirstSource(options: ReplicaFirstSourceOptions): TaskMetadataSource {
  const { replica, primary } = options;
  const breaker = options.breaker ?? new CircuitBreaker({ failureThreshold: 3, cooldownMs: 5_000 });

  async function read<T>(
    operation: string,
    context: Record<string, unknown>,
    onReplica: () => Promise<T>,
    onPrimary: () => Promise<T>,
    needsPrimary: (answer: T) => boolean,
  ): Promise<T> {
    if (breaker.tryAcquire()) {
      let answer: T;
      try {
        answer = await onReplica();
        breaker.recordSuccess();
      } catch (error) {
        const opened = breaker.recordFailure();
        logger.warn(opened ? "read replica failing; the primary answers misses until it recovers" : "read replica lookup failed; asking the primary", {
          operation,
          error,
          ...context,
        });
        return onPrimary();
      }
      if (!needsPrimary(answer)) return answer;
      const confirmed = await onPrimary();
      if (JSON.stringify(confirmed) !== JSON.stringify(answer)) {
        // Evidence of replica lag on a path where it would have changed the answer.
        logger.info("read replica was behind the primary; answered from the primary", { operation, ...context });
      }
      return confirmed;
    }
    return onPrimary();
  }

  return {
    findCurrentTask: (environment, slug) =>
      read(
        "findCurrentTask",
        { environmentId: environment.id, slug },
        () => replica.findCurrentTask(environment, slug),
        () => primary.findCurrentTask(environment, slug),
        currentNeedsPrimary,
      ),
    findCurrentTasks: (environment, slugs) =>
      read(
        "findCurrentTasks",
        { environmentId: environment.id, slugs: slugs.length },
        () => replica.findCurrentTasks(environment, slugs),
        () => primary.findCurrentTasks(environment, slugs),
        (answer) => answer.workerId === null || answer.entries.some((entry) => !entry.found),
      ),
    findLockedTask: (environmentId, worker, slug, overrideQueueName) =>
      read(
        "findLockedTask",
        { environmentId, worker, slug, overrideQueueName },
        () => replica.findLockedTask(environmentId, worker, slug, overrideQueueName),
        () => primary.findLockedTask(environmentId, worker, slug, overrideQueueName),
        (answer) => lockedNeedsPrimary(answer, overrideQueueName),
      ),
    findLockedTasks: (environmentId, worker, requests) =>
      read(
        "findLockedTasks",
        { environmentId, worker, tasks: requests.length },
        () => replica.findLockedTasks(environmentId, worker, requests),
        () => primary.findLockedTasks(environmentId, worker, requests),
        (answers) => answers === null || answers.some((answer, i) => lockedNeedsPrimary(answer, requests[i].queueName)),
      ),
  };
}
