import type { RunStatus } from "~/domain/runSchedule";

/**
 * A stored run in the SDK's response shapes (`RetrieveRunResponse`, `ListRunResponseItem` of
 * @trigger.dev/core 4.8.3). Hotpath does not execute runs, so execution-side fields carry their
 * truthful empty values (no attempts, no cost, no output). Optional fields are omitted, never null:
 * the SDK's schemas refuse `null` there.
 */

export interface StoredRun {
  friendlyId: string;
  status: RunStatus;
  taskIdentifier: string;
  idempotencyKey: string | null;
  version: string | null;
  isTest: boolean;
  createdAt: Date;
  updatedAt: Date;
  delayUntil: Date | null;
  ttl: string | null;
  expiredAt: Date | null;
  canceledAt: Date | null;
  tags: string[];
  metadata: unknown;
  taskKind: string;
  region: string | null;
  payload: unknown;
  payloadType: string;
  /** The friendly id of the batch that created the run; null for a single trigger. */
  batchId?: string | null;
  /** The trigger's `externalDeploymentId` (docs/api.md "Version skew"). */
  externalDeploymentId?: string | null;
  /** Why Hotpath ended the run (a pinned run past its deadline names its id). */
  error?: string | null;
}

const COMPLETED: readonly RunStatus[] = ["COMPLETED", "FAILED", "CANCELED", "EXPIRED"];
const QUEUED: readonly RunStatus[] = ["QUEUED", "DELAYED", "PENDING_VERSION"];

/** The SDK's boolean flags for a status. */
export function statusFlags(status: RunStatus) {
  const isCompleted = COMPLETED.includes(status);
  return {
    isQueued: QUEUED.includes(status),
    isExecuting: status === "EXECUTING",
    isWaiting: false,
    isCompleted,
    isSuccess: status === "COMPLETED",
    isFailed: isCompleted && status !== "COMPLETED",
    isCancelled: status === "CANCELED",
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Adds `key: value` unless the value is null or undefined. */
function optional<T>(key: string, value: T | null | undefined): Record<string, T> {
  return value === null || value === undefined ? {} : { [key]: value };
}

/**
 * The payload as the SDK's server returns it, decoded from the packet the SDK sent: a JSON packet
 * (a JSON string) is parsed; a super+json packet (`{"json": …, "meta": …}`) gives its JSON part,
 * which is what its deserialised value serialises back to for JSON-safe values. A payload posted
 * as plain JSON (not a string) is returned as it is.
 */
export function decodedPayload(payload: unknown, payloadType: string): unknown {
  if (typeof payload !== "string") return payload ?? undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(payload);
  } catch {
    return payload;
  }
  if (payloadType === "application/super+json") return isRecord(parsed) && "json" in parsed ? parsed.json : payload;
  return parsed;
}

/** The fields every SDK run shape shares (`CommonRunFields`). */
export function commonRunFields(run: StoredRun) {
  return {
    id: run.friendlyId,
    status: run.status,
    taskIdentifier: run.taskIdentifier,
    ...optional("idempotencyKey", run.idempotencyKey),
    ...optional("version", run.version),
    ...statusFlags(run.status),
    isTest: run.isTest,
    createdAt: run.createdAt.toISOString(),
    updatedAt: run.updatedAt.toISOString(),
    ...optional("finishedAt", (run.canceledAt ?? run.expiredAt)?.toISOString()),
    ...optional("delayedUntil", run.delayUntil?.toISOString()),
    ...optional("ttl", run.ttl),
    ...optional("expiredAt", run.expiredAt?.toISOString()),
    tags: run.tags,
    costInCents: 0,
    baseCostInCents: 0,
    durationMs: 0,
    ...(isRecord(run.metadata) ? { metadata: run.metadata } : {}),
    taskKind: run.taskKind,
    ...optional("region", run.region),
    ...optional("externalDeploymentId", run.externalDeploymentId),
  };
}

/** `GET /api/v3/runs/:id` (and the reschedule answer). */
export function retrieveRunView(run: StoredRun) {
  return {
    ...commonRunFields(run),
    depth: 0,
    triggerFunction: run.batchId ? ("batchTrigger" as const) : ("trigger" as const),
    ...optional("batchId", run.batchId ?? undefined),
    ...optional("payload", decodedPayload(run.payload, run.payloadType)),
    ...optional("error", run.error ? { message: run.error } : null),
    relatedRuns: {},
    attemptCount: 0,
  };
}

/** One item of `GET /api/v1/runs`. */
export function listRunView(run: StoredRun, environment: { id: string; slug: string }) {
  return { ...commonRunFields(run), env: { id: environment.id, name: environment.slug } };
}
