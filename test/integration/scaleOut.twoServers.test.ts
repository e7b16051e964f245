import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keyPrefix } from "~/redis.server";
import { bearer, overHttp } from "../support/apiClient";
import { startAppServer, type AppServer } from "../support/appServer";
import { createTestProject, registerAndPromote, type TestProject } from "../support/fixtures";

/**
 * Two (then three) production server processes sharing this file's Postgres and Redis, each with
 * its own in-process tier. A promotion through A reaches B's memory through pub/sub at once; an
 * instance that cannot hear A (another channel) serves the old version for at most its tier's TTL.
 * Both lags are measured and printed. Needs `npx remix build` (npm test does it).
 */

const METRICS_TOKEN = "metrics-token-for-scale-out";
const CUT_TTL_MS = 3_000;

let project: TestProject;
let a: AppServer;
let b: AppServer;

beforeAll(async () => {
  project = await createTestProject();
  await registerAndPromote({ environmentId: project.prod.id, version: "1", tasks: [{ slug: "job", queue: { name: "queue-v1" } }] });
  await registerAndPromote({ environmentId: project.prod.id, version: "2", tasks: [{ slug: "job", queue: { name: "queue-v2" } }], promote: false });
  [a, b] = await Promise.all([
    startAppServer({ METRICS_TOKEN }),
    // Ten minutes: if B answers the new version at once, only the invalidation message explains it.
    startAppServer({ METRICS_TOKEN, TASK_META_CACHE_L1_TTL_MS: "600000" }),
  ]);
});

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
});

/** Triggers `job` through `server` and reads the run back: the queue it was resolved to. */
async function queueVia(server: AppServer): Promise<string> {
  const key = bearer(project.prod.apiKey);
  const triggered = await overHttp(server.url, { path: "/api/v1/tasks/job/trigger", headers: key, body: {} });
  expect(triggered.status, JSON.stringify(triggered.body)).toBe(200);
  const run = await overHttp(server.url, { path: `/api/v1/runs/${triggered.body.id}`, headers: key });
  expect(run.status, JSON.stringify(run.body)).toBe(200);
  return run.body.queue;
}

async function l1Hits(server: AppServer): Promise<number> {
  const response = await fetch(`${server.url}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } });
  const text = await response.text();
  const line = text.split("\n").find((l) => /^hotpath_task_meta_cache_events_total\{/.test(l) && l.includes('event="hit"') && l.includes('keyspace="l1"'));
  if (!line) throw new Error(`no l1 hit counter in /metrics of ${server.url}`);
  return Number(line.slice(line.lastIndexOf(" ") + 1));
}

/** Triggers until one trigger is answered from the in-process tier (the counter moved), checking the queue each time. */
async function warm(server: AppServer, expected: string) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const before = await l1Hits(server);
    expect(await queueVia(server)).toBe(expected);
    if ((await l1Hits(server)) > before) return;
    if (Date.now() > deadline) throw new Error(`${server.url} never answered from its in-process tier`);
  }
}

async function promoteVia(server: AppServer, version: string) {
  const promoted = await overHttp(server.url, {
    path: `/api/v1/deployments/${version}/promote`,
    headers: bearer(project.prod.apiKey),
    body: {},
  });
  expect(promoted.status, JSON.stringify(promoted.body)).toBe(200);
}

/** Triggers through `server` until it answers `expected`; returns ms since `since` and the stale answers seen first. */
async function lagUntil(server: AppServer, expected: string, since: number, timeoutMs: number) {
  let stale = 0;
  for (;;) {
    const queue = await queueVia(server);
    if (queue === expected) return { lagMs: performance.now() - since, stale };
    stale++;
    if (performance.now() - since > timeoutMs) throw new Error(`still ${queue} after ${timeoutMs} ms (${stale} stale answers)`);
  }
}

describe("two app server processes sharing Postgres and Redis", () => {
  it("a promotion through A reaches B's warm in-process tier at once (pub/sub)", async () => {
    await warm(b, "queue-v1");
    await promoteVia(a, "2");
    const since = performance.now();
    // The first trigger through B after the promotion already sees the new version.
    expect(await queueVia(b)).toBe("queue-v2");
    console.log(`lag with pub/sub: B's first trigger after the promotion was fresh (0 stale answers; ${(performance.now() - since).toFixed(0)} ms incl. the trigger and GET round trips)`);

    await warm(b, "queue-v2");
    await promoteVia(a, "1");
    expect(await queueVia(b)).toBe("queue-v1");
  });

  it("with pub/sub cut (an instance on another channel), the new version is served within the TTL bound", async () => {
    const cut = await startAppServer({
      METRICS_TOKEN,
      TASK_META_CACHE_L1_TTL_MS: String(CUT_TTL_MS),
      TASK_META_CACHE_INVALIDATION_CHANNEL: `${keyPrefix()}task-meta:invalidate-elsewhere`,
    });
    try {
      expect(await queueVia(a)).toBe("queue-v1");
      await warm(cut, "queue-v1");
      await promoteVia(a, "2");
      const since = performance.now();
      const { lagMs, stale } = await lagUntil(cut, "queue-v2", since, CUT_TTL_MS + 2_000);
      console.log(`lag without pub/sub: ${lagMs.toFixed(0)} ms after the promotion returned (${stale} stale answers first; TTL ${CUT_TTL_MS} ms)`);
      // Stale answers show the tier was warm and deaf to A; the lag shows the TTL bounds them.
      expect(stale).toBeGreaterThan(0);
      expect(lagMs).toBeLessThanOrEqual(CUT_TTL_MS + 1_000);
      // B, on the shared channel, was never stale.
      expect(await queueVia(b)).toBe("queue-v2");
    } finally {
      await cut.stop();
      await promoteVia(a, "1");
    }
  });
});
