import type { CacheEvent, Keyspace } from "~/domain/cacheEvents";

/**
 * The arithmetic behind the cache metrics: how counts are laid out in the per-minute Redis
 * buckets, how buckets from several app instances add up, and how a window of them becomes a hit
 * rate, ops/s and latency quantiles. Pure, so the overview's figures are unit-tested without Redis.
 *
 * Definitions the overview relies on:
 * - a *lookup* is one resolver call; it is served either from the cache or from Postgres;
 * - hit rate = lookups served from the cache ÷ all lookups (null when there were none). Hits and
 *   misses per keyspace are kept too, but one lookup can touch several keyspaces (the in-process
 *   tier, then the current hash), so only the per-lookup figure is a rate a person can read.
 */

export type ResolveSource = "cache" | "database";

// Records keyed by the union make the compiler list every member, so the runtime lists below
// cannot silently miss one when the cache learns a new event or keyspace.
const EVENT_SET: Record<CacheEvent, true> = {
  hit: true,
  miss: true,
  backfill: true,
  negative_hit: true,
  decode_error: true,
  redis_error: true,
  breaker_open: true,
};
const KEYSPACE_SET: Record<Keyspace, true> = { current: true, worker: true, version: true, l1: true };
const SOURCE_SET: Record<ResolveSource, true> = { cache: true, database: true };

export const CACHE_EVENTS = Object.keys(EVENT_SET) as CacheEvent[];
export const KEYSPACES = Object.keys(KEYSPACE_SET) as Keyspace[];
export const RESOLVE_SOURCES = Object.keys(SOURCE_SET) as ResolveSource[];

/**
 * Upper bounds (inclusive, like Prometheus `le`) of the resolver latency buckets, in milliseconds.
 * An L1 hit costs microseconds, a Redis round trip a fraction of a millisecond, Postgres a few ms;
 * the last, implicit bucket holds everything above one second.
 */
export const LATENCY_BUCKETS_MS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000] as const;
export const LATENCY_BUCKET_COUNT = LATENCY_BUCKETS_MS.length + 1;

/** Index of the bucket a duration falls in; `LATENCY_BUCKETS_MS.length` is the overflow bucket. */
export function latencyBucketIndex(durationMs: number): number {
  for (let i = 0; i < LATENCY_BUCKETS_MS.length; i++) if (durationMs <= LATENCY_BUCKETS_MS[i]) return i;
  return LATENCY_BUCKETS_MS.length;
}

/**
 * The q-quantile (0 < q ≤ 1) of a bucketed distribution, interpolated linearly inside the bucket
 * it falls in, as Prometheus's `histogram_quantile` does. A quantile in the overflow bucket is
 * reported as the largest finite bound. Null when there are no observations.
 */
export function quantileMs(buckets: readonly number[], q: number): number | null {
  const total = buckets.reduce((a, b) => a + b, 0);
  if (total <= 0) return null;
  const rank = q * total;
  let below = 0;
  for (let i = 0; i < buckets.length; i++) {
    const count = buckets[i];
    if (count > 0 && below + count >= rank) {
      if (i >= LATENCY_BUCKETS_MS.length) return LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.length - 1];
      const lower = i === 0 ? 0 : LATENCY_BUCKETS_MS[i - 1];
      const upper = LATENCY_BUCKETS_MS[i];
      return lower + ((upper - lower) * (rank - below)) / count;
    }
    below += count;
  }
  return LATENCY_BUCKETS_MS[LATENCY_BUCKETS_MS.length - 1];
}

/** Counts of one minute (or any span) — what a sink accumulates and what a Redis bucket holds. */
export interface MetricCounts {
  events: Record<CacheEvent, Record<Keyspace, number>>;
  /** Lookups per source, split by latency bucket (see {@link LATENCY_BUCKETS_MS}). */
  resolves: Record<ResolveSource, number[]>;
  /** Lookups per environment id and source; stored in Redis, never a Prometheus label. */
  environments: Record<string, Record<ResolveSource, number>>;
}

export function emptyCounts(): MetricCounts {
  const events = {} as MetricCounts["events"];
  for (const event of CACHE_EVENTS) {
    events[event] = {} as Record<Keyspace, number>;
    for (const keyspace of KEYSPACES) events[event][keyspace] = 0;
  }
  return {
    events,
    resolves: { cache: new Array(LATENCY_BUCKET_COUNT).fill(0), database: new Array(LATENCY_BUCKET_COUNT).fill(0) },
    environments: {},
  };
}

/** Adds `source` into `target` (mutating it) and returns `target`. */
export function addCounts(target: MetricCounts, source: MetricCounts): MetricCounts {
  for (const event of CACHE_EVENTS) {
    for (const keyspace of KEYSPACES) target.events[event][keyspace] += source.events[event][keyspace];
  }
  for (const s of RESOLVE_SOURCES) {
    for (let i = 0; i < LATENCY_BUCKET_COUNT; i++) target.resolves[s][i] += source.resolves[s][i];
  }
  for (const [environmentId, bySource] of Object.entries(source.environments)) {
    const into = (target.environments[environmentId] ??= { cache: 0, database: 0 });
    into.cache += bySource.cache;
    into.database += bySource.database;
  }
  return target;
}

export function sumCounts(list: Iterable<MetricCounts>): MetricCounts {
  const total = emptyCounts();
  for (const counts of list) addCounts(total, counts);
  return total;
}

// ---------------------------------------------------------------------------------------------
// Redis layout: one hash per minute, `<prefix>metrics:{m:<minute>}`, with the counts of every
// instance: `e:<event>:<keyspace>`, `r:<source>:<bucket index>`. Each minute is its own hash tag,
// so on a Cluster the buckets spread over slots (one key per flush still). Per-environment
// lookups are not here: they go to the hit-rate roll-ups (hitRateRollup.ts), spread by
// environment. `env:<id>:<source>` fields written before 0076 are still read.

export const BUCKET_TTL_SECONDS = 48 * 60 * 60;

export function minuteOf(timestampMs: number): number {
  return Math.floor(timestampMs / 60_000);
}

export function metricsBucketKey(prefix: string, minute: number): string {
  return `${prefix}metrics:{m:${minute}}`;
}

/** The non-zero counts as `[field, increment]` pairs for HINCRBY; per-environment lookups are left to the roll-ups. */
export function toBucketFields(counts: MetricCounts): [field: string, increment: number][] {
  const fields: [string, number][] = [];
  for (const event of CACHE_EVENTS) {
    for (const keyspace of KEYSPACES) {
      const n = counts.events[event][keyspace];
      if (n) fields.push([`e:${event}:${keyspace}`, n]);
    }
  }
  for (const source of RESOLVE_SOURCES) {
    counts.resolves[source].forEach((n, i) => {
      if (n) fields.push([`r:${source}:${i}`, n]);
    });
  }
  return fields;
}

function isOneOf<T extends string>(set: Record<T, true>, value: string): value is T {
  return Object.hasOwn(set, value);
}

/**
 * Reads a bucket hash (HGETALL reply) back into counts. Unknown fields — a newer or older version
 * of Hotpath writing the same buckets during a rolling deploy — and non-numeric values are skipped.
 */
export function parseBucketFields(hash: Record<string, string>): MetricCounts {
  const counts = emptyCounts();
  for (const [field, raw] of Object.entries(hash)) {
    const n = Number(raw);
    if (!Number.isFinite(n)) continue;
    const parts = field.split(":");
    if (parts[0] === "e" && parts.length === 3) {
      const [, event, keyspace] = parts;
      if (isOneOf(EVENT_SET, event) && isOneOf(KEYSPACE_SET, keyspace)) counts.events[event][keyspace] += n;
    } else if (parts[0] === "r" && parts.length === 3) {
      const [, source, index] = parts;
      const i = Number(index);
      if (isOneOf(SOURCE_SET, source) && Number.isInteger(i) && i >= 0 && i < LATENCY_BUCKET_COUNT) {
        counts.resolves[source][i] += n;
      }
    } else if (parts[0] === "env" && parts.length >= 3) {
      const source = parts[parts.length - 1];
      const environmentId = parts.slice(1, -1).join(":");
      if (isOneOf(SOURCE_SET, source) && environmentId) {
        const into = (counts.environments[environmentId] ??= { cache: 0, database: 0 });
        into[source] += n;
      }
    }
  }
  return counts;
}

// ---------------------------------------------------------------------------------------------
// Windows and the figures the overview shows.

export const METRICS_WINDOWS = {
  "5m": { minutes: 5, label: "5 min", stepMinutes: 1 },
  "1h": { minutes: 60, label: "1 h", stepMinutes: 1 },
  // 1,440 one-minute points would be unreadable; a chart point per quarter hour keeps the shape.
  "24h": { minutes: 1440, label: "24 h", stepMinutes: 15 },
} as const;
export type MetricsWindow = keyof typeof METRICS_WINDOWS;
export const DEFAULT_WINDOW: MetricsWindow = "1h";

/** The window named in the URL; anything else (absent, mistyped) falls back to the default. */
export function parseWindow(value: string | null | undefined): MetricsWindow {
  return value && Object.hasOwn(METRICS_WINDOWS, value) ? (value as MetricsWindow) : DEFAULT_WINDOW;
}

/** The minutes a window covers, oldest first, ending with the (still running) current minute. */
export function windowMinutes(window: MetricsWindow, nowMs: number): number[] {
  const last = minuteOf(nowMs);
  const { minutes } = METRICS_WINDOWS[window];
  return Array.from({ length: minutes }, (_, i) => last - minutes + 1 + i);
}

/** Seconds elapsed in the window: its whole minutes plus the part of the current one. */
export function windowSeconds(window: MetricsWindow, nowMs: number): number {
  const intoCurrentMinute = (nowMs - minuteOf(nowMs) * 60_000) / 1000;
  return Math.max(1, (METRICS_WINDOWS[window].minutes - 1) * 60 + intoCurrentMinute);
}

export function hitRate(hits: number, misses: number): number | null {
  const total = hits + misses;
  return total > 0 ? hits / total : null;
}

export type HitRateTone = "good" | "warn" | "bad" | "none";

/** The threshold colours of the hit-rate tile: ≥ 95 % good, ≥ 80 % worth a look, below that bad. */
export function hitRateTone(rate: number | null): HitRateTone {
  if (rate === null) return "none";
  if (rate >= 0.95) return "good";
  if (rate >= 0.8) return "warn";
  return "bad";
}

export function opsPerSecond(operations: number, seconds: number): number {
  return seconds > 0 ? operations / seconds : 0;
}

function total(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

function eventTotal(counts: MetricCounts, event: CacheEvent): number {
  return total(KEYSPACES.map((k) => counts.events[event][k]));
}

export interface MetricsSummary {
  lookups: number;
  /** Lookups served from the cache (either tier, including cached "task absent" answers). */
  hits: number;
  /** Lookups that had to go to Postgres. */
  misses: number;
  hitRate: number | null;
  backfills: number;
  negativeHits: number;
  decodeErrors: number;
  redisErrors: number;
  breakerOpens: number;
  /** Decode errors plus Redis errors. */
  errors: number;
  opsPerSecond: number;
}

export function summarise(counts: MetricCounts, seconds: number): MetricsSummary {
  const hits = total(counts.resolves.cache);
  const misses = total(counts.resolves.database);
  const decodeErrors = eventTotal(counts, "decode_error");
  const redisErrors = eventTotal(counts, "redis_error");
  return {
    lookups: hits + misses,
    hits,
    misses,
    hitRate: hitRate(hits, misses),
    backfills: eventTotal(counts, "backfill"),
    negativeHits: eventTotal(counts, "negative_hit"),
    decodeErrors,
    redisErrors,
    breakerOpens: eventTotal(counts, "breaker_open"),
    errors: decodeErrors + redisErrors,
    opsPerSecond: opsPerSecond(hits + misses, seconds),
  };
}

export interface KeyspaceRow {
  keyspace: Keyspace;
  hits: number;
  negativeHits: number;
  misses: number;
  /** (hits + negative hits) ÷ (those + misses) within this keyspace alone. */
  hitRate: number | null;
  backfills: number;
  decodeErrors: number;
  redisErrors: number;
}

export function keyspaceBreakdown(counts: MetricCounts): KeyspaceRow[] {
  return KEYSPACES.map((keyspace) => {
    const e = (event: CacheEvent) => counts.events[event][keyspace];
    return {
      keyspace,
      hits: e("hit"),
      negativeHits: e("negative_hit"),
      misses: e("miss"),
      hitRate: hitRate(e("hit") + e("negative_hit"), e("miss")),
      backfills: e("backfill"),
      decodeErrors: e("decode_error"),
      redisErrors: e("redis_error"),
    };
  });
}

export interface SeriesPoint {
  /** Start of the point's span, ms since the epoch. */
  time: number;
  hitRate: number | null;
  /** Per minute, averaged over the point's span. */
  hitsPerMinute: number;
  missesPerMinute: number;
  backfillsPerMinute: number;
  /** Lookups in the point's span (how much its hit rate can be trusted). */
  lookups?: number;
  /** Cached "task absent" answers per minute: triggers for tasks the current version does not have. */
  undeployedPerMinute?: number;
  cacheP50Ms: number | null;
  cacheP99Ms: number | null;
  databaseP50Ms: number | null;
  databaseP99Ms: number | null;
}

/** The running minute counts as at least this much of a minute, so its first seconds do not spike. */
const MIN_RUNNING_MINUTE_FRACTION = 0.25;

/**
 * Chart points for a window: its minutes grouped `stepMinutes` at a time (from the window's
 * start), each point summarising its group. `perMinute` holds the counts of each minute in
 * `minutes`, in the same order; a minute with no bucket is an empty count. Given `nowMs`, a
 * running last minute is divided by the part of it that has elapsed, so a rate does not appear to
 * drop just because the minute is not over.
 */
export function buildSeries(
  minutes: readonly number[],
  perMinute: readonly MetricCounts[],
  stepMinutes: number,
  nowMs?: number,
): SeriesPoint[] {
  const running = nowMs !== undefined && minutes.length > 0 && minutes[minutes.length - 1] === minuteOf(nowMs);
  const runningFraction = running
    ? Math.max(MIN_RUNNING_MINUTE_FRACTION, (nowMs - minuteOf(nowMs) * 60_000) / 60_000)
    : 1;
  const points: SeriesPoint[] = [];
  for (let start = 0; start < minutes.length; start += stepMinutes) {
    const group = perMinute.slice(start, start + stepMinutes);
    const counts = sumCounts(group);
    const summary = summarise(counts, 60);
    const isLast = start + stepMinutes >= minutes.length;
    const span = group.length - (isLast ? 1 - runningFraction : 0);
    points.push({
      time: minutes[start] * 60_000,
      hitRate: summary.hitRate,
      hitsPerMinute: summary.hits / span,
      missesPerMinute: summary.misses / span,
      backfillsPerMinute: summary.backfills / span,
      lookups: summary.lookups,
      undeployedPerMinute: summary.negativeHits / span,
      cacheP50Ms: quantileMs(counts.resolves.cache, 0.5),
      cacheP99Ms: quantileMs(counts.resolves.cache, 0.99),
      databaseP50Ms: quantileMs(counts.resolves.database, 0.5),
      databaseP99Ms: quantileMs(counts.resolves.database, 0.99),
    });
  }
  return points;
}
