import { displayPrefix } from "~/domain/apiKeys";
import { BadRequestError, NotFoundError } from "~/domain/errors";
import type { PromotionActor } from "~/services/promotionAudit.server";
import { authenticateAuthorizationHeader, type AuthenticatedEnvironment } from "~/services/apiKeyAuth.server";
import { authenticateSignedRequest, SIGNATURE_HEADER } from "~/services/webhookSignature.server";
import { readJsonBody } from "./body";
import type { ApiRequest } from "./http";

/**
 * Authentication of the deploy webhook and the promote route: the environment's secret key, or the
 * project's HMAC signature (docs/api.md, "Signing a request"). With a key, the environment is the key's; a body naming
 * another environment is a 404 — the key cannot see it, just as it cannot see that environment's
 * runs. With a signature, the body must name the environment (`environment`, optionally `project`).
 */

export interface AuthenticatedBody {
  environment: AuthenticatedEnvironment;
  body: unknown;
  /** Who sent it, for the audit of a promotion: the key's display prefix, or the signature scheme. */
  actor: Exclude<PromotionActor, { kind: "user" }>;
}

function stringField(body: unknown, field: string): string | undefined {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return undefined;
  const value = (body as Record<string, unknown>)[field];
  return typeof value === "string" ? value : undefined;
}

export async function authenticateDeployRequest(request: ApiRequest): Promise<AuthenticatedBody> {
  const authorization = request.header("authorization");
  const signature = request.header(SIGNATURE_HEADER);
  if (authorization || !signature) {
    // Authenticate before reading the body: unauthenticated clients get nothing buffered.
    const environment = await authenticateAuthorizationHeader(authorization, request.clientAddress);
    const { value } = await readJsonBody(request);
    const named = stringField(value, "environment");
    if (named !== undefined && named !== environment.slug) {
      throw new NotFoundError(`Environment '${named}' not found for this API key (the key belongs to '${environment.slug}')`);
    }
    const key = authorization!.replace(/^Bearer\s+/i, "");
    return { environment, body: value, actor: { kind: "api-key", key: displayPrefix(key) } };
  }
  const { raw, value } = await readJsonBody(request);
  const environmentSlug = stringField(value, "environment");
  if (!environmentSlug) {
    throw new BadRequestError(`A signed request must name its environment: add "environment": "<slug>" to the body`, {
      field: "environment",
    });
  }
  const environment = await authenticateSignedRequest({
    header: signature,
    request: { method: request.method, target: request.target, body: raw },
    environmentSlug,
    project: stringField(value, "project"),
  });
  return { environment, body: value, actor: { kind: "signature", scheme: /(^|,)\s*v2=/.test(signature) ? "v2" : "v1" } };
}
