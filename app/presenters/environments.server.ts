import { readPrisma } from "~/db.server";
import { CURRENT_LABEL, currentWorkerOf, LATEST_WORKER_FIRST } from "~/domain/environments";
import { Prisma } from "~/generated/prisma/client.ts";
import { driftCells, type DriftCell } from "~/presenters/drift.server";
import { environmentSummary, environmentSummarySelect, type EnvironmentSummary } from "~/presenters/environmentSummary.server";
import { redisUnavailableNotice } from "~/presenters/pageData.server";
import { taskMetadataCacheAdmin, type CurrentHashStatus, type TaskMetadataCacheAdmin } from "~/services/taskMetadata/index.server";

/**
 * /admin/environments: a page of environments, by project then slug, each with its current worker
 * (Postgres) next to what its current hash holds (Redis); searchable by project or environment
 * slug, project name or exact id. Keyset paging on (project slug, slug, id), so a page costs the
 * same at the start and the end of 100,000 environments. Redis being down blanks the cache
 * columns, not the page.
 */

export const ENVIRONMENTS_PAGE_SIZE = 50;
const MAX_QUERY_LENGTH = 200;

export interface EnvironmentRow extends EnvironmentSummary {
  currentWorkerId: string | null;
  currentVersion: string | null;
  workerCount: number;
  /** Null when Redis could not be read. */
  cache: (CurrentHashStatus & { ownerMatches: boolean }) | null;
  /** What the sweep last found comparing contents (null when Redis could not be read). */
  drift: DriftCell | null;
}

export interface EnvironmentsPage {
  environments: EnvironmentRow[];
  redisError: string | null;
  /** The search as applied ("" for none). */
  query: string;
  /** Environments matching the search, over every page. */
  matching: number;
  /** Ids to page from: rows before the first shown (null on the first page), after the last (null on the last). */
  previousCursor: string | null;
  nextCursor: string | null;
}

export interface EnvironmentsPageInput {
  q?: string | null;
  /** Rows after this environment id, in the list's order. */
  after?: string | null;
  /** Rows before it. */
  before?: string | null;
  pageSize?: number;
}

/** `text` as a literal LIKE pattern, anywhere in the value, lower-cased (compared with lower(column)). */
function containsLike(text: string): string {
  return `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/** Whether an environment row `e` of project `p` matches the search (TRUE without one). */
function matches(query: string): Prisma.Sql {
  if (!query) return Prisma.sql`TRUE`;
  const like = containsLike(query);
  return Prisma.sql`(lower(p.slug) LIKE ${like} OR lower(p.name) LIKE ${like} OR lower(e.slug) LIKE ${like} OR e.id = ${query})`;
}

/**
 * Up to `limit` environments in list order (project slug, project id, slug — unique, since a slug
 * is unique in its project), strictly after (or, `backwards`, before) the cursor environment.
 * Two index-ordered parts, each stopping after `limit` rows: the rest of the cursor's project, then
 * the following projects, each read through its (projectId, slug) index. So a page costs the
 * same at the first and the 100,000th environment (one statement).
 */
function pageSql(query: string, cursor: string | null, limit: number, backwards: boolean): Prisma.Sql {
  const dir = backwards ? Prisma.sql`DESC` : Prisma.sql`ASC`;
  const cmp = backwards ? Prisma.sql`<` : Prisma.sql`>`;
  const rest = Prisma.sql`SELECT e.id, p.slug AS ps, p.id AS pid, e.slug AS es
      FROM "RuntimeEnvironment" e JOIN "Project" p ON p.id = e."projectId", c
      WHERE e."projectId" = c.pid AND e.slug ${cmp} c.es AND ${matches(query)}
      ORDER BY e.slug ${dir} LIMIT ${limit}`;
  const following = Prisma.sql`SELECT e.id, p.slug AS ps, p.id AS pid, e.slug AS es
      FROM "Project" p CROSS JOIN LATERAL (
        SELECT e.id, e.slug FROM "RuntimeEnvironment" e
        WHERE e."projectId" = p.id AND ${matches(query)} ORDER BY e.slug ${dir} LIMIT ${limit}) e
      ${cursor ? Prisma.sql`, c WHERE (p.slug, p.id) ${cmp} (c.ps, c.pid)` : Prisma.empty}
      ORDER BY p.slug ${dir}, p.id ${dir}, e.slug ${dir} LIMIT ${limit}`;
  if (!cursor) return Prisma.sql`SELECT id FROM (${following}) page`;
  return Prisma.sql`WITH c AS (
      SELECT p.slug AS ps, p.id AS pid, e.slug AS es FROM "RuntimeEnvironment" e JOIN "Project" p ON p.id = e."projectId" WHERE e.id = ${cursor})
    SELECT id FROM ((${rest}) UNION ALL (${following})) page
    ORDER BY ps ${dir}, pid ${dir}, es ${dir} LIMIT ${limit}`;
}

/** The ids of one page (one statement) and the cursors of the pages around it. */
async function pageIds(query: string, input: EnvironmentsPageInput, size: number) {
  const backwards = !input.after && Boolean(input.before);
  const cursor = input.after || input.before || null;
  const rows = await readPrisma().$queryRaw<{ id: string }[]>(pageSql(query, cursor, size + 1, backwards));
  const more = rows.length > size;
  const ids = rows.slice(0, size).map((r) => r.id);
  if (backwards) ids.reverse();
  return {
    ids,
    previousCursor: backwards ? (more ? ids[0] : null) : cursor ? (ids[0] ?? null) : null,
    nextCursor: backwards ? (ids.at(-1) ?? null) : more ? ids.at(-1)! : null,
  };
}

async function matchingCount(query: string): Promise<number> {
  const [row] = query
    ? await readPrisma().$queryRaw<{ n: bigint }[]>`
        SELECT count(*) AS n FROM "RuntimeEnvironment" e JOIN "Project" p ON p.id = e."projectId" WHERE ${matches(query)}`
    : await readPrisma().$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM "RuntimeEnvironment"`;
  return Number(row.n);
}

export async function environmentsPage(deps: { admin?: TaskMetadataCacheAdmin } & EnvironmentsPageInput = {}): Promise<EnvironmentsPage> {
  const query = (deps.q ?? "").trim().slice(0, MAX_QUERY_LENGTH);
  const size = deps.pageSize ?? ENVIRONMENTS_PAGE_SIZE;
  const [page, matching] = await Promise.all([pageIds(query, deps, size), matchingCount(query)]);
  const found = page.ids.length
    ? await readPrisma().runtimeEnvironment.findMany({
        where: { id: { in: page.ids } },
        select: {
          ...environmentSummarySelect,
          promotions: { where: { label: CURRENT_LABEL }, select: { worker: { select: { id: true, version: true } } } },
          workers: { orderBy: [...LATEST_WORKER_FIRST], take: 1, select: { id: true, version: true } },
          _count: { select: { workers: true } },
        },
      })
    : [];
  const byId = new Map(found.map((e) => [e.id, e]));
  const environments = page.ids.flatMap((id) => byId.get(id) ?? []);

  let statuses: (CurrentHashStatus | null)[] = environments.map(() => null);
  let redisError: string | null = null;
  if (environments.length > 0) {
    const admin = deps.admin ?? taskMetadataCacheAdmin();
    try {
      // One pipeline per environment: their keys live in different cluster slots.
      statuses = await Promise.all(environments.map((e) => admin.currentStatus(e.id)));
    } catch (error) {
      redisError = redisUnavailableNotice("environments", error);
    }
  }

  const drift = redisError ? null : await driftCells(environments.map((e) => e.id), deps);

  return {
    redisError,
    query,
    matching,
    previousCursor: page.previousCursor,
    nextCursor: page.nextCursor,
    environments: environments.map((env, i) => {
      const current = currentWorkerOf(env, { latest: env.workers[0], promoted: env.promotions[0]?.worker });
      const status = statuses[i];
      return {
        ...environmentSummary(env),
        currentWorkerId: current?.id ?? null,
        currentVersion: current?.version ?? null,
        workerCount: env._count.workers,
        cache: status && { ...status, ownerMatches: status.ownerWorkerId === (current?.id ?? null) },
        drift: drift?.[i] ?? null,
      };
    }),
  };
}
