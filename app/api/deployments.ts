import { z } from "zod";
import { TRIGGER_SOURCES } from "~/domain/environments";
import { auditPromotion } from "~/services/promotionAudit.server";
import { promoteVersion, registerWorker } from "~/services/workers.server";
import { authenticateDeployRequest } from "./deployAuth";
import { json, type ApiRequest, type ApiResponse } from "./http";

/**
 * POST /api/v1/deployments — the deploy webhook (docs/api.md). registerWorker writes the worker, its
 * queues, tasks and deployment in one transaction and then the cache; re-sending the same version
 * and content returns the same ids (200), other content for that version is a 409.
 */

const TaskSpec = z.object({
  slug: z.string().min(1).max(128),
  queue: z
    .object({
      name: z.string().min(1).max(128),
      concurrencyLimit: z.number().int().min(0).nullish(),
    })
    .nullish(),
  ttl: z.union([z.string().max(64), z.number()]).nullish(),
  triggerSource: z.enum(TRIGGER_SOURCES).optional(),
});

const DeployBody = z.object({
  environment: z.string().min(1).max(64).optional(),
  project: z.string().min(1).max(128).optional(),
  version: z.string().min(1).max(128),
  contentHash: z.string().min(1).max(256).nullish(),
  // Duplicate slugs and malformed TTLs are refused by registerWorker, with the task's index.
  tasks: z.array(TaskSpec).max(50_000),
  promote: z.boolean().optional(),
  // Blank or null is absent; registerWorker refuses one over 128 characters.
  externalDeploymentId: z.string().max(128).nullish(),
  force: z.boolean().optional(),
});

export async function createDeployment(request: ApiRequest): Promise<ApiResponse> {
  const { environment, body, actor } = await authenticateDeployRequest(request);
  const parsed = DeployBody.safeParse(body);
  if (!parsed.success) throw parsed.error;
  const input = parsed.data;
  const registered = await registerWorker({
    environmentId: environment.id,
    version: input.version,
    contentHash: input.contentHash ?? null,
    tasks: input.tasks,
    externalDeploymentId: input.externalDeploymentId?.trim() || null,
    force: input.force,
  });
  let promoted = false;
  if (environment.type === "DEVELOPMENT") {
    // In DEVELOPMENT the newest registered worker is current by definition; there is nothing to promote.
    promoted = registered.created;
  } else if (input.promote) {
    const result = await promoteVersion({ environmentId: environment.id, version: registered.version });
    await auditPromotion({ environmentId: environment.id, promoted: result, actor, via: "deploy-webhook" });
    promoted = true;
  }
  return json(200, {
    workerId: registered.workerId,
    deploymentId: registered.deploymentId,
    version: registered.version,
    externalDeploymentId: input.externalDeploymentId?.trim() || null,
    promoted,
    tasks: registered.tasks,
  });
}
