import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { dbQueryCount, prisma } from "~/db.server";
import { bearer, inProcess, type ApiCall, type ApiResult } from "../support/apiClient";
import { createTestProject, registerAndPromote, type TestProject } from "../support/fixtures";

/**
 * POST /api/v1/tasks/:taskId/trigger and GET /api/v1/runs/:runId, in-process on the shared router
 * (the handler both lanes run; api.lanes.test.ts shows the lanes agree), with real Postgres and Redis.
 */

// These tests count Postgres statements, not latency. On a loaded machine the 100 ms default
// Redis command timeout turns cache hits into fail-open Postgres lookups; give Redis room (the
// configuration is read on first use, after this line).
process.env.TASK_META_CACHE_COMMAND_TIMEOUT_MS = "2000";

let project: TestProject;

const TASKS = [
  { slug: "email", queue: { name: "emails" }, ttl: "5m" },
  { slug: "report", queue: { name: "reports" }, ttl: "1h", triggerSource: "SCHEDULED" as const },
  { slug: "agent", triggerSource: "AGENT" as const },
];

beforeAll(async () => {
  project = await createTestProject();
  await registerAndPromote({ environmentId: project.prod.id, version: "v1", tasks: TASKS });
});

function trigger(slug: string, body: unknown = {}, headers: Record<string, string> = {}, key = project.prod.apiKey): Promise<ApiResult> {
  return inProcess({ path: `/api/v1/tasks/${slug}/trigger`, headers: { ...bearer(key), ...headers }, body });
}

async function triggerOk(slug: string, body: unknown = {}, headers: Record<string, string> = {}, key = project.prod.apiKey) {
  const result = await trigger(slug, body, headers, key);
  expect(result.status, JSON.stringify(result.body)).toBe(200);
  return result.body as { id: string; isCached: boolean };
}

async function getRun(id: string, key = project.prod.apiKey) {
  const result = await inProcess({ path: `/api/v1/runs/${id}`, headers: bearer(key) });
  expect(result.status, JSON.stringify(result.body)).toBe(200);
  return result.body;
}

/** Postgres statements sent while `call` runs. */
async function queriesOf(call: () => Promise<unknown>): Promise<number> {
  const before = dbQueryCount();
  await call();
  return dbQueryCount() - before;
}

/**
 * Repeats `call` until it costs exactly one statement (the cache back-fills run after the answer,
 * in the background), with a deadline; then checks that it stays at one.
 */
async function expectWarmCostOfOneInsert(call: () => Promise<ApiResult>) {
  const deadline = Date.now() + 5_000;
  let cost = Infinity;
  while (cost !== 1) {
    if (Date.now() > deadline) throw new Error(`trigger still costs ${cost} Postgres statements after 5 s`);
    cost = await queriesOf(async () => expect((await call()).status).toBe(200));
  }
  for (let i = 0; i < 5; i++) {
    expect(await queriesOf(async () => expect((await call()).status).toBe(200))).toBe(1);
  }
}

describe("warm trigger: auth and resolver from the caches, then ONE insert", () => {
  it("costs exactly one Postgres statement for a plain trigger", async () => {
    await expectWarmCostOfOneInsert(() => trigger("email", { payload: { n: 1 } }));
  });

  it("costs exactly one Postgres statement with a queue override, a ttl, tags and an idempotency key", async () => {
    let n = 0;
    await expectWarmCostOfOneInsert(() =>
      trigger("report", { options: { queue: "adhoc", ttl: "2m", tags: ["a"] } }, { "idempotency-key": `warm-${n++}` }),
    );
  });

  it("costs exactly one Postgres statement locked to a version, with and without a queue override", async () => {
    await expectWarmCostOfOneInsert(() => trigger("email", { options: { lockToVersion: "v1" } }));
    await expectWarmCostOfOneInsert(() => trigger("email", { options: { lockToVersion: "v1", queue: { name: "reports" } } }));
  });

  it("costs nothing before the key is checked: a malformed key is refused without a query", async () => {
    expect(await queriesOf(async () => expect((await trigger("email", {}, {}, "tr_prod_short")).status).toBe(401))).toBe(0);
  });
});

describe("the run a trigger creates", () => {
  it("takes the current version's queue, ttl (→ expiresAt) and kind, and stores payload, tags and metadata", async () => {
    const { id } = await triggerOk("report", {
      payload: { month: "2026-11" },
      options: { tags: ["monthly", "finance"], metadata: { requestedBy: "ops" } },
    });
    const run = await getRun(id);
    expect(run).toMatchObject({
      id,
      taskIdentifier: "report",
      status: "QUEUED",
      queue: "reports",
      ttl: "1h",
      taskKind: "SCHEDULED",
      lockedToVersion: null,
      tags: ["monthly", "finance"],
      payload: { month: "2026-11" },
      metadata: { requestedBy: "ops" },
      delayUntil: null,
    });
    expect(Date.parse(run.expiresAt) - Date.parse(run.createdAt)).toBe(3_600_000);
  });

  it("uses the trigger's ttl over the task's, and ttl 0 means no expiry", async () => {
    const withTtl = await getRun((await triggerOk("email", { options: { ttl: "90s" } })).id);
    expect(withTtl.ttl).toBe("1m30s");
    expect(Date.parse(withTtl.expiresAt) - Date.parse(withTtl.createdAt)).toBe(90_000);
    const none = await getRun((await triggerOk("email", { options: { ttl: 0 } })).id);
    expect(none).toMatchObject({ ttl: null, expiresAt: null });
  });

  it("a queue override (string or {name}) is sanitised and keeps the task's ttl and kind", async () => {
    const asString = await getRun((await triggerOk("report", { options: { queue: "my queue!" } })).id);
    expect(asString).toMatchObject({ queue: "myqueue", ttl: "1h", taskKind: "SCHEDULED" });
    const asObject = await getRun((await triggerOk("report", { options: { queue: { name: "other" } } })).id);
    expect(asObject.queue).toBe("other");
  });

  it("a task absent from the current worker gets a run PENDING_VERSION on task/<slug>", async () => {
    const run = await getRun((await triggerOk("not-deployed")).id);
    expect(run).toMatchObject({ status: "PENDING_VERSION", queue: "task/not-deployed", taskKind: "STANDARD", ttl: null });
  });

  it("in DEVELOPMENT without any worker: PENDING_VERSION with the 10-minute default ttl", async () => {
    const { id } = await triggerOk("email", {}, {}, project.dev.apiKey);
    const run = await getRun(id, project.dev.apiKey);
    expect(run).toMatchObject({ status: "PENDING_VERSION", ttl: "10m" });
  });

  it("a delay as a duration makes it DELAYED until then; the ttl counts from that time", async () => {
    const before = Date.now();
    const run = await getRun((await triggerOk("email", { options: { delay: "30s" } })).id);
    expect(run.status).toBe("DELAYED");
    const delayUntil = Date.parse(run.delayUntil);
    expect(delayUntil).toBeGreaterThanOrEqual(before + 30_000 - 1);
    expect(delayUntil).toBeLessThanOrEqual(Date.now() + 30_000);
    expect(Date.parse(run.expiresAt) - delayUntil).toBe(5 * 60_000);
  });

  it("a delay as an ISO date makes it DELAYED until that date; a past date is no delay", async () => {
    const at = new Date(Date.now() + 3_600_000).toISOString();
    expect(await getRun((await triggerOk("email", { options: { delay: at } })).id)).toMatchObject({ status: "DELAYED", delayUntil: at });
    const past = await getRun((await triggerOk("email", { options: { delay: "2020-01-01T00:00:00Z" } })).id);
    expect(past).toMatchObject({ status: "QUEUED", delayUntil: null });
  });

  it("a locked trigger records lockedToVersion (the version string) and the locked queue", async () => {
    await registerAndPromote({ environmentId: project.prod.id, version: "v2", tasks: [{ slug: "email", queue: { name: "emails-v2" } }] });
    const { id } = await triggerOk("email", { options: { lockToVersion: "v1" } });
    const run = await getRun(id);
    expect(run).toMatchObject({ lockedToVersion: "v1", queue: "emails", ttl: "5m", status: "QUEUED" });
    const row = await prisma().taskRun.findUniqueOrThrow({
      where: { friendlyId: id },
      select: { lockedQueueId: true, lockedToVersion: { select: { version: true } } },
    });
    const queue = await prisma().taskQueue.findUniqueOrThrow({
      where: { environmentId_name: { environmentId: project.prod.id, name: "emails" } },
    });
    expect(row).toEqual({ lockedQueueId: queue.id, lockedToVersion: { version: "v1" } });
    // Unlocked triggers follow the current version meanwhile.
    expect((await getRun((await triggerOk("email")).id)).queue).toBe("emails-v2");
    await inProcess({ path: "/api/v1/deployments/v1/promote", headers: bearer(project.prod.apiKey), body: {} });
  });
});

describe("idempotency", () => {
  it("50 concurrent triggers with one key create exactly one run; all get its id, all but one isCached", async () => {
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) =>
        i % 2 === 0
          ? triggerOk("email", { payload: { i } }, { "Idempotency-Key": "concurrent-1" })
          : triggerOk("email", { payload: { i }, options: { idempotencyKey: "concurrent-1" } }),
      ),
    );
    const ids = new Set(results.map((r) => r.id));
    expect(ids.size).toBe(1);
    expect(results.filter((r) => !r.isCached)).toHaveLength(1);
    expect(await prisma().taskRun.count({ where: { environmentId: project.prod.id, idempotencyKey: "concurrent-1" } })).toBe(1);
  });

  it("the key is scoped to (environment, task): another task or environment gets its own run", async () => {
    const email = await triggerOk("email", {}, { "idempotency-key": "scoped" });
    const report = await triggerOk("report", {}, { "idempotency-key": "scoped" });
    const dev = await triggerOk("email", {}, { "idempotency-key": "scoped" }, project.dev.apiKey);
    expect(new Set([email.id, report.id, dev.id]).size).toBe(3);
    expect([email, report, dev].every((r) => !r.isCached)).toBe(true);
  });
});

describe("GET /api/v1/runs/:runId", () => {
  it("another environment's run is a 404, exactly like an unknown one", async () => {
    const { id } = await triggerOk("email", {}, {}, project.dev.apiKey);
    const asProd = await inProcess({ path: `/api/v1/runs/${id}`, headers: bearer(project.prod.apiKey) });
    expect(asProd).toMatchObject({ status: 404, body: { error: `Run '${id}' not found` } });
    const other = await createTestProject();
    const asOtherProject = await inProcess({ path: `/api/v1/runs/${id}`, headers: bearer(other.dev.apiKey) });
    expect(asOtherProject.status).toBe(404);
  });
});

describe("nothing a client sends produces a 500", () => {
  const jsonish = fc.oneof(fc.jsonValue(), fc.string(), fc.integer(), fc.constant(null));
  const options = fc.record(
    {
      queue: fc.oneof(jsonish, fc.record({ name: jsonish })),
      ttl: jsonish,
      lockToVersion: jsonish,
      idempotencyKey: jsonish,
      delay: fc.oneof(jsonish, fc.date({ noInvalidDate: true }).map((d) => d.toISOString())),
      tags: fc.oneof(jsonish, fc.array(fc.string(), { maxLength: 12 })),
      metadata: jsonish,
    },
    { requiredKeys: [] },
  );

  it("arbitrary bodies get 200, 400, 404 or 422 — never 500", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(fc.record({ payload: jsonish, options }, { requiredKeys: [] }), jsonish),
        fc.constantFrom("email", "report", "agent", "unknown-task"),
        async (body, slug) => {
          const call: ApiCall = { path: `/api/v1/tasks/${slug}/trigger`, headers: bearer(project.prod.apiKey), body: JSON.stringify(body) };
          const result = await inProcess(call);
          expect([200, 400, 404, 422], JSON.stringify({ body, result })).toContain(result.status);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("arbitrary raw bytes and odd task ids get a 4xx, never a 500", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 200 }), fc.string({ maxLength: 200 }), async (bytes, slug) => {
        const result = await inProcess({
          path: `/api/v1/tasks/${encodeURIComponent(slug)}/trigger`,
          headers: bearer(project.prod.apiKey),
          body: Buffer.from(bytes),
        });
        expect(result.status).toBeLessThan(500);
      }),
      { numRuns: 100 },
    );
  });
});
