import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server";
import { encodeTaskEntry } from "~/domain/taskMetadataEntry";
import { upsertUser } from "~/models/user.server";
import { environmentCachePage, workerHashPage } from "~/presenters/environmentCache.server";
import { environmentsPage } from "~/presenters/environments.server";
import { redis } from "~/redis.server";
import { deleteCurrentHashField, disconnectTaskMetadataCache, disconnectTaskMetadataCacheAdmin, invalidateCurrentHash, rebuildCurrentHash, taskMetadataCacheAdmin, TaskMetadataCacheAdmin } from "~/services/taskMetadata/index.server";
import { promoteVersion, registerWorker } from "~/services/workers.server";
import { freePort } from "../support/appServer";
import { createTestProject, registerAndPromote, testTasks, type TestProject } from "../support/fixtures";

let project: TestProject;
let userId: string;
let workerId: string;

const TASKS = [
  { slug: "send-email", queue: { name: "emails" }, ttl: "5m", triggerSource: "STANDARD" as const },
  { slug: "nightly-report", queue: { name: "reports" }, ttl: null, triggerSource: "SCHEDULED" as const },
  { slug: "support-agent", queue: { name: "agents" }, ttl: "1h", triggerSource: "AGENT" as const },
];

beforeAll(async () => {
  project = await createTestProject();
  userId = (await upsertUser({ email: `admin-${project.projectSlug}@example.com`, password: "correct horse battery", role: "ADMIN" })).id;
  workerId = (await registerAndPromote({ environmentId: project.prod.id, version: "20260101.1", tasks: TASKS })).workerId;
});

afterAll(async () => {
  await disconnectTaskMetadataCacheAdmin();
  await disconnectTaskMetadataCache();
});

function currentPage(query = {}) {
  return environmentCachePage(project.prod.id, query).then((page) => {
    if (!page || !page.redis.ok) throw new Error(`unexpected page: ${JSON.stringify(page)}`);
    return { ...page, redis: page.redis };
  });
}

describe("cache repairs", () => {
  it("rebuild writes the current hash and owner from Postgres through the cache's replace, and is audited", async () => {
    const keys = taskMetadataCacheAdmin().keys(project.prod.id);
    await redis().del(keys.current, keys.owner);
    const result = await rebuildCurrentHash({ environmentId: project.prod.id, userId });
    expect(result).toEqual({ key: keys.current, workerId, version: "20260101.1", fields: 3 });
    expect(await redis().hkeys(keys.current)).toEqual(expect.arrayContaining(["send-email", "nightly-report", "support-agent"]));
    expect(await redis().get(keys.owner)).toBe(workerId);
    const ttl = await redis().ttl(keys.current);
    expect(ttl).toBeGreaterThan(86_000);
    const audit = await prisma().auditEvent.findFirst({ where: { action: "cache.rebuild", target: keys.current } });
    expect(audit).toMatchObject({ userId, details: expect.objectContaining({ environmentId: project.prod.id, workerId }) });
  });

  it("invalidate deletes the current hash and its owner, and is audited", async () => {
    const keys = taskMetadataCacheAdmin().keys(project.prod.id);
    await rebuildCurrentHash({ environmentId: project.prod.id, userId });
    expect(await invalidateCurrentHash({ environmentId: project.prod.id, userId })).toEqual({ key: keys.current, deletedKeys: 2 });
    expect(await redis().exists(keys.current, keys.owner)).toBe(0);
    const audit = await prisma().auditEvent.findFirst({ where: { action: "cache.invalidate", target: keys.current } });
    expect(audit?.userId).toBe(userId);
  });

  it("delete field removes one field only, and is audited with the field", async () => {
    const keys = taskMetadataCacheAdmin().keys(project.prod.id);
    await rebuildCurrentHash({ environmentId: project.prod.id, userId });
    expect(await deleteCurrentHashField({ environmentId: project.prod.id, userId, slug: "send-email" })).toMatchObject({ deleted: true });
    expect((await redis().hkeys(keys.current)).sort()).toEqual(["nightly-report", "support-agent"]);
    const audit = await prisma().auditEvent.findFirst({ where: { action: "cache.delete_field" }, orderBy: { createdAt: "desc" } });
    expect(audit).toMatchObject({ target: keys.current, details: expect.objectContaining({ field: "send-email", existed: true }) });
  });

  it("refuses an unknown environment with a 404 and writes no audit row", async () => {
    const before = await prisma().auditEvent.count();
    await expect(invalidateCurrentHash({ environmentId: "nope", userId })).rejects.toMatchObject({ status: 404 });
    expect(await prisma().auditEvent.count()).toBe(before);
  });
});

describe("environment cache page", () => {
  it("shows every field in sync, the owner and its version, and the key's TTL after a rebuild", async () => {
    await rebuildCurrentHash({ environmentId: project.prod.id, userId });
    const page = await currentPage();
    expect(page.currentWorker).toMatchObject({ id: workerId, version: "20260101.1", taskCount: 3 });
    expect(page.redis.owner).toEqual({ id: workerId, version: "20260101.1" });
    expect(page.redis.ownerDrift).toBe(false);
    expect(page.redis.status).toMatchObject({ exists: true, fieldCount: 3 });
    expect(page.redis.status.ttlSeconds).toBeGreaterThan(86_000);
    expect(page.redis.current.rows.map((r) => [r.field, r.state])).toEqual([
      ["nightly-report", "in-sync"],
      ["send-email", "in-sync"],
      ["support-agent", "in-sync"],
    ]);
    expect(page.redis.current.rows.find((r) => r.field === "send-email")?.cached).toMatchObject({ kind: "STANDARD", ttl: "5m", queueName: "emails" });
    expect(page.redis.notCachedYet).toEqual({ slugs: [], total: 0 });
  });

  it("marks drift on each field that disagrees with Postgres, and lists missing fields as not cached yet", async () => {
    await rebuildCurrentHash({ environmentId: project.prod.id, userId });
    const keys = taskMetadataCacheAdmin().keys(project.prod.id);
    const queue = await prisma().taskQueue.findFirstOrThrow({ where: { environmentId: project.prod.id, name: "emails" } });
    await redis().hset(keys.current, {
      // Stale TTL on a real task.
      "send-email": encodeTaskEntry({ found: true, kind: "STANDARD", ttl: "10m", queueId: queue.id, queueName: "emails" }),
      // A negative entry for a task the worker lacks is correct; one for a cached ghost task is not.
      "no-such-task": encodeTaskEntry({ found: false }),
      "ghost-task": encodeTaskEntry({ found: true, kind: "AGENT", ttl: null, queueId: null, queueName: null }),
      "support-agent": "{not json",
    });
    await redis().hdel(keys.current, "nightly-report");

    const page = await currentPage();
    const byField = Object.fromEntries(page.redis.current.rows.map((r) => [r.field, r]));
    expect(byField["send-email"]).toMatchObject({ state: "drift", differences: ["ttl: Redis '10m', Postgres '5m'"] });
    expect(byField["no-such-task"]).toMatchObject({ state: "negative", differences: [] });
    expect(byField["ghost-task"].state).toBe("drift");
    expect(byField["support-agent"]).toMatchObject({ state: "drift", cached: null, rawJson: "{not json" });
    expect(byField["nightly-report"]).toBeUndefined();
    expect(page.redis.notCachedYet).toEqual({ slugs: ["nightly-report"], total: 1 });
  });

  it("flags an owner that is not Postgres' current worker", async () => {
    await rebuildCurrentHash({ environmentId: project.prod.id, userId });
    const other = await registerAndPromote({ environmentId: project.prod.id, tasks: 1, promote: false });
    await redis().set(taskMetadataCacheAdmin().keys(project.prod.id).owner, other.workerId, "KEEPTTL");
    const page = await currentPage();
    expect(page.redis.owner).toEqual({ id: other.workerId, version: other.version });
    expect(page.redis.ownerDrift).toBe(true);
    await rebuildCurrentHash({ environmentId: project.prod.id, userId });
    expect((await currentPage()).redis.ownerDrift).toBe(false);
  });

  it("pages through the environment's worker hashes with SCAN and load more, finding each exactly once", async () => {
    const fresh = await createTestProject();
    const created: string[] = [];
    for (let i = 0; i < 24; i++) {
      // A non-dev registration writes the worker's hash (the same path as the deploy webhook).
      const worker = await registerWorker({ environmentId: fresh.prod.id, version: `v${i}`, tasks: [{ slug: "only-task" }] });
      created.push(worker.workerId);
    }
    await promoteVersion({ environmentId: fresh.prod.id, version: "v0" });
    // Another environment's worker hash must never show up here.
    await registerWorker({ environmentId: fresh.dev.id, version: "d1", tasks: [{ slug: "only-task" }] });

    const seen: string[] = [];
    let cursor = "0";
    let steps = 0;
    do {
      const page = await environmentCachePage(fresh.prod.id, { workersCursor: cursor, workersCount: 5 });
      if (!page?.redis.ok) throw new Error("redis not ok");
      const { workerHashes } = page.redis;
      expect(workerHashes.cursor).toBe(cursor);
      for (const item of workerHashes.items) {
        seen.push(item.workerId);
        // A locked hash (0055): the worker and its one task (which names no queue).
        expect(item).toMatchObject({ fieldCount: 2, version: expect.any(String) });
        expect(item.ttlSeconds).toBeGreaterThan(2_000_000);
        expect(item.isCurrent).toBe(item.workerId === created[0]);
      }
      cursor = workerHashes.nextCursor;
      steps += 1;
    } while (cursor !== "0" && steps < 1_000);
    expect(steps).toBeGreaterThan(1);
    expect(seen.sort()).toEqual([...created].sort());
  });

  it("walks SCAN steps until it finds worker hashes: the first page shows them in a keyspace crowded with other keys", async () => {
    const fresh = await createTestProject();
    const worker = await registerWorker({ environmentId: fresh.prod.id, version: "crowded-1", tasks: [{ slug: "only-task" }] });
    // 12,000 keys of other environments: a single SCAN step of COUNT 200 almost never meets ours.
    const filler = Array.from({ length: 12_000 }, (_, i) => `${taskMetadataCacheAdmin().keys(`filler-${i}`).current}`);
    for (let i = 0; i < filler.length; i += 1_000) {
      const pipeline = redis().pipeline();
      for (const key of filler.slice(i, i + 1_000)) pipeline.set(key, "x", "EX", 600);
      await pipeline.exec();
    }
    try {
      const page = await environmentCachePage(fresh.prod.id);
      if (!page?.redis.ok) throw new Error("redis not ok");
      expect(page.redis.workerHashes.items.map((w) => w.workerId)).toEqual([worker.workerId]);
      expect(page.redis.workerHashes.nextCursor).toBe("0");
    } finally {
      for (let i = 0; i < filler.length; i += 1_000) await redis().unlink(...filler.slice(i, i + 1_000));
    }
  });

  it("filters a current hash with few matches on the first page, not after empty load-more pages", async () => {
    const fresh = await createTestProject();
    await registerAndPromote({ environmentId: fresh.prod.id, version: "many-1", tasks: testTasks(3_000) });
    const page = await environmentCachePage(fresh.prod.id, { filter: "task-2999" });
    if (!page?.redis.ok) throw new Error("redis not ok");
    expect(page.redis.current.rows.map((r) => r.field)).toEqual(["task-2999"]);
    expect(page.redis.current.nextCursor).toBe("0");
  });

  it("filters a large worker hash with HSCAN MATCH and pages through it with load more", async () => {
    const big = await registerWorker({ environmentId: project.prod.id, version: "big-1", tasks: testTasks(1_000) });

    const all: string[] = [];
    let cursor = "0";
    let steps = 0;
    do {
      const page = await workerHashPage(project.prod.id, big.workerId, { cursor, count: 100 });
      if (!page?.redis.ok) throw new Error("redis not ok");
      // The locked hash's fields: the worker, 1,000 tasks and their 1,000 queues; the page lists the tasks.
      expect(page.redis.fieldCount).toBe(1 + 1_000 + 1_000);
      expect(page.worker).toMatchObject({ id: big.workerId, taskCount: 1_000, isCurrent: false });
      for (const row of page.redis.page.rows) {
        expect(row.state).toBe("in-sync");
        all.push(row.field);
      }
      cursor = page.redis.page.nextCursor;
      steps += 1;
    } while (cursor !== "0" && steps < 1_000);
    expect(steps).toBeGreaterThan(1);
    expect(new Set(all).size).toBe(1_000);

    const filtered: string[] = [];
    cursor = "0";
    do {
      const page = await workerHashPage(project.prod.id, big.workerId, { cursor, filter: "task-99", count: 100 });
      if (!page?.redis.ok) throw new Error("redis not ok");
      filtered.push(...page.redis.page.rows.map((r) => r.field));
      cursor = page.redis.page.nextCursor;
    } while (cursor !== "0");
    expect(filtered.sort()).toEqual(["task-99", ...Array.from({ length: 10 }, (_, i) => `task-99${i}`)].sort());
  });

  it("treats glob characters in the field filter literally", async () => {
    await rebuildCurrentHash({ environmentId: project.prod.id, userId });
    await redis().hset(taskMetadataCacheAdmin().keys(project.prod.id).current, "odd*slug", encodeTaskEntry({ found: false }));
    const page = await currentPage({ filter: "*" });
    expect(page.redis.current.rows.map((r) => r.field)).toEqual(["odd*slug"]);
  });

  it("is null for an unknown environment", async () => {
    expect(await environmentCachePage("does-not-exist")).toBeNull();
  });

  it("still shows Postgres' side, with a notice naming Redis, when Redis is down", async () => {
    const port = await freePort();
    const client = new Redis({ port, lazyConnect: true, maxRetriesPerRequest: 1, connectTimeout: 500, retryStrategy: () => 50 });
    client.on("error", () => {});
    const admin = new TaskMetadataCacheAdmin({ client, prefix: "unused:" });
    try {
      const started = Date.now();
      const page = await environmentCachePage(project.prod.id, {}, { admin });
      expect(Date.now() - started).toBeLessThan(5_000);
      expect(page?.currentWorker).toMatchObject({ id: workerId, taskCount: 3 });
      expect(page?.redis).toEqual({ ok: false, error: expect.stringMatching(/^Redis \(the task metadata cache\) is unavailable/) });

      const list = await environmentsPage({ admin });
      expect(list.redisError).toMatch(/Redis .* is unavailable/);
      expect(list.environments.find((e) => e.id === project.prod.id)).toMatchObject({ currentVersion: "20260101.1", cache: null });
    } finally {
      client.disconnect();
    }
  });
});

describe("environments list", () => {
  it("shows each environment's current version, worker count and current-key status", async () => {
    await rebuildCurrentHash({ environmentId: project.prod.id, userId });
    await invalidateCurrentHash({ environmentId: project.dev.id, userId });
    const page = await environmentsPage();
    expect(page.redisError).toBeNull();
    const prod = page.environments.find((e) => e.id === project.prod.id)!;
    expect(prod).toMatchObject({ slug: "prod", type: "PRODUCTION", currentWorkerId: workerId, currentVersion: "20260101.1" });
    expect(prod.workerCount).toBeGreaterThanOrEqual(1);
    expect(prod.cache).toMatchObject({ exists: true, fieldCount: 3, ownerWorkerId: workerId, ownerMatches: true });
    const dev = page.environments.find((e) => e.id === project.dev.id)!;
    expect(dev.cache).toMatchObject({ exists: false, fieldCount: 0, ttlSeconds: -2, ownerWorkerId: null });
  });
});
