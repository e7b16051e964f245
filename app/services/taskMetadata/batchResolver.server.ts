import { performance } from "node:perf_hooks";
import type { EnvironmentRef } from "~/domain/environments";
import { HotpathError } from "~/domain/errors";
import type { TaskEntry } from "~/domain/taskMetadataEntry";
import { logger } from "~/services/logger.server";
import { cacheEvents, taskMetadataCache, taskMetadataSource } from "~/services/taskMetadata/instance.server";
import {
  currentRule,
  defaultQueueResolver,
  prepareInput,
  resolvedTask,
  type QueueResolver,
  type ResolveInput,
  type ResolvedTask,
} from "~/services/taskMetadata/resolver.server";
import type { TaskMetadataSource } from "~/services/taskMetadata/sources.server";
import type { TaskMetadataStore } from "~/services/taskMetadata/store.server";
import type { CacheEventSink } from "~/domain/cacheEvents";

/**
 * A whole batch resolved at once (docs/architecture.md, "Batches"). Items not locked to a version
 * share ONE read of the current hash (an HMGET, or the in-process tier), whatever the number of
 * distinct tasks; what missed is read from Postgres in ONE statement and back-filled in ONE script
 * call. Items locked to a version are resolved per distinct (version, task, queue) through the
 * single resolver, so the same lookups and back-fills apply; a batch of 1,000 items over a few
 * locked tasks costs a few lookups, not 1,000.
 *
 * The rules are the single resolver's (prepareInput, currentRule, resolvedTask): same answers,
 * same errors, same messages. An item whose options are wrong fails alone, with its index.
 */

export type BatchResolveItem = Omit<ResolveInput, "environment">;

export type ItemResolution = { ok: true; value: ResolvedTask } | { ok: false; index: number; error: HotpathError };

export interface BatchResolverDeps {
  cache?: TaskMetadataStore;
  source?: TaskMetadataSource;
  /** Resolves locked items; also the source of the TTL cap. */
  resolver?: QueueResolver;
  events?: CacheEventSink;
  /** Back-fill scheduling (tests); by default started at once, not awaited. */
  scheduleBackfill?: (backfill: () => Promise<unknown>) => void;
}

function runInBackground(backfill: () => Promise<unknown>) {
  backfill().catch((error) => logger.warn("task metadata batch back-fill failed", { error }));
}

/** A user error (4xx) fails its item; anything else (an outage, a bug) fails the batch. */
function itemError(index: number, error: unknown): ItemResolution {
  if (error instanceof HotpathError && error.status < 500) return { ok: false, index, error };
  throw error;
}

export class BatchResolver {
  constructor(private readonly deps: BatchResolverDeps = {}) {}

  private get cache() {
    return this.deps.cache ?? taskMetadataCache();
  }
  private get source() {
    return this.deps.source ?? taskMetadataSource();
  }
  private get resolver() {
    return this.deps.resolver ?? defaultQueueResolver();
  }

  async resolveMany(environment: EnvironmentRef, items: readonly BatchResolveItem[]): Promise<ItemResolution[]> {
    const started = performance.now();
    const results: ItemResolution[] = new Array(items.length);
    const current: { index: number; input: ResolveInput; ttl: number | undefined; override: string | undefined }[] = [];
    const locked = new Map<string, Promise<ResolvedTask>>();
    const lockedItems: { index: number; answer: Promise<ResolvedTask> }[] = [];
    items.forEach((item, index) => {
      const input: ResolveInput = { ...item, environment };
      let prepared: ReturnType<typeof prepareInput>;
      try {
        prepared = prepareInput(input);
      } catch (error) {
        results[index] = itemError(index, error);
        return;
      }
      // Pinned items (externalDeploymentId) go through the single resolver like locked ones.
      if (!input.lockToVersion && !input.externalDeploymentId) return current.push({ index, input, ttl: prepared.triggerTtlSeconds, override: prepared.override });
      const key = JSON.stringify([input.lockToVersion ?? null, input.externalDeploymentId ?? null, input.taskSlug, prepared.override ?? null, input.ttl ?? null]);
      let answer = locked.get(key);
      if (!answer) {
        answer = this.resolver.resolve(input);
        answer.catch(() => undefined);
        locked.set(key, answer);
      }
      lockedItems.push({ index, answer });
    });

    const entries = await this.currentEntries(environment, [...new Set(current.map(({ input }) => input.taskSlug))]);
    const maxSeconds = this.resolver.maxTtlSeconds;
    for (const { index, input, ttl, override } of current) {
      const { entry, fromDatabase } = entries.get(input.taskSlug)!;
      results[index] = { ok: true, value: resolvedTask(input, currentRule(input.taskSlug, entry, override, fromDatabase), ttl, maxSeconds) };
    }
    for (const { index, answer } of lockedItems) {
      results[index] = await answer.then((value): ItemResolution => ({ ok: true, value }), (error: unknown) => itemError(index, error));
    }
    this.observe(environment.id, results, performance.now() - started);
    return results;
  }

  /** The current hash's entries of `slugs`: one cache read; the misses in one statement, back-filled in one call. */
  private async currentEntries(environment: EnvironmentRef, slugs: string[]) {
    const entries = new Map<string, { entry: TaskEntry; fromDatabase: boolean }>();
    if (slugs.length === 0) return entries;
    const cached = await this.cache.getCurrentTasks(environment.id, slugs);
    const missed = slugs.filter((slug, i) => {
      const entry = cached[i];
      if (entry) entries.set(slug, { entry, fromDatabase: false });
      return !entry;
    });
    if (missed.length === 0) return entries;
    const found = await this.source.findCurrentTasks(environment, missed);
    const fills = missed.map((slug, i) => ({ slug, entry: found.entries[i] }));
    for (const { slug, entry } of fills) entries.set(slug, { entry, fromDatabase: true });
    const cache = this.cache;
    (this.deps.scheduleBackfill ?? runInBackground)(() => cache.backfillCurrentTasks(environment.id, found.workerId, fills));
    return entries;
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

/** Resolves a batch's items with the process's cache, miss-path source and single resolver. */
export function resolveMany(environment: EnvironmentRef, items: readonly BatchResolveItem[]): Promise<ItemResolution[]> {
  defaultBatchResolver ??= new BatchResolver();
  return defaultBatchResolver.resolveMany(environment, items);
}
