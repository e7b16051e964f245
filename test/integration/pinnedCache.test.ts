import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dbQueryCount } from "~/db.server";
import { environmentKeys } from "~/domain/cacheKeys";
import type { WorkerMetadataSnapshot } from "~/domain/taskMetadataEntry";
import { keyPrefix } from "~/redis.server";
import { InProcessTaskMetadataStore } from "~/services/taskMetadata/inProcessStore.server";
import { RedisTaskMetadataStore } from "~/services/taskMetadata/redisStore.server";
import { QueueResolver, type ResolveInput } from "~/services/taskMetadata/resolver.server";
import { registerWorker } from "~/services/workers.server";
import { clusterBackend, singleRedisBackend, type CacheTestBackend } from "../support/cacheBackends";
import { eventually } from "../support/cacheTesting";
import { createTestProject, registerAndPromote, type TestProject } from "../support/fixtures";
import { startPrivateRedis, type PrivateRedis } from "../support/privateRedis";
import { startRedisCluster, type RedisClusterHarness } from "../support/redisCluster";
import { RedisCommandCounter } from "../support/redisCommandCount";

/**
 * The pinned hash (docs/decisions/0070-pinned-hash-by-external-id.md): written at registration
 * with set-if-newer, a short negative entry that a deploy replaces, back-fills guarded by the
 * worker — on one Redis and on a 3-master Cluster. Then the hot path's cost, counted: a warm
 * pinned resolve is what a warm locked one is, 1 HMGET and 0 Postgres statements with the
 * in-process tier off, nothing at all with it on.
 */

const prefix = keyPrefix();

function worker(workerId: string, version: string, external: { id: string; generation: number }): WorkerMetadataSnapshot {
  return {
    workerId,
    version,
    tasks: [{ slug: "email", entry: { found: true, kind: "STANDARD", ttl: null, queueId: `q-${workerId}`, queueName: `queue-${workerId}` } }],
    queues: [{ name: `queue-${workerId}`, id: `q-${workerId}` }],
    external,
  };
}

function pinnedStoreRules(backendOf: () => CacheTestBackend) {
  let store: RedisTaskMetadataStore;
  const env = () => `pinned-env-${randomBytes(4).toString("hex")}`;

  beforeAll(() => {
    store = new RedisTaskMetadataStore({ client: backendOf().client, prefix, currentTtlSeconds: 600, workerTtlSeconds: 600, commandTimeoutMs: 2_000 });
  });

  it("a registration pins its id; an older generation never overwrites a newer one", async () => {
    const environmentId = env();
    await store.replaceWorker(environmentId, worker("w1", "1.0", { id: "sha", generation: 1 }));
    expect(await store.getPinnedTask(environmentId, "sha", "email")).toMatchObject({ workerId: "w1", notDeployed: false, task: { queueName: "queue-w1" } });
    await store.replaceWorker(environmentId, worker("w2", "2.0", { id: "sha", generation: 2 }));
    // A late write of the first deploy (a retry, a slow instance) is refused.
    await store.replaceWorker(environmentId, worker("w1", "1.0", { id: "sha", generation: 1 }));
    expect(await store.getPinnedTask(environmentId, "sha", "email", "queue-w2")).toMatchObject({ workerId: "w2", queueId: "q-w2" });
    const key = environmentKeys(prefix, environmentId).pinned("sha");
    expect(await backendOf().admin.hmget(key, "v", "s")).toEqual(["2.0", "2"]);
  });

  it("the negative entry lives ~20 s, is never written over a pin, and a deploy replaces it", async () => {
    const environmentId = env();
    const key = environmentKeys(prefix, environmentId).pinned("later");
    expect(await store.markNotDeployed(environmentId, "later")).toBe(true);
    expect(await store.markNotDeployed(environmentId, "later")).toBe(false);
    expect(await store.getPinnedTask(environmentId, "later", "email")).toEqual({ workerId: null, task: null, queueId: undefined, notDeployed: true });
    const ttl = await backendOf().admin.pttl(key);
    expect(ttl).toBeGreaterThan(15_000);
    expect(ttl).toBeLessThanOrEqual(20_000);
    await store.replaceWorker(environmentId, worker("w9", "9.0", { id: "later", generation: 1 }));
    expect(await store.getPinnedTask(environmentId, "later", "email")).toMatchObject({ workerId: "w9", notDeployed: false });
    expect(await store.markNotDeployed(environmentId, "later")).toBe(false);
    expect(await backendOf().admin.pttl(key)).toBeGreaterThan(500_000);
  });

  it("a back-fill writes only into its own worker's pinned hash", async () => {
    const environmentId = env();
    await store.replaceWorker(environmentId, worker("w1", "1.0", { id: "sha", generation: 1 }));
    const entry = { found: true as const, kind: "STANDARD" as const, ttl: null, queueId: "x", queueName: "x" };
    expect(await store.backfillPinned(environmentId, "sha", "w-other", { tasks: [{ slug: "other", entry }] })).toBe(false);
    expect(await store.backfillPinned(environmentId, "sha", "w1", { tasks: [{ slug: "other", entry }] })).toBe(true);
    expect(await store.getPinnedTask(environmentId, "sha", "other")).toMatchObject({ workerId: "w1", task: { queueName: "x" } });
  });
}

describe("pinned hash, one Redis", () => {
  let backend: CacheTestBackend;
  beforeAll(async () => {
    backend = await singleRedisBackend();
  });
  afterAll(() => backend?.close());
  pinnedStoreRules(() => backend);
});

describe("pinned hash, on a Redis Cluster", () => {
  let cluster: RedisClusterHarness;
  let backend: CacheTestBackend;
  beforeAll(async () => {
    cluster = await startRedisCluster(3);
    backend = await clusterBackend(cluster);
  });
  afterAll(async () => {
    await backend?.close();
    await cluster?.stop();
  });
  pinnedStoreRules(() => backend);

  it("the pinned key is in its environment's slot", async () => {
    const keys = environmentKeys(prefix, "slot-env");
    const slot = (key: string) => backend.admin.cluster("KEYSLOT", key);
    expect(await slot(keys.pinned("a{b}c"))).toBe(await slot(keys.current));
  });
});

describe("a warm pinned resolve costs what a warm locked one does", () => {
  let privateRedis: PrivateRedis;
  let counter: RedisCommandCounter;
  let client: Redis;
  let project: TestProject;
  let redisStore: RedisTaskMetadataStore;
  let pinnedWorkerId: string;

  beforeAll(async () => {
    privateRedis = await startPrivateRedis();
    counter = new RedisCommandCounter(privateRedis.url);
    client = new Redis(privateRedis.url, { maxRetriesPerRequest: 0 });
    project = await createTestProject();
    const tasks = [{ slug: "send-email", queue: { name: "shared" }, ttl: "1h" }];
    const pinned = await registerWorker({ environmentId: project.prod.id, version: "1.0.0", tasks, externalDeploymentId: "sha-1" });
    pinnedWorkerId = pinned.workerId;
    await registerAndPromote({ environmentId: project.prod.id, version: "2.0.0", tasks: [{ slug: "send-email", queue: { name: "v2" } }] });
    // The store under count is filled by the resolver's back-fills, as after a deploy whose pin write was lost.
    redisStore = new RedisTaskMetadataStore({ client, prefix, currentTtlSeconds: 3_600, workerTtlSeconds: 3_600, commandTimeoutMs: 2_000 });
  });

  afterAll(async () => {
    await counter?.close();
    client?.disconnect();
    await privateRedis?.stop();
  });

  const CONFIGS: { name: string; options: Partial<ResolveInput> }[] = [
    { name: "queue override · ttl", options: { queue: "shared", ttl: "5m" } },
    { name: "no queue override · no ttl", options: {} },
  ];

  async function measure(resolver: QueueResolver, input: ResolveInput) {
    await eventually(async () => (await resolver.resolve(input)).source === "cache");
    const statements = dbQueryCount();
    let resolved: Awaited<ReturnType<QueueResolver["resolve"]>> | undefined;
    const commands = await counter.during(async () => {
      resolved = await resolver.resolve(input);
    });
    return { resolved, commands, statements: dbQueryCount() - statements };
  }

  for (const { name, options } of CONFIGS) {
    it(`${name}, tier off: pinned and locked are each 1 HMGET and 0 statements`, async () => {
      const resolver = new QueueResolver({ cache: redisStore });
      const environment = { id: project.prod.id, type: "PRODUCTION" as const };
      const pinned = await measure(resolver, { environment, taskSlug: "send-email", externalDeploymentId: "sha-1", ...options });
      const locked = await measure(resolver, { environment, taskSlug: "send-email", lockToVersion: "1.0.0", ...options });
      for (const cost of [pinned, locked]) {
        expect(cost.resolved).toMatchObject({ lockedWorkerId: pinnedWorkerId, queueName: "shared", source: "cache", awaitingDeployment: false });
        expect(cost.commands).toEqual({ hmget: 1 });
        expect(cost.statements).toBe(0);
      }
    });

    it(`${name}, tier on: pinned and locked send nothing`, async () => {
      const tier = new InProcessTaskMetadataStore({ store: redisStore, maxEntries: 1_000, ttlMs: 60_000, live: true });
      const resolver = new QueueResolver({ cache: tier });
      const environment = { id: project.prod.id, type: "PRODUCTION" as const };
      for (const input of [
        { environment, taskSlug: "send-email", externalDeploymentId: "sha-1", ...options },
        { environment, taskSlug: "send-email", lockToVersion: "1.0.0", ...options },
      ]) {
        await resolver.resolve(input);
        const cost = await measure(resolver, input);
        expect(cost.resolved).toMatchObject({ lockedWorkerId: pinnedWorkerId, source: "cache" });
        expect(cost.commands).toEqual({});
        expect(cost.statements).toBe(0);
      }
    });
  }

  it("an id not deployed yet: 0 statements once its negative entry is written, 1 HMGET even with the tier on", async () => {
    const tier = new InProcessTaskMetadataStore({ store: redisStore, maxEntries: 1_000, ttlMs: 60_000, live: true });
    const resolver = new QueueResolver({ cache: tier });
    const input: ResolveInput = { environment: { id: project.prod.id, type: "PRODUCTION" }, taskSlug: "send-email", externalDeploymentId: "sha-unknown" };
    expect(await resolver.resolve(input)).toMatchObject({ awaitingDeployment: true, source: "database", queueName: "task/send-email" });
    const cost = await measure(resolver, input);
    expect(cost.resolved).toMatchObject({ awaitingDeployment: true, taskFound: false, lockedWorkerId: null });
    expect(cost.commands).toEqual({ hmget: 1 });
    expect(cost.statements).toBe(0);
  });
});
