import { Cluster } from "ioredis";
import { readPrisma, type PrismaClient } from "~/db.server";
import { describeKeyTtl, type KeyTtlDisplay } from "~/domain/keyTtl";
import {
  buildSeries,
  emptyCounts,
  hitRate,
  keyspaceBreakdown,
  type KeyspaceRow,
  type MetricCounts,
  metricsBucketKey,
  METRICS_WINDOWS,
  type MetricsSummary,
  type MetricsWindow,
  parseBucketFields,
  type SeriesPoint,
  sumCounts,
  summarise,
  windowMinutes,
  windowSeconds,
} from "~/domain/metricsMath";
import { parseRedisInfo, redisServerFigures, type RedisServerFigures } from "~/domain/redisInfo";
import { environmentSummary, environmentSummarySelect, type EnvironmentSummary } from "~/presenters/environmentSummary.server";
import { keyPrefix, redis, type RedisClient } from "~/redis.server";
import { logger } from "~/services/logger.server";
import { taskMetadataCacheAdmin, type TaskMetadataCacheAdmin } from "~/services/taskMetadata/index.server";

/**
 * The cache overview's read model: the window's counters summed over every app instance (the
 * per-minute buckets each instance flushes to Redis), chart series, the per-environment table
 * (lowest hit rate first) and the cache Redis server's own figures.
 *
 * Redis trouble never fails the page: each Redis part is bounded by a timeout, and what could not
 * be read is reported in `problems` while Postgres' side (the environment list) still shows.
 * Postgres trouble is the caller's to map (loadPageData → 503).
 */

export const ENVIRONMENT_ROWS_LIMIT = 100;
const REDIS_TIMEOUT_MS = 3_000;

export interface EnvironmentCacheRow extends EnvironmentSummary {
  /** Lookups in the window, and the share served from the cache (null without lookups). */
  lookups: number;
  hitRate: number | null;
  /** The current hash as Redis holds it now; null when the cache's Redis could not be read. */
  current: {
    present: boolean;
    fieldCount: number;
    ttl: KeyTtlDisplay;
    ownerWorkerId: string | null;
    /** The owner's version from Postgres; null when there is no owner or Postgres has no such worker. */
    ownerVersion: string | null;
  } | null;
}

export interface OverviewProblem {
  part: "metrics" | "cache";
  message: string;
}

export interface CacheOverview {
  window: MetricsWindow;
  /** When the figures were read (ms since the epoch). */
  generatedAt: number;
  /** Null when the metrics buckets could not be read. */
  summary: MetricsSummary | null;
  keyspaces: KeyspaceRow[];
  series: SeriesPoint[];
  stepMinutes: number;
  environments: EnvironmentCacheRow[];
  environmentCount: number;
  /** Null when the cache's Redis could not be read. */
  redisServer: RedisServerFigures | null;
  problems: OverviewProblem[];
}

export interface CacheOverviewDeps {
  now?: number;
  /** Holds the metrics buckets: the general-purpose Redis. */
  metricsRedis?: RedisClient;
  prefix?: string;
  /** The admin connection to the cache's Redis. */
  admin?: TaskMetadataCacheAdmin;
  db?: PrismaClient;
  timeoutMs?: number;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Each minute's bucket of the window, in order, in one pipeline (the buckets share one slot). */
async function readBuckets(client: RedisClient, prefix: string, minutes: number[]): Promise<MetricCounts[]> {
  const pipeline = client.pipeline();
  for (const minute of minutes) pipeline.hgetall(metricsBucketKey(prefix, minute));
  const replies = await pipeline.exec();
  if (!replies) throw new Error("the metrics pipeline returned no replies");
  return replies.map(([error, hash]) => {
    if (error) throw error;
    return hash && typeof hash === "object" ? parseBucketFields(hash as Record<string, string>) : emptyCounts();
  });
}

async function readServerFigures(client: RedisClient): Promise<RedisServerFigures> {
  const nodes = client instanceof Cluster ? client.nodes("master") : [client];
  const infos = await Promise.all(nodes.map((node) => node.info()));
  return redisServerFigures(infos.map(parseRedisInfo));
}

function byLowestHitRate(a: { hitRate: number | null; label: string }, b: { hitRate: number | null; label: string }) {
  // Environments without lookups in the window say nothing about the cache: they go last.
  if (a.hitRate === null || b.hitRate === null) {
    if (a.hitRate !== b.hitRate) return a.hitRate === null ? 1 : -1;
  } else if (a.hitRate !== b.hitRate) {
    return a.hitRate - b.hitRate;
  }
  return a.label.localeCompare(b.label);
}

/** The environments with the lowest hit rate first (those without lookups last), at most a page of them. */
function rankEnvironments<E extends { id: string; slug: string; project: { slug: string } }>(
  environments: E[],
  total: ReturnType<typeof sumCounts> | null,
) {
  return environments
    .map((environment) => {
      const lookups = total?.environments[environment.id] ?? { cache: 0, database: 0 };
      return {
        environment,
        lookups: lookups.cache + lookups.database,
        hitRate: hitRate(lookups.cache, lookups.database),
        label: `${environment.project.slug}/${environment.slug}`,
      };
    })
    .sort(byLowestHitRate)
    .slice(0, ENVIRONMENT_ROWS_LIMIT);
}

/** Each ranked environment's current-hash status, or null (with a problem to show) when Redis does not answer in time. */
function readCurrentStatuses(
  admin: ReturnType<typeof taskMetadataCacheAdmin>,
  ranked: { environment: { id: string } }[],
  timeoutMs: number,
  problems: OverviewProblem[],
) {
  return withTimeout(Promise.all(ranked.map(({ environment }) => admin.currentStatus(environment.id))), timeoutMs, "Redis (current hashes)").catch(
    (error: unknown) => {
      logger.error("cache overview: could not read the current hashes", { error });
      problems.push({ part: "cache", message: `The current hashes could not be read: ${messageOf(error)}.` });
      return null;
    },
  );
}

export async function getCacheOverview(window: MetricsWindow, deps: CacheOverviewDeps = {}): Promise<CacheOverview> {
  const now = deps.now ?? Date.now();
  const prefix = deps.prefix ?? keyPrefix();
  const timeoutMs = deps.timeoutMs ?? REDIS_TIMEOUT_MS;
  const db = deps.db ?? readPrisma();
  const admin = deps.admin ?? taskMetadataCacheAdmin();
  const problems: OverviewProblem[] = [];
  const minutes = windowMinutes(window, now);
  const { stepMinutes } = METRICS_WINDOWS[window];

  const [buckets, environments, redisServer] = await Promise.all([
    withTimeout(readBuckets(deps.metricsRedis ?? redis(), prefix, minutes), timeoutMs, "Redis (metrics buckets)").catch(
      (error: unknown) => {
        logger.error("cache overview: could not read the metrics buckets", { window, error });
        problems.push({ part: "metrics", message: `The metrics could not be read from Redis: ${messageOf(error)}.` });
        return null;
      },
    ),
    db.runtimeEnvironment.findMany({
      select: environmentSummarySelect,
    }),
    withTimeout(readServerFigures(admin.client), timeoutMs, "Redis (INFO)").catch((error: unknown) => {
      logger.error("cache overview: could not read the cache Redis server figures", { error });
      problems.push({ part: "cache", message: `The cache's Redis did not answer: ${messageOf(error)}.` });
      return null;
    }),
  ]);

  const total = buckets ? sumCounts(buckets) : null;
  const ranked = rankEnvironments(environments, total);
  // The per-environment key reads only when INFO answered: a Redis that is down would otherwise
  // cost one timeout per environment.
  const statuses = redisServer ? await readCurrentStatuses(admin, ranked, timeoutMs, problems) : null;

  const ownerIds = [...new Set((statuses ?? []).map((s) => s.ownerWorkerId).filter((id): id is string => id !== null))];
  const owners = ownerIds.length
    ? await db.backgroundWorker.findMany({ where: { id: { in: ownerIds } }, select: { id: true, version: true } })
    : [];
  const versionOf = new Map(owners.map((w) => [w.id, w.version]));

  return {
    window,
    generatedAt: now,
    summary: total ? summarise(total, windowSeconds(window, now)) : null,
    keyspaces: total ? keyspaceBreakdown(total) : [],
    series: buckets ? buildSeries(minutes, buckets, stepMinutes, now) : [],
    stepMinutes,
    environments: ranked.map(({ environment, lookups, hitRate: rate }, i) => {
      const status = statuses?.[i];
      return {
        ...environmentSummary(environment),
        lookups,
        hitRate: rate,
        current: status
          ? {
              present: status.exists,
              fieldCount: status.fieldCount,
              ttl: describeKeyTtl(status.ttlSeconds),
              ownerWorkerId: status.ownerWorkerId,
              ownerVersion: status.ownerWorkerId ? (versionOf.get(status.ownerWorkerId) ?? null) : null,
            }
          : null,
      };
    }),
    environmentCount: environments.length,
    redisServer,
    problems,
  };
}
