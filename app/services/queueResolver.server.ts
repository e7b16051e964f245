import { performance } from "node:perf_hooks";
import { prisma } from "~/db.server";
import { getEnv } from "~/env.server";
import type { CacheEventSink } from "~/domain/cacheEvents";
import { ValidationError } from "~/domain/errors";
import { MissStreaks, type LookupPlan, type MissStreakOptions } from "~/domain/missStreaks";
import { defaultQueueName, sanitizeQueueName } from "~/domain/queueNames";
import type { TaskEntry, TaskKind } from "~/domain/taskMetadataEntry";
import { effectiveTtl, parseTriggerTtl } from "~/domain/ttl";
import type { PrismaClient } from "~/generated/prisma/client.ts";
import { logger } from "~/services/logger.server";
import type { TaskMetadataCacheStore } from "~/services/taskMetadataCache.server";
import { cacheEvents, taskMetadataCache } from "~/services/taskMetadataCacheInstance.server";
import { taskMetadataSource } from "~/services/taskMetadataSourceInstance.server";
import {
  postgresTaskMetadataSource,
  type EnvironmentRef,
  type LockedLookup,
  type TaskMetadataSource,
} from "~/services/taskMetadataSource.server";

/**
 * The trigger hot path's queue resolver (SPEC §3): which queue, TTL and kind a run gets, and what
 * it is locked to. Cache first; on a miss Postgres answers and the cache is back-filled after the
 * answer is returned. Warm, it sends no Postgres query in any caller configuration.
 *
 * A key that misses again after its back-fill finished (back-fills do not stick) goes straight to
 * Postgres, and a few times a second asks Redis beside it, until Redis answers again: it costs
 * the Postgres lookup, not a cache round trip plus the lookup
 * (docs/decisions/0023-keys-that-keep-missing-go-to-postgres.md).
 */

export interface ResolveInput {
  environment: EnvironmentRef;
  taskSlug: string;
  /** Queue override name (the API accepts `{ name }` or a bare string). */
  queue?: string;
  /** Raw trigger `options.ttl`. */
  ttl?: string | number;
  lockToVersion?: string;
}

export interface ResolvedTask {
  queueName: string;
  lockedQueueId: string | null;
  lockedWorkerId: string | null;
  /** Effective TTL as a normalised duration string; null = none. */
  ttl: string | null;
  ttlSeconds: number | null;
  taskKind: TaskKind;
  /** False when the task is absent from the worker used (the API then creates a PENDING_VERSION run). */
  taskFound: boolean;
  /** "database" when any lookup of this resolve missed the cache. */
  source: "cache" | "database";
}

export interface QueueResolverDeps {
  cache?: TaskMetadataCacheStore;
  /** Answers cache misses; defaults to Postgres through `prisma`. */
  source?: TaskMetadataSource;
  /** The database of the default source. */
  prisma?: PrismaClient;
  events?: CacheEventSink;
  maxTtlSeconds?: number;
  /**
   * Runs a back-fill after the answer has been returned. The default starts it at once without
   * awaiting it; tests inject a scheduler to interleave a back-fill with a promotion.
   */
  scheduleBackfill?: (backfill: () => Promise<unknown>) => void;
  /** How keys that keep missing are handled (default MISS_STREAKS); false: every miss is a first miss. */
  missStreaks?: Partial<MissStreakOptions> | false;
}

export const lockedVersionNotFound = (version: string) =>
  `Task locked to version '${version}', but no worker found with that version.`;
export const lockedQueueNotFound = (queue: string, version: string) =>
  `Specified queue '${queue}' not found or not associated with locked version '${version}'.`;
export const lockedTaskNotFound = (slug: string, version: string) =>
  `Task '${slug}' not found on locked version '${version}'.`;
export const lockedDefaultQueueMissing = (slug: string, version: string) =>
  `Default queue configuration for task '${slug}' missing on locked version '${version}'.`;

function runInBackground(backfill: () => Promise<unknown>) {
  backfill().catch((error) => logger.warn("task metadata back-fill failed", { error }));
}

/** A key that keeps missing goes to Postgres, asking Redis beside it (and back-filling) 4 times a second. */
const MISS_STREAKS: MissStreakOptions = { probeIntervalMs: 250, maxKeys: 10_000 };

/**
 * Starts a probe's Postgres lookup beside its cache read. Its rejection is marked handled at once:
 * the caller awaits it only when the cache misses (and then sees the error).
 */
function lookupBeside<T>(lookup: () => Promise<T>): Promise<T> {
  const answer = lookup();
  answer.catch(() => undefined);
  return answer;
}

/** The cache answered first: the Postgres answer goes unused, and a failure of it is only logged. */
function leaveUnused(answer: Promise<unknown> | undefined, context: Record<string, unknown>) {
  answer?.catch((error) => logger.warn("unused Postgres lookup beside a cache hit failed", { ...context, error }));
}

export class QueueResolver {
  private readonly deps: QueueResolverDeps;

  constructor(deps: QueueResolverDeps = {}) {
    this.deps = deps;
    this.missStreaks = deps.missStreaks === false ? null : new MissStreaks({ ...MISS_STREAKS, ...deps.missStreaks });
  }

  private get cache() {
    return this.deps.cache ?? taskMetadataCache();
  }
  private defaultSource: TaskMetadataSource | undefined;
  private get source(): TaskMetadataSource {
    if (this.deps.source) return this.deps.source;
    this.defaultSource ??= postgresTaskMetadataSource(this.deps.prisma ?? prisma());
    return this.defaultSource;
  }
  private get events() {
    return this.deps.events ?? cacheEvents;
  }
  private readonly missStreaks: MissStreaks | null;
  /** Schedules a back-fill; `work` resolves true when it wrote the entry. */
  private backfill(streakKey: string, work: () => Promise<boolean>) {
    const streaks = this.missStreaks;
    (this.deps.scheduleBackfill ?? runInBackground)(
      streaks
        ? () =>
            work().then(
              (written) => {
                streaks.backfillFinished(streakKey, written === true);
                return written;
              },
              (error: unknown) => {
                streaks.backfillFinished(streakKey, false);
                throw error;
              },
            )
        : work,
    );
  }
  private plan(streakKey: string): LookupPlan {
    const streaks = this.missStreaks;
    // While no key is missing (a warm cache), not even the clock is read.
    return streaks && streaks.size !== 0 ? streaks.plan(streakKey, performance.now()) : "cache-first";
  }
  /** After a cache read missed: whether this lookup back-fills. */
  private missed(streakKey: string, plan: LookupPlan): boolean {
    return this.missStreaks?.missed(streakKey, plan, performance.now()) ?? true;
  }

  async resolve(input: ResolveInput): Promise<ResolvedTask> {
    const started = performance.now();
    // Malformed input is a 400 before any I/O, whatever the task turns out to be.
    const triggerTtlSeconds = parseTriggerTtl(input.ttl);
    const override = input.queue?.trim() ? input.queue : undefined;
    const resolved = input.lockToVersion
      ? await this.resolveLocked(input, input.lockToVersion, override)
      : await this.resolveCurrent(input, override);
    const ttl = effectiveTtl({
      triggerTtlSeconds,
      taskTtl: resolved.entry.found ? resolved.entry.ttl : null,
      environmentType: input.environment.type,
      maxSeconds: this.deps.maxTtlSeconds ?? getEnv().TRIGGER_MAX_TTL_SECONDS,
    });
    const source = resolved.fromDatabase ? "database" : "cache";
    this.events.observeResolve(source, performance.now() - started, input.environment.id);
    return {
      queueName: resolved.queueName,
      lockedQueueId: resolved.lockedQueueId,
      lockedWorkerId: resolved.lockedWorkerId,
      ttl: ttl.ttl,
      ttlSeconds: ttl.ttlSeconds,
      taskKind: resolved.entry.found ? resolved.entry.kind : "STANDARD",
      taskFound: resolved.entry.found,
      source,
    };
  }

  /** Not locked: the current worker's entry. Never fails (SPEC §3.2). */
  private async resolveCurrent(input: ResolveInput, override: string | undefined) {
    const { environment, taskSlug } = input;
    const { entry, fromDatabase } = await this.currentTask(environment, taskSlug);
    const queueName =
      override !== undefined
        ? sanitizeQueueName(override, taskSlug)
        : entry.found && entry.queueName
          ? sanitizeQueueName(entry.queueName, taskSlug)
          : defaultQueueName(taskSlug);
    return { entry, fromDatabase, queueName, lockedQueueId: null, lockedWorkerId: null };
  }

  private async currentTask(environment: EnvironmentRef, slug: string): Promise<{ entry: TaskEntry; fromDatabase: boolean }> {
    const streakKey = `${environment.id}\0${slug}`;
    const plan = this.plan(streakKey);
    if (plan === "database-only") return { entry: (await this.source.findCurrentTask(environment, slug)).entry, fromDatabase: true };
    const beside = plan === "probe" ? lookupBeside(() => this.source.findCurrentTask(environment, slug)) : undefined;
    const cached = await this.cache.getCurrentTask(environment.id, slug);
    if (cached) {
      this.missStreaks?.hit(streakKey);
      leaveUnused(beside, { environmentId: environment.id, slug });
      return { entry: cached, fromDatabase: false };
    }
    const backfill = this.missed(streakKey, plan);
    const { workerId, entry } = await (beside ?? this.source.findCurrentTask(environment, slug));
    if (backfill) this.backfill(streakKey, () => this.cache.backfillCurrentTask(environment.id, workerId, slug, entry));
    return { entry, fromDatabase: true };
  }

  /** Locked to a version: that worker's entry, with the checks of SPEC §3.1. */
  private async resolveLocked(input: ResolveInput, version: string, override: string | undefined) {
    const { environment, taskSlug } = input;
    const queueName = override !== undefined ? sanitizeQueueName(override, taskSlug) : undefined;
    const { workerId, entry, queueId, fromDatabase } = await this.lockedTask(environment.id, version, taskSlug, queueName);

    if (queueName !== undefined) {
      if (!queueId) throw new ValidationError(lockedQueueNotFound(input.queue ?? queueName, version));
      // The task missing on the locked worker is tolerated here: kind STANDARD, no task TTL.
      return { entry, fromDatabase, queueName, lockedQueueId: queueId, lockedWorkerId: workerId };
    }
    if (!entry.found) throw new ValidationError(lockedTaskNotFound(taskSlug, version));
    if (!entry.queueId || !entry.queueName) throw new ValidationError(lockedDefaultQueueMissing(taskSlug, version));
    return {
      entry,
      fromDatabase,
      queueName: sanitizeQueueName(entry.queueName, taskSlug),
      lockedQueueId: entry.queueId,
      lockedWorkerId: workerId,
    };
  }

  /**
   * Version → worker from the versions hash, then the task (and the override's queue association)
   * from that worker's hashes. Whatever missed is read from Postgres in one statement and
   * back-filled; a worker's tasks never change after registration, so "absent" is cached too.
   */
  private async lockedTask(environmentId: string, version: string, slug: string, queueName: string | undefined) {
    const streakKey = `${environmentId}\0${version}\0${slug}\0${queueName ?? ""}`;
    const plan = this.plan(streakKey);
    const lookUp = (worker: { version: string } | { id: string }) => this.source.findLockedTask(environmentId, worker, slug, queueName);
    if (plan === "database-only") return lockedFromDatabase(await lookUp({ version }), version);

    const beside = plan === "probe" ? lookupBeside(() => lookUp({ version })) : undefined;
    const cachedWorkerId = await this.cache.getWorkerIdForVersion(environmentId, version);
    if (cachedWorkerId) {
      const cached = await this.cache.getWorkerTask(environmentId, cachedWorkerId, slug, queueName);
      const queueMissed = queueName !== undefined && !cached.queueId;
      if (cached.task && !queueMissed) {
        this.missStreaks?.hit(streakKey);
        leaveUnused(beside, { environmentId, version, slug });
        return { workerId: cachedWorkerId, entry: cached.task, queueId: cached.queueId ?? null, fromDatabase: false };
      }
    }
    const backfill = this.missed(streakKey, plan);
    const found = await (beside ?? lookUp(cachedWorkerId ? { id: cachedWorkerId } : { version }));
    if (backfill && !found) this.missStreaks?.backfillFinished(streakKey, false);
    if (backfill && found) {
      const { workerId, entry, overrideQueueId } = found;
      this.backfill(streakKey, async () => {
        // Only found versions are cached: a version registered a moment later must not stay "unknown".
        if (!cachedWorkerId) await this.cache.backfillVersion(environmentId, version, workerId);
        return this.cache.backfillWorker(environmentId, workerId, {
          task: { slug, entry },
          queue: queueName !== undefined && overrideQueueId ? { name: queueName, id: overrideQueueId } : undefined,
        });
      });
    }
    return lockedFromDatabase(found, version);
  }
}

function lockedFromDatabase(found: LockedLookup | null, version: string) {
  if (!found) throw new ValidationError(lockedVersionNotFound(version));
  return { workerId: found.workerId, entry: found.entry, queueId: found.overrideQueueId ?? null, fromDatabase: true };
}

let defaultResolver: QueueResolver | undefined;

/**
 * Resolves with the process's env-wired cache and miss-path source (single-flight, read replica).
 * `new QueueResolver()` alone reads the primary directly: the benchmark's baseline stays one
 * Postgres statement per call however many callers run at once.
 */
export function resolveTask(input: ResolveInput): Promise<ResolvedTask> {
  defaultResolver ??= new QueueResolver({ source: taskMetadataSource() });
  return defaultResolver.resolve(input);
}
