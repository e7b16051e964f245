import { z } from "zod";
import { parseDuration } from "~/domain/durations";
import { BadRequestError } from "~/domain/errors";
import { assertStorableDate, isJsonObject, parseIsoDate, taskIdProblem } from "~/domain/triggerInput";
import { authenticateAuthorizationHeader } from "~/services/apiKeyAuth.server";
import { resolveTask } from "~/services/taskMetadata/index.server";
import { createRun, type RunStatus } from "~/services/runs.server";
import { readJsonBody } from "./body";
import { json, type ApiRequest, type ApiResponse } from "./http";

/**
 * POST /api/v1/tasks/:taskId/trigger — the hot path, top to bottom:
 * auth (warm: in-process, or one Redis GET) → body → resolver (warm: in-process or Redis) → ONE run insert.
 */

export const MAX_TAGS = 10;
export const MAX_TAG_LENGTH = 128;
const MAX_IDEMPOTENCY_KEY_LENGTH = 512;

// The rule deploy applies to slugs: a run for an id no deploy can register would wait forever.
const TaskSlug = z.string().superRefine((id, ctx) => {
  const problem = taskIdProblem(id);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

const TriggerOptions = z.object({
  queue: z.union([z.string().max(512), z.object({ name: z.string().max(512) })]).optional(),
  ttl: z.union([z.string().max(64), z.number()]).nullish(),
  lockToVersion: z.string().min(1).max(128).optional(),
  idempotencyKey: z.string().min(1).max(MAX_IDEMPOTENCY_KEY_LENGTH).optional(),
  delay: z.union([z.string().max(64), z.number()]).nullish(),
  tags: z
    .union([z.string(), z.array(z.string())])
    .transform((tags) => (typeof tags === "string" ? [tags] : tags))
    .pipe(
      z
        .array(z.string().min(1, "must not be empty").max(MAX_TAG_LENGTH, `must be at most ${MAX_TAG_LENGTH} characters`))
        .max(MAX_TAGS, `at most ${MAX_TAGS} tags`),
    )
    .optional(),
  // Kept as sent (z.record would drop a `__proto__` key that the payload keeps).
  metadata: z.custom<Record<string, unknown>>(isJsonObject, { message: "must be an object" }).optional(),
});

const TriggerBody = z.object({
  payload: z.unknown().optional(),
  options: TriggerOptions.optional(),
});

/**
 * `delay` as a duration ("30s", "5m", whole seconds) or an ISO 8601 date. Null when there is no
 * delay: absent, zero, or a date already past.
 */
export function parseDelay(delay: string | number | null | undefined, now: Date): Date | null {
  if (delay === undefined || delay === null) return null;
  if (typeof delay === "string" && /^\d{4}-\d{2}-\d{2}/.test(delay)) {
    const at = parseIsoDate(delay, "options.delay");
    return at > now ? at : null;
  }
  const seconds = parseDuration(delay, "options.delay");
  return seconds > 0 ? new Date(now.getTime() + seconds * 1000) : null;
}

function idempotencyKey(request: ApiRequest, fromBody: string | undefined): string | null {
  const header = request.header("idempotency-key")?.trim() || undefined;
  if (header !== undefined && header.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    throw new BadRequestError(`Idempotency-Key header must be at most ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`);
  }
  if (header !== undefined && fromBody !== undefined && header !== fromBody) {
    throw new BadRequestError("The Idempotency-Key header and options.idempotencyKey differ; send one of them");
  }
  return header ?? fromBody ?? null;
}

export async function triggerTask(request: ApiRequest, params: { taskId: string }): Promise<ApiResponse> {
  const environment = await authenticateAuthorizationHeader(request.header("authorization"), request.clientAddress);
  const slug = TaskSlug.safeParse(params.taskId);
  if (!slug.success) throw new BadRequestError(`Invalid task id: ${slug.error.issues[0].message}`);
  const { value } = await readJsonBody(request);
  const parsed = TriggerBody.safeParse(value);
  if (!parsed.success) throw parsed.error;
  const options = parsed.data.options ?? {};
  const key = idempotencyKey(request, options.idempotencyKey);
  const now = new Date();
  const delayUntil = parseDelay(options.delay, now);

  const resolved = await resolveTask({
    environment: { id: environment.id, type: environment.type },
    taskSlug: slug.data,
    queue: typeof options.queue === "string" ? options.queue : options.queue?.name,
    ttl: options.ttl ?? undefined,
    lockToVersion: options.lockToVersion,
  });

  // A delayed run waits for its time first; when it comes due it is queued (or waits for a deploy).
  const status: RunStatus = delayUntil
    ? "DELAYED"
    : !resolved.taskFound && options.lockToVersion === undefined
      ? "WAITING_FOR_DEPLOY"
      : "PENDING";
  // The TTL counts from when the run can first start: a delayed run does not expire while it waits.
  const startsAt = delayUntil ?? now;
  const run = await createRun({
    environmentId: environment.id,
    taskIdentifier: slug.data,
    payload: parsed.data.payload,
    metadata: options.metadata,
    queue: resolved.queueName,
    lockedQueueId: resolved.lockedQueueId,
    lockedToVersionId: resolved.lockedWorkerId,
    ttl: resolved.ttl,
    expiresAt: resolved.ttlSeconds ? assertStorableDate(new Date(startsAt.getTime() + resolved.ttlSeconds * 1000), "options.ttl") : null,
    taskKind: resolved.taskKind,
    tags: options.tags ?? [],
    delayUntil,
    status,
    idempotencyKey: key,
    createdAt: now,
  });
  return json(200, { id: run.id, isCached: run.isCached });
}
