import { beforeAll, describe, expect, it } from "vitest";
import { dbQueryCount, prisma } from "~/db.server";
import { environmentKeys } from "~/domain/cacheKeys";
import { runDetail } from "~/presenters/runDetail.server";
import { keyPrefix, redis } from "~/redis.server";
import { bearer, inProcess } from "../support/apiClient";
import { createTestProject, registerAndPromote, type TestProject } from "../support/fixtures";

/**
 * What the run detail page reads about a run's provenance, written by the statements the trigger
 * already sends: where the metadata came from (the insert's own column) and how often an
 * idempotency key gave the run back (the conflicting insert's follow-up, an UPDATE in place of the
 * SELECT it was). Counted in Postgres statements.
 */

// Counting statements, not latency: give Redis room on a loaded machine.
process.env.TASK_META_CACHE_COMMAND_TIMEOUT_MS = "2000";
// The in-process tier would answer the second lookup without Redis; the Redis answer is the point here.
process.env.TASK_META_CACHE_L1_ENABLED = "false";

let project: TestProject;

beforeAll(async () => {
  project = await createTestProject();
  await registerAndPromote({ environmentId: project.prod.id, version: "v1", tasks: [{ slug: "email", queue: { name: "emails" }, ttl: "5m" }] });
});

async function trigger(body: unknown = {}, headers: Record<string, string> = {}) {
  const result = await inProcess({ path: "/api/v1/tasks/email/trigger", headers: { ...bearer(project.prod.apiKey), ...headers }, body });
  expect(result.status, JSON.stringify(result.body)).toBe(200);
  return result.body as { id: string; isCached: boolean };
}

async function statementsOf<T>(call: () => Promise<T>): Promise<{ result: T; statements: number }> {
  const before = dbQueryCount();
  const result = await call();
  return { result, statements: dbQueryCount() - before };
}

describe("where a run's metadata came from", () => {
  it("records 'database' for a run resolved after a cache miss and 'cache' for a warm one", async () => {
    await redis().del(environmentKeys(keyPrefix(), project.prod.id).current);
    const cold = await trigger();
    expect((await runDetail(cold.id))?.metadataSource).toBe("database");

    // The miss back-fills in the background; poll until a trigger resolves from the cache.
    const deadline = Date.now() + 5_000;
    for (;;) {
      const warm = await trigger();
      const detail = await runDetail(warm.id);
      if (detail?.metadataSource === "cache") {
        expect(detail).toMatchObject({ queue: "emails", ttl: "5m", resolved: { how: "current", version: "v1" } });
        break;
      }
      if (Date.now() > deadline) throw new Error("no trigger resolved from the cache within 5 s");
    }
  });

  it("still costs a warm trigger ONE Postgres statement", async () => {
    await trigger();
    let cost = Infinity;
    const deadline = Date.now() + 5_000;
    while (cost !== 1 && Date.now() < deadline) cost = (await statementsOf(() => trigger())).statements;
    expect(cost).toBe(1);
  });
});

describe("idempotency key reuse", () => {
  it("counts each trigger that got the run back, in the two statements a reuse always cost", async () => {
    const first = await trigger({}, { "idempotency-key": "order-42" });
    expect((await runDetail(first.id))?.idempotency).toMatchObject({ key: "order-42", reuseCount: 0, lastReusedAt: null });

    const again = await statementsOf(() => trigger({}, { "idempotency-key": "order-42" }));
    expect(again.result).toEqual({ id: first.id, isCached: true });
    expect(again.statements).toBe(2);
    await trigger({}, { "idempotency-key": "order-42" });

    const detail = await runDetail(first.id);
    expect(detail?.idempotency?.reuseCount).toBe(2);
    expect(detail?.idempotency?.lastReusedAt).not.toBeNull();
  });

  it("gives concurrent triggers with one key one run, and counts every other caller as a reuse", async () => {
    const results = await Promise.all(Array.from({ length: 8 }, () => trigger({}, { "idempotency-key": "burst" })));
    const ids = new Set(results.map((r) => r.id));
    expect(ids.size).toBe(1);
    const run = await prisma().taskRun.findUniqueOrThrow({ where: { friendlyId: [...ids][0] }, select: { idempotencyReuseCount: true } });
    expect(run.idempotencyReuseCount).toBe(7);
  });
});

describe("the resolved version", () => {
  it("names the locked version for a locked run, and says an older run used an earlier version after a promotion", async () => {
    const locked = await trigger({ options: { lockToVersion: "v1" } });
    expect((await runDetail(locked.id))?.resolved).toEqual({ how: "locked", version: "v1" });
    expect((await runDetail(locked.id))?.lockedQueueName).toBe("emails");

    const before = await trigger();
    await registerAndPromote({ environmentId: project.prod.id, version: "v2", tasks: [{ slug: "email", queue: { name: "emails-2" } }] });
    expect((await runDetail(before.id))?.resolved).toMatchObject({ how: "earlier", currentVersion: "v2" });
  });

  it("is null for an unknown run id", async () => {
    expect(await runDetail("run_doesnotexist")).toBeNull();
  });
});
