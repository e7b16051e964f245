import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { environmentKeys, NO_CURRENT_WORKER } from "~/domain/cacheKeys";
import { decodeTaskEntry, encodeTaskEntry, type TaskMetadata, type WorkerMetadataSnapshot } from "~/domain/taskMetadataEntry";
import type { RedisClient } from "~/redis.server";
import { keyPrefix } from "~/redis.server";
import { defineTaskMetadataScripts } from "~/services/taskMetadata/redisScripts";
import { RedisTaskMetadataStore } from "~/services/taskMetadata/redisStore.server";
import type { CacheTestBackend } from "../cacheBackends";
import { RecordingSink } from "../cacheTesting";

/**
 * The task metadata cache store's tests that depend on the Redis it runs on (replaces, back-fills,
 * reads), as one body registered by test/integration/taskMetadataCache.test.ts (the test Redis)
 * and test/integration/redisCluster.test.ts (a 3-master Redis Cluster).
 */

export const DAY = 86_400;

export function entry(queue: string, extra: Partial<TaskMetadata> = {}): TaskMetadata {
  return { found: true, kind: "STANDARD", ttl: null, queueId: `id-${queue}`, queueName: queue, ...extra };
}

export function snapshot(workerId: string, version: string, count: number, label = workerId): WorkerMetadataSnapshot {
  const tasks = Array.from({ length: count }, (_, i) => ({ slug: `task-${i}`, entry: entry(`${label}-q${i % 7}`) }));
  const queues = Array.from({ length: Math.min(count, 7) }, (_, i) => ({ name: `${label}-q${i}`, id: `id-${label}-q${i}` }));
  return { workerId, version, tasks, queues };
}

/** `backend` is called inside hooks and tests only: a cluster is started in the file's beforeAll. */
export function taskMetadataCacheStoreSuite(backend: () => CacheTestBackend, envPrefix = "env") {
  const prefix = keyPrefix();
  let admin: RedisClient;
  let envCounter = 0;
  let env: string;
  let keys: ReturnType<typeof environmentKeys>;
  let events: RecordingSink;
  let cache: RedisTaskMetadataStore;

  function makeCache(overrides: Partial<ConstructorParameters<typeof RedisTaskMetadataStore>[0]> = {}) {
    return new RedisTaskMetadataStore({
      client: backend().client,
      prefix,
      currentTtlSeconds: DAY,
      workerTtlSeconds: 30 * DAY,
      commandTimeoutMs: 2_000,
      events,
      ...overrides,
    });
  }

  beforeAll(() => {
    admin = backend().admin;
  });

  beforeEach(() => {
    env = `${envPrefix}${++envCounter}`;
    keys = environmentKeys(prefix, env);
    events = new RecordingSink();
    cache = makeCache();
  });

  describe("replaces", () => {
    it("replaceCurrent writes current, owner and the version's locked hash atomically with their TTLs", async () => {
      await cache.replaceCurrent(env, snapshot("w1", "1.0.0", 3));
      expect(await admin.hlen(keys.current)).toBe(3);
      // The locked hash: the worker, its 3 tasks and its 3 queues.
      expect(await admin.hlen(keys.locked("1.0.0"))).toBe(7);
      expect(await admin.hget(keys.locked("1.0.0"), "w")).toBe("w1");
      const current = await admin.hgetall(keys.current);
      for (const [slug, value] of Object.entries(current)) expect(await admin.hget(keys.locked("1.0.0"), `t:${slug}`)).toBe(value);
      expect(await admin.get(keys.owner)).toBe("w1");
      expect(await admin.hget(keys.locked("1.0.0"), "q:w1-q1")).toBe('{"v":1,"q":"id-w1-q1"}');
      // The layout before 0055 is not written any more.
      expect(await admin.exists(keys.versions, keys.worker("w1"), keys.queues("w1"))).toBe(0);
      expect(decodeTaskEntry((await admin.hget(keys.current, "task-1"))!)).toEqual({ ok: true, value: entry("w1-q1") });

      const currentTtl = await admin.ttl(keys.current);
      expect(currentTtl).toBeGreaterThan(DAY - 10);
      expect(currentTtl).toBeLessThanOrEqual(DAY);
      expect(await admin.ttl(keys.owner)).toBeGreaterThan(DAY - 10);
      expect(await admin.ttl(keys.locked("1.0.0"))).toBeGreaterThan(30 * DAY - 10);
      // No staging key is left behind.
      expect(await backend().scanKeys(`${keys.staging("")}*`)).toEqual([]);
    });

    it("a replace drops fields of the previous worker, including negative entries", async () => {
      await cache.replaceCurrent(env, snapshot("w1", "1", 5));
      expect(await cache.backfillCurrentTask(env, "w1", "ghost", { found: false })).toBe(true);
      expect(await admin.hexists(keys.current, "ghost")).toBe(1);
      await cache.replaceCurrent(env, snapshot("w2", "2", 2));
      expect((await admin.hkeys(keys.current)).sort()).toEqual(["task-0", "task-1"]);
      expect(await admin.get(keys.owner)).toBe("w2");
      // The old worker's own hash stays for version-locked triggers.
      expect(await admin.hget(keys.locked("1"), "w")).toBe("w1");
      expect(await admin.hlen(keys.locked("1"))).toBe(1 + 5 + 5);
    });

    it("replaceWorker writes only that version's locked hash, never current or owner", async () => {
      await cache.replaceCurrent(env, snapshot("w1", "1", 2));
      await cache.replaceWorker(env, snapshot("w2", "2", 4));
      expect(await admin.hlen(keys.locked("2"))).toBe(1 + 4 + 4);
      expect(await admin.hget(keys.locked("2"), "w")).toBe("w2");
      expect(await admin.get(keys.owner)).toBe("w1");
      expect(await admin.hlen(keys.current)).toBe(2);
    });

    it("zero tasks clears the current hash and leaves the locked hash with the worker alone, and the owner moves", async () => {
      await cache.replaceCurrent(env, snapshot("w1", "1", 4));
      await cache.replaceCurrent(env, snapshot("w1", "1", 0));
      expect(await admin.exists(keys.current)).toBe(0);
      expect(await admin.hgetall(keys.locked("1"))).toEqual({ w: "w1" });
      expect(await admin.get(keys.owner)).toBe("w1");

      await cache.replaceCurrent(env, snapshot("w2", "2", 3));
      await cache.replaceCurrent(env, snapshot("w3", "3", 0));
      expect(await admin.exists(keys.current)).toBe(0);
      expect(await admin.get(keys.owner)).toBe("w3");
    });

    it("clearCurrent empties the hash and records that there is no current worker", async () => {
      await cache.replaceCurrent(env, snapshot("w1", "1", 2));
      await cache.clearCurrent(env);
      expect(await admin.exists(keys.current)).toBe(0);
      expect(await admin.get(keys.owner)).toBe(NO_CURRENT_WORKER);
      expect(await cache.backfillCurrentTask(env, null, "x", { found: false })).toBe(true);
      expect(await cache.backfillCurrentTask(env, "w1", "y", { found: false })).toBe(false);
    });

    it("TTL 0 means no expiry", async () => {
      const forever = makeCache({ currentTtlSeconds: 0, workerTtlSeconds: 0 });
      await forever.replaceCurrent(env, snapshot("w1", "1", 2));
      expect(await admin.ttl(keys.current)).toBe(-1);
      expect(await admin.ttl(keys.owner)).toBe(-1);
      expect(await admin.ttl(keys.locked("1"))).toBe(-1);
    });

    it("the commit refuses a staging that does not hold the expected fields, changing nothing", async () => {
      await cache.replaceCurrent(env, snapshot("w1", "1", 3));
      defineTaskMetadataScripts(admin);
      const staged = keys.staging("manual:current");
      const stagedLocked = keys.staging("manual:locked");
      await admin.hset(staged, "task-0", encodeTaskEntry(entry("x")));
      await admin.hset(stagedLocked, "w", "w2", "t:task-0", encodeTaskEntry(entry("x")));
      await expect(
        admin.tmCommitReplace(staged, stagedLocked, keys.locked("2"), keys.current, keys.owner, 2, 3, "w2", 100, "1", 100_000),
      ).rejects.toThrow(/STAGING_INCOMPLETE/);
      expect(await admin.get(keys.owner)).toBe("w1");
      expect(await admin.hlen(keys.current)).toBe(3);
      expect(await admin.exists(staged, stagedLocked, keys.locked("2"))).toBe(0);
    });

    it("a 10,000-task worker replaces atomically: a concurrent reader never sees an empty or partial hash", async () => {
      const chunked = makeCache({ stagingChunkSize: 500 });
      const v1 = snapshot("big1", "1", 10_000);
      const v2 = snapshot("big2", "2", 10_001);
      await chunked.replaceCurrent(env, v1);

      const reader = backend().newClient();
      const seen = new Map<string, number>();
      const anomalies: string[] = [];
      let stop = false;
      const loop = (async () => {
        while (!stop) {
          // One MULTI is one consistent snapshot: owner, size and a sample field agree or the replace leaked.
          const [[, owner], [, size], [, sample]] = (await reader
            .multi()
            .get(keys.owner)
            .hlen(keys.current)
            .hget(keys.current, "task-9999")
            .exec()) as [unknown, unknown][];
          const expected = owner === "big1" ? 10_000 : owner === "big2" ? 10_001 : -1;
          const sampleQueue = sample ? (JSON.parse(sample as string) as { n: string }).n : null;
          if (size !== expected || !sampleQueue?.startsWith(`${owner}-`)) anomalies.push(`${owner}/${size}/${sampleQueue}`);
          seen.set(owner as string, (seen.get(owner as string) ?? 0) + 1);
        }
      })();
      for (let i = 0; i < 6; i++) await chunked.replaceCurrent(env, i % 2 === 0 ? v2 : v1);
      stop = true;
      await loop;

      expect(anomalies).toEqual([]);
      expect(seen.get("big1")).toBeGreaterThan(0);
      expect(seen.get("big2")).toBeGreaterThan(0);
      expect(await admin.hlen(keys.current)).toBe(10_000);
      expect(await admin.hlen(keys.locked("1"))).toBe(1 + 10_000 + 7);
      expect(await admin.hlen(keys.locked("2"))).toBe(1 + 10_001 + 7);
    });
  });

  describe("back-fills", () => {
    it("write the current hash only while the owner is the worker the back-filler read", async () => {
      await cache.replaceCurrent(env, snapshot("w1", "1", 1));
      expect(await cache.backfillCurrentTask(env, "w0", "task-5", entry("stale"))).toBe(false);
      expect(await admin.hexists(keys.current, "task-5")).toBe(0);
      expect(await cache.backfillCurrentTask(env, "w1", "task-5", entry("fresh"))).toBe(true);
      expect(decodeTaskEntry((await admin.hget(keys.current, "task-5"))!)).toEqual({ ok: true, value: entry("fresh") });
      expect(events.count("backfill", "current")).toBe(1);
    });

    it("never extend the current hash's TTL", async () => {
      await cache.replaceCurrent(env, snapshot("w1", "1", 1));
      await admin.pexpire(keys.current, 5_000);
      await cache.backfillCurrentTask(env, "w1", "task-7", entry("x"));
      expect(await admin.pttl(keys.current)).toBeLessThanOrEqual(5_000);
    });

    it("a hash created by a back-fill (after a zero-task replace) inherits the owner's remaining TTL", async () => {
      await cache.replaceCurrent(env, snapshot("w1", "1", 0));
      await admin.pexpire(keys.owner, 60_000);
      expect(await cache.backfillCurrentTask(env, "w1", "task-0", { found: false })).toBe(true);
      const ttl = await admin.pttl(keys.current);
      expect(ttl).toBeGreaterThan(50_000);
      expect(ttl).toBeLessThanOrEqual(60_000);
    });

    it("without an owner (expired or invalidated), the back-filler's worker starts a fresh hash", async () => {
      await admin.hset(keys.current, "orphan", encodeTaskEntry(entry("old")));
      expect(await cache.backfillCurrentTask(env, "w9", "task-0", entry("new"))).toBe(true);
      expect(await admin.get(keys.owner)).toBe("w9");
      expect(await admin.hkeys(keys.current)).toEqual(["task-0"]);
      expect(await admin.ttl(keys.current)).toBeGreaterThan(DAY - 10);
    });

    it("locked back-fills slide the hash's TTL, and a version unknown to the cache starts a hash of its worker", async () => {
      await cache.replaceWorker(env, snapshot("w1", "1", 1));
      await admin.expire(keys.locked("1"), 100);
      expect(await cache.backfillLocked(env, "1", "w1", { tasks: [{ slug: "task-3", entry: { found: false } }], queues: [{ name: "extra", id: "qx" }] })).toBe(true);
      expect(await cache.backfillLocked(env, "0.9", "w0", { tasks: [{ slug: "task-0", entry: entry("a") }] })).toBe(true);
      expect(await admin.ttl(keys.locked("1"))).toBeGreaterThan(30 * DAY - 10);
      expect(await admin.ttl(keys.locked("0.9"))).toBeGreaterThan(30 * DAY - 10);
      expect(await cache.getLockedTask(env, "1", "task-3", "extra")).toEqual({ workerId: "w1", task: { found: false }, queueId: "qx" });
      expect(await cache.getLockedTask(env, "0.9", "task-0")).toEqual({ workerId: "w0", task: entry("a"), queueId: undefined });
    });

    it("a locked back-fill is refused when the version's hash belongs to another worker", async () => {
      await cache.replaceWorker(env, snapshot("w1", "1", 1));
      expect(await cache.backfillLocked(env, "1", "w-other", { tasks: [{ slug: "task-9", entry: entry("stale") }] })).toBe(false);
      expect(await admin.hexists(keys.locked("1"), "t:task-9")).toBe(0);
      expect(await admin.hget(keys.locked("1"), "w")).toBe("w1");
    });
  });

  describe("reads", () => {
    it("hits, negative hits and misses are told apart and counted per keyspace", async () => {
      await cache.replaceCurrent(env, snapshot("w1", "1", 1));
      await cache.backfillCurrentTask(env, "w1", "gone", { found: false });
      expect(await cache.getCurrentTask(env, "task-0")).toEqual(entry("w1-q0"));
      expect(await cache.getCurrentTask(env, "gone")).toEqual({ found: false });
      expect(await cache.getCurrentTask(env, "never")).toBeNull();
      expect(events.count("hit", "current")).toBe(1);
      expect(events.count("negative_hit", "current")).toBe(1);
      expect(events.count("miss", "current")).toBe(1);
    });

    it("a corrupt entry is a miss, logged and counted as a decode error", async () => {
      await cache.replaceCurrent(env, snapshot("w1", "1", 1));
      await admin.hset(keys.current, "task-0", "{not json");
      await admin.hset(keys.locked("bad"), "w", "has space", "t:task-0", encodeTaskEntry(entry("x")));
      expect(await cache.getCurrentTask(env, "task-0")).toBeNull();
      expect(await cache.getLockedTask(env, "bad", "task-0")).toEqual({ workerId: null, task: null, queueId: undefined });
      expect(events.count("decode_error", "current")).toBe(1);
      expect(events.count("decode_error", "version")).toBe(1);
      expect(events.count("miss")).toBe(2);
    });

    it("a locked read gets the worker, the task and the queue association in one call", async () => {
      await cache.replaceWorker(env, snapshot("w1", "1", 3));
      expect(await cache.getLockedTask(env, "1", "task-2", "w1-q2")).toEqual({ workerId: "w1", task: entry("w1-q2"), queueId: "id-w1-q2" });
      expect(await cache.getLockedTask(env, "1", "task-2", "nope")).toEqual({ workerId: "w1", task: entry("w1-q2"), queueId: null });
      expect(await cache.getLockedTask(env, "1", "task-2")).toEqual({ workerId: "w1", task: entry("w1-q2"), queueId: undefined });
      expect(await cache.getLockedTask(env, "1", "task-9")).toEqual({ workerId: "w1", task: null, queueId: undefined });
      expect(await cache.getLockedTask(env, "2", "task-2", "w1-q2")).toEqual({ workerId: null, task: null, queueId: null });
      // A slug or queue name that looks like another field is only ever read under its own prefix.
      expect(await cache.getLockedTask(env, "1", "w")).toMatchObject({ workerId: "w1", task: null });
    });
  });
}
