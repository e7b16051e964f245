import { createHash } from "node:crypto";
import { prisma } from "~/db.server";
import { formatDuration, parseDuration } from "~/domain/durations";
import { BadRequestError, ConflictError, NotFoundError, ValidationError } from "~/domain/errors";
import { sanitizeQueueName } from "~/domain/queueNames";
import { taskIdProblem } from "~/domain/triggerInput";
import type { TaskMetadata, WorkerMetadataSnapshot } from "~/domain/taskMetadataEntry";
import type { PrismaClient } from "~/generated/prisma/client.ts";
import { logger } from "~/services/logger.server";
import type { TaskMetadataCacheStore } from "~/services/taskMetadataCache.server";
import { taskMetadataCache } from "~/services/taskMetadataCacheInstance.server";
import {
  CURRENT_LABEL,
  findCurrentWorkerId,
  loadWorkerSnapshot,
  type EnvironmentRef,
} from "~/services/taskMetadataSource.server";

/**
 * The write points of task metadata: registering a worker and promoting a version. Postgres is
 * written first, in one transaction; then the cache (SPEC §4): a DEVELOPMENT registration or a
 * promotion replaces the environment's current hash, any other registration that worker's hash.
 *
 * The current hash is always rebuilt from what Postgres says is current *at that moment*, then
 * Postgres is asked again: if the answer changed (a concurrent promotion), it is rebuilt again. So
 * two promotions racing on two instances converge on the one that committed last. When the cache
 * write fails after the commit, the environment is queued for repair and retried with back-off
 * until it succeeds (docs/decisions on fail-open). A failed *worker* hash write needs no repair:
 * nothing stale can exist under a new worker's id, and reads back-fill it from Postgres.
 */

export interface RegisterWorkerTask {
  slug: string;
  queue?: { name: string; concurrencyLimit?: number | null } | null;
  ttl?: string | number | null;
  triggerSource?: "STANDARD" | "SCHEDULED" | "AGENT";
}

export interface RegisterWorkerInput {
  environmentId: string;
  version: string;
  contentHash?: string | null;
  tasks: RegisterWorkerTask[];
}

export interface RegisteredWorker {
  workerId: string;
  deploymentId: string | null;
  version: string;
  /** False when this version was already registered with the same content (idempotent re-send). */
  created: boolean;
  tasks: { id: string; slug: string; queueName: string | null }[];
}

export interface PromotedVersion {
  workerId: string;
  deploymentId: string;
  version: string;
  previousVersion: string | null;
}

interface NormalisedTask {
  slug: string;
  queueName: string | null;
  concurrencyLimit: number | null | undefined;
  ttl: string | null;
  triggerSource: "STANDARD" | "SCHEDULED" | "AGENT";
}

const MAX_VERSION_LENGTH = 128;
const INSERT_CHUNK = 1_000;

/** Validates and normalises the task list (ttl spelled canonically, queue names sanitised). */
export function normaliseTasks(tasks: RegisterWorkerTask[]): NormalisedTask[] {
  const seen = new Set<string>();
  return tasks.map((task, i) => {
    const slugProblem = typeof task.slug === "string" ? taskIdProblem(task.slug) : "must be a non-empty string";
    if (slugProblem) throw new BadRequestError(`tasks[${i}].slug ${slugProblem}`, { field: `tasks[${i}].slug` });
    if (seen.has(task.slug)) {
      throw new BadRequestError(`tasks[${i}].slug '${task.slug}' appears more than once`, { field: `tasks[${i}].slug` });
    }
    seen.add(task.slug);
    const limit = task.queue?.concurrencyLimit;
    if (limit !== undefined && limit !== null && !(Number.isInteger(limit) && limit >= 0)) {
      throw new BadRequestError(`tasks[${i}].queue.concurrencyLimit must be a whole number of at least 0`, {
        field: `tasks[${i}].queue.concurrencyLimit`,
      });
    }
    const seconds = task.ttl === undefined || task.ttl === null ? 0 : parseDuration(task.ttl, `tasks[${i}].ttl`);
    return {
      slug: task.slug,
      queueName: task.queue ? sanitizeQueueName(task.queue.name, task.slug) : null,
      concurrencyLimit: task.queue ? limit : undefined,
      ttl: seconds === 0 ? null : formatDuration(seconds),
      triggerSource: task.triggerSource ?? "STANDARD",
    };
  });
}

/**
 * What makes two registrations of one version "the same": the client's contentHash when given,
 * else a hash of the normalised task list (order-independent). Stored in `contentHash`.
 */
export function contentIdentity(contentHash: string | null | undefined, tasks: NormalisedTask[]): string {
  if (contentHash) return contentHash;
  const canonical = [...tasks]
    .sort((a, b) => (a.slug < b.slug ? -1 : a.slug > b.slug ? 1 : 0))
    .map((t) => [t.slug, t.queueName, t.concurrencyLimit ?? null, t.ttl, t.triggerSource]);
  return `tasks-sha256:${createHash("sha256").update(JSON.stringify(canonical)).digest("hex")}`;
}

function isUniqueViolation(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === "P2002";
}

function snapshotOf(workerId: string, version: string, tasks: NormalisedTask[], queueIds: Map<string, string>): WorkerMetadataSnapshot {
  const used = new Map<string, string>();
  const entries = tasks.map((task) => {
    const queueId = task.queueName ? queueIds.get(task.queueName) ?? null : null;
    if (task.queueName && queueId) used.set(task.queueName, queueId);
    const entry: TaskMetadata = {
      found: true,
      kind: task.triggerSource,
      ttl: task.ttl,
      queueId,
      queueName: queueId ? task.queueName : null,
    };
    return { slug: task.slug, entry };
  });
  return { workerId, version, tasks: entries, queues: [...used].map(([name, id]) => ({ name, id })) };
}

export interface WorkerServiceDeps {
  cache?: TaskMetadataCacheStore;
  prisma?: PrismaClient;
  /** Delays between repair attempts of a current hash (the last one repeats). */
  repairDelaysMs?: number[];
}

const DEFAULT_REPAIR_DELAYS_MS = [100, 500, 2_000, 5_000, 15_000, 30_000];
const MAX_SYNC_ROUNDS = 5;

export class WorkerService {
  private readonly deps: WorkerServiceDeps;
  private readonly repairs = new Map<string, Promise<void>>();

  constructor(deps: WorkerServiceDeps = {}) {
    this.deps = deps;
  }

  private get cache() {
    return this.deps.cache ?? taskMetadataCache();
  }
  private get db() {
    return this.deps.prisma ?? prisma();
  }

  async registerWorker(input: RegisterWorkerInput): Promise<RegisteredWorker> {
    const version = input.version?.trim();
    if (!version || version.length > MAX_VERSION_LENGTH) {
      throw new BadRequestError(`version must be a non-empty string of at most ${MAX_VERSION_LENGTH} characters`, {
        field: "version",
      });
    }
    const tasks = normaliseTasks(input.tasks);
    const identity = contentIdentity(input.contentHash, tasks);
    const environment = await this.environment(input.environmentId);

    let result: { registered: RegisteredWorker; snapshot: WorkerMetadataSnapshot | null };
    try {
      result = await this.insertWorker(environment, version, identity, tasks);
    } catch (error) {
      // The same version registered concurrently: the loser compares content like a re-send.
      if (!isUniqueViolation(error)) throw error;
      result = await this.insertWorker(environment, version, identity, tasks);
    }
    const { registered, snapshot } = result;

    if (environment.type === "DEVELOPMENT") {
      await this.syncCurrent(environment, snapshot ?? undefined);
    } else {
      const workerSnapshot = snapshot ?? (await loadWorkerSnapshot(this.db, registered.workerId));
      if (workerSnapshot) {
        await this.cache.replaceWorker(environment.id, workerSnapshot).catch((error) => {
          // Nothing stale can sit under a new worker's id: locked reads back-fill it from Postgres.
          logger.warn("worker hash write failed after registration; reads will back-fill it", {
            environmentId: environment.id,
            workerId: registered.workerId,
            error,
          });
        });
      }
    }
    return registered;
  }

  /** One transaction; returns the snapshot of what it created (null for an idempotent re-send). */
  private async insertWorker(
    environment: EnvironmentRef,
    version: string,
    identity: string,
    tasks: NormalisedTask[],
  ): Promise<{ registered: RegisteredWorker; snapshot: WorkerMetadataSnapshot | null }> {
    return this.db.$transaction(
      async (tx) => {
        const existing = await tx.backgroundWorker.findUnique({
          where: { environmentId_version: { environmentId: environment.id, version } },
          select: {
            id: true,
            contentHash: true,
            deployment: { select: { id: true } },
            tasks: { select: { id: true, slug: true, queue: { select: { name: true } } } },
          },
        });
        if (existing) {
          if (existing.contentHash !== identity) {
            throw new ConflictError(`Version '${version}' is already registered in this environment with different content.`, {
              version,
            });
          }
          // Same content, so the same slugs: answer in the order of this request, like the first time.
          const bySlug = new Map(existing.tasks.map((t) => [t.slug, { id: t.id, slug: t.slug, queueName: t.queue?.name ?? null }]));
          return {
            registered: {
              workerId: existing.id,
              deploymentId: existing.deployment?.id ?? null,
              version,
              created: false,
              tasks: tasks.flatMap((t) => bySlug.get(t.slug) ?? []),
            },
            snapshot: null,
          };
        }

        const worker = await tx.backgroundWorker.create({
          data: { environmentId: environment.id, version, contentHash: identity },
          select: { id: true },
        });

        const declared = new Map<string, number | null | undefined>();
        for (const task of tasks) {
          if (task.queueName && (!declared.has(task.queueName) || declared.get(task.queueName) === undefined)) {
            declared.set(task.queueName, task.concurrencyLimit);
          }
        }
        const queueIds = new Map<string, string>();
        const names = [...declared.keys()];
        for (let i = 0; i < names.length; i += INSERT_CHUNK) {
          const chunk = names.slice(i, i + INSERT_CHUNK);
          await tx.taskQueue.createMany({
            data: chunk.map((name) => ({ environmentId: environment.id, name, concurrencyLimit: declared.get(name) ?? null })),
            skipDuplicates: true,
          });
          const rows = await tx.taskQueue.findMany({
            where: { environmentId: environment.id, name: { in: chunk } },
            select: { id: true, name: true, concurrencyLimit: true },
          });
          // Queues are shared by the environment's workers; the newest registration sets the limit.
          const changed = new Map<number | null, string[]>();
          for (const row of rows) {
            queueIds.set(row.name, row.id);
            const limit = declared.get(row.name);
            if (limit !== undefined && limit !== row.concurrencyLimit) changed.set(limit, [...(changed.get(limit) ?? []), row.id]);
          }
          for (const [limit, ids] of changed) {
            await tx.taskQueue.updateMany({ where: { id: { in: ids } }, data: { concurrencyLimit: limit } });
          }
        }

        const created: RegisteredWorker["tasks"] = [];
        for (let i = 0; i < tasks.length; i += INSERT_CHUNK) {
          const rows = await tx.backgroundWorkerTask.createManyAndReturn({
            data: tasks.slice(i, i + INSERT_CHUNK).map((task) => ({
              workerId: worker.id,
              environmentId: environment.id,
              slug: task.slug,
              ttl: task.ttl,
              triggerSource: task.triggerSource,
              queueId: task.queueName ? queueIds.get(task.queueName) ?? null : null,
            })),
            select: { id: true, slug: true },
          });
          const bySlug = new Map(rows.map((r) => [r.slug, r.id]));
          for (const task of tasks.slice(i, i + INSERT_CHUNK)) {
            created.push({ id: bySlug.get(task.slug)!, slug: task.slug, queueName: task.queueName });
          }
        }

        let deploymentId: string | null = null;
        if (environment.type !== "DEVELOPMENT") {
          const deployment = await tx.workerDeployment.create({
            data: { workerId: worker.id, environmentId: environment.id },
            select: { id: true },
          });
          deploymentId = deployment.id;
        }
        return {
          registered: { workerId: worker.id, deploymentId, version, created: true, tasks: created },
          snapshot: snapshotOf(worker.id, version, tasks, queueIds),
        };
      },
      { timeout: 120_000, maxWait: 10_000 },
    );
  }

  async promoteVersion(input: { environmentId: string; version: string }): Promise<PromotedVersion> {
    const environment = await this.db.runtimeEnvironment.findUnique({
      where: { id: input.environmentId },
      select: { id: true, slug: true, type: true },
    });
    if (!environment) throw new NotFoundError("Environment not found.");
    if (environment.type === "DEVELOPMENT") {
      throw new ValidationError(
        `Environment '${environment.slug}' is a DEVELOPMENT environment: its most recently registered worker is always current, so there are no deployments to promote.`,
      );
    }
    const promoted = await this.db.$transaction(async (tx) => {
      const worker = await tx.backgroundWorker.findUnique({
        where: { environmentId_version: { environmentId: environment.id, version: input.version } },
        select: { id: true, deployment: { select: { id: true } } },
      });
      if (!worker?.deployment) throw new NotFoundError(`No deployment found with version '${input.version}'.`);
      const previous = await tx.workerDeploymentPromotion.findUnique({
        where: { environmentId_label: { environmentId: environment.id, label: CURRENT_LABEL } },
        select: { worker: { select: { version: true } } },
      });
      await tx.workerDeploymentPromotion.upsert({
        where: { environmentId_label: { environmentId: environment.id, label: CURRENT_LABEL } },
        create: { environmentId: environment.id, label: CURRENT_LABEL, deploymentId: worker.deployment.id, workerId: worker.id },
        update: { deploymentId: worker.deployment.id, workerId: worker.id },
      });
      return {
        workerId: worker.id,
        deploymentId: worker.deployment.id,
        version: input.version,
        previousVersion: previous?.worker.version ?? null,
      };
    });
    await this.syncCurrent(environment);
    return promoted;
  }

  /**
   * Makes the environment's current hash match Postgres (admin "rebuild"; also after every
   * promotion and dev registration). Never throws: a failure schedules a repair.
   */
  async syncCurrent(environment: EnvironmentRef, hint?: WorkerMetadataSnapshot): Promise<boolean> {
    try {
      await this.writeCurrent(environment, hint);
      return true;
    } catch (error) {
      logger.warn("current hash write failed after a committed change; repairing in the background", {
        environmentId: environment.id,
        error,
      });
      this.scheduleRepair(environment);
      return false;
    }
  }

  private async writeCurrent(environment: EnvironmentRef, hint?: WorkerMetadataSnapshot): Promise<void> {
    let workerId = await findCurrentWorkerId(this.db, environment);
    for (let round = 0; round < MAX_SYNC_ROUNDS; round++) {
      if (workerId === null) {
        await this.cache.clearCurrent(environment.id);
      } else {
        const snapshot = hint?.workerId === workerId ? hint : await loadWorkerSnapshot(this.db, workerId);
        if (!snapshot) throw new Error(`current worker ${workerId} vanished while its hash was being written`);
        await this.cache.replaceCurrent(environment.id, snapshot);
      }
      // A promotion that committed while we wrote may have been overwritten by our older answer.
      const now = await findCurrentWorkerId(this.db, environment);
      if (now === workerId) return;
      workerId = now;
    }
    throw new Error(`current worker kept changing over ${MAX_SYNC_ROUNDS} rounds`);
  }

  /** Retries {@link writeCurrent} with back-off until it succeeds; one loop per environment. */
  private scheduleRepair(environment: EnvironmentRef): void {
    if (this.repairs.has(environment.id)) return;
    const delays = this.deps.repairDelaysMs ?? DEFAULT_REPAIR_DELAYS_MS;
    const run = async () => {
      for (let attempt = 0; ; attempt++) {
        await new Promise<void>((resolve) => setTimeout(resolve, delays[Math.min(attempt, delays.length - 1)]).unref());
        try {
          await this.writeCurrent(environment);
          logger.info("current hash repaired", { environmentId: environment.id, attempts: attempt + 1 });
          return;
        } catch {
          // Each failed attempt was already logged (rate-limited) and counted by the cache.
        }
      }
    };
    this.repairs.set(environment.id, run().finally(() => this.repairs.delete(environment.id)));
  }

  /** Resolves when no repair is pending (tests, graceful shutdown). */
  async repairsSettled(): Promise<void> {
    while (this.repairs.size) await Promise.all([...this.repairs.values()]);
  }

  private async environment(environmentId: string): Promise<EnvironmentRef> {
    const environment = await this.db.runtimeEnvironment.findUnique({
      where: { id: environmentId },
      select: { id: true, type: true },
    });
    if (!environment) throw new NotFoundError("Environment not found.");
    return environment;
  }
}

let defaultService: WorkerService | undefined;

function service(): WorkerService {
  defaultService ??= new WorkerService();
  return defaultService;
}

/** Registers a worker (SPEC §5 deploy webhook): Postgres in one transaction, then the cache. */
export function registerWorker(input: RegisterWorkerInput): Promise<RegisteredWorker> {
  return service().registerWorker(input);
}

/** Makes `version` current in a non-dev environment (a roll-back is promoting an older version). */
export function promoteVersion(input: { environmentId: string; version: string }): Promise<PromotedVersion> {
  return service().promoteVersion(input);
}

/** Rebuilds the environment's current hash from Postgres (admin action). */
export async function rebuildCurrentCache(environmentId: string): Promise<boolean> {
  const environment = await prisma().runtimeEnvironment.findUnique({
    where: { id: environmentId },
    select: { id: true, type: true },
  });
  if (!environment) throw new NotFoundError("Environment not found.");
  return service().syncCurrent(environment);
}

/** The id of the environment's current worker, from Postgres. */
export async function currentWorkerId(environmentId: string): Promise<string | null> {
  const environment = await prisma().runtimeEnvironment.findUnique({
    where: { id: environmentId },
    select: { id: true, type: true },
  });
  return environment ? findCurrentWorkerId(prisma(), environment) : null;
}
