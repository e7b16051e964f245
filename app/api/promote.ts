import { z } from "zod";
import { auditPromotion } from "~/services/promotionAudit.server";
import { previewPromotion } from "~/services/promotionPreview.server";
import { promoteVersion } from "~/services/workers.server";
import { authenticateDeployRequest } from "./deployAuth";
import { json, type ApiRequest, type ApiResponse } from "./http";

/**
 * POST /api/v1/deployments/:version/promote — makes that version current; a roll-back is promoting
 * an older one. Promoting the current version again succeeds and re-writes the cache, so webhook
 * retries are harmless. With `?dryRun=1` it changes nothing and answers the diff the admin's
 * confirmation shows (app/services/promotionPreview.server.ts). Every promotion is audited with
 * the key's prefix or the signature as its actor.
 */

const PromoteBody = z.object({
  environment: z.string().min(1).max(64).optional(),
  project: z.string().min(1).max(128).optional(),
});

function isDryRun(query: URLSearchParams): boolean {
  const value = query.get("dryRun");
  return value !== null && value !== "0" && value !== "false";
}

export async function promoteDeployment(request: ApiRequest, params: { version: string }): Promise<ApiResponse> {
  const { environment, body, actor } = await authenticateDeployRequest(request);
  const parsed = PromoteBody.safeParse(body);
  if (!parsed.success) throw parsed.error;
  if (isDryRun(request.query())) {
    const preview = await previewPromotion({ environmentId: environment.id, version: params.version });
    return json(200, { dryRun: true, ...preview });
  }
  const result = await promoteVersion({ environmentId: environment.id, version: params.version });
  const { rollback } = await auditPromotion({ environmentId: environment.id, promoted: result, actor, via: "promote-api" });
  return json(200, {
    workerId: result.workerId,
    deploymentId: result.deploymentId,
    version: result.version,
    previousVersion: result.previousVersion,
    promoted: true,
    rollback,
  });
}
