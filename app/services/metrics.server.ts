import { createHash, timingSafeEqual } from "node:crypto";
import { collectDefaultMetrics, Counter, Histogram, Registry, type OpenMetricsContentType } from "prom-client";
import type { CacheEvent, CacheEventSink, Keyspace } from "~/domain/cacheEvents";
import {
  addCounts,
  BUCKET_TTL_SECONDS,
  CACHE_EVENTS,
  emptyCounts,
  KEYSPACES,
  LATENCY_BUCKETS_MS,
  latencyBucketIndex,
  type MetricCounts,
  metricsBucketKey,
  minuteOf,
  parseBucketFields,
  RESOLVE_SOURCES,
  type ResolveSource,
  toBucketFields,
} from "~/domain/metricsMath";
import { dbQueryCount } from "~/db.server";
import { getEnv } from "~/env.server";
import { keyPrefix, redis, type RedisClient } from "~/redis.server";
import { writeEnvironmentLookups } from "~/services/hitRateRollup.server";
import { shareRegistries } from "~/services/webCluster.server";
import { logger } from "~/services/logger.server";
import { sampledTraceId } from "~/services/tracing.server";
import { registerTriggerBufferMetrics } from "~/services/triggerBuffer/metrics.server";

/**
 * The cache's metrics sink. On the hot path it only adds to in-memory arrays: totals since start
 * (turned into Prometheus text when GET /metrics is scraped) and the deltas not yet written to Redis. A timer
 * (started on first use, unref'd so it never keeps the process alive) writes the deltas every
 * METRICS_FLUSH_INTERVAL_MS into the current minute's bucket hash — one pipeline per flush, never
 * a Redis write per trigger — so the overview adds up every app instance.
 *
 * A failed flush keeps its deltas for the next one (logged once per streak of failures), so an
 * outage delays counts but loses none.
 */

export interface MetricsRecorderOptions {
  /** Where buckets are written; the general-purpose client by default. */
  redis?: () => RedisClient;
  prefix?: () => string;
  flushIntervalMs?: number;
  now?: () => number;
  /** The Prometheus registry this recorder's counters live in; a fresh one by default. */
  registry?: Registry;
}

const RESOLVE_HISTOGRAM = "hotpath_resolve_duration_seconds";
const RESOLVE_BOUNDS_SECONDS = LATENCY_BUCKETS_MS.map((ms) => ms / 1000);

/** Totals since the process started, for Prometheus (which wants cumulative counters). */
interface Totals {
  counts: MetricCounts;
  /** Sum of resolve durations per source, in seconds (the histogram's `_sum`). */
  durationSeconds: Record<ResolveSource, number>;
  /** Per source and bucket, the last resolve observed inside a sampled trace: OpenMetrics exemplars. */
  exemplars: Record<ResolveSource, (Exemplar | undefined)[]>;
}

interface Exemplar {
  labelSet: { trace_id: string };
  value: number;
  /** Seconds since the epoch. */
  timestamp: number;
}

/**
 * `hotpath_resolve_duration_seconds` as a Prometheus histogram built from the recorder's own
 * bucket counts when scraped. prom-client's Histogram hashes its labels on every observe (about
 * 2 µs here, as much as the rest of a warm resolve's metrics ten times over) and cannot be given
 * bucket counts, so it is not used on the hot path. A registry only calls `get()`; prom-client
 * types metrics as its own classes, hence the cast at registration.
 */
function resolveHistogram(totals: Totals) {
  return {
    name: RESOLVE_HISTOGRAM,
    help: "Queue resolver latency, by where the task metadata came from (cache or database).",
    type: "histogram",
    aggregator: "sum",
    async get() {
      const values: { metricName: string; labels: Record<string, string | number>; value: number; exemplar?: Exemplar }[] = [];
      for (const source of RESOLVE_SOURCES) {
        let cumulative = 0;
        totals.counts.resolves[source].forEach((n, i) => {
          cumulative += n;
          const le = i < RESOLVE_BOUNDS_SECONDS.length ? RESOLVE_BOUNDS_SECONDS[i] : "+Inf";
          const exemplar = totals.exemplars[source][i];
          values.push({ metricName: `${RESOLVE_HISTOGRAM}_bucket`, labels: { le, source }, value: cumulative, ...(exemplar && { exemplar }) });
        });
        values.push({ metricName: `${RESOLVE_HISTOGRAM}_sum`, labels: { source }, value: totals.durationSeconds[source] });
        values.push({ metricName: `${RESOLVE_HISTOGRAM}_count`, labels: { source }, value: cumulative });
      }
      return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
    },
  };
}

export class MetricsRecorder implements CacheEventSink {
  readonly registry: Registry;
  private pending: MetricCounts = emptyCounts();
  private readonly totals: Totals = { counts: emptyCounts(), durationSeconds: { cache: 0, database: 0 }, exemplars: { cache: [], database: [] } };
  private readonly redis: () => RedisClient;
  private readonly prefix: () => string;
  private readonly now: () => number;
  private readonly flushIntervalMs: number;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> | undefined;
  private failing = false;

  constructor(options: MetricsRecorderOptions = {}) {
    this.redis = options.redis ?? redis;
    this.prefix = options.prefix ?? keyPrefix;
    this.now = options.now ?? Date.now;
    this.flushIntervalMs = options.flushIntervalMs ?? getEnv().METRICS_FLUSH_INTERVAL_MS;
    this.registry = options.registry ?? new Registry();

    // Labels are the bounded event × keyspace and source sets; environments stay out of Prometheus.
    // The hot path only adds to `totals`; Prometheus reads them when it scrapes.
    const totals = this.totals;
    new Counter({
      name: "hotpath_task_meta_cache_events_total",
      help: "Task metadata cache events (hits, misses, back-fills, negative hits, decode and Redis errors, breaker opens) per keyspace.",
      labelNames: ["event", "keyspace"],
      registers: [this.registry],
      collect() {
        this.reset();
        // Every series is present, at 0 until it happens, so rate() works from the first scrape.
        for (const event of CACHE_EVENTS) {
          for (const keyspace of KEYSPACES) this.inc({ event, keyspace }, totals.counts.events[event][keyspace]);
        }
      },
    });
    this.registry.registerMetric(resolveHistogram(totals) as unknown as Histogram<string>);
    new Counter({
      name: "hotpath_postgres_statements_total",
      help: "Statements this process sent to Postgres, per database (primary, replica): statements per trigger is this over the trigger count.",
      labelNames: ["database"],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const database of ["primary", "replica"] as const) this.inc({ database }, dbQueryCount(database));
      },
    });
  }

  record(event: CacheEvent, keyspace: Keyspace, count = 1): void {
    // A negative or non-finite increment would corrupt a counter; metrics must never fail a trigger.
    if (!(count > 0 && Number.isFinite(count))) return;
    this.pending.events[event][keyspace] += count;
    this.totals.counts.events[event][keyspace] += count;
    this.startTimer();
  }

  observeResolve(source: ResolveSource, durationMs: number, environmentId?: string): void {
    if (!(durationMs >= 0 && Number.isFinite(durationMs))) return;
    const bucket = latencyBucketIndex(durationMs);
    this.pending.resolves[source][bucket] += 1;
    this.totals.counts.resolves[source][bucket] += 1;
    this.totals.durationSeconds[source] += durationMs / 1000;
    const traceId = sampledTraceId();
    if (traceId) this.totals.exemplars[source][bucket] = { labelSet: { trace_id: traceId }, value: durationMs / 1000, timestamp: Date.now() / 1000 };
    if (environmentId) (this.pending.environments[environmentId] ??= { cache: 0, database: 0 })[source] += 1;
    this.startTimer();
  }

  /**
   * Writes the deltas counted so far to Redis and waits for it. Flushes never overlap: a call
   * during a flush runs after it. Never rejects; a failure keeps the deltas for the next flush.
   */
  flush(): Promise<void> {
    const run = (this.flushing ?? Promise.resolve()).then(() => this.writePending());
    this.flushing = run;
    void run.then(() => {
      if (this.flushing === run) this.flushing = undefined;
    });
    return run;
  }

  /** Stops the timer and writes what is left (tests, shutdown). Recording again restarts the timer. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.flush();
  }

  /**
   * The Prometheus text exposition of this recorder's registry; with `openMetrics`, the OpenMetrics
   * one, whose resolve histogram buckets carry exemplars (the trace id of a recent resolve).
   */
  async render(openMetrics = false): Promise<{ body: string; contentType: string }> {
    if (!openMetrics) return { body: await this.registry.metrics(), contentType: this.registry.contentType };
    // prom-client renames counters it renders as OpenMetrics: render views, never the registry's own metrics.
    const view = new Registry<OpenMetricsContentType>();
    view.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
    for (const metric of this.registry.getMetricsAsArray()) view.registerMetric(openMetricsView(metric) as unknown as Histogram<string>);
    return { body: await view.metrics(), contentType: view.contentType };
  }

  private startTimer() {
    if (this.timer) return;
    this.timer = setInterval(() => {
      // A slow Redis must not pile flushes up behind each other; the next tick catches up.
      if (!this.flushing) void this.flush();
    }, this.flushIntervalMs);
    this.timer.unref();
  }

  private async writePending(): Promise<void> {
    const batch = this.pending;
    const fields = toBucketFields(batch);
    if (fields.length === 0 && Object.keys(batch.environments).length === 0) return;
    this.pending = emptyCounts();
    const minute = minuteOf(this.now());
    const key = metricsBucketKey(this.prefix(), minute);
    // The instance-wide counts (one key) and the per-environment roll-ups (a call per shard) at once.
    const [globals, environments] = await Promise.all([
      this.writeGlobals(key, fields, batch),
      writeEnvironmentLookups(this.redis(), this.prefix(), minute, batch.environments).catch((error: unknown) => ({
        unwritten: batch.environments,
        error,
      })),
    ]);
    const failure = globals.failure ?? environments.error;
    if (failure) {
      addCounts(this.pending, globals.unwritten);
      addCounts(this.pending, { ...emptyCounts(), environments: environments.unwritten });
      if (!this.failing) {
        logger.error("metrics flush to Redis failed; keeping the counts for the next flush", {
          key,
          fields: fields.length,
          environments: Object.keys(environments.unwritten).length,
          error: failure,
        });
      }
      this.failing = true;
    } else if (this.failing) {
      this.failing = false;
      logger.info("metrics flush to Redis recovered; held-back counts written", { key, fields: fields.length });
    }
  }

  /** HINCRBYs of the instance-wide counts into the minute's bucket; what Redis refused comes back. */
  private async writeGlobals(key: string, fields: [string, number][], batch: MetricCounts): Promise<{ unwritten: MetricCounts; failure: unknown }> {
    if (fields.length === 0) return { unwritten: emptyCounts(), failure: undefined };
    try {
      const pipeline = this.redis().pipeline();
      for (const [field, increment] of fields) pipeline.hincrby(key, field, increment);
      pipeline.expire(key, BUCKET_TTL_SECONDS);
      const results = await pipeline.exec();
      if (!results) throw new Error("pipeline was discarded");
      // Keep exactly the fields Redis refused: re-adding ones it applied would count them twice.
      const refused = fields.filter((_, i) => results[i]?.[0]);
      return {
        unwritten: parseBucketFields(Object.fromEntries(refused.map(([field, n]) => [field, String(n)]))),
        failure: results.find(([error]) => error)?.[0] ?? undefined,
      };
    } catch (error) {
      return { unwritten: { ...batch, environments: {} }, failure: error };
    }
  }
}

type RegisteredMetric = ReturnType<Registry["getMetricsAsArray"]>[number];

/** A metric as the OpenMetrics registry sees it: same values, a name of its own to rewrite. */
function openMetricsView(metric: RegisteredMetric) {
  const source = metric as unknown as { name: string; help: string; type: string; aggregator: string; get(): Promise<object> };
  const view = {
    name: source.name,
    help: source.help,
    type: source.type,
    aggregator: source.aggregator,
    async get() {
      return { ...(await source.get()), name: view.name };
    },
  };
  return view;
}

let processRecorder: MetricsRecorder | undefined;

/**
 * This process's recorder, created on first use (no timer, no connection until something is
 * recorded). Its registry also carries Node's default process metrics.
 */
export function metricsRecorder(): MetricsRecorder {
  if (!processRecorder) {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry });
    if (getEnv().TRIGGER_BUFFER_ENABLED) registerTriggerBufferMetrics(registry);
    processRecorder = new MetricsRecorder({ registry });
    // Under WEB_CONCURRENCY the primary adds this registry up with the other workers' (0077).
    shareRegistries([registry]);
  }
  return processRecorder;
}

/**
 * The sink to install in the cache at start-up: it forwards to this process's recorder, which is
 * created on the first event, so installing it reads no configuration and starts no timer.
 */
export const processMetricsSink: CacheEventSink = {
  record: (event, keyspace, count) => metricsRecorder().record(event, keyspace, count),
  observeResolve: (source, durationMs, environmentId) => metricsRecorder().observeResolve(source, durationMs, environmentId),
};

/** Writes this process's last counts and stops its timer (graceful shutdown). */
export async function stopMetrics(): Promise<void> {
  await processRecorder?.stop();
}

export type MetricsAccess = "allowed" | "disabled" | "unauthorized";

function digest(value: string): Buffer {
  return createHash("sha256").update(value).digest();
}

/**
 * Whether a scrape may read /metrics: "disabled" without METRICS_TOKEN, else the bearer token
 * must match. Compared as fixed-length digests, so neither the content nor the length of the
 * token leaks through timing.
 */
export function metricsAccess(authorization: string | null, token: string | undefined): MetricsAccess {
  if (!token) return "disabled";
  const match = /^Bearer\s+(.+)$/i.exec(authorization?.trim() ?? "");
  if (!match) return "unauthorized";
  return timingSafeEqual(digest(match[1]), digest(token)) ? "allowed" : "unauthorized";
}
