import { prisma } from "~/db.server";
import { recordAudit } from "~/services/audit.server";
import type { PromotedVersion } from "~/services/workers.server";

/**
 * The audit row of every promotion, whoever made it: an ADMIN on the deployments page, an API key
 * on the promote route, or the deploy webhook (key or signature) with `promote: true`. The history
 * page (/admin/history) reads these rows: who, when, from → to, how.
 */

export type PromotionActor =
  | { kind: "user"; userId: string }
  /** The key's display prefix (app/domain/apiKeys.ts), never the key. */
  | { kind: "api-key"; key: string }
  | { kind: "signature"; scheme: "v1" | "v2" };

/** How the promotion arrived. */
export type PromotionVia = "admin" | "promote-api" | "deploy-webhook";

/** A roll-back is a promotion of a version registered before the one it replaces. */
async function isRollback(environmentId: string, promoted: PromotedVersion): Promise<boolean> {
  if (promoted.previousVersion === null || promoted.previousVersion === promoted.version) return false;
  const workers = await prisma().backgroundWorker.findMany({
    where: { environmentId, version: { in: [promoted.version, promoted.previousVersion] } },
    select: { version: true, createdAt: true },
  });
  const created = new Map(workers.map((w) => [w.version, w.createdAt.getTime()]));
  return (created.get(promoted.version) ?? 0) < (created.get(promoted.previousVersion) ?? 0);
}

export async function auditPromotion(input: {
  environmentId: string;
  promoted: PromotedVersion;
  actor: PromotionActor;
  via: PromotionVia;
}): Promise<{ rollback: boolean }> {
  const { environmentId, promoted, actor } = input;
  const rollback = await isRollback(environmentId, promoted);
  await recordAudit({
    userId: actor.kind === "user" ? actor.userId : null,
    action: rollback ? "deployment.rollback" : "deployment.promote",
    target: `environment/${environmentId} version ${promoted.version}`,
    details: {
      environmentId,
      version: promoted.version,
      previousVersion: promoted.previousVersion,
      workerId: promoted.workerId,
      deploymentId: promoted.deploymentId,
      via: input.via,
      actor,
    },
  });
  return { rollback };
}
