import { readPrisma } from "~/db.server";

/**
 * Runs pinned to an external deployment id that no worker has yet (PENDING_VERSION, docs/api.md
 * "Version skew"), per environment and id: how many wait, since when, and when the first expires.
 * One grouped statement for every environment of a page.
 */

export interface AwaitingExternalId {
  externalDeploymentId: string;
  runs: number;
  oldestAt: string;
  firstDeadlineAt: string | null;
}

export async function awaitingExternalIds(environmentIds: string[]): Promise<Map<string, AwaitingExternalId[]>> {
  const byEnvironment = new Map<string, AwaitingExternalId[]>();
  if (environmentIds.length === 0) return byEnvironment;
  const groups = await readPrisma().taskRun.groupBy({
    by: ["environmentId", "externalDeploymentId"],
    where: { environmentId: { in: environmentIds }, status: "PENDING_VERSION", externalDeploymentId: { not: null } },
    _count: { _all: true },
    _min: { createdAt: true, versionDeadlineAt: true },
    orderBy: { _min: { createdAt: "asc" } },
  });
  for (const group of groups) {
    const list = byEnvironment.get(group.environmentId) ?? [];
    list.push({
      externalDeploymentId: group.externalDeploymentId!,
      runs: group._count._all,
      oldestAt: group._min.createdAt!.toISOString(),
      firstDeadlineAt: group._min.versionDeadlineAt?.toISOString() ?? null,
    });
    byEnvironment.set(group.environmentId, list);
  }
  return byEnvironment;
}
