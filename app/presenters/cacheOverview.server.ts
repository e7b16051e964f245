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
  minuteOf,
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
import { byProjectThenSlug, environmentSummary, environmentSummarySelect, type EnvironmentSummary } from "~/presenters/environmentSummary.server";
import { keyPrefix, redis, type RedisClient } from "~/redis.server";
import { readLowestHitRates, type LowestHitRates } from "~/services/hitRateRollup.server";
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

/**
 * Each minute's bucket of the window, in order: one pipeline on a single Redis; on a Cluster, where
 * each minute is its own slot, the reads are sent at once and answered node by node.
 */
async function readBuckets(client: RedisClient, prefix: string, minutes: number[]): Promise<MetricCounts[]> {
  const parse = (hash: unknown) => (hash && typeof hash === "object" ? parseBucketFields(hash as Record<string, string>) : emptyCounts());
  if (client instanceof Cluster) {
    return (await Promise.all(minutes.map((minute) => client.hgetall(metricsBucketKey(prefix, minute))))).map(parse);
  }
  const pipeline = client.pipeline();
  for (const minute of minutes) pipeline.hgetall(metricsBucketKey(prefix, minute));
  const replies = await pipeline.exec();
  if (!replies) throw new Error("the metrics pipeline returned no replies");
  return replies.map(([error, hash]) => {
    if (error) throw error;
    return parse(hash);
  });
}

async function readServerFigures(client: RedisClient): Promise<RedisServerFigures> {
  const nodes = client instanceof Cluster ? client.nodes("master") : [client];
  const infos = await Promise.all(nodes.map((node) => node.info()));
  return redisServerFigures(infos.map(parseRedisInfo));
}

function byLowestHitRate(a: { hitRate: number | null; label: string }, b: { hitRate: number | null; label: string }) {
  if (a.hitRate !== b.hitRate) return (a.hitRate ?? 0) - (b.hitRate ?? 0);
  return a.label.localeCompare(b.label);
}

type SummaryRow = Parameters<typeof environmentSummary>[0];
interface RankedRow {
  environment: SummaryRow;
  lookups: number;
  hitRate: number | null;
}

/**
 * The table's environments: the lowest hit rates of the window from the roll-ups (at most a page),
 * then, when fewer environments had lookups, those without any, by project and slug. Two
 * statements at most, whatever the size of the fleet.
 */
async function rankEnvironments(db: PrismaClient, lowest: LowestHitRates | null): Promise<RankedRow[]> {
  const active = lowest?.environments ?? [];
  const summaries = active.length
    ? await db.runtimeEnvironment.findMany({ where: { id: { in: active.map((e) => e.environmentId) } }, select: environmentSummarySelect })
    : [];
  const byId = new Map(summaries.map((s) => [s.id, s]));
  const ranked = active
    .filter((e) => byId.has(e.environmentId)) // an environment deleted since its lookups
    .map((e) => {
      const environment = byId.get(e.environmentId)!;
      return { environment, lookups: e.cache + e.database, hitRate: hitRate(e.cache, e.database), label: `${environment.project.slug}/${environment.slug}` };
    })
    .sort(byLowestHitRate)
    .map(({ environment, lookups, hitRate: rate }) => ({ environment, lookups, hitRate: rate }));
  // Only when every environment with lookups is listed: the rest have none in the window.
  if (ranked.length >= ENVIRONMENT_ROWS_LIMIT || (lowest && lowest.active > active.length)) return ranked;
  const idle = await db.runtimeEnvironment.findMany({
    where: { id: { notIn: active.map((e) => e.environmentId) } },
    select: environmentSummarySelect,
    orderBy: byProjectThenSlug,
    take: ENVIRONMENT_ROWS_LIMIT - ranked.length,
  });
  return [...ranked, ...idle.map((environment) => ({ environment, lookups: 0, hitRate: null }))];
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

  const metricsRedis = deps.metricsRedis ?? redis();
  const [buckets, lowest, environmentCount, redisServer] = await Promise.all([
    withTimeout(readBuckets(metricsRedis, prefix, minutes), timeoutMs, "Redis (metrics buckets)").catch((error: unknown) => {
      logger.error("cache overview: could not read the metrics buckets", { window, error });
      problems.push({ part: "metrics", message: `The metrics could not be read from Redis: ${messageOf(error)}.` });
      return null;
    }),
    withTimeout(readLowestHitRates(metricsRedis, prefix, window, minuteOf(now), ENVIRONMENT_ROWS_LIMIT), timeoutMs, "Redis (hit rates)").catch(
      (error: unknown) => {
        logger.error("cache overview: could not read the per-environment hit rates", { window, error });
        problems.push({ part: "metrics", message: `The per-environment hit rates could not be read from Redis: ${messageOf(error)}.` });
        return null;
      },
    ),
    db.runtimeEnvironment.count(),
    withTimeout(readServerFigures(admin.client), timeoutMs, "Redis (INFO)").catch((error: unknown) => {
      logger.error("cache overview: could not read the cache Redis server figures", { error });
      problems.push({ part: "cache", message: `The cache's Redis did not answer: ${messageOf(error)}.` });
      return null;
    }),
  ]);

  const total = buckets ? sumCounts(buckets) : null;
  const ranked = await rankEnvironments(db, lowest);
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
    environmentCount,
    redisServer,
    problems,
  };
}
