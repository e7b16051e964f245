import { prisma } from "~/db.server";
import { ValidationError } from "~/domain/errors";
import { logger } from "~/services/logger.server";
import { auditPromotion } from "~/services/promotionAudit.server";
import { promoteVersion, type PromotedVersion } from "~/services/workers.server";

/**
 * Promotion from the admin pages: the same service as the API's promote route (Postgres pointer,
 * then the current hash), plus the audit row saying who did it and whether it was a roll-back.
 * A PRODUCTION environment also needs the version typed into the confirmation.
 */
export async function promoteFromAdmin(input: {
  environmentId: string;
  version: string;
  userId: string;
  typedConfirmation?: string;
}): Promise<PromotedVersion & { rollback: boolean }> {
  const environment = await prisma().runtimeEnvironment.findUnique({ where: { id: input.environmentId }, select: { type: true } });
  if (environment?.type === "PRODUCTION" && input.typedConfirmation?.trim() !== input.version) {
    throw new ValidationError(`This is a production environment: type the version '${input.version}' to confirm. Nothing was changed.`);
  }
  const promoted = await promoteVersion({ environmentId: input.environmentId, version: input.version });
  const { rollback } = await auditPromotion({
    environmentId: input.environmentId,
    promoted,
    actor: { kind: "user", userId: input.userId },
    via: "admin",
  });
  logger.info("admin promoted a version", { userId: input.userId, environmentId: input.environmentId, version: promoted.version, rollback });
  return { ...promoted, rollback };
}
