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
