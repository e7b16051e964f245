import { randomUUID } from "node:crypto";
import { expiresAt, idempotencyKeyExpiresAt, initialStatus, parseDelay, priorityMs } from "~/domain/runSchedule";
import { SPAN } from "~/domain/traceAttributes";
import { getEnv } from "~/env.server";
import { chooseIdempotency, type TriggerBody, type TriggerHeaders } from "~/domain/triggerOptions";
import type { EnvironmentType } from "~/generated/prisma/enums";
import { resolveTask, type ResolvedTask } from "~/services/taskMetadata/index.server";
import { createRun, friendlyRunId, type CreatedRun, type NewRun } from "~/services/runs.server";
import { inSpan } from "~/services/tracing.server";
import { resolveOrExplain, writeRun } from "~/services/triggerBuffer/fallback.server";
import { resolveSpan, runInsertSpan } from "~/services/triggerSpans.server";

/**
 * Triggering a run, whatever asked for it (the trigger route, a replay, a batch item): resolve the
 * task (warm: Redis or in-process only), decide status and times (domain/runSchedule.ts), and
 * write the run with every option in ONE statement. When Postgres cannot take it, the run may go
 * to the trigger buffer instead (triggerBuffer/fallback.server.ts) with the same ids and fields.
 */

export interface TriggerRunInput {
  environment: { id: string; type: EnvironmentType };
  taskSlug: string;
  body: TriggerBody;
  headers: TriggerHeaders;
  now?: Date;
}

export type TriggeredRun = CreatedRun & { buffered?: true };

export async function triggerRun(input: TriggerRunInput): Promise<TriggeredRun> {
  const plan = planRun(input);
  const resolved = await inSpan(SPAN.resolve, resolveSpan(plan.resolve.lockToVersion !== undefined), () =>
    resolveOrExplain(() => resolveTask({ environment: input.environment, ...plan.resolve }), {
      environmentId: input.environment.id,
      task: input.taskSlug,
    }),
  );
  const run = newRun(input, plan, resolved);
  return inSpan(SPAN.runInsert, runInsertSpan(), () => writeRun(run, resolved.source, createRun));
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
    resolve: {
      taskSlug: input.taskSlug,
      queue: options.queue,
      ttl: options.ttl ?? undefined,
      lockToVersion: options.lockToVersion,
      externalDeploymentId: options.externalDeploymentId,
    },
  };
}

/** The stored run: every option, the resolver's answer, status and times (the single trigger's and each batch item's). */
export function newRun(
  input: TriggerRunInput,
  plan: ReturnType<typeof planRun>,
  resolved: ResolvedTask,
): NewRun & { id: string; friendlyId: string } {
  const options = input.body.options ?? {};
  const { now, delayUntil, idempotency } = plan;
  return {
    // Chosen here, not by the insert, so that a buffered run keeps them when it is drained.
    id: randomUUID(),
    friendlyId: friendlyRunId(),
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
    externalDeploymentId: options.externalDeploymentId ?? null,
    versionDeadlineAt: resolved.awaitingDeployment ? versionDeadline(delayUntil ?? now) : null,
    metadataSource: resolved.source,
  };
}

/** A run waiting for its external id's deploy expires this long after it could first start. */
function versionDeadline(startsAt: Date): Date {
  return new Date(startsAt.getTime() + getEnv().TRIGGER_SKEW_DEADLINE_SECONDS * 1000);
}
