/**
 * Builds a synthetic fleet in bulk: one statement per table, rows made by generate_series, never a
 * request per environment (the scale tests and `npm run bench:scale` build 10⁵ environments).
 * Ids are `<tag>-e<7 digits>`, so id order is creation order.
 */

export type Execute = (sql: string, ...params: unknown[]) => Promise<unknown>;

export const environmentId = (tag: string, n: number) => `${tag}-e${String(n).padStart(7, "0")}`;

/** An organization and a project named `tag`, and environments `from`…`to` (inclusive) in it. */
export async function insertEnvironments(execute: Execute, tag: string, from: number, to: number): Promise<void> {
  await execute(
    `INSERT INTO "Organization"(id, slug, name) VALUES ($1, $1, $1) ON CONFLICT DO NOTHING`,
    tag,
  );
  await execute(
    `INSERT INTO "Project"(id, "organizationId", slug, name, "webhookSecret") VALUES ($1, $1, $1, $1, 'whsec_fleet') ON CONFLICT DO NOTHING`,
    tag,
  );
  await execute(
    `INSERT INTO "RuntimeEnvironment"(id, "projectId", slug, type)
     SELECT $1 || '-e' || lpad(g::text, 7, '0'), $1, 'env-' || g, 'PRODUCTION'
     FROM generate_series($2::int, $3::int) g`,
    tag,
    from,
    to,
  );
}

/** Tasks of environment number `n`: most 20, one in a thousand 1,000, one in 50,000 (the first included) 10,000. */
export function taskCountOf(n: number): number {
  if (n % 50_000 === 1) return 10_000;
  if (n % 1_000 === 500) return 1_000;
  return 20;
}
const TASK_COUNT_SQL = `CASE WHEN n % 50000 = 1 THEN 10000 WHEN n % 1000 = 500 THEN 1000 ELSE 20 END`;

export const FLEET_VERSION = "fleet.1";
export const FLEET_QUEUE = "fleet-queue";

/**
 * A whole fleet of `count` environments under one organization `tag`: projects of five
 * environments, each environment with one deployed and promoted worker (`fleet.1`) whose tasks
 * (`task-1` …, see {@link taskCountOf}) run on one queue. A statement per table, every row from
 * generate_series. Worker ids are `<environment id>-w1`.
 */
export async function buildFleet(execute: Execute, tag: string, count: number): Promise<void> {
  const envs = `SELECT g AS n, $1 || '-e' || lpad(g::text, 7, '0') AS id FROM generate_series(1, $2::int) g`;
  await execute(`INSERT INTO "Organization"(id, slug, name) VALUES ($1, $1, $1)`, tag);
  await execute(
    `INSERT INTO "Project"(id, "organizationId", slug, name, "webhookSecret")
     SELECT $1 || '-p' || lpad(g::text, 6, '0'), $1, 'project-' || g, 'Project ' || g, 'whsec_fleet' FROM generate_series(1, ($2::int + 4) / 5) g`,
    tag,
    count,
  );
  await execute(
    `INSERT INTO "RuntimeEnvironment"(id, "projectId", slug, type)
     SELECT e.id, $1 || '-p' || lpad(((e.n + 4) / 5)::text, 6, '0'), 'env-' || e.n, 'PRODUCTION' FROM (${envs}) e`,
    tag,
    count,
  );
  await execute(`INSERT INTO "BackgroundWorker"(id, "environmentId", version, "createdAt") SELECT e.id || '-w1', e.id, '${FLEET_VERSION}', now() - interval '1 day' FROM (${envs}) e`, tag, count);
  await execute(`INSERT INTO "WorkerDeployment"(id, "workerId", "environmentId") SELECT e.id || '-d1', e.id || '-w1', e.id FROM (${envs}) e`, tag, count);
  await execute(
    `INSERT INTO "WorkerDeploymentPromotion"(id, "environmentId", label, "deploymentId", "workerId", "updatedAt")
     SELECT e.id || '-c', e.id, 'current', e.id || '-d1', e.id || '-w1', now() - interval '1 day' FROM (${envs}) e`,
    tag,
    count,
  );
  await execute(`INSERT INTO "TaskQueue"(id, "environmentId", name) SELECT e.id || '-q', e.id, '${FLEET_QUEUE}' FROM (${envs}) e`, tag, count);
  await execute(
    `INSERT INTO "BackgroundWorkerTask"(id, "workerId", "environmentId", slug, "queueId")
     SELECT e.id || '-t' || t, e.id || '-w1', e.id, 'task-' || t, e.id || '-q'
     FROM (${envs}) e CROSS JOIN LATERAL generate_series(1, ${TASK_COUNT_SQL}) t`,
    tag,
    count,
  );
  await execute(`ANALYZE`);
}
