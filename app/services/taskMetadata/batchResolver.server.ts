import { performance } from "node:perf_hooks";
import type { EnvironmentRef } from "~/domain/environments";
import { HotpathError } from "~/domain/errors";
import { SPAN } from "~/domain/traceAttributes";
import { logger } from "~/services/logger.server";
import { groupOf, type GroupIo, type GroupResolve, type PendingItem, type RuleOutcome } from "~/services/taskMetadata/batchGroups.server";
import { cacheEvents, taskMetadataCache, taskMetadataSource } from "~/services/taskMetadata/instance.server";
import {
  defaultQueueResolver,
  prepareInput,
  resolvedTask,
  type QueueResolver,
  type ResolveInput,
  type ResolvedTask,
} from "~/services/taskMetadata/resolver.server";
import { backfillWritten } from "~/services/taskMetadata/spans.server";
import type { TaskMetadataSource } from "~/services/taskMetadata/sources.server";
import type { TaskMetadataStore } from "~/services/taskMetadata/store.server";
import { inLinkedSpan } from "~/services/tracing.server";
import type { CacheEventSink } from "~/domain/cacheEvents";

/**
 * A whole batch resolved at once (docs/architecture.md, "Batches"). Items are grouped by the hash
 * that answers them (batchGroups.server.ts): the current hash for items not locked, one hash per
 * locked version. Each group is ONE cache read (an HMGET, or the in-process tier), whatever its
 * number of distinct tasks; what missed is read from Postgres in ONE statement per group and
 * back-filled in ONE script call. Groups are read concurrently (their commands share a pipeline).
 *
 * The rules are the single resolver's (prepareInput, currentRule, lockedRule, resolvedTask): same
 * answers, same errors, same messages. An item whose options are wrong fails alone, with its index.
 */

export type BatchResolveItem = Omit<ResolveInput, "environment">;

export type ItemResolution = { ok: true; value: ResolvedTask } | { ok: false; index: number; error: HotpathError };

export interface BatchResolverDeps {
  cache?: TaskMetadataStore;
  source?: TaskMetadataSource;
  /** The source of the TTL cap. */
  resolver?: QueueResolver;
  events?: CacheEventSink;
  /** Back-fill scheduling (tests); by default started at once in a linked span, not awaited. */
  scheduleBackfill?: (backfill: () => Promise<unknown>) => void;
}

const BACKFILL_SPAN = { onResult: backfillWritten };

function runInBackground(backfill: () => Promise<unknown>) {
  inLinkedSpan(SPAN.backfill, BACKFILL_SPAN, backfill).catch((error) => logger.warn("task metadata batch back-fill failed", { error }));
}

/** A user error (4xx) fails its item; anything else (an outage, a bug) fails the batch. */
function itemError(index: number, error: unknown): ItemResolution {
  if (error instanceof HotpathError && error.status < 500) return { ok: false, index, error };
  throw error;
}

/** What one resolveMany did, for the batch resolve span. */
export interface BatchResolveSummary {
  groups: { current: number; locked: number };
}

export class BatchResolver {
  constructor(private readonly deps: BatchResolverDeps = {}) {}

  private get io(): GroupIo {
    return {
      cache: this.deps.cache ?? taskMetadataCache(),
      source: this.deps.source ?? taskMetadataSource(),
      backfill: this.deps.scheduleBackfill ?? runInBackground,
    };
  }
  private get resolver() {
    return this.deps.resolver ?? defaultQueueResolver();
  }

  async resolveMany(environment: EnvironmentRef, items: readonly BatchResolveItem[], summary?: BatchResolveSummary): Promise<ItemResolution[]> {
    const started = performance.now();
    const results: ItemResolution[] = new Array(items.length);
    const groups = new Map<string, { resolve: GroupResolve; items: PendingItem[] }>();
    const pinned: { index: number; input: ResolveInput }[] = [];
    items.forEach((item, index) => {
      const input: ResolveInput = { ...item, environment };
      let prepared: ReturnType<typeof prepareInput>;
      try {
        prepared = prepareInput(input);
      } catch (error) {
        results[index] = itemError(index, error);
        return;
      }
      if (input.externalDeploymentId !== undefined) return pinned.push({ index, input });
      const group = groupOf(input);
      let members = groups.get(group.key);
      if (!members) {
        groups.set(group.key, (members = { resolve: group.resolve, items: [] }));
        if (summary) summary.groups[group.kind]++;
      }
      members.items.push({ index, input, triggerTtlSeconds: prepared.triggerTtlSeconds, override: prepared.override });
    });

    const io = this.io;
    const maxSeconds = this.resolver.maxTtlSeconds;
    const [answered, pinnedResults] = await Promise.all([
      Promise.all([...groups.values()].map(({ resolve, items: pending }) => resolve(io, environment, pending))),
      this.resolvePinned(pinned),
    ]);
    [...groups.values()].forEach(({ items: pending }, g) =>
      pending.forEach((item, i) => (results[item.index] = this.resolution(item, answered[g][i], maxSeconds))),
    );
    // The single resolver observed the pinned items already.
    this.observe(environment.id, results.filter((result) => result !== undefined), performance.now() - started);
    pinned.forEach(({ index }, i) => (results[index] = pinnedResults[i]));
    return results;
  }

  /**
   * Pinned items (externalDeploymentId, decision 0070) go through the single resolver, once per
   * distinct request: each is one read of the id's pinned hash, and a batch rarely pins to many ids.
   */
  private async resolvePinned(items: readonly { index: number; input: ResolveInput }[]): Promise<ItemResolution[]> {
    const answers = new Map<string, Promise<ResolvedTask>>();
    return Promise.all(
      items.map(async ({ index, input }) => {
        const key = JSON.stringify([input.externalDeploymentId, input.taskSlug, input.queue ?? null, input.ttl ?? null]);
        let answer = answers.get(key);
        if (!answer) answers.set(key, (answer = this.resolver.resolve(input)));
        try {
          return { ok: true as const, value: await answer };
        } catch (error) {
          return itemError(index, error);
        }
      }),
    );
  }

  private resolution({ index, input, triggerTtlSeconds }: PendingItem, outcome: RuleOutcome, maxSeconds: number): ItemResolution {
    if (!outcome.ok) return itemError(index, outcome.error);
    return { ok: true, value: resolvedTask(input, outcome.rule, triggerTtlSeconds, maxSeconds) };
  }

  /** One observation per item, as if each had been resolved alone in the batch's time. */
  private observe(environmentId: string, results: ItemResolution[], elapsedMs: number) {
    const events = this.deps.events ?? cacheEvents;
    const perItem = results.length ? elapsedMs / results.length : 0;
    for (const result of results) {
      if (result.ok) events.observeResolve(result.value.source, perItem, environmentId);
    }
  }
}

let defaultBatchResolver: BatchResolver | undefined;

/** Resolves a batch's items with the process's cache, miss-path source and TTL cap. */
export function resolveMany(environment: EnvironmentRef, items: readonly BatchResolveItem[], summary?: BatchResolveSummary): Promise<ItemResolution[]> {
  defaultBatchResolver ??= new BatchResolver();
  return defaultBatchResolver.resolveMany(environment, items, summary);
}
