import { z } from "zod";
import { promoteVersion } from "~/services/workers.server";
import { authenticateDeployRequest } from "./deployAuth";
import { json, type ApiRequest, type ApiResponse } from "./http";

/**
 * POST /api/v1/deployments/:version/promote — makes that version current; a roll-back is promoting
 * an older one. Promoting the current version again succeeds and re-writes the cache, so webhook
 * retries are harmless.
 */

const PromoteBody = z.object({
  environment: z.string().min(1).max(64).optional(),
  project: z.string().min(1).max(128).optional(),
});

export async function promoteDeployment(request: ApiRequest, params: { version: string }): Promise<ApiResponse> {
  const { environment, body } = await authenticateDeployRequest(request);
  const parsed = PromoteBody.safeParse(body);
  if (!parsed.success) throw parsed.error;
  const result = await promoteVersion({ environmentId: environment.id, version: params.version });
  return json(200, {
    workerId: result.workerId,
    deploymentId: result.deploymentId,
    version: result.version,
    previousVersion: result.previousVersion,
    promoted: true,
  });
}
