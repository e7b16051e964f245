import { readPrisma } from "~/db.server";
import { CURRENT_LABEL, currentWorkerOf, LATEST_WORKER_FIRST } from "~/domain/environments";
import { byProjectThenSlug, environmentSummary, environmentSummarySelect, type EnvironmentSummary } from "~/presenters/environmentSummary.server";
import { driftCells, type DriftCell } from "~/presenters/drift.server";
import { redisUnavailableNotice } from "~/presenters/pageData.server";
import { taskMetadataCacheAdmin, type CurrentHashStatus, type TaskMetadataCacheAdmin } from "~/services/taskMetadata/index.server";

/**
 * /admin/environments: every environment with its current worker (Postgres) next to what its
 * current hash holds (Redis). Redis being down blanks the cache columns, not the page.
 */

export interface EnvironmentRow extends EnvironmentSummary {
  currentWorkerId: string | null;
  currentVersion: string | null;
  workerCount: number;
  /** Null when Redis could not be read. */
  cache: (CurrentHashStatus & { ownerMatches: boolean }) | null;
  /** What the sweep last found comparing contents (null when Redis could not be read). */
  drift: DriftCell | null;
}

export interface EnvironmentsPage {
  environments: EnvironmentRow[];
  redisError: string | null;
}

export async function environmentsPage(deps: { admin?: TaskMetadataCacheAdmin } = {}): Promise<EnvironmentsPage> {
  const environments = await readPrisma().runtimeEnvironment.findMany({
    orderBy: byProjectThenSlug,
    select: {
      ...environmentSummarySelect,
      promotions: { where: { label: CURRENT_LABEL }, select: { worker: { select: { id: true, version: true } } } },
      workers: { orderBy: [...LATEST_WORKER_FIRST], take: 1, select: { id: true, version: true } },
      _count: { select: { workers: true } },
    },
  });

  let statuses: (CurrentHashStatus | null)[] = environments.map(() => null);
  let redisError: string | null = null;
  if (environments.length > 0) {
    const admin = deps.admin ?? taskMetadataCacheAdmin();
    try {
      // One pipeline per environment: their keys live in different cluster slots.
      statuses = await Promise.all(environments.map((e) => admin.currentStatus(e.id)));
    } catch (error) {
      redisError = redisUnavailableNotice("environments", error);
    }
  }

  const drift = redisError ? null : await driftCells(environments.map((e) => e.id), deps);

  return {
    redisError,
    environments: environments.map((env, i) => {
      const current = currentWorkerOf(env, { latest: env.workers[0], promoted: env.promotions[0]?.worker });
      const status = statuses[i];
      return {
        ...environmentSummary(env),
        currentWorkerId: current?.id ?? null,
        currentVersion: current?.version ?? null,
        workerCount: env._count.workers,
        cache: status && { ...status, ownerMatches: status.ownerWorkerId === (current?.id ?? null) },
        drift: drift?.[i] ?? null,
      };
    }),
  };
}
