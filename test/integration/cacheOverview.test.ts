import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { environmentKeys } from "~/domain/cacheKeys";
import { getCacheOverview } from "~/presenters/cacheOverview.server";
import { keyPrefix, redis } from "~/redis.server";
import { MetricsRecorder } from "~/services/metrics.server";
import { disconnectTaskMetadataCacheAdmin, type ResolvedTask, TaskMetadataCacheAdmin } from "~/services/taskMetadata/index.server";
import { RedisTaskMetadataStore } from "~/services/taskMetadata/redisStore.server";
import { QueueResolver } from "~/services/taskMetadata/resolver.server";
import { freePort } from "../support/appServer";
import { createTestProject, registerAndPromote, type TestProject, type TestWorker } from "../support/fixtures";

/**
 * The overview's read model over real Redis and Postgres: two app "instances" (each its own cache
 * client, resolver and metrics recorder) resolve tasks and flush; the presenter must show their
 * sum, per environment, next to what Redis holds for each environment right now.
 */

let project: TestProject;
let prodWorker: TestWorker;
let devWorker: TestWorker;

/** One app instance: its own cache object and metrics recorder over this file's Redis prefix. */
function appInstance() {
  const metrics = new MetricsRecorder({ flushIntervalMs: 60_000 });
  const cache = new RedisTaskMetadataStore({
    client: redis(),
    prefix: keyPrefix(),
    currentTtlSeconds: 86_400,
    workerTtlSeconds: 86_400,
    commandTimeoutMs: 1_000,
    events: metrics,
  });
  const backfills: Promise<unknown>[] = [];
  const resolver = new QueueResolver({ cache, events: metrics, scheduleBackfill: (work) => backfills.push(work()) });
  return {
    metrics,
    async resolve(environment: { id: string; type: "DEVELOPMENT" | "PRODUCTION" }, taskSlug: string): Promise<ResolvedTask> {
      const result = await resolver.resolve({ environment, taskSlug });
      await Promise.all(backfills.splice(0));
      return result;
    },
  };
}

beforeAll(async () => {
  project = await createTestProject();
  prodWorker = await registerAndPromote({ environmentId: project.prod.id, tasks: 3 });
  devWorker = await registerAndPromote({ environmentId: project.dev.id, tasks: 2 });
});

afterAll(async () => {
  await disconnectTaskMetadataCacheAdmin();
});

describe("cache overview", () => {
  it("adds up what two app instances flushed, overall and per environment, lowest hit rate first", async () => {
    const a = appInstance();
    const b = appInstance();
    const results: { environmentId: string; result: ResolvedTask }[] = [];
    const prod = { id: project.prod.id, type: "PRODUCTION" as const };
    const dev = { id: project.dev.id, type: "DEVELOPMENT" as const };
    for (const slug of ["task-0", "task-1", "task-2", "task-0"]) {
      results.push({ environmentId: prod.id, result: await a.resolve(prod, slug) });
    }
    // The dev current hash is gone (as after an invalidation): misses, back-fills, then hits.
    await redis().del(environmentKeys(keyPrefix(), dev.id).current);
    for (const slug of ["task-0", "task-1", "task-0", "task-1", "task-0"]) {
      results.push({ environmentId: dev.id, result: await b.resolve(dev, slug) });
    }
    await Promise.all([a.metrics.flush(), b.metrics.flush()]);

    const count = (environmentId: string | null, source: "cache" | "database") =>
      results.filter((r) => (environmentId === null || r.environmentId === environmentId) && r.result.source === source).length;
    expect(count(dev.id, "database")).toBeGreaterThan(0);
    expect(count(dev.id, "cache")).toBeGreaterThan(0);

    // Read as at the last millisecond of this minute, so the running minute is (almost) whole.
    const overview = await getCacheOverview("5m", { now: (Math.floor(Date.now() / 60_000) + 1) * 60_000 - 1 });
    expect(overview.problems).toEqual([]);
    expect(overview.summary).toMatchObject({
      lookups: results.length,
      hits: count(null, "cache"),
      misses: count(null, "database"),
      hitRate: count(null, "cache") / results.length,
    });
    expect(overview.summary!.backfills).toBeGreaterThan(0);
    expect(overview.summary!.opsPerSecond).toBeGreaterThan(0);
    const current = overview.keyspaces.find((k) => k.keyspace === "current")!;
    expect(current.misses).toBeGreaterThan(0);
    expect(current.hits).toBeGreaterThan(0);
    const charted = overview.series.reduce((sum, p) => sum + p.hitsPerMinute + p.missesPerMinute, 0);
    expect(charted).toBeCloseTo(results.length, 2);
    expect(overview.series.some((p) => p.cacheP50Ms !== null)).toBe(true);
    expect(overview.series.some((p) => p.databaseP99Ms !== null)).toBe(true);

    const [first, second] = overview.environments;
    expect(first).toMatchObject({
      id: dev.id,
      slug: "dev",
      projectSlug: project.projectSlug,
      lookups: 5,
      hitRate: count(dev.id, "cache") / 5,
    });
    expect(first.current).toMatchObject({ present: true, ownerWorkerId: devWorker.workerId, ownerVersion: devWorker.version });
    expect(second).toMatchObject({ id: prod.id, lookups: 4, hitRate: 1 });
    expect(second.current).toMatchObject({
      present: true,
      fieldCount: 3,
      ownerWorkerId: prodWorker.workerId,
      ownerVersion: prodWorker.version,
    });
    expect(second.current!.ttl.state).toBe("expiring");
    expect(overview.environmentCount).toBe(2);
    expect(overview.redisServer!.usedMemoryBytes).toBeGreaterThan(0);
    expect(overview.redisServer!.connectedClients).toBeGreaterThan(0);
  });

  it("is empty, with no hit rate rather than 0 %, for a window without traffic", async () => {
    const overview = await getCacheOverview("24h", { prefix: `${keyPrefix()}quiet:` });
    expect(overview.summary).toMatchObject({ lookups: 0, hits: 0, misses: 0, hitRate: null, opsPerSecond: 0 });
    expect(overview.series).toHaveLength(96);
    expect(overview.series.every((p) => p.hitRate === null)).toBe(true);
    expect(overview.environments.every((e) => e.hitRate === null && e.lookups === 0)).toBe(true);
  });

  it("still lists the environments from Postgres, with a notice, when Redis is down", async () => {
    const dead = new Redis({ port: await freePort(), lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    dead.on("error", () => {});
    try {
      const started = Date.now();
      const overview = await getCacheOverview("1h", {
        metricsRedis: dead,
        admin: new TaskMetadataCacheAdmin({ client: dead, prefix: keyPrefix() }),
        timeoutMs: 1_000,
      });
      expect(Date.now() - started).toBeLessThan(3_000);
      expect(overview.summary).toBeNull();
      expect(overview.redisServer).toBeNull();
      // Metrics twice: the counts and the per-environment hit rates.
      expect(overview.problems.map((p) => p.part).sort()).toEqual(["cache", "metrics", "metrics"]);
      expect(overview.problems[0].message).toMatch(/Redis/);
      expect(overview.environments.map((e) => e.slug).sort()).toEqual(["dev", "prod"]);
      expect(overview.environments.every((e) => e.current === null)).toBe(true);
    } finally {
      dead.disconnect();
    }
  });
});
