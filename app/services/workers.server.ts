import { prisma } from "~/db.server";
import { CURRENT_LABEL, type EnvironmentRef } from "~/domain/environments";
import { BadRequestError, NotFoundError, ValidationError } from "~/domain/errors";
import type { WorkerMetadataSnapshot } from "~/domain/taskMetadataEntry";
import { SPAN } from "~/domain/traceAttributes";
import { contentIdentity, normaliseTasks, type RegisterWorkerTask } from "~/domain/workerTasks";
import type { PrismaClient } from "~/generated/prisma/client.ts";
import { logger } from "~/services/logger.server";
import {
  findCurrentWorkerId,
  loadWorkerSnapshot,
  taskMetadataCache,
  type TaskMetadataStore,
} from "~/services/taskMetadata/index.server";
import { inLinkedSpan } from "~/services/tracing.server";
import { insertWorker, type RegisteredWorker } from "~/services/workerRegistration.server";

export type { RegisterWorkerTask, RegisteredWorker };

/**
 * The write points of task metadata: registering a worker and promoting a version. Postgres is
 * written first, in one transaction; then the cache (docs/architecture.md, "A deploy: the write path"): a DEVELOPMENT registration or a
 * promotion replaces the environment's current hash, any other registration that worker's hash.
 *
 * The current hash is always rebuilt from what Postgres says is current *at that moment*, then
 * Postgres is asked again: if the answer changed (a concurrent promotion), it is rebuilt again. So
 * two promotions racing on two instances converge on the one that committed last. When the cache
 * write fails after the commit, the environment is queued for repair and retried with back-off
 * until it succeeds (docs/decisions on fail-open). A failed *worker* hash write needs no repair:
 * nothing stale can exist under a new worker's id, and reads back-fill it from Postgres.
 */

export interface RegisterWorkerInput {
  environmentId: string;
  version: string;
  contentHash?: string | null;
  tasks: RegisterWorkerTask[];
  /** The caller's id of this build: idempotent by it, and triggers pin to it (docs/api.md "Version skew"). */
  externalDeploymentId?: string | null;
  /** Move an external id registered with other content to this deploy (otherwise a 409). */
  force?: boolean;
}

export interface PromotedVersion {
  workerId: string;
  deploymentId: string;
  version: string;
  previousVersion: string | null;
}

const MAX_VERSION_LENGTH = 128;

function isUniqueViolation(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === "P2002";
}

export interface WorkerServiceDeps {
  cache?: TaskMetadataStore;
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
    const externalId = input.externalDeploymentId?.trim();
    if (externalId !== undefined && (externalId === "" || externalId.length > MAX_VERSION_LENGTH)) {
      throw new BadRequestError(`externalDeploymentId must be a non-empty string of at most ${MAX_VERSION_LENGTH} characters`, {
        field: "externalDeploymentId",
      });
    }
    const registration = { version, identity, tasks, external: externalId ? { id: externalId, force: input.force === true } : undefined };

    let result: { registered: RegisteredWorker; snapshot: WorkerMetadataSnapshot | null };
    try {
      result = await insertWorker(this.db, environment, registration);
    } catch (error) {
      // The same version registered concurrently: the loser compares content like a re-send.
      if (!isUniqueViolation(error)) throw error;
      result = await insertWorker(this.db, environment, registration);
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
      await inLinkedSpan(SPAN.cacheReplace, {}, () => this.writeCurrent(environment, hint));
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

/** Registers a worker (docs/api.md, "POST /api/v1/deployments"): Postgres in one transaction, then the cache. */
export function registerWorker(input: RegisterWorkerInput): Promise<RegisteredWorker> {
  return service().registerWorker(input);
}

/** Makes `version` current in a non-dev environment (a roll-back is promoting an older version). */
export function promoteVersion(input: { environmentId: string; version: string }): Promise<PromotedVersion> {
  return service().promoteVersion(input);
}

/** Rebuilds the environment's current hash from Postgres (admin repair, the sweep); the caller has read the environment. */
export function rebuildCurrentCache(environment: EnvironmentRef): Promise<boolean> {
  return service().syncCurrent(environment);
}
