import { afterAll, describe, expect, it } from "vitest";
import { dbQueryCount } from "~/db.server";
import { environmentKeys } from "~/domain/cacheKeys";
import { keyPrefix } from "~/redis.server";
import { disconnectTaskMetadataCache, resolveTask, setCacheEventSink, taskMetadataCache } from "~/services/taskMetadata/index.server";
import { QueueResolver } from "~/services/taskMetadata/resolver.server";
import { NoopTaskMetadataStore } from "~/services/taskMetadata/store.server";
import { RecordingSink, testRedis } from "../support/cacheTesting";
import { createTestProject, registerAndPromote } from "../support/fixtures";

// Read by app/env.server.ts on first use, which is after this line: 0 = no expiry for the current hash.
process.env.TASK_META_CACHE_CURRENT_ENV_TTL_SECONDS = "0";
process.env.TASK_META_CACHE_BY_WORKER_TTL_SECONDS = "120";

const admin = testRedis();
afterAll(async () => {
  await admin.quit();
});

describe("the env-wired cache singleton", () => {
  it("falls back to REDIS_URL, honours the TTL variables, and serves resolveTask warm with zero Postgres queries", async () => {
    const sink = new RecordingSink();
    setCacheEventSink(sink);
    const project = await createTestProject();
    const worker = await registerAndPromote({ environmentId: project.prod.id, tasks: 2 });
    const keys = environmentKeys(keyPrefix(), project.prod.id);
    expect(await admin.ttl(keys.current)).toBe(-1);
    expect(await admin.ttl(keys.owner)).toBe(-1);
    const workerTtl = await admin.ttl(keys.locked(worker.version));
    expect(workerTtl).toBeGreaterThan(100);
    expect(workerTtl).toBeLessThanOrEqual(120);

    const before = dbQueryCount();
    const resolved = await resolveTask({ environment: { id: project.prod.id, type: "PRODUCTION" }, taskSlug: "task-1" });
    expect(dbQueryCount() - before).toBe(0);
    expect(resolved).toMatchObject({ queueName: "queue-1", source: "cache" });
    expect(sink.count("hit", "current")).toBe(1);
    expect(sink.resolves).toEqual([{ source: "cache", durationMs: expect.any(Number) }]);
  });

  it("is rebuilt after a disconnect", async () => {
    const first = taskMetadataCache();
    await disconnectTaskMetadataCache();
    const second = taskMetadataCache();
    expect(second).not.toBe(first);
    const project = await createTestProject();
    await registerAndPromote({ environmentId: project.prod.id, tasks: 1 });
    expect(await second.getCurrentTask(project.prod.id, "task-0")).toMatchObject({ found: true, queueName: "queue-0" });
  });
});

describe("the no-op cache (benchmark baseline)", () => {
  it("answers every resolve from Postgres with the same results", async () => {
    const project = await createTestProject();
    await registerAndPromote({ environmentId: project.prod.id, version: "1.0.0", tasks: 2 });
    const baseline = new QueueResolver({ cache: new NoopTaskMetadataStore() });
    const environment = { id: project.prod.id, type: "PRODUCTION" as const };
    for (let i = 0; i < 2; i++) {
      expect(await baseline.resolve({ environment, taskSlug: "task-0" })).toMatchObject({ queueName: "queue-0", source: "database" });
      expect(await baseline.resolve({ environment, taskSlug: "task-1", lockToVersion: "1.0.0", queue: "queue-1" })).toMatchObject({
        queueName: "queue-1",
        source: "database",
      });
    }
  });
});
