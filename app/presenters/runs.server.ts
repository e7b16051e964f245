import { z } from "zod";
import { readOrPrimary, readPrisma } from "~/db.server";
import type { Prisma } from "~/generated/prisma/client.ts";
import { TRIGGER_SOURCES, type TaskKind } from "~/domain/environments";
import { TaskRunStatus } from "~/generated/prisma/enums.ts";
import { decodeRunCursor, encodeRunCursor, type RunCursor } from "~/domain/runCursor";
import { periodStart, RUN_PERIODS } from "~/domain/runPeriods";
import { unstorableText } from "~/domain/storableInput";
import { byProjectThenSlug } from "~/presenters/environmentSummary.server";

/**
 * The runs list (/admin/runs): one environment at a time, filtered by task (a case-insensitive
 * substring), status, kind and creation time, newest first, paged by keyset over (createdAt desc,
 * id desc). Every page is one range scan of the (environmentId, createdAt) index, whatever its
 * depth, beside one capped count of the matches. Filters live in the query string so a link can
 * be shared.
 */

export const RUNS_PAGE_SIZE = 25;

const blankToUndefined = (v: unknown) => (typeof v === "string" && v.trim() === "" ? undefined : v);

const cursorParam = z.preprocess(
  blankToUndefined,
  z
    .string()
    .transform((value, ctx) => {
      const cursor = decodeRunCursor(value);
      if (!cursor) ctx.addIssue({ code: "custom", message: "is not a valid page cursor (the link may be truncated)" });
      return cursor as RunCursor;
    })
    .optional(),
);

// A NUL cannot be compared with anything in Postgres: the filter is refused, not a 500.
const storable = (value: string, ctx: z.RefinementCtx) => {
  const problem = unstorableText(value);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
};

export const RunFiltersSchema = z.object({
  env: z.preprocess(blankToUndefined, z.string().max(64).superRefine(storable).optional()),
  task: z.preprocess(blankToUndefined, z.string().trim().max(256).superRefine(storable).optional()),
  status: z.preprocess(blankToUndefined, z.enum(Object.values(TaskRunStatus)).optional()),
  kind: z.preprocess(blankToUndefined, z.enum(TRIGGER_SOURCES).optional()),
  /** Runs pinned to this external deployment id (docs/api.md "Version skew"). */
  externalDeploymentId: z.preprocess(blankToUndefined, z.string().trim().max(128).superRefine(storable).optional()),
  /** Only runs created within this period before now. */
  period: z.preprocess(blankToUndefined, z.enum(RUN_PERIODS).optional()),
  /** Reload the first page every few seconds ("1"). */
  live: z.preprocess(blankToUndefined, z.literal("1").optional()),
  /** Rows older than this position (the "next" page). */
  after: cursorParam,
  /** Rows newer than this position (the "newer" page). */
  before: cursorParam,
});

export type RunFilters = z.output<typeof RunFiltersSchema>;

/** Counting stops here: past it the page says "10,000+" rather than scan the whole environment. */
export const RUN_COUNT_CAP = 10_000;

/** `kind` was called `source` in older links: the same filter under its old name. */
export function legacyKindParam(params: URLSearchParams): URLSearchParams | null {
  if (!params.has("source")) return null;
  const renamed = new URLSearchParams(params);
  const kind = renamed.get("source") ?? "";
  renamed.delete("source");
  if (!renamed.has("kind") && kind !== "") renamed.set("kind", kind);
  return renamed;
}

/** A LIKE pattern that matches `text` literally anywhere (Prisma's `contains` leaves `%`, `_` and `\` to the caller). */
export function containsPattern(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

/** The filters in `params`, or a message naming the first bad parameter. */
export function parseRunFilters(params: URLSearchParams): { ok: true; filters: RunFilters } | { ok: false; error: string } {
  const parsed = RunFiltersSchema.safeParse(Object.fromEntries(params));
  if (parsed.success) return { ok: true, filters: parsed.data };
  const issue = parsed.error.issues[0];
  const name = String(issue.path[0] ?? "query");
  const value = params.get(name);
  const shown = value === null ? "" : ` (${JSON.stringify(value).replace(/^"|"$/g, "'")})`;
  return { ok: false, error: `Query parameter '${name}'${shown}: ${issue.message}` };
}

export interface EnvironmentOption {
  id: string;
  label: string;
}

export interface RunRow {
  id: string;
  friendlyId: string;
  taskIdentifier: string;
  status: TaskRunStatus;
  queue: string;
  taskKind: TaskKind;
  ttl: string | null;
  expiresAt: string | null;
  lockedVersion: string | null;
  externalDeploymentId: string | null;
  tags: string[];
  createdAt: string;
}

export interface RunsPage {
  environment: EnvironmentOption;
  environments: EnvironmentOption[];
  /** Task slugs registered in the environment, for the task filter's suggestions. */
  taskSlugs: string[];
  runs: RunRow[];
  /** Runs matching the filters (all pages), up to {@link RUN_COUNT_CAP}; `capped` when there are more. */
  matching: { count: number; capped: boolean };
  /** When the page was read (relative times are shown against it). */
  now: string;
  /** Cursor for the next (older) page, when there is one. */
  olderCursor: string | null;
  /** Cursor for the newer page, when this is not the first page. */
  newerCursor: string | null;
}

async function environmentOptions(db = readPrisma()): Promise<EnvironmentOption[]> {
  const environments = await db.runtimeEnvironment.findMany({
    select: { id: true, slug: true, project: { select: { slug: true } } },
    orderBy: byProjectThenSlug,
  });
  return environments.map((e) => ({ id: e.id, label: `${e.project.slug} / ${e.slug}` }));
}

/** Whether an environment with this id exists (a remembered choice may have been deleted since). */
export async function environmentExists(environmentId: string): Promise<boolean> {
  const found = await readOrPrimary((db) => db.runtimeEnvironment.findUnique({ where: { id: environmentId }, select: { id: true } }));
  return found !== null;
}

/**
 * The environment to show when the URL names none: the one with the most recent run (one indexed
 * lookup per environment), else the first. Null when there are no environments at all.
 */
export async function defaultRunsEnvironment(): Promise<string | null> {
  const db = readPrisma();
  const environments = await environmentOptions();
  if (environments.length === 0) return null;
  const latest = await Promise.all(
    environments.map((e) =>
      db.taskRun.findFirst({ where: { environmentId: e.id }, orderBy: { createdAt: "desc" }, select: { createdAt: true } }),
    ),
  );
  let best = 0;
  latest.forEach((run, i) => {
    const current = latest[best]?.createdAt.getTime() ?? -Infinity;
    if (run && run.createdAt.getTime() > current) best = i;
  });
  return environments[best].id;
}

function keyset(cursor: RunCursor, direction: "older" | "newer"): Prisma.TaskRunWhereInput {
  const [strict, inclusive] = direction === "older" ? (["lt", "lte"] as const) : (["gt", "gte"] as const);
  return {
    // The redundant bound is what lets Postgres start the index range at the cursor; the OR alone
    // would be a filter applied while walking every newer row of the environment.
    createdAt: { [inclusive]: cursor.createdAt },
    OR: [{ createdAt: { [strict]: cursor.createdAt } }, { createdAt: cursor.createdAt, id: { [strict]: cursor.id } }],
  };
}

/** The filters as Prisma conditions: `matching` (what the count counts) and `where` (that plus the page's keyset bound). */
function runsWhere(environmentId: string, filters: RunFilters, now: Date, keysetBound: Prisma.TaskRunWhereInput) {
  const since = filters.period ? periodStart(filters.period, now) : null;
  const matching: Prisma.TaskRunWhereInput = {
    environmentId,
    ...(filters.task ? { taskIdentifier: { contains: containsPattern(filters.task), mode: "insensitive" } } : {}),
    ...(filters.status ? { status: filters.status } : {}),
    ...(filters.kind ? { taskKind: filters.kind } : {}),
    ...(filters.externalDeploymentId ? { externalDeploymentId: filters.externalDeploymentId } : {}),
    // The period's bound goes beside the keyset's (an AND), so each keeps its own index range.
    ...(since ? { AND: [{ createdAt: { gte: since } }] } : {}),
  };
  return { matching, where: { ...matching, ...keysetBound } satisfies Prisma.TaskRunWhereInput };
}

/** Null when the environment does not exist. */
export async function runsPage(environmentId: string, filters: RunFilters, pageSize = RUNS_PAGE_SIZE): Promise<RunsPage | null> {
  const db = readPrisma();
  const direction = filters.before && !filters.after ? "newer" : "older";
  const cursor = direction === "newer" ? filters.before : filters.after;
  const now = new Date();
  const { matching, where } = runsWhere(environmentId, filters, now, cursor ? keyset(cursor, direction) : {});
  const order = direction === "older" ? "desc" : "asc";
  // Every read at once (one round trip of latency): an unknown environment simply matches no rows.
  const [environments, rows, tasks, count] = await Promise.all([
    readOrPrimary(async (source) => {
      const options = await environmentOptions(source);
      return options.some((e) => e.id === environmentId) ? options : null;
    }),
    db.taskRun.findMany({
      where,
      orderBy: [{ createdAt: order }, { id: order }],
      take: pageSize + 1,
      select: {
        id: true,
        friendlyId: true,
        taskIdentifier: true,
        status: true,
        queue: true,
        taskKind: true,
        ttl: true,
        expiresAt: true,
        tags: true,
        createdAt: true,
        lockedToVersion: { select: { version: true } },
        externalDeploymentId: true,
      },
    }),
    db.backgroundWorkerTask.findMany({
      where: { environmentId },
      distinct: ["slug"],
      orderBy: { slug: "asc" },
      take: 500,
      select: { slug: true },
    }),
    db.taskRun.count({ where: matching, take: RUN_COUNT_CAP + 1 }),
  ]);

  const environment = environments?.find((e) => e.id === environmentId);
  if (!environments || !environment) return null;

  const more = rows.length > pageSize;
  const page = rows.slice(0, pageSize);
  if (direction === "newer") page.reverse();
  const position = (row: (typeof page)[number]) => encodeRunCursor({ createdAt: row.createdAt, id: row.id });
  const first = page[0];
  const last = page[page.length - 1];
  // Going older, a newer page exists whenever we started from a cursor; going newer, an older one always does.
  const olderCursor = last && (direction === "newer" || more) ? position(last) : null;
  const newerCursor = first && (direction === "older" ? cursor !== undefined : more) ? position(first) : null;

  return {
    environment,
    environments,
    taskSlugs: tasks.map((t) => t.slug),
    runs: page.map((r) => ({
      id: r.id,
      friendlyId: r.friendlyId,
      taskIdentifier: r.taskIdentifier,
      status: r.status,
      queue: r.queue,
      taskKind: r.taskKind,
      ttl: r.ttl,
      expiresAt: r.expiresAt?.toISOString() ?? null,
      lockedVersion: r.lockedToVersion?.version ?? null,
      externalDeploymentId: r.externalDeploymentId,
      tags: r.tags,
      createdAt: r.createdAt.toISOString(),
    })),
    matching: { count: Math.min(count, RUN_COUNT_CAP), capped: count > RUN_COUNT_CAP },
    now: now.toISOString(),
    olderCursor,
    newerCursor,
  };
}
