import { formatDuration, parseDuration, tryParseDuration } from "~/domain/durations";
import type { EnvironmentType } from "~/domain/environments";

/**
 * The effective TTL of a run (docs/api.md): the trigger's `ttl` → the task's TTL → 10 minutes in
 * DEVELOPMENT (abandoned dev runs should not pile up), clamped to the configured maximum.
 *
 * An explicit trigger `ttl` of 0 means "no TTL" and wins over the task's TTL and the dev default:
 * the caller asked for none. A task registered with TTL 0 is stored without one, so the dev
 * default still applies to it.
 */

export const DEVELOPMENT_DEFAULT_TTL_SECONDS = 600;

export interface TtlInput {
  /** The trigger's ttl in seconds, from {@link parseTriggerTtl}; undefined when the caller gave none. */
  triggerTtlSeconds?: number;
  /** The task's registered TTL (a normalised duration string) or null. */
  taskTtl: string | null | undefined;
  environmentType: EnvironmentType;
  maxSeconds: number;
}

export interface EffectiveTtl {
  ttl: string | null;
  ttlSeconds: number | null;
}

const NONE: EffectiveTtl = { ttl: null, ttlSeconds: null };

function clamp(seconds: number, maxSeconds: number): EffectiveTtl {
  const clamped = Math.min(seconds, maxSeconds);
  return { ttl: formatDuration(clamped), ttlSeconds: clamped };
}

/**
 * The trigger option in seconds (0 = none), undefined when absent. Called before any I/O so that a
 * malformed value is a 400 naming `field` however the task resolves.
 */
export function parseTriggerTtl(raw: string | number | null | undefined, field = "options.ttl"): number | undefined {
  return raw === undefined || raw === null ? undefined : parseDuration(raw, field);
}

export function effectiveTtl(input: TtlInput): EffectiveTtl {
  if (input.triggerTtlSeconds !== undefined) {
    return input.triggerTtlSeconds === 0 ? NONE : clamp(input.triggerTtlSeconds, input.maxSeconds);
  }
  // Task TTLs are validated at registration; one that still fails to parse is treated as absent.
  const taskSeconds = input.taskTtl ? tryParseDuration(input.taskTtl) : null;
  if (taskSeconds) return clamp(taskSeconds, input.maxSeconds);
  if (input.environmentType === "DEVELOPMENT") return clamp(DEVELOPMENT_DEFAULT_TTL_SECONDS, input.maxSeconds);
  return NONE;
}
