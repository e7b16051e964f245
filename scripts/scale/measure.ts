import type { Redis } from "ioredis";
import { prisma } from "~/db.server";
import { environmentKeys } from "~/domain/cacheKeys";
import { METRICS_WINDOWS, type MetricsWindow } from "~/domain/metricsMath";
import { decodeTaskEntry } from "~/domain/taskMetadataEntry";
import { getCacheOverview } from "~/presenters/cacheOverview.server";
import { environmentCachePage } from "~/presenters/environmentCache.server";
import { environmentsPage } from "~/presenters/environments.server";
import { MetricsRecorder } from "~/services/metrics.server";
import { loadWorkerSnapshot, reconcileCurrentHashes, resolveTask, taskMetadataCache, taskMetadataCacheAdmin } from "~/services/taskMetadata/index.server";
import { promoteVersion, registerWorker } from "~/services/workers.server";
import { log } from "../bench/environment";
import { buildFleet, environmentId, FLEET_QUEUE, taskCountOf } from "./fleet";

/** One fleet size's measurements (bench:scale). */

const TAG = "fleet";
const SIZES = ["20", "1000", "10000"] as const;
type Size = (typeof SIZES)[number];

export interface ScaleResult {
  environments: number;
  buildSeconds: number;
  redis: { bytesPerTaskEntry: number; bytesPerEnvironment: number; memoryUsage: Record<Size, number | null>; sampled: number; fleetBytesEstimate: number; usedMemoryBytes: number };
  sweep: { ms: number; statements: number; redisCommands: number; checked: number };
  metrics: { activeEnvironments: number; scriptCallsPerFlush: number; fieldsWrittenPerFlush: number; fieldsWrittenPerMinute: number; keys: number; flushMs: number };
  pages: { overviewMs: Record<MetricsWindow, number>; environmentsMs: number; environmentsDeepMs: number; environmentCacheMs: number; environmentCacheLargeMs: number };
  /** partialReads: both tasks read from two versions at once; absentReads: a field not (yet) in the hash. */
  promotions: Record<Size, { count: number; p50: number; p99: number }> & { partialReads: number; absentReads: number; reads: number; resolves: number };
}

export interface MeasureOptions {
  environments: number;
  prefix: string;
  /** A connection to the bench's own redis-server. */
  redis: Redis;
  promotionsPerSecond: number;
  statements: () => number;
}

const sizeOf = (tasks: number): Size => (tasks >= 10_000 ? "10000" : tasks >= 1_000 ? "1000" : "20");

async function commandCount(redis: Redis): Promise<Map<string, number>> {
  const text = await redis.info("commandstats");
  return new Map([...text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)].filter((m) => m[1] !== "info").map((m) => [m[1], Number(m[2])]));
}

async function commandsDuring(redis: Redis, work: () => Promise<unknown>): Promise<Record<string, number>> {
  const before = await commandCount(redis);
  await work();
  const after = await commandCount(redis);
  return Object.fromEntries([...after].map(([name, n]) => [name, n - (before.get(name) ?? 0)]).filter(([, n]) => Number(n) > 0));
}

async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await work();
  return { ms: performance.now() - started, value };
}

/** Median of `reps` timings of `work`. */
async function medianMs(work: () => Promise<unknown>, reps = 3): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < reps; i++) times.push((await timed(work)).ms);
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
}

function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

const usedMemory = async (redis: Redis) => Number(/used_memory:(\d+)/.exec(await redis.info("memory"))![1]);

/** Current (and locked) hashes written through the store for a sample of 20-task environments and for the large ones. */
async function redisMemory(options: MeasureOptions) {
  const n = options.environments;
  const sample = Array.from({ length: Math.min(n, 2_000) }, (_, i) => i + 2).filter((i) => i <= n && taskCountOf(i) === 20);
  const fill = async (numbers: number[]) => {
    for (let i = 0; i < numbers.length; i += 20) {
      await Promise.all(
        numbers.slice(i, i + 20).map(async (k) => {
          const snapshot = await loadWorkerSnapshot(prisma(), `${environmentId(TAG, k)}-w1`);
          if (snapshot) await taskMetadataCache().replaceCurrent(environmentId(TAG, k), snapshot);
        }),
      );
    }
  };
  const before = await usedMemory(options.redis);
  await fill(sample);
  const after = await usedMemory(options.redis);
  const large = [1, 500].filter((k) => k <= n);
  await fill(large);
  const usage = async (k: number) => {
    const keys = environmentKeys(options.prefix, environmentId(TAG, k));
    const [current, locked] = await Promise.all([options.redis.memory("USAGE", keys.current), options.redis.memory("USAGE", keys.locked("fleet.1"))]);
    return Number(current ?? 0) + Number(locked ?? 0);
  };
  const memoryUsage: Record<Size, number | null> = { "20": await usage(2), "1000": n >= 500 ? await usage(500) : null, "10000": await usage(1) };
  const bytesPerEnvironment = (after - before) / sample.length;
  const counts: Record<Size, number> = { "20": 0, "1000": 0, "10000": 0 };
  for (let k = 1; k <= n; k++) counts[sizeOf(taskCountOf(k))] += 1;
  const fleetBytesEstimate = counts["20"] * bytesPerEnvironment + counts["1000"] * (memoryUsage["1000"] ?? 0) + counts["10000"] * (memoryUsage["10000"] ?? 0);
  // Marginal bytes of one more task: both hashes carry it (current and locked).
  const bytesPerTaskEntry = memoryUsage["1000"] !== null ? (memoryUsage["1000"] - memoryUsage["20"]!) / 980 : memoryUsage["20"]! / 20;
  return { bytesPerTaskEntry, bytesPerEnvironment, memoryUsage, sampled: sample.length, fleetBytesEstimate, usedMemoryBytes: await usedMemory(options.redis) };
}

async function sweepCost(options: MeasureOptions) {
  await reconcileCurrentHashes({ intervalMs: 60_000 }); // the first pass writes the sweep's state
  const statementsBefore = options.statements();
  let report!: Awaited<ReturnType<typeof reconcileCurrentHashes>>;
  let ms = 0;
  const commands = await commandsDuring(options.redis, async () => {
    const t = await timed(() => reconcileCurrentHashes({ intervalMs: 60_000 }));
    report = t.value;
    ms = t.ms;
  });
  return { ms, statements: options.statements() - statementsBefore, redisCommands: Object.values(commands).reduce((a, b) => a + b, 0), checked: report.checked };
}

/** One flush with every environment active (worst case), then the overview's read per window. */
async function metricsCost(options: MeasureOptions) {
  const n = options.environments;
  const recorder = new MetricsRecorder({ redis: () => options.redis, prefix: () => options.prefix, flushIntervalMs: 3_600_000 });
  for (let k = 1; k <= n; k++) {
    const id = environmentId(TAG, k);
    for (let i = 0; i < 10; i++) recorder.observeResolve("cache", 0.3, id);
    for (let i = 0; i < k % 7; i++) recorder.observeResolve("database", 3, id);
  }
  let flushMs = 0;
  const commands = await commandsDuring(options.redis, async () => {
    flushMs = (await timed(() => recorder.stop())).ms;
  });
  const written = (commands.hincrby ?? 0) + (commands.zadd ?? 0) + (commands.hset ?? 0);
  let keys = 0;
  let cursor = "0";
  do {
    const [next, found] = await options.redis.scan(cursor, "MATCH", `${options.prefix}metrics:*`, "COUNT", 1000);
    keys += found.length;
    cursor = next;
  } while (cursor !== "0");
  const flushesPerMinute = 60_000 / 5_000;
  return {
    activeEnvironments: n,
    scriptCallsPerFlush: commands.evalsha ?? 0,
    fieldsWrittenPerFlush: written,
    fieldsWrittenPerMinute: written * flushesPerMinute,
    keys,
    flushMs,
  };
}

async function pageTimes(options: MeasureOptions) {
  const overviewMs = {} as Record<MetricsWindow, number>;
  for (const window of Object.keys(METRICS_WINDOWS) as MetricsWindow[]) {
    await getCacheOverview(window, { metricsRedis: options.redis, prefix: options.prefix });
    overviewMs[window] = await medianMs(() => getCacheOverview(window, { metricsRedis: options.redis, prefix: options.prefix }));
  }
  await environmentsPage();
  const deep = environmentId(TAG, Math.max(1, options.environments - 100));
  return {
    overviewMs,
    environmentsMs: await medianMs(() => environmentsPage()),
    environmentsDeepMs: await medianMs(() => environmentsPage({ after: deep })),
    environmentCacheMs: await medianMs(() => environmentCachePage(environmentId(TAG, 2))),
    environmentCacheLargeMs: await medianMs(() => environmentCachePage(environmentId(TAG, 1))),
  };
}

export async function measureScale(options: MeasureOptions): Promise<ScaleResult> {
  const n = options.environments;
  const build = await timed(() => buildFleet((sql, ...params) => prisma().$executeRawUnsafe(sql, ...params), TAG, n));
  log(`N=${n.toLocaleString("en")}: fleet built in ${(build.ms / 1000).toFixed(1)} s`);
  const redis = await redisMemory(options);
  log(`N=${n.toLocaleString("en")}: redis memory sampled (${redis.sampled} environments)`);
  const sweep = await sweepCost(options);
  const metrics = await metricsCost(options);
  log(`N=${n.toLocaleString("en")}: sweep ${sweep.ms.toFixed(0)} ms, metrics flush ${metrics.flushMs.toFixed(0)} ms`);
  const pages = await pageTimes(options);
  const promotions = await promotionChurn(options);
  log(`N=${n.toLocaleString("en")}: promotions done`);
  return { environments: n, buildSeconds: build.ms / 1000, redis, sweep, metrics, pages, promotions };
}

/** The churned environments of each size: their second version registered through the API's path. */
async function prepareChurn(n: number): Promise<Record<Size, number[]>> {
  const chosen: Record<Size, number[]> = { "20": [2, 3, 4], "1000": [500, 1_500, 2_500].filter((k) => k <= n), "10000": [1, 50_001].filter((k) => k <= n) };
  for (const size of SIZES) {
    for (const k of chosen[size]) {
      const count = taskCountOf(k);
      await registerWorker({
        environmentId: environmentId(TAG, k),
        version: "fleet.2",
        tasks: Array.from({ length: count }, (_, i) => ({ slug: `task-${i + 1}`, queue: { name: `${FLEET_QUEUE}-2` } })),
      });
    }
  }
  return chosen;
}

/**
 * Promotions v2 ↔ v1 of each size at `promotionsPerSecond`, while 8 loops resolve tasks across the
 * sampled environments and a reader reads the first and last task of the environment being
 * promoted: both must come from the same version (never half a replace).
 */
async function promotionChurn(options: MeasureOptions): Promise<ScaleResult["promotions"]> {
  const chosen = await prepareChurn(options.environments);
  // Every churned environment starts with its whole current hash written, as after a promotion.
  for (const k of Object.values(chosen).flat()) {
    const snapshot = await loadWorkerSnapshot(prisma(), `${environmentId(TAG, k)}-w1`);
    if (snapshot) await taskMetadataCache().replaceCurrent(environmentId(TAG, k), snapshot);
  }
  let stop = false;
  let resolves = 0;
  const reads = { total: 0, partial: 0, absent: 0 };
  let watched = null as { id: string; last: number } | null;
  const resolvers = Array.from({ length: 8 }, async (_, i) => {
    for (let k = i; !stop; k += 8) {
      await resolveTask({ environment: { id: environmentId(TAG, 2 + (k % 1_500)), type: "PRODUCTION" }, taskSlug: "task-1" }).catch(() => null);
      resolves += 1;
      // An in-process hit settles without I/O: let timers and sockets run between resolves.
      await new Promise((r) => setImmediate(r));
    }
  });
  const reader = (async () => {
    while (!stop) {
      const target = watched;
      if (!target) {
        await new Promise((r) => setTimeout(r, 5));
        continue;
      }
      const raw = await options.redis.hmget(environmentKeys(options.prefix, target.id).current, "task-1", `task-${target.last}`);
      reads.total += 1;
      const queues = raw.map((r) => (r === null ? null : decodeTaskEntry(r))).map((d) => (d?.ok && d.value.found ? d.value.queueName : null));
      // Both fields present and from two versions: half a replace. One absent is a field not
      // back-filled yet (a hash that was absent fills field by field), not a partial promotion.
      if (queues[0] === null || queues[1] === null) reads.absent += 1;
      else if (queues[0] !== queues[1]) reads.partial += 1;
    }
  })();
  const result = {} as Record<Size, { count: number; p50: number; p99: number }>;
  const gapMs = 1000 / options.promotionsPerSecond;
  for (const size of SIZES) {
    const latencies: number[] = [];
    const rounds = size === "10000" ? 6 : size === "1000" ? 10 : 20;
    for (let i = 0; i < rounds && chosen[size].length; i++) {
      const k = chosen[size][i % chosen[size].length];
      watched = { id: environmentId(TAG, k), last: taskCountOf(k) };
      const started = performance.now();
      await promoteVersion({ environmentId: environmentId(TAG, k), version: Math.floor(i / chosen[size].length) % 2 === 0 ? "fleet.2" : "fleet.1" });
      const ms = performance.now() - started;
      latencies.push(ms);
      await new Promise((r) => setTimeout(r, Math.max(0, gapMs - ms)));
    }
    result[size] = { count: latencies.length, p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99) };
  }
  stop = true;
  await Promise.all([...resolvers, reader]);
  taskMetadataCacheAdmin();
  return { ...result, partialReads: reads.partial, absentReads: reads.absent, reads: reads.total, resolves };
}
