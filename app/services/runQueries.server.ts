import { prisma } from "~/db.server";
import { encodeRunCursor, type RunCursor } from "~/domain/runCursor";
import type { RunListQuery } from "~/domain/runListQuery";
import { listRunView, retrieveRunView, type StoredRun } from "~/domain/runView";
import type { Prisma } from "~/generated/prisma/client";
import { bufferedStoredRun, readRunThroughBuffer } from "~/services/triggerBuffer/reads.server";

/**
 * The runs API's reads in the SDK's shapes (domain/runView.ts). Always scoped to the caller's
 * environment: another environment's run is indistinguishable from an unknown one.
 */

export const storedRunSelect = {
  id: true,
  friendlyId: true,
  status: true,
  taskIdentifier: true,
  idempotencyKey: true,
  isTest: true,
  createdAt: true,
  updatedAt: true,
  delayUntil: true,
  ttl: true,
  expiredAt: true,
  canceledAt: true,
  tags: true,
  metadata: true,
  taskKind: true,
  region: true,
  payload: true,
  payloadType: true,
  lockedToVersion: { select: { version: true } },
  batch: { select: { friendlyId: true } },
  externalDeploymentId: true,
  error: true,
} satisfies Prisma.TaskRunSelect;

type SelectedRun = Prisma.TaskRunGetPayload<{ select: typeof storedRunSelect }>;

export function toStoredRun(row: SelectedRun): StoredRun {
  return { ...row, version: row.lockedToVersion?.version ?? null, batchId: row.batch?.friendlyId ?? null };
}

/** The run with this friendly id in this environment, or null. */
export async function findStoredRun(environmentId: string, friendlyId: string): Promise<StoredRun | null> {
  const row = await prisma().taskRun.findFirst({ where: { friendlyId, environmentId }, select: storedRunSelect });
  return row ? toStoredRun(row) : null;
}

/** `runs.retrieve`: a run still in the trigger buffer, or a buffered id that became an alias, answers too. */
export async function retrieveRun(environmentId: string, friendlyId: string) {
  const run = await readRunThroughBuffer(environmentId, friendlyId, (id) => findStoredRun(environmentId, id), bufferedStoredRun);
  return run ? retrieveRunView(run) : null;
}

function filters(environmentId: string, query: RunListQuery): Prisma.TaskRunWhereInput {
  return {
    environmentId,
    ...(query.statuses ? { status: { in: query.statuses } } : {}),
    ...(query.taskIdentifiers ? { taskIdentifier: { in: query.taskIdentifiers } } : {}),
    ...(query.versions ? { lockedToVersion: { version: { in: query.versions } } } : {}),
    ...(query.externalDeploymentIds ? { externalDeploymentId: { in: query.externalDeploymentIds } } : {}),
    ...(query.tags ? { tags: { hasSome: query.tags } } : {}),
    ...(query.isTest !== null ? { isTest: query.isTest } : {}),
    ...(query.from || query.to ? { createdAt: { ...(query.from ? { gte: query.from } : {}), ...(query.to ? { lte: query.to } : {}) } } : {}),
  };
}

/** Rows strictly after (older than) or before (newer than) a cursor in (createdAt desc, id desc) order. */
function keyset(cursor: RunCursor, direction: "lt" | "gt"): Prisma.TaskRunWhereInput {
  return { OR: [{ createdAt: { [direction]: cursor.createdAt } }, { createdAt: cursor.createdAt, id: { [direction]: cursor.id } }] };
}

/**
 * One page, newest first, keyset-paged over (createdAt, id): `next` continues after the last item,
 * `previous` before the first. One index range scan however deep the page.
 */
export async function listRuns(environment: { id: string; slug: string }, query: RunListQuery) {
  const backwards = query.before !== null;
  const cursor = query.after ?? query.before;
  const rows = await prisma().taskRun.findMany({
    where: { AND: [filters(environment.id, query), ...(cursor ? [keyset(cursor, backwards ? "gt" : "lt")] : [])] },
    orderBy: backwards ? [{ createdAt: "asc" }, { id: "asc" }] : [{ createdAt: "desc" }, { id: "desc" }],
    take: query.pageSize + 1,
    select: storedRunSelect,
  });
  const more = rows.length > query.pageSize;
  const page = rows.slice(0, query.pageSize);
  if (backwards) page.reverse();
  const position = (row: SelectedRun) => encodeRunCursor({ createdAt: row.createdAt, id: row.id });
  const hasNext = backwards ? true : more;
  const hasPrevious = backwards ? more : query.after !== null;
  return {
    data: page.map((row) => listRunView(toStoredRun(row), environment)),
    pagination: {
      ...(hasNext && page.length > 0 ? { next: position(page[page.length - 1]) } : {}),
      ...(hasPrevious && page.length > 0 ? { previous: position(page[0]) } : {}),
    },
  };
}
