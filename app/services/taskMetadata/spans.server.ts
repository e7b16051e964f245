import type { Span } from "@opentelemetry/api";
import type { CacheEvent, Keyspace } from "~/domain/cacheEvents";
import { ATTR, type CacheTier } from "~/domain/traceAttributes";
import { setSpanAttribute, tracingEnabled } from "~/services/tracing.server";

/**
 * What the cache tiers tell the resolve span (app/services/triggerSpans.server.ts) while it runs:
 * each tier that answers sets `hotpath.cache.tier` on the active span, so the last one asked wins
 * (an L1 miss answered by Redis says "redis"; a replica answer re-checked on the primary says
 * "primary"). All no-ops with tracing off.
 */

/** From the cache's event sink: a hit (or cached "absent") names its tier. */
export function markCacheEvent(event: CacheEvent, keyspace: Keyspace): void {
  if (!tracingEnabled() || (event !== "hit" && event !== "negative_hit")) return;
  setSpanAttribute(ATTR.cacheTier, keyspace === "l1" ? "l1" : "redis");
  if (event === "negative_hit") setSpanAttribute(ATTR.cacheNegative, true);
}

/** A miss-path lookup about to be sent to the replica or the primary. */
export function markSourceTier(tier: Extract<CacheTier, "replica" | "primary">): void {
  setSpanAttribute(ATTR.cacheTier, tier);
}

/** A Redis call skipped because the task metadata cache's breaker is open. */
export function markBreakerOpen(): void {
  setSpanAttribute(ATTR.cacheBreaker, "open");
}

/** The back-fill span's result: whether anything was written. */
export function backfillWritten(span: Span, written: unknown): void {
  span.setAttribute(ATTR.cacheWritten, written === true || (typeof written === "number" && written > 0));
}
