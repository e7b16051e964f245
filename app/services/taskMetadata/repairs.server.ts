import { prisma } from "~/db.server";
import { NotFoundError } from "~/domain/errors";
import { recordAudit } from "~/services/audit.server";
import { logger } from "~/services/logger.server";
import { taskMetadataCacheAdmin, type TaskMetadataCacheAdmin } from "~/services/taskMetadata/admin.server";
import { publishCurrentHashChange } from "~/services/taskMetadata/instance.server";
import { rebuildCurrentCache } from "~/services/workers.server";

/**
 * The three repairs of the environment cache page (ADMIN actions): rebuild the current hash from
 * Postgres, invalidate it, delete one field. Each is one function that also writes the audit row,
 * so anything that must follow a repair (cross-instance invalidation) has exactly one place to
 * hook in.
 */

export interface RepairContext {
  environmentId: string;
  userId: string;
  /** Injected by tests; the process's instance otherwise. */
  admin?: TaskMetadataCacheAdmin;
}

async function environmentFor(environmentId: string) {
  // The primary: a repair must act on what was committed, not on a lagging replica.
  const environment = await prisma().runtimeEnvironment.findUnique({
    where: { id: environmentId },
    select: { id: true, type: true, slug: true },
  });
  if (!environment) throw new NotFoundError(`No environment with id '${environmentId}'.`);
  return environment;
}

/**
 * Re-writes the current hash (and owner) from Postgres through the write service's own sync — the
 * same atomic replace as a promotion, re-checked against concurrent promotions — or clears it
 * when the environment has no current worker.
 */
export async function rebuildCurrentHash(context: RepairContext): Promise<{ key: string; workerId: string | null; version: string | null; fields: number }> {
  const environment = await environmentFor(context.environmentId);
  const admin = context.admin ?? taskMetadataCacheAdmin();
  const key = admin.keys(environment.id).current;
  if (!(await rebuildCurrentCache(environment))) {
    // The write service has logged the cause; the admin needs to know it did not happen.
    throw new Error(`writing ${key} failed (is Redis reachable?)`);
  }
  const status = await admin.currentStatus(environment.id);
  const worker = status.ownerWorkerId
    ? await prisma().backgroundWorker.findUnique({ where: { id: status.ownerWorkerId }, select: { version: true } })
    : null;
  const result = { key, workerId: status.ownerWorkerId, version: worker?.version ?? null, fields: status.fieldCount };
  await recordAudit({ userId: context.userId, action: "cache.rebuild", target: key, details: { environmentId: environment.id, ...result } });
  logger.info("admin rebuilt the current task metadata hash", { userId: context.userId, ...result });
  return result;
}

/** Deletes the current hash and its owner; the next triggers miss and back-fill from Postgres. */
export async function invalidateCurrentHash(context: RepairContext): Promise<{ key: string; deletedKeys: number }> {
  const environment = await environmentFor(context.environmentId);
  const admin = context.admin ?? taskMetadataCacheAdmin();
  const keys = admin.keys(environment.id);
  const deletedKeys = await admin.deleteCurrent(environment.id);
  await publishCurrentHashChange(environment.id);
  await recordAudit({
    userId: context.userId,
    action: "cache.invalidate",
    target: keys.current,
    details: { environmentId: environment.id, deletedKeys: [keys.current, keys.owner], existed: deletedKeys },
  });
  logger.info("admin invalidated the current task metadata hash", { userId: context.userId, key: keys.current, deletedKeys });
  return { key: keys.current, deletedKeys };
}

/** Deletes one field of the current hash; the next trigger of that task back-fills it. */
export async function deleteCurrentHashField(context: RepairContext & { slug: string }): Promise<{ key: string; field: string; deleted: boolean }> {
  const environment = await environmentFor(context.environmentId);
  const admin = context.admin ?? taskMetadataCacheAdmin();
  const key = admin.keys(environment.id).current;
  const deleted = await admin.deleteCurrentField(environment.id, context.slug);
  await publishCurrentHashChange(environment.id);
  await recordAudit({
    userId: context.userId,
    action: "cache.delete_field",
    target: key,
    details: { environmentId: environment.id, field: context.slug, existed: deleted },
  });
  logger.info("admin deleted a current task metadata field", { userId: context.userId, key, field: context.slug, deleted });
  return { key, field: context.slug, deleted };
}
