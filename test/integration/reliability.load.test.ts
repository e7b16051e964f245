import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pgPool } from "~/db.server";
import { bearer, deployOverHttp } from "../support/apiClient";
import { startAppServer, type AppServer } from "../support/appServer";
import { createTestProject, type TestProject } from "../support/fixtures";
import { describeLatencies, runLoad, type LoadRequest } from "../support/loadClient";

/**
 * Load without loss (issue 8): triggers at concurrency 100 against the production server's lean
 * lane, with a mix of fresh idempotency keys, keys repeated many times (often while the first
 * request with that key is still in flight), and no key at all. Afterwards Postgres must hold
 * exactly one run per distinct (task, key) plus one per key-less request — nothing lost, nothing
 * doubled — and every answer must be a 200 carrying the id of that run.
 *
 * RELIABILITY_LOAD_TOTAL overrides the count (20,000 by default; it runs in well under a minute
 * on an idle 2-core machine).
 */

const TOTAL = Number(process.env.RELIABILITY_LOAD_TOTAL ?? 20_000);
const CONCURRENCY = 100;
const TASK_COUNT = 10;
const REPEATED_KEYS = Math.max(1, Math.floor(TOTAL / 20)); // each used ~6 times

let server: AppServer;
let project: TestProject;

beforeAll(async () => {
  project = await createTestProject();
  server = await startAppServer();
  const tasks = Array.from({ length: TASK_COUNT }, (_, i) => ({ slug: `task-${i}`, queue: { name: `queue-${i % 3}` }, ttl: "1h" }));
  await deployOverHttp(server.url, project.prod.apiKey, { version: "v1", tasks });
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

type Kind = "fresh" | "repeated" | "none";

interface Plan {
  kind: Kind;
  task: string;
  key: string | null;
}

/**
 * Request i: 45% a fresh key, 35% one of REPEATED_KEYS keys (sent in the header or the body, in
 * turn), 20% no key. A repeated key always goes to the same task: idempotency is per (task, key).
 */
function plan(i: number): Plan {
  const bucket = i % 20;
  if (bucket < 9) return { kind: "fresh", task: `task-${i % TASK_COUNT}`, key: `fresh-${i}` };
  if (bucket < 16) {
    const n = (i * 7919) % REPEATED_KEYS;
    return { kind: "repeated", task: `task-${n % TASK_COUNT}`, key: `repeated-${n}` };
  }
  return { kind: "none", task: `task-${i % TASK_COUNT}`, key: null };
}

function request(i: number): LoadRequest {
  const { task, key } = plan(i);
  const inHeader = key !== null && i % 2 === 0;
  return {
    path: `/api/v1/tasks/${task}/trigger`,
    headers: { ...bearer(project.prod.apiKey), ...(inHeader ? { "idempotency-key": key } : {}) },
    body: JSON.stringify({ payload: { i }, options: key !== null && !inHeader ? { idempotencyKey: key } : {} }),
  };
}

describe("load without loss", () => {
  it(`${TOTAL.toLocaleString("en")} triggers at concurrency ${CONCURRENCY}: runs == distinct keys + key-less requests, no duplicates, no errors`, async () => {
    const run = await runLoad({ baseUrl: server.url, total: TOTAL, concurrency: CONCURRENCY, request, timeoutMs: 60_000 });
    const failed = run.calls.filter((c) => c.status !== 200);
    const plans = run.calls.map((c) => plan(c.index));
    const distinctKeys = new Set(plans.filter((p) => p.key !== null).map((p) => `${p.task}\u0000${p.key}`));
    const keyless = plans.filter((p) => p.key === null).length;
    const expectedRuns = distinctKeys.size + keyless;

    const { rows: counted } = await pgPool().query<{ runs: string; keyed: string; distinct_keyed: string }>(
      `SELECT count(*) AS runs, count("idempotencyKey") AS keyed,
              count(DISTINCT ("taskIdentifier", "idempotencyKey")) FILTER (WHERE "idempotencyKey" IS NOT NULL) AS distinct_keyed
         FROM "TaskRun" WHERE "environmentId" = $1`,
      [project.prod.id],
    );
    const { rows: duplicates } = await pgPool().query(
      `SELECT "taskIdentifier", "idempotencyKey", count(*) FROM "TaskRun"
        WHERE "environmentId" = $1 AND "idempotencyKey" IS NOT NULL
        GROUP BY 1, 2 HAVING count(*) > 1 LIMIT 5`,
      [project.prod.id],
    );
    const runs = Number(counted[0].runs);
    console.log(
      `[reliability] load: ${TOTAL} triggers at concurrency ${CONCURRENCY} in ${(run.wallMs / 1000).toFixed(1)} s = ${run.requestsPerSecond.toFixed(0)} req/s; ` +
        `${describeLatencies(run.calls)}\n  ${failed.length} failures; runs in Postgres ${runs}, expected ${expectedRuns} ` +
        `(${distinctKeys.size} distinct keys + ${keyless} key-less); lost ${expectedRuns - runs}; duplicated keys ${duplicates.length}`,
    );

    expect(failed.slice(0, 5).map((c) => `${c.status} ${c.error ?? c.body}`)).toEqual([]);
    expect(duplicates).toEqual([]);
    expect(Number(counted[0].keyed)).toBe(distinctKeys.size);
    expect(Number(counted[0].distinct_keyed)).toBe(distinctKeys.size);
    expect(runs).toBe(expectedRuns);

    // Every answer names a stored run; all answers for one key name the same run, and exactly one
    // of them created it (isCached false), the others got it back (isCached true).
    const byKey = new Map<string, { ids: Set<string>; created: number }>();
    const answered = new Set<string>();
    run.calls.forEach((call, i) => {
      const body = JSON.parse(call.body) as { id: string; isCached: boolean };
      answered.add(body.id);
      const p = plans[i];
      if (p.key === null) {
        expect(body.isCached).toBe(false);
        return;
      }
      const entry = byKey.get(`${p.task}/${p.key}`) ?? { ids: new Set(), created: 0 };
      entry.ids.add(body.id);
      if (!body.isCached) entry.created += 1;
      byKey.set(`${p.task}/${p.key}`, entry);
    });
    for (const [key, entry] of byKey) {
      expect(entry.ids.size, key).toBe(1);
      expect(entry.created, key).toBe(1);
    }
    expect(answered.size).toBe(runs);
    const { rows: stored } = await pgPool().query<{ friendlyId: string }>(`SELECT "friendlyId" FROM "TaskRun" WHERE "environmentId" = $1`, [project.prod.id]);
    expect(new Set(stored.map((r) => r.friendlyId))).toEqual(answered);
  }, 300_000);
});
