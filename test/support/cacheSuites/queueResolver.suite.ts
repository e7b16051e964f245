import { Redis } from "ioredis";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { dbQueryCount, prisma } from "~/db.server";
import { environmentKeys } from "~/domain/cacheKeys";
import { CircuitBreaker } from "~/domain/circuitBreaker";
import { BadRequestError, ValidationError } from "~/domain/errors";
import { decodeTaskEntry } from "~/domain/taskMetadataEntry";
import { keyPrefix, type RedisClient } from "~/redis.server";
import type { ResolveInput } from "~/services/taskMetadata/index.server";
import { RedisTaskMetadataStore } from "~/services/taskMetadata/redisStore.server";
import { QueueResolver } from "~/services/taskMetadata/resolver.server";
import { WorkerService } from "~/services/workers.server";
import type { CacheTestBackend } from "../cacheBackends";
import { closedPort, eventually, RecordingSink } from "../cacheTesting";
import { createTestProject, type TestProject, type TestTaskSpec } from "../fixtures";

/**
 * The resolver's integration tests as one body, registered by test/integration/queueResolver.test.ts
 * (the test Redis, every test) and test/integration/redisCluster.test.ts (a 3-master Redis Cluster:
 * `scope: "cache"`, the tests whose outcome depends on what Redis does — the seed's test plan, the
 * races and damage, the query counts).
 */
export function queueResolverSuite(backend: () => CacheTestBackend, { scope = "all" }: { scope?: "all" | "cache" } = {}) {
  const prefix = keyPrefix();
  let admin: RedisClient;
  let events: RecordingSink;
  let cache: RedisTaskMetadataStore;
  let workers: WorkerService;
  let backfills: (() => Promise<unknown>)[];
  /** Back-fills wait here until the test runs them, so every interleaving is explicit. */
  let resolver: QueueResolver;
  let project: TestProject;

  const TASKS: TestTaskSpec[] = [
    { slug: "send-email", queue: { name: "emails", concurrencyLimit: 5 }, ttl: "1h", triggerSource: "STANDARD" },
    { slug: "nightly", queue: { name: "cron" }, triggerSource: "SCHEDULED" },
    { slug: "assistant", queue: { name: "agents" }, ttl: 90, triggerSource: "AGENT" },
    { slug: "no-queue" },
  ];

  function prodEnv() {
    return { id: project.prod.id, type: "PRODUCTION" as const };
  }
  function devEnv() {
    return { id: project.dev.id, type: "DEVELOPMENT" as const };
  }

  async function runBackfills() {
    const pending = backfills.splice(0);
    return Promise.all(pending.map((work) => work()));
  }

  async function clearEnvironmentKeys(environmentId: string) {
    const keys = await backend().scanKeys(environmentKeys(prefix, environmentId).pattern);
    if (keys.length) await admin.del(...keys);
    expect(await backend().scanKeys(environmentKeys(prefix, environmentId).pattern)).toEqual([]);
  }

  async function register(environmentId: string, version: string, tasks: TestTaskSpec[] = TASKS, promote = true) {
    const registered = await workers.registerWorker({ environmentId, version, tasks });
    if (promote && registered.deploymentId) await workers.promoteVersion({ environmentId, version });
    return registered;
  }

  async function expectValidation(input: ResolveInput, message: string) {
    const error = await resolver.resolve(input).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).status).toBe(422);
    expect((error as ValidationError).message).toBe(message);
  }

  beforeAll(() => {
    admin = backend().admin;
  });

  beforeEach(async () => {
    events = new RecordingSink();
    cache = new RedisTaskMetadataStore({
      client: backend().client,
      prefix,
      currentTtlSeconds: 86_400,
      workerTtlSeconds: 30 * 86_400,
      commandTimeoutMs: 2_000,
      events,
    });
    workers = new WorkerService({ cache });
    backfills = [];
    resolver = new QueueResolver({ cache, events, scheduleBackfill: (work) => backfills.push(work) });
    project = await createTestProject();
  });

  describe("the seed's test plan", () => {
    it("a warm cache is served: an entry planted in Redis that disagrees with Postgres wins", async () => {
      await register(project.prod.id, "1.0.0");
      const keys = environmentKeys(prefix, project.prod.id);
      await admin.hset(keys.current, "send-email", JSON.stringify({ v: 1, k: "AGENT", t: "7m", n: "planted-queue" }));
      const before = dbQueryCount();
      const resolved = await resolver.resolve({ environment: prodEnv(), taskSlug: "send-email" });
      expect(dbQueryCount() - before).toBe(0);
      expect(resolved).toMatchObject({ queueName: "planted-queue", taskKind: "AGENT", ttl: "7m", ttlSeconds: 420, source: "cache" });
    });

    it("a cold miss falls through to Postgres and back-fills the current hash without delaying the answer", async () => {
      const background = new QueueResolver({ cache, events });
      await register(project.prod.id, "1.0.0");
      await clearEnvironmentKeys(project.prod.id);
      const resolved = await background.resolve({ environment: prodEnv(), taskSlug: "send-email" });
      expect(resolved).toMatchObject({ queueName: "emails", ttl: "1h", taskKind: "STANDARD", taskFound: true, source: "database" });

      const keys = environmentKeys(prefix, project.prod.id);
      const written = await eventually(() => admin.hget(keys.current, "send-email"));
      expect(decodeTaskEntry(written)).toMatchObject({ ok: true, value: { found: true, queueName: "emails", ttl: "1h" } });
      expect(await admin.get(keys.owner)).not.toBeNull();
      expect(await background.resolve({ environment: prodEnv(), taskSlug: "send-email" })).toMatchObject({ source: "cache" });
    });

    it('queue override + ttl "5m": the override name, the trigger TTL, the task kind', async () => {
      await register(project.prod.id, "1.0.0");
      const resolved = await resolver.resolve({ environment: prodEnv(), taskSlug: "assistant", queue: "vip lane!", ttl: "5m" });
      expect(resolved).toEqual({
        queueName: "viplane",
        lockedQueueId: null,
        lockedWorkerId: null,
        ttl: "5m",
        ttlSeconds: 300,
        taskKind: "AGENT",
        taskFound: true,
        source: "cache",
        awaitingDeployment: false,
      });
    });

    it("locked triggers read the version's locked hash, unlocked triggers the current hash", async () => {
      const v1 = await register(project.prod.id, "1.0.0");
      await register(project.prod.id, "2.0.0");
      const keys = environmentKeys(prefix, project.prod.id);
      await admin.hset(keys.locked("1.0.0"), "t:send-email", JSON.stringify({ v: 1, k: "STANDARD", q: "qid-worker", n: "from-worker-hash" }));
      await admin.hset(keys.current, "send-email", JSON.stringify({ v: 1, k: "STANDARD", q: "qid-current", n: "from-current-hash" }));

      const locked = await resolver.resolve({ environment: prodEnv(), taskSlug: "send-email", lockToVersion: "1.0.0" });
      expect(locked).toMatchObject({ queueName: "from-worker-hash", lockedQueueId: "qid-worker", lockedWorkerId: v1.workerId, source: "cache" });
      const unlocked = await resolver.resolve({ environment: prodEnv(), taskSlug: "send-email" });
      expect(unlocked).toMatchObject({ queueName: "from-current-hash", lockedQueueId: null, lockedWorkerId: null, source: "cache" });
    });

    it("promotion writes both hashes (cleared first, empty, promoted, populated)", async () => {
      const v1 = await register(project.prod.id, "1.0.0", TASKS, false);
      const keys = environmentKeys(prefix, project.prod.id);
      await clearEnvironmentKeys(project.prod.id);
      expect(await admin.exists(keys.current, keys.locked("1.0.0"), keys.owner)).toBe(0);

      await workers.promoteVersion({ environmentId: project.prod.id, version: "1.0.0" });
      expect((await admin.hkeys(keys.current)).sort()).toEqual(TASKS.map((t) => t.slug).sort());
      expect(await admin.get(keys.owner)).toBe(v1.workerId);
      const locked = await admin.hkeys(keys.locked("1.0.0"));
      expect(locked.filter((f) => f.startsWith("t:")).sort()).toEqual(TASKS.map((t) => `t:${t.slug}`).sort());
      expect(locked.filter((f) => f.startsWith("q:")).sort()).toEqual(["q:agents", "q:cron", "q:emails"]);
      expect(await admin.hget(keys.locked("1.0.0"), "w")).toBe(v1.workerId);
    });
  });

  if (scope === "all") {
    describe("locked: every branch, cold and warm", () => {
      for (const temperature of ["cold", "warm"] as const) {
        describe(temperature, () => {
          async function setUp() {
            const v1 = await register(project.prod.id, "1.0.0");
            // A queue that exists in the environment but no task of 1.0.0 uses.
            await register(project.prod.id, "2.0.0", [{ slug: "other", queue: { name: "elsewhere" } }], false);
            if (temperature === "cold") await clearEnvironmentKeys(project.prod.id);
            return v1;
          }
          async function twice(run: () => Promise<void>) {
            // Cold: the first call misses and back-fills; the second is then served from the cache.
            await run();
            await runBackfills();
            await run();
          }

          it("unknown version → 422", async () => {
            await setUp();
            await twice(() =>
              expectValidation(
                { environment: prodEnv(), taskSlug: "send-email", lockToVersion: "9.9.9" },
                "Task locked to version '9.9.9', but no worker found with that version.",
              ),
            );
          });

          it("override naming no queue of the environment → 422", async () => {
            await setUp();
            await twice(() =>
              expectValidation(
                { environment: prodEnv(), taskSlug: "send-email", lockToVersion: "1.0.0", queue: "nowhere" },
                "Specified queue 'nowhere' not found or not associated with locked version '1.0.0'.",
              ),
            );
          });

          it("override naming a queue the locked worker does not use → 422", async () => {
            await setUp();
            await twice(() =>
              expectValidation(
                { environment: prodEnv(), taskSlug: "send-email", lockToVersion: "1.0.0", queue: "elsewhere" },
                "Specified queue 'elsewhere' not found or not associated with locked version '1.0.0'.",
              ),
            );
          });

          it("override of a queue the worker uses, task missing on that worker → tolerated: STANDARD, no task TTL", async () => {
            const v1 = await setUp();
            await twice(async () => {
              const resolved = await resolver.resolve({ environment: prodEnv(), taskSlug: "ghost", lockToVersion: "1.0.0", queue: "emails" });
              const queue = await prisma().taskQueue.findUniqueOrThrow({
                where: { environmentId_name: { environmentId: project.prod.id, name: "emails" } },
              });
              expect(resolved).toMatchObject({
                queueName: "emails",
                lockedQueueId: queue.id,
                lockedWorkerId: v1.workerId,
                taskKind: "STANDARD",
                ttl: null,
                taskFound: false,
              });
            });
          });

          it("override with the task present → that queue, the task's TTL and kind", async () => {
            const v1 = await setUp();
            await twice(async () => {
              const resolved = await resolver.resolve({ environment: prodEnv(), taskSlug: "assistant", lockToVersion: "1.0.0", queue: "cron" });
              expect(resolved).toMatchObject({ queueName: "cron", lockedWorkerId: v1.workerId, taskKind: "AGENT", ttl: "1m30s", taskFound: true });
            });
          });

          it("no override, task missing on the locked worker → 422", async () => {
            await setUp();
            await twice(() =>
              expectValidation(
                { environment: prodEnv(), taskSlug: "ghost", lockToVersion: "1.0.0" },
                "Task 'ghost' not found on locked version '1.0.0'.",
              ),
            );
          });

          it("no override, task without a queue → 422", async () => {
            await setUp();
            await twice(() =>
              expectValidation(
                { environment: prodEnv(), taskSlug: "no-queue", lockToVersion: "1.0.0" },
                "Default queue configuration for task 'no-queue' missing on locked version '1.0.0'.",
              ),
            );
          });

          it("no override → the task's queue, its id, TTL and kind", async () => {
            const v1 = await setUp();
            await twice(async () => {
              const resolved = await resolver.resolve({ environment: prodEnv(), taskSlug: "nightly", lockToVersion: "1.0.0" });
              const queue = await prisma().taskQueue.findUniqueOrThrow({
                where: { environmentId_name: { environmentId: project.prod.id, name: "cron" } },
              });
              expect(resolved).toMatchObject({ queueName: "cron", lockedQueueId: queue.id, lockedWorkerId: v1.workerId, taskKind: "SCHEDULED", ttl: null });
            });
          });
        });
      }
    });

    describe("not locked never fails", () => {
      it("no current worker → task/<slug>", async () => {
        await register(project.prod.id, "1.0.0", TASKS, false);
        const resolved = await resolver.resolve({ environment: prodEnv(), taskSlug: "send-email" });
        expect(resolved).toMatchObject({ queueName: "task/send-email", taskFound: false, taskKind: "STANDARD", ttl: null, source: "database" });
        await runBackfills();
        expect(await resolver.resolve({ environment: prodEnv(), taskSlug: "send-email" })).toMatchObject({ queueName: "task/send-email", source: "cache" });
      });

      it("task absent from the current worker → task/<slug>, cached as a negative entry until the next replace", async () => {
        await register(project.prod.id, "1.0.0");
        expect(await resolver.resolve({ environment: prodEnv(), taskSlug: "brand-new" })).toMatchObject({ queueName: "task/brand-new", taskFound: false, source: "database" });
        await runBackfills();
        expect(await resolver.resolve({ environment: prodEnv(), taskSlug: "brand-new" })).toMatchObject({ taskFound: false, source: "cache" });
        expect(events.count("negative_hit", "current")).toBe(1);

        await register(project.prod.id, "2.0.0", [...TASKS, { slug: "brand-new", queue: { name: "fresh" } }]);
        expect(await resolver.resolve({ environment: prodEnv(), taskSlug: "brand-new" })).toMatchObject({ queueName: "fresh", taskFound: true, source: "cache" });
      });

      it("task without a queue → task/<slug>; with an override → the override and the task's TTL", async () => {
        await register(project.prod.id, "1.0.0");
        expect(await resolver.resolve({ environment: prodEnv(), taskSlug: "no-queue" })).toMatchObject({ queueName: "task/no-queue", taskFound: true });
        expect(await resolver.resolve({ environment: prodEnv(), taskSlug: "send-email", queue: "bulk" })).toMatchObject({ queueName: "bulk", ttl: "1h" });
      });

      it("an override that sanitises to nothing falls back to task/<slug>", async () => {
        await register(project.prod.id, "1.0.0");
        expect(await resolver.resolve({ environment: prodEnv(), taskSlug: "send-email", queue: "***" })).toMatchObject({ queueName: "task/send-email" });
      });

      it("DEVELOPMENT: the latest registered worker is current and TTLs default to 10m", async () => {
        await register(project.dev.id, "dev-1", [{ slug: "send-email", queue: { name: "dev-emails" } }]);
        await register(project.dev.id, "dev-2", [{ slug: "send-email", queue: { name: "dev-emails-2" } }]);
        expect(await resolver.resolve({ environment: devEnv(), taskSlug: "send-email" })).toMatchObject({
          queueName: "dev-emails-2",
          ttl: "10m",
          ttlSeconds: 600,
          source: "cache",
        });
        expect(await resolver.resolve({ environment: devEnv(), taskSlug: "send-email", lockToVersion: "dev-1" })).toMatchObject({
          queueName: "dev-emails",
          ttl: "10m",
          source: "cache",
        });
      });
    });

    describe("input errors", () => {
      it("a malformed ttl is a 400 naming options.ttl, before any lookup", async () => {
        const before = dbQueryCount();
        const error = await resolver.resolve({ environment: prodEnv(), taskSlug: "x", ttl: "soon", lockToVersion: "nope" }).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(BadRequestError);
        expect((error as BadRequestError).message).toContain("options.ttl");
        expect(dbQueryCount()).toBe(before);
      });

      it("ttl is clamped to the configured maximum", async () => {
        const clamped = new QueueResolver({ cache, events, maxTtlSeconds: 3_600, scheduleBackfill: (w) => backfills.push(w) });
        await register(project.prod.id, "1.0.0");
        expect(await clamped.resolve({ environment: prodEnv(), taskSlug: "send-email", ttl: "2d" })).toMatchObject({ ttl: "1h", ttlSeconds: 3_600 });
      });
    });

    describe("fail-open", () => {
      it("Redis unreachable (closed port): every configuration answers from Postgres within a bounded time, and the breaker opens", async () => {
        await register(project.prod.id, "1.0.0");
        const port = await closedPort();
        const dead = new Redis({ host: "127.0.0.1", port, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
        dead.on("error", () => {});
        const breaker = new CircuitBreaker({ failureThreshold: 3, cooldownMs: 60_000 });
        const deadCache = new RedisTaskMetadataStore({ client: dead, prefix, currentTtlSeconds: 60, workerTtlSeconds: 60, commandTimeoutMs: 200, breaker, events });
        const failOpen = new QueueResolver({ cache: deadCache, events });
        const inputs: ResolveInput[] = [
          { environment: prodEnv(), taskSlug: "send-email" },
          { environment: prodEnv(), taskSlug: "send-email", queue: "bulk", ttl: "5m" },
          { environment: prodEnv(), taskSlug: "send-email", lockToVersion: "1.0.0" },
          { environment: prodEnv(), taskSlug: "send-email", lockToVersion: "1.0.0", queue: "emails" },
        ];
        for (let round = 0; round < 3; round++) {
          for (const input of inputs) {
            const started = performance.now();
            const resolved = await failOpen.resolve(input);
            expect(performance.now() - started).toBeLessThan(1_000);
            expect(resolved.source).toBe("database");
            expect(resolved.queueName).toBe(input.queue ?? "emails");
          }
        }
        expect(breaker.state).toBe("open");
        expect(events.count("breaker_open")).toBe(1);
        dead.disconnect();
      });
    });
  }

  describe("cache correctness under races and damage", () => {
    it("owner check: a back-fill that read the old worker, run after a promotion, leaves the current hash untouched", async () => {
      const v1 = await register(project.prod.id, "1.0.0");
      const keys = environmentKeys(prefix, project.prod.id);
      await admin.hdel(keys.current, "send-email");

      // 1. The resolver misses and reads 1.0.0 from Postgres; its back-fill is held.
      const resolved = await resolver.resolve({ environment: prodEnv(), taskSlug: "send-email" });
      expect(resolved).toMatchObject({ queueName: "emails", source: "database" });
      expect(backfills).toHaveLength(1);
      // 2. A promotion lands in between.
      const v2 = await register(project.prod.id, "2.0.0", [{ slug: "send-email", queue: { name: "emails-v2" } }]);
      expect(await admin.get(keys.owner)).toBe(v2.workerId);
      // 3. The stale back-fill runs now and must not write.
      expect(await runBackfills()).toEqual([false]);
      expect(decodeTaskEntry((await admin.hget(keys.current, "send-email"))!)).toMatchObject({ ok: true, value: { queueName: "emails-v2" } });
      expect(await resolver.resolve({ environment: prodEnv(), taskSlug: "send-email" })).toMatchObject({ queueName: "emails-v2", source: "cache" });
      expect(v1.workerId).not.toBe(v2.workerId);
    });

    it("zero-task promotion clears the hashes; later reads are cached as negatives", async () => {
      await register(project.prod.id, "1.0.0");
      const empty = await register(project.prod.id, "2.0.0", []);
      const keys = environmentKeys(prefix, project.prod.id);
      expect(await admin.exists(keys.current)).toBe(0);
      expect(await admin.hgetall(keys.locked("2.0.0"))).toEqual({ w: empty.workerId });
      expect(await admin.get(keys.owner)).toBe(empty.workerId);
      expect(await resolver.resolve({ environment: prodEnv(), taskSlug: "send-email" })).toMatchObject({ queueName: "task/send-email", taskFound: false, source: "database" });
      await runBackfills();
      expect(await resolver.resolve({ environment: prodEnv(), taskSlug: "send-email" })).toMatchObject({ taskFound: false, source: "cache" });
    });

    it("a corrupt entry is a miss, answered by Postgres and rewritten by the back-fill", async () => {
      const background = new QueueResolver({ cache, events });
      await register(project.prod.id, "1.0.0");
      const keys = environmentKeys(prefix, project.prod.id);
      await admin.hset(keys.current, "send-email", '{"v":1,"k":"BROKEN"');
      expect(await background.resolve({ environment: prodEnv(), taskSlug: "send-email" })).toMatchObject({ queueName: "emails", source: "database" });
      expect(events.count("decode_error", "current")).toBe(1);
      const rewritten = await eventually(async () => {
        const raw = await admin.hget(keys.current, "send-email");
        return raw && decodeTaskEntry(raw).ok ? raw : null;
      });
      expect(decodeTaskEntry(rewritten)).toMatchObject({ ok: true, value: { queueName: "emails", ttl: "1h" } });
    });
  });

  describe("Postgres queries per resolve", () => {
    it("warm: 0 in all eight configurations; cold counts recorded", async () => {
      const v1 = await register(project.prod.id, "1.0.0");
      expect(v1.workerId).toBeTruthy();
      const table: { configuration: string; cold: number; warm: number; warmAfterBackfill: number }[] = [];
      for (const locked of [false, true]) {
        for (const override of [false, true]) {
          for (const ttl of [false, true]) {
            const input: ResolveInput = {
              environment: prodEnv(),
              taskSlug: "send-email",
              ...(locked ? { lockToVersion: "1.0.0" } : {}),
              ...(override ? { queue: "emails" } : {}),
              ...(ttl ? { ttl: "5m" } : {}),
            };
            // Warm straight after the promotion wrote the cache.
            await workers.promoteVersion({ environmentId: project.prod.id, version: "1.0.0" });
            let before = dbQueryCount();
            expect((await resolver.resolve(input)).source).toBe("cache");
            const warm = dbQueryCount() - before;

            await clearEnvironmentKeys(project.prod.id);
            before = dbQueryCount();
            expect((await resolver.resolve(input)).source).toBe("database");
            const cold = dbQueryCount() - before;

            await runBackfills();
            before = dbQueryCount();
            const again = await resolver.resolve(input);
            const warmAfterBackfill = dbQueryCount() - before;
            expect(again.source).toBe("cache");
            expect(again.queueName).toBe("emails");
            expect(again.ttl).toBe(ttl ? "5m" : "1h");
            expect(again.lockedWorkerId).toBe(locked ? v1.workerId : null);

            table.push({
              configuration: `${locked ? "locked" : "unlocked"} · ${override ? "override" : "no override"} · ${ttl ? "ttl" : "no ttl"}`,
              cold,
              warm,
              warmAfterBackfill,
            });
          }
        }
      }
      console.log(`Postgres queries per resolve\n${table.map((r) => `${r.configuration.padEnd(36)} cold ${r.cold}  warm ${r.warm}  warm-after-backfill ${r.warmAfterBackfill}`).join("\n")}`);
      for (const row of table) {
        expect(row.warm, row.configuration).toBe(0);
        expect(row.warmAfterBackfill, row.configuration).toBe(0);
      }
      // Cold: one statement in every configuration (current worker + task; or version + task + queue association).
      expect(table.map((r) => r.cold)).toEqual([1, 1, 1, 1, 1, 1, 1, 1]);
    });
  });

  describe("Postgres queries per resolve in DEVELOPMENT (latest worker is current)", () => {
    it("cold 1, warm 0", async () => {
      await register(project.dev.id, "dev-1", [{ slug: "send-email", queue: { name: "dev-emails" } }]);
      await clearEnvironmentKeys(project.dev.id);
      let before = dbQueryCount();
      expect(await resolver.resolve({ environment: devEnv(), taskSlug: "send-email" })).toMatchObject({ queueName: "dev-emails", source: "database" });
      expect(dbQueryCount() - before).toBe(1);
      await runBackfills();
      before = dbQueryCount();
      expect(await resolver.resolve({ environment: devEnv(), taskSlug: "send-email" })).toMatchObject({ queueName: "dev-emails", source: "cache" });
      expect(dbQueryCount() - before).toBe(0);
    });
  });
}
