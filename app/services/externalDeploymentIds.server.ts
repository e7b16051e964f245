import { ConflictError, InProgressError } from "~/domain/errors";
import type { Prisma } from "~/generated/prisma/client.ts";

/**
 * Deploys are idempotent by their external id (docs/api.md "Version skew"), decided inside the
 * registration's transaction:
 *   - one deploy of an id at a time: a transaction-scoped advisory lock on (environment, id); a
 *     second deploy of the id while the first is still in its transaction is a 409 with Retry-After;
 *   - the id already registered with the same version and content: that registration (a 200 with
 *     the same ids);
 *   - the id registered with other content: a 409, unless `force`, which moves the id to the new
 *     registration and bumps its generation (the cache keeps the highest: set-if-newer).
 */

export interface ExternalClaim {
  id: string;
  /** 1 for an id's first worker, +1 for each forced move. */
  generation: number;
  /** The worker that already holds the id with this version and content (an idempotent re-send); null otherwise. */
  holder: string | null;
}

const RETRY_AFTER_SECONDS = 2;

export async function claimExternalId(
  tx: Prisma.TransactionClient,
  target: { environmentId: string; version: string; identity: string },
  external: { id: string; force: boolean },
): Promise<ExternalClaim> {
  const { environmentId, version, identity } = target;
  const [{ locked }] = await tx.$queryRaw<{ locked: boolean }[]>`
    SELECT pg_try_advisory_xact_lock(hashtextextended(${environmentId} || '/' || ${external.id}, 0)) AS locked`;
  if (!locked) {
    throw new InProgressError(`A deploy with external deployment id '${external.id}' is in progress; retry shortly.`, RETRY_AFTER_SECONDS);
  }
  const holder = await tx.backgroundWorker.findUnique({
    where: { environmentId_externalDeploymentId: { environmentId, externalDeploymentId: external.id } },
    select: { id: true, version: true, contentHash: true, externalIdGeneration: true },
  });
  if (!holder) return { id: external.id, generation: 1, holder: null };
  const generation = holder.externalIdGeneration ?? 1;
  if (holder.version === version && holder.contentHash === identity) return { id: external.id, generation, holder: holder.id };
  if (!external.force) {
    throw new ConflictError(
      `External deployment id '${external.id}' is already registered with other content (version '${holder.version}'); send force: true to move it to this deploy.`,
      { externalDeploymentId: external.id, version: holder.version },
    );
  }
  await tx.backgroundWorker.update({ where: { id: holder.id }, data: { externalDeploymentId: null } });
  return { id: external.id, generation: generation + 1, holder: null };
}
