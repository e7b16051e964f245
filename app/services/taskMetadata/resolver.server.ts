import { performance } from "node:perf_hooks";
import { prisma } from "~/db.server";
import { getEnv } from "~/env.server";
import type { CacheEventSink } from "~/domain/cacheEvents";
import type { EnvironmentRef, TaskKind } from "~/domain/environments";
import { BadRequestError, ValidationError } from "~/domain/errors";
import { defaultQueueName, sanitizeQueueName } from "~/domain/queueNames";
import { ABSENT_TASK, type TaskEntry } from "~/domain/taskMetadataEntry";
import { effectiveTtl, parseTriggerTtl } from "~/domain/ttl";
import type { PrismaClient } from "~/generated/prisma/client.ts";
import { cacheEvents, taskMetadataCache, taskMetadataSource } from "~/services/taskMetadata/instance.server";
import { NOT_DEPLOYED_YET, pinnedTaskLookup, type NotDeployedYet, type PinnedAnswer } from "~/services/taskMetadata/pinnedLookup.server";
import { CacheMiss, ReadThrough, type Lookup, type ReadThroughOptions, type ReadThroughResult } from "~/services/taskMetadata/readThrough.server";
import {
  postgresTaskMetadataSource,
  type LockedLookup,
  type TaskMetadataSource,
} from "~/services/taskMetadata/sources.server";
import type { TaskMetadataStore } from "~/services/taskMetadata/store.server";

/**
 * The trigger hot path's queue resolver (docs/api.md): which queue, TTL and kind a run gets, and
 * what it is locked to. Its rules are here; how each lookup goes through the cache to Postgres and
 * back-fills is ReadThrough's (readThrough.server.ts). Warm, it sends no Postgres query in any
 * caller configuration.
 */

export interface ResolveInput {
  environment: EnvironmentRef;
  taskSlug: string;
  /** Queue override name (the API accepts `{ name }` or a bare string). */
  queue?: string;
  /** Raw trigger `options.ttl`. */
  ttl?: string | number;
  lockToVersion?: string;
  /** Pins the run to the worker registered with this external deployment id (exclusive with lockToVersion). */
  externalDeploymentId?: string;
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
  /** Pinned to an external deployment id no worker has yet: the run waits for that deploy (PENDING_VERSION). */
  awaitingDeployment: boolean;
}

export interface QueueResolverDeps {
  cache?: TaskMetadataStore;
  /** Answers cache misses; defaults to Postgres through `prisma`. */
  source?: TaskMetadataSource;
  /** The database of the default source. */
  prisma?: PrismaClient;
  events?: CacheEventSink;
  maxTtlSeconds?: number;
  /** Back-fill scheduling and keys that keep missing: see readThrough.server.ts. */
  scheduleBackfill?: ReadThroughOptions["scheduleBackfill"];
  missStreaks?: ReadThroughOptions["missStreaks"];
}

const lockedVersionNotFound = (version: string) =>
  `Task locked to version '${version}', but no worker found with that version.`;
// `target` names the worker: `locked version '<v>'` or `the deployment with external id '<id>'`.
const lockedQueueNotFound = (queue: string, target: string) =>
  `Specified queue '${queue}' not found or not associated with ${target}.`;
const lockedTaskNotFound = (slug: string, target: string) =>
  `Task '${slug}' not found on ${target}.`;
const lockedDefaultQueueMissing = (slug: string, target: string) =>
  `Default queue configuration for task '${slug}' missing on ${target}.`;
const lockedTarget = (version: string) => `locked version '${version}'`;
const pinnedTarget = (externalId: string) => `the deployment with external id '${externalId}'`;

interface LockedAnswer {
  workerId: string;
  entry: TaskEntry;
  queueId: string | null;
}

export class QueueResolver {
  private readonly deps: QueueResolverDeps;
  private readonly readThrough: ReadThrough;
  private readonly lookups: {
    current: ReturnType<typeof currentTaskLookup>;
    locked: ReturnType<typeof lockedTaskLookup>;
    pinned: ReturnType<typeof pinnedTaskLookup>;
  };
  private defaultSource: TaskMetadataSource | undefined;

  private get cache(): TaskMetadataStore {
    return this.deps.cache ?? taskMetadataCache();
  }

  private get source(): TaskMetadataSource {
    if (this.deps.source) return this.deps.source;
    this.defaultSource ??= postgresTaskMetadataSource(this.deps.prisma ?? prisma());
    return this.defaultSource;
  }

  private get events(): CacheEventSink {
    return this.deps.events ?? cacheEvents;
  }

  constructor(deps: QueueResolverDeps = {}) {
    this.deps = deps;
    this.readThrough = new ReadThrough({ missStreaks: deps.missStreaks, scheduleBackfill: deps.scheduleBackfill });
    // The getters, so a lookup sees the cache and source in use at the time of each call.
    const resolver = this;
    const io: LookupIo = {
      get cache() {
        return resolver.cache;
      },
      get source() {
        return resolver.source;
      },
    };
    this.lookups = { current: currentTaskLookup(io), locked: lockedTaskLookup(io), pinned: pinnedTaskLookup(io) };
  }

  async resolve(input: ResolveInput): Promise<ResolvedTask> {
    const started = performance.now();
    // Malformed input is a 400 before any I/O, whatever the task turns out to be.
    const { triggerTtlSeconds, override } = prepareInput(input);
    const resolved = input.lockToVersion
      ? await this.resolveLocked(input, input.lockToVersion, override)
      : input.externalDeploymentId
        ? await this.resolvePinned(input, input.externalDeploymentId, override)
        : await this.resolveCurrent(input, override);
    const result = resolvedTask(input, resolved, triggerTtlSeconds, this.maxTtlSeconds);
    this.events.observeResolve(result.source, performance.now() - started, input.environment.id);
    return result;
  }

  get maxTtlSeconds(): number {
    return this.deps.maxTtlSeconds ?? getEnv().TRIGGER_MAX_TTL_SECONDS;
  }

  // ---- rules -------------------------------------------------------------------------------

  /** Not locked: the current worker's entry. Never fails (docs/api.md). */
  private async resolveCurrent(input: ResolveInput, override: string | undefined) {
    const answer = await this.currentTask(input.environment, input.taskSlug);
    const entry = answer.fromDatabase ? answer.value.entry : answer.value;
    return currentRule(input.taskSlug, entry, override, answer.fromDatabase);
  }

  /** Locked to a version: that worker's entry, with the checks of docs/api.md. */
  private async resolveLocked(input: ResolveInput, version: string, override: string | undefined) {
    const queueName = lockedQueueName(input.taskSlug, override);
    const answer = lockedAnswer(await this.lockedTask(input.environment.id, version, input.taskSlug, queueName));
    return lockedRule(input, version, queueName, answer);
  }

  /**
   * Pinned to an external deployment id: that worker's entry with the locked checks, or, while no
   * worker has the id, a run that waits for its deploy on the override or the default queue.
   */
  private async resolvePinned(input: ResolveInput, externalId: string, override: string | undefined): Promise<ResolvedRule> {
    const { environment, taskSlug } = input;
    const queueName = lockedQueueName(taskSlug, override);
    const answer = await this.readThrough.read(this.lookups.pinned, { environmentId: environment.id, externalId, slug: taskSlug, queueName });
    const found = pinnedAnswer(answer);
    if (!found) {
      return { entry: ABSENT_TASK, fromDatabase: answer.fromDatabase, queueName: queueName ?? defaultQueueName(taskSlug), lockedQueueId: null, lockedWorkerId: null, awaiting: true };
    }
    return workerRule(input, found, queueName, pinnedTarget(externalId));
  }

  // ---- lookups -----------------------------------------------------------------------------

  /** The current worker's entry of `slug`; a miss back-fills the current hash for that worker. */
  private currentTask(environment: EnvironmentRef, slug: string) {
    return this.readThrough.read(this.lookups.current, { environment, slug });
  }

  /** The locked worker's entry of `slug` and the override's queue id; Postgres' answer is null for an unknown version. */
  private lockedTask(environmentId: string, version: string, slug: string, queueName: string | undefined) {
    return this.readThrough.read(this.lookups.locked, { environmentId, version, slug, queueName });
  }
}

// ---- the rules every resolve shares (a single trigger and each item of a batch) -------------

/** What a resolve decided before the TTL and the result's shape: {@link resolvedTask} finishes it. */
export interface ResolvedRule {
  entry: TaskEntry;
  fromDatabase: boolean;
  queueName: string;
  lockedQueueId: string | null;
  lockedWorkerId: string | null;
  /** Pinned to an external id no worker has yet. */
  awaiting?: boolean;
}

/**
 * The checks made before any I/O: a run is locked to a version or pinned to an external id, never
 * both (a 400); the trigger TTL parses (or throws a 400); a blank override is none.
 */
export function prepareInput(input: ResolveInput): { triggerTtlSeconds: number | undefined; override: string | undefined } {
  if (input.lockToVersion !== undefined && input.externalDeploymentId !== undefined) {
    throw new BadRequestError("options.lockToVersion and options.externalDeploymentId cannot be used together; send one of them", {
      field: "options.externalDeploymentId",
    });
  }
  const triggerTtlSeconds = parseTriggerTtl(input.ttl);
  return { triggerTtlSeconds, override: input.queue?.trim() ? input.queue : undefined };
}

/** Not locked: the override, else the task's queue, else the task's default queue name. */
export function currentRule(taskSlug: string, entry: TaskEntry, override: string | undefined, fromDatabase: boolean): ResolvedRule {
  const queueName =
    override !== undefined
      ? sanitizeQueueName(override, taskSlug)
      : entry.found && entry.queueName
        ? sanitizeQueueName(entry.queueName, taskSlug)
        : defaultQueueName(taskSlug);
  return { entry, fromDatabase, queueName, lockedQueueId: null, lockedWorkerId: null };
}

/** The effective TTL and the answer's shape. */
export function resolvedTask(input: ResolveInput, resolved: ResolvedRule, triggerTtlSeconds: number | undefined, maxSeconds: number): ResolvedTask {
  const ttl = effectiveTtl({
    triggerTtlSeconds,
    taskTtl: resolved.entry.found ? resolved.entry.ttl : null,
    environmentType: input.environment.type,
    maxSeconds,
  });
  return {
    queueName: resolved.queueName,
    lockedQueueId: resolved.lockedQueueId,
    lockedWorkerId: resolved.lockedWorkerId,
    ttl: ttl.ttl,
    ttlSeconds: ttl.ttlSeconds,
    taskKind: resolved.entry.found ? resolved.entry.kind : "STANDARD",
    taskFound: resolved.entry.found,
    source: resolved.fromDatabase ? "database" : "cache",
    awaitingDeployment: resolved.awaiting === true,
  };
}

/** The queue a locked or pinned item asks its worker about: the sanitised override, if any. */
export function lockedQueueName(taskSlug: string, override: string | undefined): string | undefined {
  return override !== undefined ? sanitizeQueueName(override, taskSlug) : undefined;
}

/** A locked or pinned lookup's answer, from the cache or from Postgres. */
export interface LockedRuleAnswer {
  workerId: string;
  entry: TaskEntry;
  /** The override's queue id; null when not associated with the worker (or no override). */
  queueId: string | null;
  fromDatabase: boolean;
}

/** Locked to a version: the checks of docs/api.md on that worker's answer (null: the version is unknown), with their exact messages. */
export function lockedRule(input: ResolveInput, version: string, queueName: string | undefined, answer: LockedRuleAnswer | null): ResolvedRule {
  if (!answer) throw new ValidationError(lockedVersionNotFound(version));
  return workerRule(input, answer, queueName, lockedTarget(version));
}

/** A locked or pinned worker's answer with the checks of docs/api.md; `target` names the worker in the errors. */
function workerRule(input: ResolveInput, answer: LockedRuleAnswer, queueName: string | undefined, target: string): ResolvedRule {
  const { workerId, entry, queueId, fromDatabase } = answer;
  const { taskSlug } = input;
  if (queueName !== undefined) {
    if (!queueId) throw new ValidationError(lockedQueueNotFound(input.queue ?? queueName, target));
    // The task missing on the locked worker is tolerated here: kind STANDARD, no task TTL.
    return { entry, fromDatabase, queueName, lockedQueueId: queueId, lockedWorkerId: workerId };
  }
  if (!entry.found) throw new ValidationError(lockedTaskNotFound(taskSlug, target));
  if (!entry.queueId || !entry.queueName) throw new ValidationError(lockedDefaultQueueMissing(taskSlug, target));
  return {
    entry,
    fromDatabase,
    queueName: sanitizeQueueName(entry.queueName, taskSlug),
    lockedQueueId: entry.queueId,
    lockedWorkerId: workerId,
  };
}

/** The single locked lookup's answer in the rule's shape; null for an unknown version. */
function lockedAnswer(answer: ReadThroughResult<LockedAnswer, LockedLookup | null>): LockedRuleAnswer | null {
  if (!answer.fromDatabase) return { ...answer.value, fromDatabase: false };
  const found = answer.value;
  return found && { workerId: found.workerId, entry: found.entry, queueId: found.overrideQueueId ?? null, fromDatabase: true };
}

/** The pinned lookup's answer from either side; null while no worker has the id. */
function pinnedAnswer(answer: ReadThroughResult<PinnedAnswer | NotDeployedYet, LockedLookup | null>): LockedRuleAnswer | null {
  if (!answer.fromDatabase) {
    if (answer.value === NOT_DEPLOYED_YET) return null;
    return { ...(answer.value as PinnedAnswer), fromDatabase: false };
  }
  const found = answer.value;
  return found && { workerId: found.workerId, entry: found.entry, queueId: found.overrideQueueId ?? null, fromDatabase: true };
}

/** Where the lookups read and write: the resolver's cache and source, looked up on each use. */
interface LookupIo {
  readonly cache: TaskMetadataStore;
  readonly source: TaskMetadataSource;
}

interface CurrentArgs {
  environment: EnvironmentRef;
  slug: string;
}

/** Unlocked: the current hash, or Postgres' current worker; the back-fill is owner-checked. */
function currentTaskLookup(io: LookupIo): Lookup<CurrentArgs, TaskEntry, { workerId: string | null; entry: TaskEntry }> {
  return {
    key: ({ environment, slug }) => `${environment.id}\0${slug}`,
    context: ({ environment, slug }) => ({ environmentId: environment.id, slug }),
    fromCache: ({ environment, slug }) => io.cache.getCurrentTask(environment.id, slug),
    fromSource: ({ environment, slug }) => io.source.findCurrentTask(environment, slug),
    backfill: ({ environment, slug }, { workerId, entry }) => () => io.cache.backfillCurrentTask(environment.id, workerId, slug, entry),
  };
}

interface LockedArgs {
  environmentId: string;
  version: string;
  slug: string;
  queueName: string | undefined;
}

/**
 * Locked: the worker, the task and the override's queue association from the version's locked
 * hash, in one read (docs/decisions/0055-locked-hash-by-version.md). Whatever missed is read from
 * Postgres in one statement (by the cached worker id, the hint, when the version was known) and
 * back-filled; a worker's tasks never change after registration, so "absent" is cached too. Only
 * found versions are cached: a version registered a moment later must not stay "unknown".
 */
function lockedTaskLookup(io: LookupIo): Lookup<LockedArgs, LockedAnswer, LockedLookup | null, string> {
  return {
    key: ({ environmentId, version, slug, queueName }) => `${environmentId}\0${version}\0${slug}\0${queueName ?? ""}`,
    context: ({ environmentId, version, slug }) => ({ environmentId, version, slug }),
    fromCache: async ({ environmentId, version, slug, queueName }) => {
      const cached = await io.cache.getLockedTask(environmentId, version, slug, queueName);
      const { workerId, task } = cached;
      if (!workerId) return null;
      const queueMissed = queueName !== undefined && !cached.queueId;
      if (!task || queueMissed) return new CacheMiss(workerId);
      return { workerId, entry: task, queueId: cached.queueId ?? null };
    },
    fromSource: ({ environmentId, version, slug, queueName }, cachedWorkerId) =>
      io.source.findLockedTask(environmentId, cachedWorkerId ? { id: cachedWorkerId } : { version }, slug, queueName),
    backfill: ({ environmentId, version, slug, queueName }, found) =>
      found &&
      (() =>
        io.cache.backfillLocked(environmentId, version, found.workerId, {
          tasks: [{ slug, entry: found.entry }],
          queues: queueName !== undefined && found.overrideQueueId ? [{ name: queueName, id: found.overrideQueueId }] : [],
        })),
  };
}

let defaultResolver: QueueResolver | undefined;

/**
 * Resolves with the process's env-wired cache and miss-path source (single-flight, read replica).
 * `new QueueResolver()` alone reads the primary directly: the benchmark's baseline stays one
 * Postgres statement per call however many callers run at once.
 */
export function resolveTask(input: ResolveInput): Promise<ResolvedTask> {
  return defaultQueueResolver().resolve(input);
}

/** The process's resolver (env-wired cache and miss-path source), shared with the batch resolver. */
export function defaultQueueResolver(): QueueResolver {
  defaultResolver ??= new QueueResolver({ source: taskMetadataSource() });
  return defaultResolver;
}
