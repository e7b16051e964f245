import { initialStatus } from "~/domain/runSchedule";

/**
 * The run lifecycle's pure rules (docs/api.md "Run statuses"): where a due DELAYED run goes, and
 * the lock that lets one instance move runs at a time.
 */

/** A due DELAYED run is queued, or waits for a deploy when its (unlocked) task does not exist yet. */
export function dueDelayedStatus(input: { lockedToVersion: boolean; taskFound: boolean }): "QUEUED" | "PENDING_VERSION" {
  return initialStatus({ delayUntil: null, ...input }) as "QUEUED" | "PENDING_VERSION";
}

export function runLifecycleLockKey(prefix: string): string {
  return `${prefix}run-lifecycle:lock`;
}

/**
 * How long a tick's lock lives: far longer than a tick takes, so it only matters when its holder
 * died mid-tick (another instance then takes over after this long). Transitions are conditional
 * UPDATEs, so even two overlapping ticks could not move a run twice.
 */
export function lockTtlMs(intervalMs: number): number {
  return Math.max(30_000, intervalMs * 10);
}
