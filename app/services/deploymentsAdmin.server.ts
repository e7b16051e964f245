import { prisma } from "~/db.server";
import { recordAudit } from "~/services/audit.server";
import { logger } from "~/services/logger.server";
import { promoteVersion, type PromotedVersion } from "~/services/workers.server";

/**
 * Promotion from the admin pages: the same service as the API's promote route (Postgres pointer,
 * then the current hash), plus the audit row saying who did it and whether it was a roll-back.
 */
export async function promoteFromAdmin(input: {
  environmentId: string;
  version: string;
  userId: string;
}): Promise<PromotedVersion & { rollback: boolean }> {
  const promoted = await promoteVersion({ environmentId: input.environmentId, version: input.version });
  // A roll-back is a promotion of a version registered before the one it replaces.
  const workers = promoted.previousVersion
    ? await prisma().backgroundWorker.findMany({
        where: { environmentId: input.environmentId, version: { in: [promoted.version, promoted.previousVersion] } },
        select: { version: true, createdAt: true },
      })
    : [];
  const created = new Map(workers.map((w) => [w.version, w.createdAt.getTime()]));
  const rollback =
    promoted.previousVersion !== null && (created.get(promoted.version) ?? 0) < (created.get(promoted.previousVersion) ?? 0);
  await recordAudit({
    userId: input.userId,
    action: rollback ? "deployment.rollback" : "deployment.promote",
    target: `environment/${input.environmentId} version ${promoted.version}`,
    details: {
      environmentId: input.environmentId,
      version: promoted.version,
      previousVersion: promoted.previousVersion,
      workerId: promoted.workerId,
      deploymentId: promoted.deploymentId,
    },
  });
  logger.info("admin promoted a version", { userId: input.userId, environmentId: input.environmentId, version: promoted.version, rollback });
  return { ...promoted, rollback };
}
