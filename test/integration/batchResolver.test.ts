import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { dbQueryCount } from "~/db.server";
import { environmentKeys } from "~/domain/cacheKeys";
import { ValidationError } from "~/domain/errors";
import { keyPrefix } from "~/redis.server";
import { BatchResolver, type BatchResolveItem } from "~/services/taskMetadata/index.server";
import { InProcessTaskMetadataStore } from "~/services/taskMetadata/inProcessStore.server";
import { RedisTaskMetadataStore } from "~/services/taskMetadata/redisStore.server";
import { QueueResolver } from "~/services/taskMetadata/resolver.server";
import { postgresTaskMetadataSource } from "~/services/taskMetadata/sources.server";
import type { TaskMetadataStore } from "~/services/taskMetadata/store.server";
import { WorkerService } from "~/services/workers.server";
import { prisma } from "~/db.server";
import { singleRedisBackend, type CacheTestBackend } from "../support/cacheBackends";
import { createTestProject, type TestProject, type TestTaskSpec } from "../support/fixtures";

/** resolveMany: one cache read per batch, one statement for its misses, the single resolver's rules and messages. */

const TASKS: TestTaskSpec[] = [
  { slug: "send-email", queue: { name: "emails" }, ttl: "1h" },
  { slug: "nightly", queue: { name: "cron" }, triggerSource: "SCHEDULED" },
  { slug: "no-queue" },
];

/** Counts the store calls the batch resolver makes (each is one Redis round trip on the Redis store). */
function counting(store: TaskMetadataStore) {
  const calls: string[] = [];
  const counted = new Proxy(store, {
    get(target, name, receiver) {
      const value = Reflect.get(target, name, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        calls.push(String(name));
        return value.apply(target, args);
      };
    },
  });
  return { store: counted, calls };
}

let backend: CacheTestBackend;
let project: TestProject;
let redisStore: RedisTaskMetadataStore;
let backfills: (() => Promise<unknown>)[];
const prefix = keyPrefix();
const env = () => ({ id: project.prod.id, type: "PRODUCTION" as const });

beforeAll(async () => {
  backend = await singleRedisBackend();
});
afterAll(async () => {
  await backend.close();
});
beforeEach(async () => {
  redisStore = new RedisTaskMetadataStore({ client: backend.client, prefix, currentTtlSeconds: 3600, workerTtlSeconds: 3600, commandTimeoutMs: 2000 });
  project = await createTestProject();
  backfills = [];
  const workers = new WorkerService({ cache: redisStore });
  await workers.registerWorker({ environmentId: project.prod.id, version: "1.0.0", tasks: TASKS });
  await workers.promoteVersion({ environmentId: project.prod.id, version: "1.0.0" });
});

function batchResolver(store: TaskMetadataStore) {
  const source = postgresTaskMetadataSource(prisma());
  const resolver = new QueueResolver({ cache: store, source, scheduleBackfill: (work) => backfills.push(work) });
  return new BatchResolver({ cache: store, source, resolver, scheduleBackfill: (work) => backfills.push(work) });
}

const items = (n: number): BatchResolveItem[] =>
  Array.from({ length: n }, (_, i) => ({ taskSlug: ["send-email", "nightly", "no-queue", "not-deployed"][i % 4] }));

describe("resolveMany", () => {
  it("answers like the single resolver, item by item", async () => {
    const { store } = counting(redisStore);
    const batch = batchResolver(store);
    const single = new QueueResolver({ cache: store, source: postgresTaskMetadataSource(prisma()) });
    const input: BatchResolveItem[] = [
      ...items(4),
      { taskSlug: "send-email", queue: "other", ttl: "5m" },
      { taskSlug: "send-email", lockToVersion: "1.0.0" },
      { taskSlug: "nightly", lockToVersion: "1.0.0", queue: "emails" },
    ];
    const results = await batch.resolveMany(env(), input);
    for (const [i, item] of input.entries()) {
      const expected = await single.resolve({ ...item, environment: env() });
      expect(results[i]).toEqual({ ok: true, value: { ...expected, source: results[i].ok ? (results[i] as any).value.source : "" } });
    }
    expect(results[3]).toMatchObject({ ok: true, value: { taskFound: false, queueName: "task/not-deployed" } });
  });

  it("a bad item fails alone, with its index and the single resolver's exact message", async () => {
    const batch = batchResolver(redisStore);
    const single = new QueueResolver({ cache: redisStore, source: postgresTaskMetadataSource(prisma()) });
    const bad: BatchResolveItem[] = [
      { taskSlug: "send-email", ttl: "soon" },
      { taskSlug: "send-email", lockToVersion: "9.9.9" },
      { taskSlug: "not-deployed", lockToVersion: "1.0.0" },
      { taskSlug: "send-email", lockToVersion: "1.0.0", queue: "nope" },
      { taskSlug: "send-email" },
    ];
    const results = await batch.resolveMany(env(), bad);
    for (const i of [0, 1, 2, 3]) {
      const error = await single.resolve({ ...bad[i], environment: env() }).then(() => null, (e: unknown) => e as Error);
      expect(error).not.toBeNull();
      expect(results[i]).toMatchObject({ ok: false, index: i });
      const failed = results[i] as { error: Error };
      expect(failed.error.message).toBe(error!.message);
      expect(failed.error.constructor).toBe(error!.constructor);
    }
    expect((results[1] as { error: Error }).error).toBeInstanceOf(ValidationError);
    expect(results[4]).toMatchObject({ ok: true, value: { queueName: "emails" } });
  });

  it("cold: one HMGET, one Postgres statement, one back-fill call; warm: one HMGET and no statement", async () => {
    const keys = environmentKeys(prefix, project.prod.id);
    await backend.admin.del(keys.current, keys.owner);
    const { store, calls } = counting(redisStore);
    const batch = batchResolver(store);
    const before = dbQueryCount();
    const cold = await batch.resolveMany(env(), items(1000));
    expect(dbQueryCount() - before).toBe(1);
    expect(cold.every((r) => r.ok && r.value.source === "database")).toBe(true);
    expect(backfills).toHaveLength(1);
    await Promise.all(backfills.splice(0).map((work) => work()));
    expect(calls).toEqual(["getCurrentTasks", "backfillCurrentTasks"]);
    expect(await backend.admin.hlen(keys.current)).toBe(4);

    calls.length = 0;
    const warmBefore = dbQueryCount();
    const warm = await batch.resolveMany(env(), items(1000));
    expect(dbQueryCount() - warmBefore).toBe(0);
    expect(calls).toEqual(["getCurrentTasks"]);
    expect(warm.every((r) => r.ok && r.value.source === "cache")).toBe(true);
    expect(backfills).toHaveLength(0);
  });

  it("locked groups: one read per version's hash; cold, one statement and one back-fill per version", async () => {
    const workers = new WorkerService({ cache: redisStore });
    await workers.registerWorker({ environmentId: project.prod.id, version: "2.0.0", tasks: TASKS });
    const keys = environmentKeys(prefix, project.prod.id);
    await backend.admin.del(keys.locked("1.0.0"), keys.locked("2.0.0"));
    const { store, calls } = counting(redisStore);
    const batch = batchResolver(store);
    const lockedItems: BatchResolveItem[] = Array.from({ length: 1000 }, (_, i) => ({
      taskSlug: ["send-email", "nightly", "no-queue"][i % 3],
      lockToVersion: i % 2 ? "1.0.0" : "2.0.0",
      // "no-queue" has no default queue: locked, it needs an override.
      ...(i % 5 === 0 || i % 3 === 2 ? { queue: "emails" } : {}),
    }));
    const input = [...lockedItems, { taskSlug: "send-email", lockToVersion: "9.9.9" }, { taskSlug: "nightly", lockToVersion: "1.0.0", queue: "nope" }];
    const before = dbQueryCount();
    const cold = await batch.resolveMany(env(), input);
    // Three groups (two known versions, one unknown): one statement each.
    expect(dbQueryCount() - before).toBe(3);
    expect(calls.sort()).toEqual(["getLockedTasks", "getLockedTasks", "getLockedTasks"]);
    expect(cold.slice(0, 1000).every((r) => r.ok && r.value.source === "database")).toBe(true);
    expect(cold[1000]).toMatchObject({ ok: false, index: 1000 });
    expect(cold[1001]).toMatchObject({ ok: false, index: 1001 });
    // One back-fill per known version; the unknown one is never cached.
    expect(backfills).toHaveLength(2);
    await Promise.all(backfills.splice(0).map((work) => work()));
    expect(await backend.admin.exists(keys.locked("9.9.9"))).toBe(0);

    calls.length = 0;
    const single = new QueueResolver({ cache: redisStore, source: postgresTaskMetadataSource(prisma()) });
    const warmBefore = dbQueryCount();
    const warm = await batch.resolveMany(env(), lockedItems);
    expect(dbQueryCount() - warmBefore).toBe(0);
    expect(calls).toEqual(["getLockedTasks", "getLockedTasks"]);
    expect(backfills).toHaveLength(0);
    for (const i of [0, 1, 2, 3, 5, 10, 15]) {
      const expected = await single.resolve({ ...lockedItems[i], environment: env() });
      expect(warm[i]).toEqual({ ok: true, value: { ...expected, source: "cache" } });
    }
  });

  it("a locked group with a warm version but a task and a queue not cached reads Postgres by the cached worker id", async () => {
    const keys = environmentKeys(prefix, project.prod.id);
    await backend.admin.hdel(keys.locked("1.0.0"), "t:nightly", "q:emails");
    const { store, calls } = counting(redisStore);
    const batch = batchResolver(store);
    const before = dbQueryCount();
    const results = await batch.resolveMany(env(), [
      { taskSlug: "nightly", lockToVersion: "1.0.0" },
      { taskSlug: "send-email", lockToVersion: "1.0.0" },
      { taskSlug: "no-queue", lockToVersion: "1.0.0", queue: "emails" },
    ]);
    expect(dbQueryCount() - before).toBe(1);
    expect(results.map((r) => r.ok && r.value.source)).toEqual(["database", "cache", "database"]);
    await Promise.all(backfills.splice(0).map((work) => work()));
    expect(calls).toEqual(["getLockedTasks", "backfillLocked"]);
    expect(await backend.admin.hexists(keys.locked("1.0.0"), "t:nightly")).toBe(1);
    expect(await backend.admin.hexists(keys.locked("1.0.0"), "q:emails")).toBe(1);
  });

  it("with the in-process tier warm, the Redis store is not asked at all", async () => {
    const { store, calls } = counting(redisStore);
    const tier = new InProcessTaskMetadataStore({ store, maxEntries: 1000, ttlMs: 60_000, live: true });
    const batch = batchResolver(tier);
    await batch.resolveMany(env(), items(100));
    await Promise.all(backfills.splice(0).map((work) => work()));
    calls.length = 0;
    const before = dbQueryCount();
    const warm = await batch.resolveMany(env(), items(1000));
    expect(calls).toEqual([]);
    expect(dbQueryCount() - before).toBe(0);
    expect(warm.every((r) => r.ok)).toBe(true);
  });
});
