import { BadRequestError } from "~/domain/errors";
import { headerValue, TaskSlug, TriggerBody, type TriggerHeaders } from "~/domain/triggerOptions";
import { authenticateAuthorizationHeader } from "~/services/apiKeyAuth.server";
import { triggerRun } from "~/services/triggerRun.server";
import { readJsonBody } from "./body";
import { json, type ApiRequest, type ApiResponse } from "./http";

/**
 * POST /api/v1/tasks/:taskId/trigger — the hot path: auth (warm: Redis only) → parse → one
 * service call ({@link triggerRun}: resolver, then ONE run insert). The request format is the
 * SDK's (domain/triggerOptions.ts).
 */

/** The trigger headers the run keeps; the idempotency key is not truncated (an over-long one is a 400). */
export function triggerHeaders(request: ApiRequest): TriggerHeaders {
  return {
    idempotencyKey: request.header("idempotency-key")?.trim() || undefined,
    idempotencyKeyTTL: headerValue(request.header("idempotency-key-ttl"), 64),
    sdkVersion: headerValue(request.header("trigger-version"), 64),
    triggerClient: headerValue(request.header("x-trigger-client"), 64),
    traceparent: headerValue(request.header("traceparent")),
    tracestate: headerValue(request.header("tracestate")),
  };
}

export async function triggerTask(request: ApiRequest, params: { taskId: string }): Promise<ApiResponse> {
  const environment = await authenticateAuthorizationHeader(request.header("authorization"));
  const slug = TaskSlug.safeParse(params.taskId);
  if (!slug.success) throw new BadRequestError(`Invalid task id: ${slug.error.issues[0].message}`, { field: "taskId" });
  const { value } = await readJsonBody(request);
  const parsed = TriggerBody.safeParse(value);
  if (!parsed.success) throw parsed.error;
  const run = await triggerRun({
    environment: { id: environment.id, type: environment.type },
    taskSlug: slug.data,
    body: parsed.data,
    headers: triggerHeaders(request),
  });
  // A buffered run says so: it is in Postgres once the drainer has written it (docs/operations.md).
  return json(200, { id: run.id, isCached: run.isCached }, run.buffered ? { "x-hotpath-buffered": "1" } : undefined);
}
