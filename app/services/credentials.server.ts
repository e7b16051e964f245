import { randomBytes } from "node:crypto";
import { prisma } from "~/db.server";
import { displayPrefix, generateApiKey, hashApiKey } from "~/domain/apiKeys";
import { NotFoundError, ServiceUnavailableError } from "~/domain/errors";
import { forgetCachedApiKeys, revokeCachedApiKeys } from "~/services/apiKeyAuth.server";
import { logger } from "~/services/logger.server";

/**
 * Credential rotation. The new secret is returned once (only a hash of an API key is stored); the
 * old one stops working at once, on every instance:
 * - a webhook secret is read from Postgres on each signed request, so updating the row is enough;
 * - API keys are cached in Redis (apiKeyAuth.server.ts), so their entries are tombstoned before
 *   the keys are revoked in Postgres — if Redis cannot confirm, nothing is rotated (503) rather than
 *   leaving the old key valid in the cache for up to an hour.
 */

export function generateWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString("hex")}`;
}

export async function rotateWebhookSecret(projectId: string): Promise<{ projectId: string; webhookSecret: string }> {
  const webhookSecret = generateWebhookSecret();
  const updated = await prisma().project.updateMany({ where: { id: projectId }, data: { webhookSecret } });
  if (updated.count === 0) throw new NotFoundError(`Project '${projectId}' not found`);
  return { projectId, webhookSecret };
}

export interface RotatedApiKey {
  environmentId: string;
  apiKey: string;
  keyPrefix: string;
  revokedKeyIds: string[];
}

export async function rotateApiKey(environmentId: string): Promise<RotatedApiKey> {
  const db = prisma();
  const environment = await db.runtimeEnvironment.findUnique({
    where: { id: environmentId },
    select: { type: true, apiKeys: { where: { revokedAt: null }, select: { id: true, keyHash: true } } },
  });
  if (!environment) throw new NotFoundError(`Environment '${environmentId}' not found`);
  const oldHashes = environment.apiKeys.map((k) => k.keyHash);
  try {
    await revokeCachedApiKeys(oldHashes);
  } catch (error) {
    logger.error("api key rotation refused: the key cache could not be updated", { environmentId, error });
    throw new ServiceUnavailableError("Redis is unavailable, so the old key could not be revoked everywhere at once; nothing was rotated");
  }
  const apiKey = generateApiKey(environment.type);
  try {
    await db.$transaction([
      db.environmentApiKey.updateMany({
        where: { id: { in: environment.apiKeys.map((k) => k.id) }, revokedAt: null },
        data: { revokedAt: new Date() },
      }),
      db.environmentApiKey.create({
        data: { environmentId, keyHash: hashApiKey(apiKey), keyPrefix: displayPrefix(apiKey) },
      }),
    ]);
  } catch (error) {
    // The old keys are still valid in Postgres: lift their tombstones so they keep working.
    await forgetCachedApiKeys(oldHashes).catch((forgetError: unknown) =>
      logger.error("api key rotation failed and the old keys stay blocked until their tombstones expire", {
        environmentId,
        error: forgetError,
      }),
    );
    throw error;
  }
  return { environmentId, apiKey, keyPrefix: displayPrefix(apiKey), revokedKeyIds: environment.apiKeys.map((k) => k.id) };
}
