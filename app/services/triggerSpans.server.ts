import { SpanKind, type Attributes } from "@opentelemetry/api";
import { getEnv } from "~/env.server";
import { ATTR } from "~/domain/traceAttributes";
import type { ChunkResult } from "~/services/batchStore.server";
import type { BatchResolveSummary, ItemResolution, ResolvedTask } from "~/services/taskMetadata/index.server";
import type { CreatedRun } from "~/services/runs.server";
import type { SpanOptions } from "~/services/tracing.server";

/**
 * The options of the trigger's child spans (app/services/triggerRun.server.ts): what each starts
 * with and what it learns from its result. The cache tiers add theirs while the resolve runs
 * (`hotpath.cache.tier`, `hotpath.cache.negative`, `hotpath.cache.breaker`: docs/operations.md).
 */

const resolveOptions = (locked: boolean): SpanOptions<ResolvedTask> => ({
  attributes: { [ATTR.taskLocked]: locked, [ATTR.cacheBreaker]: "closed", [ATTR.cacheNegative]: false },
  onResult: (span, resolved) => span.setAttribute(ATTR.cacheHit, resolved.source === "cache"),
});
const RESOLVE_UNLOCKED = resolveOptions(false);
const RESOLVE_LOCKED = resolveOptions(true);

/** Built once: a trigger with tracing off allocates nothing here. */
export function resolveSpan(locked: boolean): SpanOptions<ResolvedTask> {
  return locked ? RESOLVE_LOCKED : RESOLVE_UNLOCKED;
}

let insertAttributes: Attributes | undefined;

/** Database client semantic conventions: the system, the statement's operation and table, where it went. */
function databaseAttributes(): Attributes {
  if (!insertAttributes) {
    const url = new URL(getEnv().DATABASE_URL);
    insertAttributes = {
      "db.system.name": "postgresql",
      "db.operation.name": "INSERT",
      "db.collection.name": "TaskRun",
      "db.namespace": decodeURIComponent(url.pathname.slice(1)),
      "server.address": url.hostname,
      "server.port": Number(url.port || 5432),
    };
  }
  return insertAttributes;
}

export function runInsertSpan(): SpanOptions<CreatedRun> {
  return { kind: SpanKind.CLIENT, attributes: databaseAttributes(), onResult: (span, run) => span.setAttribute(ATTR.runCached, run.isCached) };
}

// ---- a batch's chunk: its resolve and its insert ------------------------------------------------

/** The chunk's resolve: its size, its groups (one cache read each) and what the items learnt. */
export function batchResolveSpan(items: number, summary: BatchResolveSummary): SpanOptions<ItemResolution[]> {
  return {
    attributes: { [ATTR.batchItems]: items, [ATTR.cacheBreaker]: "closed", [ATTR.cacheNegative]: false },
    onResult: (span, results) => {
      let failed = 0;
      let fromDatabase = 0;
      for (const result of results) {
        if (!result.ok) failed++;
        else if (result.value.source === "database") fromDatabase++;
      }
      span.setAttributes({
        [ATTR.batchCurrentGroups]: summary.groups.current,
        [ATTR.batchLockedGroups]: summary.groups.locked,
        [ATTR.batchFailed]: failed,
        [ATTR.batchFromDatabase]: fromDatabase,
        [ATTR.cacheHit]: fromDatabase === 0,
      });
    },
  };
}

/** Database client conventions for a batch operation: `BATCH INSERT`, `db.operation.batch.size`. */
export function batchInsertSpan(rows: number): SpanOptions<ChunkResult> {
  return {
    kind: SpanKind.CLIENT,
    attributes: { ...databaseAttributes(), "db.operation.name": "BATCH INSERT", "db.operation.batch.size": rows },
    onResult: (span, result) => span.setAttribute(ATTR.batchInserted, result.inserted.size),
  };
}
