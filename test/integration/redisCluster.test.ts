import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { environmentKeys } from "~/domain/cacheKeys";
import { resetEnvForTests } from "~/env.server";
import { keyPrefix } from "~/redis.server";
import { disconnectTaskMetadataCache, resolveTask, TaskMetadataCacheAdmin } from "~/services/taskMetadata/index.server";
import { taskMetadataInvalidationSubscriber } from "~/services/taskMetadata/instance.server";
import { RedisTaskMetadataStore } from "~/services/taskMetadata/redisStore.server";
import { registerWorker, promoteVersion } from "~/services/workers.server";
import { clusterBackend, scanAllMasters, type CacheTestBackend } from "../support/cacheBackends";
import { queueResolverSuite } from "../support/cacheSuites/queueResolver.suite";
import { snapshot, taskMetadataCacheStoreSuite } from "../support/cacheSuites/taskMetadataCacheStore.suite";
import { eventually, testRedis } from "../support/cacheTesting";
import { createTestProject } from "../support/fixtures";
import { startRedisCluster, type RedisClusterHarness } from "../support/redisCluster";

/**
 * The task metadata cache (docs/architecture.md) on a real 3-master Redis Cluster (issue 7): the store's and the resolver's Redis-dependent
 * tests, run on the cluster through the app's own client factory; then what only a cluster can
 * show — every key of an environment in one slot, and the admin's SCAN finding everything.
 */

let cluster: RedisClusterHarness;
let backend: CacheTestBackend;
const prefix = keyPrefix();

beforeAll(async () => {
  cluster = await startRedisCluster(3);
  console.log(`Redis Cluster (3 masters) ready in ${cluster.startupMs} ms: ${cluster.nodeList}`);
  backend = await clusterBackend(cluster);
});

afterAll(async () => {
  await backend?.close();
  await cluster?.stop();
});

describe("task metadata cache store, on the cluster", () => {
  taskMetadataCacheStoreSuite(() => backend, "cluster-env");
});

describe("queue resolver, on the cluster", () => {
  queueResolverSuite(() => backend, { scope: "cache" });
});

/** The master (host:port) serving `key`'s slot. */
async function masterOf(key: string): Promise<string> {
  const slot = Number(await backend.admin.cluster("KEYSLOT", key));
  const shards = await backend.admin.cluster("SLOTS");
  const shard = shards.find(([from, to]) => slot >= from && slot <= to);
  if (!shard) throw new Error(`no shard serves slot ${slot}`);
  return `${shard[2][0]}:${shard[2][1]}`;
}

/** Environment ids whose keys live on each master in turn (ids are free-form: we pick them). */
async function environmentsOnEveryMaster(label: string): Promise<Map<string, string>> {
  const byMaster = new Map<string, string>();
  for (let i = 0; byMaster.size < cluster.nodes.length; i++) {
    if (i > 1_000) throw new Error("could not place an environment on every master");
    const environmentId = `${label}-${i}`;
    const master = await masterOf(environmentKeys(prefix, environmentId).current);
    if (!byMaster.has(master)) byMaster.set(master, environmentId);
  }
  return byMaster;
}

describe("cluster specifics", () => {
  it("metrics: the minute buckets and the hit-rate shards spread over the masters; a flush and the overview's reads work there", async () => {
    const { MetricsRecorder } = await import("~/services/metrics.server");
    const { readLowestHitRates } = await import("~/services/hitRateRollup.server");
    const { metricsBucketKey, minuteOf } = await import("~/domain/metricsMath");
    const { rollupBase, ROLLUP_SHARDS } = await import("~/domain/hitRateRollup");
    const slotOwner = async (key: string) => {
      const slot = Number(await (backend.admin as import("ioredis").Cluster).cluster("KEYSLOT", key));
      return (backend.admin as import("ioredis").Cluster).slots[slot][0];
    };
    const shardMasters = new Set(await Promise.all(Array.from({ length: ROLLUP_SHARDS }, (_, i) => slotOwner(`${rollupBase(prefix, i)}state`))));
    const minuteMasters = new Set(await Promise.all(Array.from({ length: 30 }, (_, i) => slotOwner(metricsBucketKey(prefix, 29_000_000 + i)))));
    expect(shardMasters.size).toBe(3);
    expect(minuteMasters.size).toBe(3);

    const now = Date.now();
    const recorder = new MetricsRecorder({ redis: () => backend.client, prefix: () => prefix, flushIntervalMs: 60_000, now: () => now });
    for (let i = 0; i < 200; i++) recorder.observeResolve(i % 4 === 0 ? "database" : "cache", 0.3, `cluster-env-${i % 50}`);
    await recorder.stop();
    const read = await readLowestHitRates(backend.admin, prefix, "1h", minuteOf(now), 100);
    expect(read.active).toBe(50);
    // Environments 0, 2, 4, … had two of their four lookups from Postgres; the odd ones none.
    expect(read.environments[0]).toMatchObject({ hitRate: 0.5, cache: 2, database: 2 });
    expect(read.environments.filter((e) => e.hitRate === 1)).toHaveLength(25);
    expect(Number(await backend.admin.hget(metricsBucketKey(prefix, minuteOf(now)), "r:cache:3"))).toBe(150);
  });

  it("the harness is a real cluster: a multi-key command across two environments' slots is refused (CROSSSLOT)", async () => {
    const [a, b] = [...(await environmentsOnEveryMaster("crossslot")).values()];
    await expect(backend.admin.del(environmentKeys(prefix, a).current, environmentKeys(prefix, b).current)).rejects.toThrow(/CROSSSLOT/);
  });

  it("every key an environment's writes touch (staging included) maps to one slot on one master", async () => {
    const environmentId = "slot-proof";
    const keys = environmentKeys(prefix, environmentId);
    // Keyspace notifications report every key a command modifies, on the node that holds it.
    const subscribers = cluster.nodes.map(({ host, port }) => new Redis({ host, port, maxRetriesPerRequest: 1 }));
    const masters = cluster.masterClients();
    await Promise.all(masters.map((m) => m.config("SET", "notify-keyspace-events", "K$hgx")));
    const touched: { node: number; key: string }[] = [];
    const sentinels = new Set<number>();
    await Promise.all(
      subscribers.map(async (subscriber, node) => {
        subscriber.on("pmessage", (_pattern, channel: string) => touched.push({ node, key: channel.slice("__keyspace@0__:".length) }));
        subscriber.on("message", (_channel, message: string) => {
          if (message === String(node)) sentinels.add(node);
        });
        await subscriber.psubscribe("__keyspace@0__:*");
        await subscriber.subscribe("hotpath-test-sentinel");
      }),
    );
    try {
      const cache = new RedisTaskMetadataStore({ client: backend.client, prefix, currentTtlSeconds: 60, workerTtlSeconds: 60, commandTimeoutMs: 2_000, stagingChunkSize: 50 });
      await cache.replaceCurrent(environmentId, snapshot("w1", "1", 120));
      await cache.replaceWorker(environmentId, snapshot("w2", "2", 30));
      expect(await cache.backfillCurrentTask(environmentId, "w1", "late", { found: false })).toBe(true);
      expect(await cache.backfillLocked(environmentId, "2", "w2", { tasks: [{ slug: "x", entry: { found: false } }], queues: [{ name: "q", id: "qid" }] })).toBe(true);
      expect(await cache.backfillLocked(environmentId, "0.9", "w0", { tasks: [{ slug: "x", entry: { found: false } }] })).toBe(true);
      expect(await cache.getLockedTask(environmentId, "2", "x", "q")).toEqual({ workerId: "w2", task: { found: false }, queueId: "qid" });
      await cache.replaceCurrent(environmentId, snapshot("w3", "3", 0));
      await cache.clearCurrent(environmentId);
      const admin = new TaskMetadataCacheAdmin({ client: backend.admin, prefix });
      await admin.deleteCurrent(environmentId);

      // A sentinel published on each node after the writes arrives after that node's notifications.
      await Promise.all(masters.map((m, node) => m.publish("hotpath-test-sentinel", String(node))));
      await eventually(() => sentinels.size === masters.length);
    } finally {
      for (const s of subscribers) s.disconnect();
      await Promise.all(masters.map((m) => m.config("SET", "notify-keyspace-events", "")));
    }

    const ours = touched.filter((t) => t.key.startsWith(`${prefix}task-meta:{${environmentId}}:`));
    const distinct = [...new Set(ours.map((t) => t.key))];
    // Every kind of key was written, the replace's temporary staging keys too.
    for (const kind of [keys.current, keys.owner, keys.locked("1"), keys.locked("2"), keys.locked("0.9"), keys.staging("")]) {
      expect(distinct.some((k) => k.startsWith(kind)), kind).toBe(true);
    }
    const slots = new Set(await Promise.all(distinct.map(async (k) => Number(await backend.admin.cluster("KEYSLOT", k)))));
    expect(slots.size).toBe(1);
    expect(new Set(ours.map((t) => t.node)).size).toBe(1);
    // Nothing else in the test touched other keys of this environment on another node.
    expect(touched.filter((t) => t.key.includes(`{${environmentId}}`)).length).toBe(ours.length);
  });

  it("admin: each environment's SCAN finds all its locked hashes, wherever its master is, and nothing of others", async () => {
    const admin = new TaskMetadataCacheAdmin({ client: backend.admin, prefix });
    const cache = new RedisTaskMetadataStore({ client: backend.client, prefix, currentTtlSeconds: 60, workerTtlSeconds: 60, commandTimeoutMs: 2_000 });
    const environments = await environmentsOnEveryMaster("admin-scan");
    expect(new Set(environments.keys()).size).toBe(3);
    for (const environmentId of environments.values()) {
      await cache.replaceCurrent(environmentId, snapshot(`${environmentId}-current`, "1", 25));
      for (let w = 0; w < 30; w++) await cache.replaceWorker(environmentId, snapshot(`${environmentId}-w${w}`, `2.${w}`, 2));
    }
    for (const environmentId of environments.values()) {
      const found: string[] = [];
      let cursor = "0";
      let steps = 0;
      do {
        // A small COUNT so the walk takes several "load more" steps.
        const page = await admin.scanWorkerHashes(environmentId, cursor, 10);
        found.push(...page.items.map((item) => item.workerId));
        expect(page.items.every((item) => item.fieldCount > 0 && item.ttlSeconds > 0)).toBe(true);
        cursor = page.nextCursor;
        steps += 1;
      } while (cursor !== "0");
      expect(steps).toBeGreaterThan(1);
      const expected = [`${environmentId}-current`, ...Array.from({ length: 30 }, (_, w) => `${environmentId}-w${w}`)];
      expect(found.sort()).toEqual(expected.sort());
      // The same walk over every master finds nothing more: the environment's master holds it all.
      const everywhere = await scanAllMasters(backend.admin, environmentKeys(prefix, environmentId).pattern);
      expect(everywhere.filter((k) => k.includes(":locked:")).length).toBe(31);

      const status = await admin.currentStatus(environmentId);
      expect(status).toMatchObject({ exists: true, fieldCount: 25, ownerWorkerId: `${environmentId}-current` });
      const fields = await admin.scanHash(status.key, { filter: "task-1", count: 100 });
      expect(fields.items.map((f) => f.field).sort()).toEqual(["task-1", "task-10", "task-11", "task-12", "task-13", "task-14", "task-15", "task-16", "task-17", "task-18", "task-19"]);
      expect((await admin.getFields(status.key, ["task-0", "nope"])).map((v) => v !== null)).toEqual([true, false]);
      expect(await admin.deleteCurrentField(environmentId, "task-0")).toBe(true);
      expect(await admin.deleteCurrent(environmentId)).toBe(2);
    }
  });

  it("TASK_META_CACHE_REDIS_CLUSTER_NODES switches the env-wired cache to the cluster: register, promote, resolve warm, and invalidation published on another node reaches the in-process tier", async () => {
    const project = await createTestProject();
    const single = testRedis();
    const channel = `${prefix}cluster-invalidate`;
    const variables = {
      TASK_META_CACHE_REDIS_CLUSTER_NODES: cluster.nodeList,
      TASK_META_CACHE_INVALIDATION_CHANNEL: channel,
      // Long enough that only an invalidation can explain a fresh answer.
      TASK_META_CACHE_L1_TTL_MS: "60000",
    };
    Object.assign(process.env, variables);
    resetEnvForTests();
    await disconnectTaskMetadataCache();
    try {
      await registerWorker({ environmentId: project.prod.id, version: "1.0.0", tasks: [{ slug: "send-email", queue: { name: "emails" } }] });
      await promoteVersion({ environmentId: project.prod.id, version: "1.0.0" });
      const keys = environmentKeys(prefix, project.prod.id);
      expect(await backend.admin.hexists(keys.current, "send-email")).toBe(1);
      expect(await single.exists(keys.current)).toBe(0);

      const subscriber = taskMetadataInvalidationSubscriber();
      expect(subscriber).toBeDefined();
      await eventually(() => subscriber!.isSubscribed);
      const trigger = () => resolveTask({ environment: { id: project.prod.id, type: "PRODUCTION" }, taskSlug: "send-email" });
      expect(await trigger()).toMatchObject({ queueName: "emails", source: "cache" });

      // Redis changes behind the tier's back: the tier keeps answering what it holds.
      await backend.admin.hset(keys.current, "send-email", JSON.stringify({ v: 1, k: "STANDARD", n: "planted" }));
      expect(await trigger()).toMatchObject({ queueName: "emails" });

      // The subscriber listens on one node; PUBLISH on another, the cluster forwards it.
      const masters = cluster.masterClients();
      const lists = await Promise.all(masters.map((m) => m.client("LIST") as Promise<string>));
      const listening = lists.findIndex((list) => list.includes("name=hotpath:task-meta-invalidation"));
      expect(listening).toBeGreaterThanOrEqual(0);
      const other = masters[(listening + 1) % masters.length];
      await other.publish(channel, project.prod.id);
      await eventually(async () => (await trigger()).queueName === "planted");
    } finally {
      for (const name of Object.keys(variables)) delete process.env[name];
      resetEnvForTests();
      await disconnectTaskMetadataCache();
      await single.quit();
    }
  });
});
