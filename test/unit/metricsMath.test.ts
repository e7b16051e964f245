import { describe, expect, it } from "vitest";
import {
  LATENCY_BUCKETS_MS,
  LATENCY_BUCKET_COUNT,
  addCounts,
  buildSeries,
  emptyCounts,
  hitRate,
  hitRateTone,
  keyspaceBreakdown,
  latencyBucketIndex,
  metricsBucketKey,
  minuteOf,
  opsPerSecond,
  parseBucketFields,
  parseWindow,
  quantileMs,
  sumCounts,
  summarise,
  toBucketFields,
  windowMinutes,
  windowSeconds,
} from "~/domain/metricsMath";

function bucketsWith(entries: [index: number, count: number][]): number[] {
  const buckets = new Array(LATENCY_BUCKET_COUNT).fill(0);
  for (const [i, n] of entries) buckets[i] = n;
  return buckets;
}

describe("hit rate", () => {
  it("is hits over hits plus misses", () => {
    expect(hitRate(95, 5)).toBe(0.95);
    expect(hitRate(1, 0)).toBe(1);
    expect(hitRate(0, 3)).toBe(0);
  });

  it("is unknown (null), not 0 % or 100 %, when there were no lookups", () => {
    expect(hitRate(0, 0)).toBeNull();
  });

  it("is coloured good from 95 %, amber from 80 %, red below, neutral without data", () => {
    expect(hitRateTone(1)).toBe("good");
    expect(hitRateTone(0.95)).toBe("good");
    expect(hitRateTone(0.9499)).toBe("warn");
    expect(hitRateTone(0.8)).toBe("warn");
    expect(hitRateTone(0.7999)).toBe("bad");
    expect(hitRateTone(0)).toBe("bad");
    expect(hitRateTone(null)).toBe("none");
  });

  it("of a window counts lookups by where they were served, not events per keyspace", () => {
    // One lookup that missed the in-process tier and hit the current hash is one cache hit.
    const counts = emptyCounts();
    counts.events.miss.l1 = 4;
    counts.events.hit.current = 3;
    counts.events.miss.current = 1;
    counts.events.backfill.current = 1;
    counts.resolves.cache[2] = 3;
    counts.resolves.database[6] = 1;
    const summary = summarise(counts, 60);
    expect(summary).toMatchObject({ lookups: 4, hits: 3, misses: 1, hitRate: 0.75, backfills: 1 });
    const current = keyspaceBreakdown(counts).find((r) => r.keyspace === "current")!;
    expect(current).toMatchObject({ hits: 3, misses: 1, hitRate: 0.75 });
    expect(keyspaceBreakdown(counts).find((r) => r.keyspace === "l1")!.hitRate).toBe(0);
  });

  it("counts negative hits as hits of their keyspace and errors as decode plus Redis errors", () => {
    const counts = emptyCounts();
    counts.events.negative_hit.current = 2;
    counts.events.miss.current = 2;
    counts.events.decode_error.current = 1;
    counts.events.redis_error.worker = 3;
    counts.events.breaker_open.current = 1;
    const summary = summarise(counts, 60);
    expect(summary).toMatchObject({ negativeHits: 2, decodeErrors: 1, redisErrors: 3, errors: 4, breakerOpens: 1 });
    expect(keyspaceBreakdown(counts).find((r) => r.keyspace === "current")!.hitRate).toBe(0.5);
  });
});

describe("ops per second", () => {
  it("divides by the seconds elapsed in the window, including the running minute", () => {
    const now = Date.UTC(2026, 0, 1, 12, 0, 30); // 30 s into a minute
    expect(windowSeconds("5m", now)).toBe(4 * 60 + 30);
    expect(windowSeconds("1h", now)).toBe(59 * 60 + 30);
    expect(opsPerSecond(540, windowSeconds("5m", now))).toBe(2);
  });

  it("never divides by zero at the first instant of a minute", () => {
    const now = Date.UTC(2026, 0, 1, 12, 0, 0);
    expect(windowSeconds("5m", now)).toBe(240);
    expect(opsPerSecond(10, 0)).toBe(0);
  });
});

describe("per-minute buckets", () => {
  it("are keyed by minute under the prefix, each minute its own hash tag (spread over Cluster slots)", () => {
    const t = Date.UTC(2026, 0, 1, 12, 34, 56);
    expect(minuteOf(t)).toBe(Math.floor(t / 60_000));
    expect(minuteOf(minuteOf(t) * 60_000)).toBe(minuteOf(t));
    expect(metricsBucketKey("tr:", 29_000_000)).toBe("tr:metrics:{m:29000000}");
  });

  it("cover exactly the window's minutes, oldest first, ending with the current one", () => {
    const now = Date.UTC(2026, 0, 1, 12, 34, 56);
    const minutes = windowMinutes("5m", now);
    expect(minutes).toHaveLength(5);
    expect(minutes[4]).toBe(minuteOf(now));
    expect(minutes[0]).toBe(minuteOf(now) - 4);
    expect(windowMinutes("24h", now)).toHaveLength(1440);
  });

  it("round-trip through HINCRBY fields, writing only non-zero counts and no environments (those go to the roll-ups)", () => {
    const counts = emptyCounts();
    counts.events.hit.current = 7;
    counts.events.redis_error.version = 2;
    counts.resolves.cache[0] = 5;
    counts.resolves.database[LATENCY_BUCKET_COUNT - 1] = 1;
    counts.environments["cm0envid01"] = { cache: 5, database: 0 };
    const fields = toBucketFields(counts);
    expect(fields).toEqual([
      ["e:hit:current", 7],
      ["e:redis_error:version", 2],
      ["r:cache:0", 5],
      [`r:database:${LATENCY_BUCKET_COUNT - 1}`, 1],
    ]);
    const hash = Object.fromEntries(fields.map(([f, n]) => [f, String(n)]));
    expect(parseBucketFields(hash)).toEqual({ ...counts, environments: {} });
    // Buckets written before the roll-ups (0076) still read back with their environments.
    expect(parseBucketFields({ ...hash, "env:cm0envid01:cache": "5" })).toEqual(counts);
  });

  it("skip fields they do not know (another version writing the same bucket) and non-numbers", () => {
    const parsed = parseBucketFields({
      "e:hit:current": "3",
      "e:teleport:current": "9",
      "e:hit:moon": "9",
      "r:cache:99": "9",
      "r:carrier-pigeon:0": "9",
      "x:whatever": "9",
      "e:miss:current": "NaN?",
    });
    const expected = emptyCounts();
    expected.events.hit.current = 3;
    expect(parsed).toEqual(expected);
  });

  it("from several instances add up field by field", () => {
    const a = emptyCounts();
    a.events.hit.current = 2;
    a.resolves.cache[1] = 2;
    a.environments.e1 = { cache: 2, database: 0 };
    const b = emptyCounts();
    b.events.hit.current = 3;
    b.resolves.database[5] = 1;
    b.environments.e1 = { cache: 0, database: 1 };
    b.environments.e2 = { cache: 4, database: 0 };
    const total = sumCounts([a, b]);
    expect(total.events.hit.current).toBe(5);
    expect(total.resolves.cache[1]).toBe(2);
    expect(total.resolves.database[5]).toBe(1);
    expect(total.environments).toEqual({ e1: { cache: 2, database: 1 }, e2: { cache: 4, database: 0 } });
    // addCounts mutates only its target.
    expect(a.events.hit.current).toBe(2);
    expect(addCounts(emptyCounts(), a)).toEqual(a);
  });
});

describe("latency histogram", () => {
  it("puts a duration in the first bucket whose upper bound it does not exceed", () => {
    expect(latencyBucketIndex(0)).toBe(0);
    expect(latencyBucketIndex(0.05)).toBe(0);
    expect(latencyBucketIndex(0.051)).toBe(1);
    expect(latencyBucketIndex(1)).toBe(LATENCY_BUCKETS_MS.indexOf(1));
    expect(latencyBucketIndex(1000)).toBe(LATENCY_BUCKETS_MS.length - 1);
    expect(latencyBucketIndex(1000.1)).toBe(LATENCY_BUCKETS_MS.length);
  });

  it("gives no quantile without observations", () => {
    expect(quantileMs(bucketsWith([]), 0.5)).toBeNull();
  });

  it("interpolates p50 and p99 inside the bucket they fall in", () => {
    // 100 observations in (0.25, 0.5]: p50 is half-way through the bucket, p99 near its top.
    const i = LATENCY_BUCKETS_MS.indexOf(0.5);
    expect(quantileMs(bucketsWith([[i, 100]]), 0.5)).toBeCloseTo(0.375);
    expect(quantileMs(bucketsWith([[i, 100]]), 0.99)).toBeCloseTo(0.4975);
  });

  it("finds p99 in the slow tail when 2 % of lookups are slow", () => {
    const fast = LATENCY_BUCKETS_MS.indexOf(0.1);
    const slow = LATENCY_BUCKETS_MS.indexOf(10);
    const buckets = bucketsWith([
      [fast, 98],
      [slow, 2],
    ]);
    expect(quantileMs(buckets, 0.5)).toBeGreaterThan(0.05);
    expect(quantileMs(buckets, 0.5)).toBeLessThanOrEqual(0.1);
    expect(quantileMs(buckets, 0.99)).toBeGreaterThan(5);
    expect(quantileMs(buckets, 0.99)).toBeLessThanOrEqual(10);
  });

  it("reports a quantile in the overflow bucket as the largest finite bound", () => {
    expect(quantileMs(bucketsWith([[LATENCY_BUCKETS_MS.length, 3]]), 0.99)).toBe(1000);
  });
});

describe("window chooser", () => {
  it("accepts 5m, 1h and 24h and falls back to 1h for anything else", () => {
    expect(parseWindow("5m")).toBe("5m");
    expect(parseWindow("24h")).toBe("24h");
    expect(parseWindow("1h")).toBe("1h");
    expect(parseWindow(null)).toBe("1h");
    expect(parseWindow("7d")).toBe("1h");
    expect(parseWindow("toString")).toBe("1h");
  });
});

describe("chart series", () => {
  it("has one point per minute for short windows, averaged per minute for grouped ones", () => {
    const minutes = [100, 101, 102, 103];
    const perMinute = minutes.map((m, i) => {
      const c = emptyCounts();
      c.resolves.cache[1] = 10 * (i + 1);
      c.resolves.database[6] = i === 3 ? 10 : 0;
      c.events.backfill.current = i;
      return c;
    });
    const byMinute = buildSeries(minutes, perMinute, 1);
    expect(byMinute.map((p) => p.time)).toEqual(minutes.map((m) => m * 60_000));
    expect(byMinute.map((p) => p.hitsPerMinute)).toEqual([10, 20, 30, 40]);
    expect(byMinute[3].hitRate).toBe(0.8);
    expect(byMinute[0].databaseP50Ms).toBeNull();
    expect(byMinute[3].databaseP50Ms).toBeGreaterThan(2.5);

    const grouped = buildSeries(minutes, perMinute, 2);
    expect(grouped).toHaveLength(2);
    expect(grouped[0]).toMatchObject({ time: 100 * 60_000, hitsPerMinute: 15, backfillsPerMinute: 0.5, hitRate: 1 });
    expect(grouped[1]).toMatchObject({ hitsPerMinute: 35, missesPerMinute: 5 });
  });

  it("scales the running minute by the part of it that has elapsed, at least a quarter", () => {
    const minutes = [100, 101];
    const perMinute = minutes.map(() => {
      const c = emptyCounts();
      c.resolves.cache[1] = 10;
      return c;
    });
    const halfWay = 101 * 60_000 + 30_000;
    expect(buildSeries(minutes, perMinute, 1, halfWay).map((p) => p.hitsPerMinute)).toEqual([10, 20]);
    expect(buildSeries(minutes, perMinute, 1, 101 * 60_000 + 5_000).map((p) => p.hitsPerMinute)).toEqual([10, 40]);
    // Grouped: the last group is one whole minute plus half of the running one.
    expect(buildSeries(minutes, perMinute, 2, halfWay)[0].hitsPerMinute).toBeCloseTo(20 / 1.5);
    // A window that ended in the past has no running minute.
    expect(buildSeries(minutes, perMinute, 1, 500 * 60_000).map((p) => p.hitsPerMinute)).toEqual([10, 10]);
  });

  it("shows a gap (null hit rate), not 0 %, for a minute without traffic", () => {
    const [point] = buildSeries([5], [emptyCounts()], 1);
    expect(point).toMatchObject({ hitRate: null, hitsPerMinute: 0, cacheP99Ms: null });
  });
});
