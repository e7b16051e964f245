import { Redis } from "ioredis";
import { afterAll, afterEach, describe, expect, it, vi } from "vitest";
import { BUCKET_TTL_SECONDS, LATENCY_BUCKETS_MS, metricsBucketKey, minuteOf, parseBucketFields } from "~/domain/metricsMath";
import { resetEnvForTests } from "~/env.server";
import { keyPrefix, redis, type RedisClient } from "~/redis.server";
import { rollupShard } from "~/domain/hitRateRollup";
import { environmentLookups } from "~/services/hitRateRollup.server";
import { logger } from "~/services/logger.server";
import { MetricsRecorder, metricsAccess, metricsRecorder } from "~/services/metrics.server";
import { freePort } from "../support/appServer";

/**
 * The metrics sink against this file's Redis prefix: counts stay in memory until a flush writes
 * them, in one pipeline, to the minute's bucket; failed flushes lose nothing; GET /metrics is
 * gated by METRICS_TOKEN and carries no environment ids.
 */

const FIXED_NOW = Date.UTC(2026, 0, 15, 10, 30, 20);
const bucketKey = () => metricsBucketKey(keyPrefix(), minuteOf(FIXED_NOW));

/** The real client, with every use counted: pipelines created, and any command sent outside one. */
function countingClient(client: RedisClient) {
  const counts = { pipelines: 0, directCommands: 0 };
  const proxy = new Proxy(client, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        if (property === "pipeline") counts.pipelines += 1;
        else counts.directCommands += 1;
        return value.apply(target, args);
      };
    },
  });
  return { client: proxy as RedisClient, counts };
}

const recorders: MetricsRecorder[] = [];
function recorder(options: ConstructorParameters<typeof MetricsRecorder>[0] = {}) {
  const r = new MetricsRecorder({ now: () => FIXED_NOW, flushIntervalMs: 60_000, ...options });
  recorders.push(r);
  return r;
}

afterEach(async () => {
  await Promise.all(recorders.splice(0).map((r) => r.stop()));
  await redis().del(bucketKey());
  // The roll-ups too, so that each test counts its own environments' lookups.
  const rollups = await redis().keys(`${keyPrefix()}metrics:{me:*`);
  if (rollups.length) await redis().del(...rollups);
  vi.restoreAllMocks();
});

describe("the metrics sink", () => {
  it("counts in memory only: recording thousands of events sends nothing to Redis", async () => {
    const { client, counts } = countingClient(redis());
    const sink = recorder({ redis: () => client });
    for (let i = 0; i < 5_000; i++) {
      sink.record("hit", "current");
      sink.observeResolve("cache", 0.2, "env_a");
    }
    expect(counts).toEqual({ pipelines: 0, directCommands: 0 });
    expect(await redis().exists(bucketKey())).toBe(0);
  });

  it("writes the deltas to the minute's bucket in one pipeline per flush, expiring after 48 h, and each environment's lookups to its roll-up shard", async () => {
    const { client, counts } = countingClient(redis());
    const sink = recorder({ redis: () => client });
    sink.record("hit", "current", 3);
    sink.record("miss", "current");
    sink.record("backfill", "current");
    sink.record("redis_error", "version", 2);
    sink.observeResolve("cache", 0.04, "env_a");
    sink.observeResolve("cache", 0.3, "env_a");
    sink.observeResolve("database", 4, "env_b");
    await sink.flush();
    // One pipeline for the instance-wide counts; one script call per roll-up shard with lookups
    // (env_a and env_b fall in two shards), after the script's one-time definition on the client.
    expect(counts).toEqual({ pipelines: 1, directCommands: 1 + new Set(["env_a", "env_b"].map(rollupShard)).size });

    const stored = parseBucketFields(await redis().hgetall(bucketKey()));
    expect(stored.events.hit.current).toBe(3);
    expect(stored.events.miss.current).toBe(1);
    expect(stored.events.backfill.current).toBe(1);
    expect(stored.events.redis_error.version).toBe(2);
    expect(stored.resolves.cache[0]).toBe(1);
    expect(stored.resolves.cache[LATENCY_BUCKETS_MS.indexOf(0.5)]).toBe(1);
    expect(stored.resolves.database[LATENCY_BUCKETS_MS.indexOf(5)]).toBe(1);
    expect(stored.environments).toEqual({});
    expect(await environmentLookups(redis(), keyPrefix(), "5m", "env_a")).toEqual({ cache: 2, database: 0 });
    expect(await environmentLookups(redis(), keyPrefix(), "24h", "env_b")).toEqual({ cache: 0, database: 1 });
    // Only non-zero fields are written: 4 events + 3 latency buckets.
    expect(await redis().hlen(bucketKey())).toBe(7);
    const ttl = await redis().ttl(bucketKey());
    expect(ttl).toBeGreaterThan(BUCKET_TTL_SECONDS - 10);
    expect(ttl).toBeLessThanOrEqual(BUCKET_TTL_SECONDS);

    // A flush with nothing new costs no round trip; the next counts add to the same bucket.
    await sink.flush();
    expect(counts.pipelines).toBe(1);
    expect(counts.directCommands).toBe(3);
    sink.record("hit", "current", 2);
    await sink.flush();
    expect(counts.pipelines).toBe(2);
    expect(await redis().hget(bucketKey(), "e:hit:current")).toBe("5");
  });

  it("flushes on its own timer, started by the first event", async () => {
    const sink = recorder({ flushIntervalMs: 100 });
    sink.record("hit", "l1", 7);
    const deadline = Date.now() + 5_000;
    while ((await redis().hget(bucketKey(), "e:hit:l1")) !== "7") {
      if (Date.now() > deadline) throw new Error("the timer did not flush within 5 s");
      await new Promise((r) => setTimeout(r, 25));
    }
  });

  it("keeps the counts of a failed flush for the next one and logs the failure once", async () => {
    const deadPort = await freePort();
    const dead = new Redis({ port: deadPort, lazyConnect: true, maxRetriesPerRequest: 0, enableOfflineQueue: false, retryStrategy: () => null });
    dead.on("error", () => {});
    let target: RedisClient = dead;
    const errors = vi.spyOn(logger, "error").mockImplementation(() => {});
    const sink = recorder({ redis: () => target });
    try {
      sink.record("hit", "current", 4);
      sink.observeResolve("database", 3, "env_a");
      await sink.flush();
      sink.record("hit", "current", 1);
      await sink.flush();
      expect(await redis().exists(bucketKey())).toBe(0);
      expect(errors).toHaveBeenCalledTimes(1);
      expect(errors.mock.calls[0][0]).toMatch(/metrics flush to Redis failed/);
      expect(errors.mock.calls[0][1]).toMatchObject({ key: bucketKey() });

      target = redis();
      await sink.flush();
      const stored = parseBucketFields(await redis().hgetall(bucketKey()));
      expect(stored.events.hit.current).toBe(5);
      expect(await environmentLookups(redis(), keyPrefix(), "1h", "env_a")).toEqual({ cache: 0, database: 1 });
      expect(stored.resolves.database.reduce((a, b) => a + b, 0)).toBe(1);
    } finally {
      dead.disconnect();
    }
  });

  it("re-queues the fields Redis refused inside a pipeline, without counting the others twice", async () => {
    vi.spyOn(logger, "error").mockImplementation(() => {});
    await redis().set(bucketKey(), "not a hash");
    const sink = recorder();
    sink.record("miss", "worker", 2);
    await sink.flush();
    expect(await redis().get(bucketKey())).toBe("not a hash");
    await redis().del(bucketKey());
    await sink.flush();
    expect(await redis().hgetall(bucketKey())).toEqual({ "e:miss:worker": "2" });
  });

  it("ignores negative and non-finite increments, so metrics never fail a trigger nor go backwards", async () => {
    const sink = recorder();
    expect(() => {
      sink.record("hit", "current", -1);
      sink.record("hit", "current", Number.NaN);
      sink.observeResolve("cache", Number.NaN);
      sink.observeResolve("cache", -5);
    }).not.toThrow();
    const { body } = await sink.render();
    expect(body).toContain('hotpath_task_meta_cache_events_total{event="hit",keyspace="current"} 0');
    expect(body).toContain('hotpath_resolve_duration_seconds_count{source="cache"} 0');
    await sink.flush();
    expect(await redis().exists(bucketKey())).toBe(0);
  });
});

describe("Prometheus exposition", () => {
  it("has the event counter per (event, keyspace), the resolve histogram per source, and no environment ids", async () => {
    const sink = recorder();
    sink.record("hit", "current", 3);
    sink.record("decode_error", "worker");
    sink.observeResolve("cache", 0.2, "cm_env_secret_id");
    sink.observeResolve("database", 12, "cm_env_secret_id");
    const { body, contentType } = await sink.render();
    expect(contentType).toMatch(/^text\/plain/);
    expect(body).toContain('hotpath_task_meta_cache_events_total{event="hit",keyspace="current"} 3');
    expect(body).toContain('hotpath_task_meta_cache_events_total{event="decode_error",keyspace="worker"} 1');
    // Series that have not happened yet exist at 0, so rate() works from the first scrape.
    expect(body).toContain('hotpath_task_meta_cache_events_total{event="breaker_open",keyspace="l1"} 0');
    expect(body).toContain('hotpath_resolve_duration_seconds_bucket{le="0.00025",source="cache"} 1');
    expect(body).toContain('hotpath_resolve_duration_seconds_count{source="database"} 1');
    expect(body).toContain('hotpath_resolve_duration_seconds_bucket{le="0.01",source="database"} 0');
    expect(body).toContain('hotpath_resolve_duration_seconds_bucket{le="0.025",source="database"} 1');
    expect(body).toContain('hotpath_resolve_duration_seconds_bucket{le="+Inf",source="database"} 1');
    expect(body).toContain('hotpath_resolve_duration_seconds_sum{source="database"} 0.012');
    expect(body).toContain("# TYPE hotpath_resolve_duration_seconds histogram");
    expect(body).not.toContain("cm_env_secret_id");
  });
});

describe("GET /metrics", () => {
  const TOKEN = "metrics-token-for-tests";
  const originalToken = process.env.METRICS_TOKEN;

  async function get(token: string | undefined, authorization?: string) {
    if (token === undefined) delete process.env.METRICS_TOKEN;
    else process.env.METRICS_TOKEN = token;
    resetEnvForTests();
    const { loader } = await import("~/routes/metrics");
    const headers = authorization ? { authorization } : undefined;
    const request = new Request("http://localhost/metrics", { headers });
    return loader({ request, params: {}, context: {} });
  }

  afterAll(() => {
    if (originalToken === undefined) delete process.env.METRICS_TOKEN;
    else process.env.METRICS_TOKEN = originalToken;
    resetEnvForTests();
  });

  it("is 404 with a message naming METRICS_TOKEN when no token is configured", async () => {
    const response = await get(undefined, `Bearer ${TOKEN}`);
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: expect.stringMatching(/METRICS_TOKEN/) });
  });

  it("is 401 JSON without a bearer token or with a wrong one", async () => {
    for (const authorization of [undefined, "Basic abc", `Bearer ${TOKEN}x`, "Bearer short", "Bearer "]) {
      const response = await get(TOKEN, authorization);
      expect(response.status, String(authorization)).toBe(401);
      expect(response.headers.get("www-authenticate")).toMatch(/^Bearer/);
      expect(await response.json()).toEqual({ error: expect.stringMatching(/Authorization: Bearer/) });
    }
  });

  it("is 200 Prometheus text with this process's counters and default process metrics", async () => {
    metricsRecorder().record("negative_hit", "current", 2);
    metricsRecorder().observeResolve("cache", 0.1, "cm_env_never_a_label");
    const response = await get(TOKEN, `Bearer ${TOKEN}`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const body = await response.text();
    expect(body).toContain('hotpath_task_meta_cache_events_total{event="negative_hit",keyspace="current"} 2');
    expect(body).toContain('hotpath_resolve_duration_seconds_count{source="cache"} 1');
    expect(body).toContain("process_cpu_seconds_total");
    expect(body).not.toContain("cm_env_never_a_label");
    await metricsRecorder().stop();
  });

  it("accepts exactly the configured token, whatever the case of the scheme", () => {
    expect(metricsAccess(`Bearer ${TOKEN}`, TOKEN)).toBe("allowed");
    expect(metricsAccess(`bearer   ${TOKEN}`, TOKEN)).toBe("allowed");
    expect(metricsAccess(`Bearer ${TOKEN.slice(0, -1)}`, TOKEN)).toBe("unauthorized");
    expect(metricsAccess(null, TOKEN)).toBe("unauthorized");
    expect(metricsAccess(`Bearer ${TOKEN}`, undefined)).toBe("disabled");
  });
});
