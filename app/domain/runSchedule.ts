import { parseDuration } from "~/domain/durations";
import { BadRequestError } from "~/domain/errors";
import { assertStorableDate, parseIsoDate } from "~/domain/triggerInput";

/**
 * When a run can start and when it stops waiting: its first status, its expiry, its idempotency
 * key's lifetime, and the lifecycle's transitions (docs/api.md "Run statuses").
 */

export const RUN_STATUSES = ["QUEUED", "DELAYED", "PENDING_VERSION", "EXECUTING", "COMPLETED", "FAILED", "CANCELED", "EXPIRED"] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];
/** What a trigger can create. */
export type InitialRunStatus = Extract<RunStatus, "QUEUED" | "DELAYED" | "PENDING_VERSION">;
/** A run that has not started and can still be canceled, rescheduled or expire. */
export const WAITING_STATUSES: readonly RunStatus[] = ["QUEUED", "DELAYED", "PENDING_VERSION"];
export const FINAL_STATUSES: readonly RunStatus[] = ["COMPLETED", "FAILED", "CANCELED", "EXPIRED"];

/** The SDK's default idempotency-key lifetime. */
export const DEFAULT_IDEMPOTENCY_KEY_TTL_SECONDS = 30 * 86_400;

/**
 * `delay` as a duration ("30s", "5m", whole seconds) or an ISO 8601 date. Null when there is no
 * delay: absent, zero, or a date already past.
 */
export function parseDelay(delay: string | number | null | undefined, now: Date, field = "options.delay"): Date | null {
  if (delay === undefined || delay === null) return null;
  if (typeof delay === "string" && /^\d{4}-\d{2}-\d{2}/.test(delay)) {
    const at = parseIsoDate(delay, field);
    return at > now ? at : null;
  }
  const seconds = parseDuration(delay, field);
  return seconds > 0 ? new Date(now.getTime() + seconds * 1000) : null;
}

/**
 * A delayed run waits for its time first; when it comes due it is queued (or waits for a deploy).
 * A run locked to a version never waits for a deploy: the resolver refused it if the task is absent.
 */
export function initialStatus(input: { delayUntil: Date | null; taskFound: boolean; lockedToVersion: boolean }): InitialRunStatus {
  if (input.delayUntil) return "DELAYED";
  return !input.taskFound && !input.lockedToVersion ? "PENDING_VERSION" : "QUEUED";
}

/** The TTL counts from when the run can first start: a delayed run does not expire while it waits. */
export function expiresAt(input: { now: Date; delayUntil: Date | null; ttlSeconds: number | null }): Date | null {
  if (!input.ttlSeconds) return null;
  const startsAt = input.delayUntil ?? input.now;
  return assertStorableDate(new Date(startsAt.getTime() + input.ttlSeconds * 1000), "options.ttl");
}

/** When an idempotency key stops deduplicating: `idempotencyKeyTTL` (a duration), 30 days by default. */
export function idempotencyKeyExpiresAt(now: Date, ttl: string | undefined, field = "options.idempotencyKeyTTL"): Date {
  const seconds = ttl === undefined ? DEFAULT_IDEMPOTENCY_KEY_TTL_SECONDS : parseDuration(ttl, field);
  if (seconds === 0) throw new BadRequestError(`${field} must be longer than 0 seconds`, { field });
  return new Date(now.getTime() + seconds * 1000);
}

/** The SDK's `priority` (seconds, fractional) as the stored whole milliseconds. */
export function priorityMs(priority: number | undefined): number {
  return priority === undefined ? 0 : Math.round(priority * 1000);
}

/** Whether a run in `status` can still be canceled (or expire): it has not started. */
export function isWaiting(status: RunStatus): boolean {
  return WAITING_STATUSES.includes(status);
}

/** A reschedule moves only a run that is still waiting for its delay. */
export function canReschedule(status: RunStatus): boolean {
  return status === "DELAYED";
}
