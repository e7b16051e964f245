import { expiresAt, idempotencyKeyExpiresAt, initialStatus, parseDelay, priorityMs } from "~/domain/runSchedule";
import { chooseIdempotency, type TriggerBody, type TriggerHeaders } from "~/domain/triggerOptions";
import type { EnvironmentType } from "~/generated/prisma/enums";
import { resolveTask, type ResolvedTask } from "~/services/taskMetadata/index.server";
import { createRun, type CreatedRun, type NewRun } from "~/services/runs.server";

/**
 * Triggering a run, whatever asked for it (the trigger route, a replay, next a batch item): resolve
 * the task (warm: Redis or in-process only), decide status and times (domain/runSchedule.ts), and
 * write the run with every option in ONE statement.
 */

export interface TriggerRunInput {
  environment: { id: string; type: EnvironmentType };
  taskSlug: string;
  body: TriggerBody;
  headers: TriggerHeaders;
  now?: Date;
}

export async function triggerRun(input: TriggerRunInput): Promise<CreatedRun> {
  const plan = planRun(input);
  const resolved = await resolveTask({ environment: input.environment, ...plan.resolve });
  return createRun(newRun(input, plan, resolved));
}

/** What is decided before resolving (malformed delays and key TTLs are 400s here), and the resolver's input. */
export function planRun(input: TriggerRunInput) {
  const options = input.body.options ?? {};
  const now = input.now ?? new Date();
  const idempotency = chooseIdempotency(input.headers, options);
  return {
    now,
    idempotency,
    keyExpiresAt: idempotency.key === null ? null : idempotencyKeyExpiresAt(now, idempotency.ttl),
    delayUntil: parseDelay(options.delay, now),
    resolve: { taskSlug: input.taskSlug, queue: options.queue, ttl: options.ttl ?? undefined, lockToVersion: options.lockToVersion },
  };
}

/** The stored run: every option, the resolver's answer, status and times (the single trigger's and each batch item's). */
export function newRun(input: TriggerRunInput, plan: ReturnType<typeof planRun>, resolved: ResolvedTask): NewRun {
  const options = input.body.options ?? {};
  const { now, delayUntil, idempotency } = plan;
  return {
    environmentId: input.environment.id,
    taskIdentifier: input.taskSlug,
    payload: input.body.payload,
    metadata: options.metadata,
    queue: resolved.queueName,
    lockedQueueId: resolved.lockedQueueId,
    lockedToVersionId: resolved.lockedWorkerId,
    ttl: resolved.ttl,
    expiresAt: expiresAt({ now, delayUntil, ttlSeconds: resolved.ttlSeconds }),
    taskKind: resolved.taskKind,
    tags: options.tags ?? [],
    delayUntil,
    status: initialStatus({ delayUntil, taskFound: resolved.taskFound, lockedToVersion: options.lockToVersion !== undefined }),
    idempotencyKey: idempotency.key,
    idempotencyKeyExpiresAt: plan.keyExpiresAt,
    createdAt: now,
    concurrencyKey: options.concurrencyKey ?? null,
    maxAttempts: options.maxAttempts ?? null,
    maxDurationInSeconds: options.maxDuration === undefined ? null : Math.ceil(options.maxDuration),
    machinePreset: options.machine ?? null,
    priorityMs: priorityMs(options.priority),
    region: options.region ?? null,
    isTest: options.test ?? false,
    payloadType: options.payloadType,
    metadataType: options.metadataType,
    traceparent: input.headers.traceparent ?? null,
    tracestate: input.headers.tracestate ?? null,
    sdkVersion: input.headers.sdkVersion ?? null,
    triggerClient: input.headers.triggerClient ?? null,
  };
}
