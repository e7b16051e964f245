import { readPrisma } from "~/db.server";
import { CURRENT_LABEL, currentWorkerOf, LATEST_WORKER_FIRST } from "~/domain/environments";
import type { DeploymentStatus } from "~/generated/prisma/enums.ts";
import { awaitingExternalIds, type AwaitingExternalId } from "~/presenters/awaitingDeployments.server";
import { byProjectThenSlug, environmentSummary, environmentSummarySelect, type EnvironmentSummary } from "~/presenters/environmentSummary.server";

/**
 * The deployments page: per environment, its worker versions newest first with status and task
 * count, the current one marked. Outside DEVELOPMENT the current worker is the promoted deployment's;
 * in DEVELOPMENT it is simply the latest registration, so nothing there can be promoted.
 */

export const VERSIONS_PER_ENVIRONMENT = 20;
export const VERSIONS_SINGLE_ENVIRONMENT = 200;

export interface VersionRow {
  workerId: string;
  version: string;
  /** The id the deploy sent as `externalDeploymentId` (pinned triggers reach this worker by it). */
  externalDeploymentId: string | null;
  deploymentId: string | null;
  status: DeploymentStatus | null;
  taskCount: number;
  createdAt: string;
  current: boolean;
  /** Outside DEVELOPMENT: a deployed, non-current version can be made current. */
  promotable: boolean;
  /** "promote" for a version newer than the current one, "rollback" for an older one. */
  promoteKind: "promote" | "rollback" | null;
}

export interface EnvironmentDeployments extends EnvironmentSummary {
  currentVersion: string | null;
  promotedAt: string | null;
  versionCount: number;
  versions: VersionRow[];
  /** External ids that runs wait for and no deploy has registered yet. */
  awaiting: AwaitingExternalId[];
}

export interface DeploymentsPage {
  environments: EnvironmentDeployments[];
  /** Set when the page is narrowed to one environment (`?env=`). */
  focusedEnvironmentId: string | null;
}

export async function deploymentsPage(options: { environmentId?: string } = {}): Promise<DeploymentsPage> {
  const take = options.environmentId ? VERSIONS_SINGLE_ENVIRONMENT : VERSIONS_PER_ENVIRONMENT;
  const environments = await readPrisma().runtimeEnvironment.findMany({
    where: options.environmentId ? { id: options.environmentId } : undefined,
    orderBy: byProjectThenSlug,
    select: {
      ...environmentSummarySelect,
      promotions: {
        where: { label: CURRENT_LABEL },
        select: { workerId: true, updatedAt: true, worker: { select: { version: true, createdAt: true } } },
      },
      _count: { select: { workers: true } },
      workers: {
        orderBy: [...LATEST_WORKER_FIRST],
        take,
        select: {
          id: true,
          version: true,
          externalDeploymentId: true,
          createdAt: true,
          deployment: { select: { id: true, status: true } },
          _count: { select: { tasks: true } },
        },
      },
    },
  });

  const awaiting = await awaitingExternalIds(environments.map((env) => env.id));
  return {
    focusedEnvironmentId: options.environmentId ?? null,
    environments: environments.map((env) => {
      const dev = env.type === "DEVELOPMENT";
      const promotion = env.promotions[0] ?? null;
      const latest = env.workers[0] ?? null;
      // The promoted worker may be older than the listed page, so it is read through the promotion.
      const currentWorker = currentWorkerOf(env, {
        latest: latest && { id: latest.id, version: latest.version, createdAt: latest.createdAt },
        promoted: promotion && { id: promotion.workerId, ...promotion.worker },
      });
      const versions = env.workers.map((w): VersionRow => {
        const current = w.id === currentWorker?.id;
        const promotable = !dev && !current && w.deployment?.status === "DEPLOYED";
        return {
          workerId: w.id,
          version: w.version,
          externalDeploymentId: w.externalDeploymentId,
          deploymentId: w.deployment?.id ?? null,
          status: w.deployment?.status ?? null,
          taskCount: w._count.tasks,
          createdAt: w.createdAt.toISOString(),
          current,
          promotable,
          promoteKind: promotable ? (currentWorker && w.createdAt < currentWorker.createdAt ? "rollback" : "promote") : null,
        };
      });
      return {
        ...environmentSummary(env),
        currentVersion: currentWorker?.version ?? null,
        promotedAt: dev ? null : (promotion?.updatedAt.toISOString() ?? null),
        versionCount: env._count.workers,
        versions,
        awaiting: awaiting.get(env.id) ?? [],
      };
    }),
  };
}
