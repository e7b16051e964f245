import { checkBatchSize, parseItemLine, type BatchItemLine, type CreateBatchBody } from "~/domain/batchItems";
import type { EnvironmentRef } from "~/domain/environments";
import { HotpathError, NotFoundError } from "~/domain/errors";
import { idempotencyKeyExpiresAt } from "~/domain/runSchedule";
import type { TriggerHeaders } from "~/domain/triggerOptions";
import { getEnv } from "~/env.server";
import { SPAN } from "~/domain/traceAttributes";
import { resolveMany, type BatchResolveSummary, type ResolvedTask } from "~/services/taskMetadata/index.server";
import { inSpan } from "~/services/tracing.server";
import { batchInsertSpan, batchResolveSpan } from "~/services/triggerSpans.server";
import { newRun, planRun, type TriggerRunInput } from "~/services/triggerRun.server";
import type { NewRun } from "~/services/runs.server";
import {
  batchRunIds,
  CHUNK_SIZE,
  findBatch,
  findKeyedRuns,
  insertBatch,
  insertRunChunk,
  recordOutcomes,
  type BatchCounters,
  type BatchItemError,
  type BatchRow,
} from "~/services/batchStore.server";

/**
 * Batch triggers (docs/api.md, "Batches"): a batch row, then its items in chunks of CHUNK_SIZE.
 * Each chunk is resolved at once (resolveMany: one cache read) and written in one statement;
 * the single trigger's planning (planRun) and run shape (newRun) apply to every item.
 */

export type BatchEnvironment = EnvironmentRef;

/** What happened to each item of one request. */
export interface ItemOutcome {
  index: number;
  taskIdentifier: string;
  idempotencyKey: string | null;
  /** The item's run (new or returned by its idempotency key); undefined when failed or deduplicated. */
  runId?: string;
  isCached: boolean;
  deduplicated: boolean;
  error?: string;
}

export async function createBatch(environment: BatchEnvironment, body: CreateBatchBody, headers: TriggerHeaders, now = new Date()) {
  checkBatchSize(body.runCount, getEnv().BATCH_MAX_ITEMS);
  const key = body.idempotencyKey ?? headers.idempotencyKey ?? null;
  const { batch, isCached } = await insertBatch({
    environmentId: environment.id,
    runCount: body.runCount,
    idempotencyKey: key,
    idempotencyKeyExpiresAt: key === null ? null : idempotencyKeyExpiresAt(now, headers.idempotencyKeyTTL, "idempotency-key-ttl"),
    now,
  });
  return { batch, isCached };
}

export async function requireBatch(environment: BatchEnvironment, friendlyId: string): Promise<BatchRow> {
  const batch = await findBatch(environment.id, friendlyId);
  if (!batch) throw new NotFoundError(`Batch ${friendlyId} not found`);
  return batch;
}

/** Chunk inserts in flight at once while the next chunk is read (docs/decisions/0091-pipelined-chunk-inserts.md). */
const CHUNKS_IN_FLIGHT = 2;

/**
 * Processes an NDJSON item stream, CHUNK_SIZE items at a time. A chunk is resolved and inserted
 * while the next one is read, parsed and resolved: at most CHUNKS_IN_FLIGHT chunks are being
 * written at once, so memory stays bounded. A bad line stops the stream with a 400 naming it,
 * after storing the items before it.
 */
export async function streamItems(
  environment: BatchEnvironment,
  batch: BatchRow,
  lines: AsyncIterable<[number, string]>,
  headers: TriggerHeaders,
) {
  const writer = new BatchWriter(environment, batch, headers);
  const window = new WriteWindow(CHUNKS_IN_FLIGHT);
  let pending: BatchItemLine[] = [];
  try {
    for await (const [lineNumber, text] of lines) {
      pending.push(parseItemLine(text, lineNumber, batch.runCount));
      if (pending.length >= CHUNK_SIZE) await window.add(writer.write(pending.splice(0)));
    }
  } catch (error) {
    if (pending.length) window.add(writer.write(pending)).catch(() => undefined);
    await window.drain();
    throw error;
  }
  if (pending.length) await window.add(writer.write(pending));
  await window.drain();
  return writer.summary();
}

/** Chunk writes in flight, oldest first; adding one beyond the limit waits for the oldest. */
class WriteWindow {
  private readonly writes: Promise<void>[] = [];
  constructor(private readonly limit: number) {}

  async add(write: Promise<void>): Promise<void> {
    // Awaited below or in drain(); until then its failure must not count as unhandled.
    write.catch(() => undefined);
    this.writes.push(write);
    if (this.writes.length >= this.limit) await this.writes.shift();
  }

  /** Waits for every write; the first failure is thrown once all have settled. */
  async drain(): Promise<void> {
    const settled = await Promise.allSettled(this.writes.splice(0));
    const failed = settled.find((result) => result.status === "rejected");
    if (failed) throw failed.reason;
  }
}

/** Writes one batch's items chunk by chunk; remembers what this request saw. */
export class BatchWriter {
  private readonly seen = new Set<number>();
  /** The first (not deduplicated) item of each index in this request. */
  private readonly byIndex = new Map<number, ItemOutcome>();
  private readonly done: Set<number>;
  readonly outcomes: ItemOutcome[] = [];
  private counters: BatchCounters;

  constructor(
    private readonly environment: BatchEnvironment,
    private readonly batch: BatchRow,
    private readonly headers: TriggerHeaders,
  ) {
    this.done = new Set([...batch.cachedIndices, ...batch.errorIndices]);
    this.counters = { itemsAccepted: batch.itemsAccepted, errorCount: batch.errorIndices.length, runCount: batch.runCount, sealed: batch.sealed };
  }

  summary() {
    const deduplicated = this.outcomes.filter((o) => o.deduplicated).length;
    const { itemsAccepted, errorCount, runCount, sealed } = this.counters;
    return {
      id: this.batch.friendlyId,
      itemsAccepted: this.outcomes.length - deduplicated,
      itemsDeduplicated: deduplicated,
      sealed,
      ...(sealed ? {} : { enqueuedCount: itemsAccepted + errorCount, expectedCount: runCount }),
    };
  }

  async write(items: BatchItemLine[]): Promise<void> {
    const now = new Date();
    const fresh: { item: BatchItemLine; input: TriggerRunInput; plan: ReturnType<typeof planRun> }[] = [];
    const errors: BatchItemError[] = [];
    for (const item of items) {
      const outcome = this.outcome(item);
      this.outcomes.push(outcome);
      if (this.seen.has(item.index) || this.done.has(item.index)) {
        outcome.deduplicated = true;
        continue;
      }
      this.seen.add(item.index);
      this.byIndex.set(item.index, outcome);
      const input: TriggerRunInput = {
        environment: this.environment,
        taskSlug: item.task,
        body: { payload: item.payload, options: item.options },
        headers: batchItemHeaders(this.headers),
        now,
      };
      try {
        fresh.push({ item, input, plan: planRun(input) });
      } catch (error) {
        errors.push(this.fail(outcome, error));
      }
    }
    const summary: BatchResolveSummary = { groups: { current: 0, locked: 0 } };
    const resolved = await inSpan(SPAN.batchResolve, batchResolveSpan(fresh.length, summary), () =>
      resolveMany(this.environment, fresh.map(({ plan }) => plan.resolve), summary),
    );
    const runs: NewRun[] = [];
    resolved.forEach((result, i) => {
      const { item, input, plan } = fresh[i];
      if (!result.ok) return errors.push(this.fail(this.outcomeOf(item.index), result.error));
      runs.push(this.run(input, plan, result.value, item.index));
    });
    const cached = runs.length ? await this.insert(runs, now) : [];
    if (cached.length || errors.length) this.advance(await recordOutcomes(this.batch.id, cached, errors, now));
  }

  /**
   * Chunks of one request may be written at once; their updates of the batch row are serialised
   * by its row lock, so the counters that count more items are the later ones.
   */
  private advance(counters: BatchCounters) {
    const count = (c: BatchCounters) => c.itemsAccepted + c.errorCount;
    if (count(counters) >= count(this.counters)) this.counters = counters;
  }

  /** Inserts the runs; returns the items answered by an existing run (their key's). */
  private async insert(runs: NewRun[], now: Date): Promise<{ index: number; runId: string }[]> {
    const { inserted, counters } = await inSpan(SPAN.batchInsert, batchInsertSpan(runs.length), () =>
      insertRunChunk(this.batch.id, this.environment.id, runs, now),
    );
    this.advance(counters);
    const skipped = runs.filter((run) => !inserted.has(run.batchIndex!));
    for (const run of runs) {
      const runId = inserted.get(run.batchIndex!);
      if (runId) this.outcomeOf(run.batchIndex!).runId = runId;
    }
    const keyed = skipped.filter((run) => run.idempotencyKey !== null);
    const existing = keyed.length
      ? await findKeyedRuns(this.environment.id, keyed.map((run) => ({ task: run.taskIdentifier, key: run.idempotencyKey! })))
      : [];
    const cached: { index: number; runId: string }[] = [];
    for (const run of skipped) {
      const outcome = this.outcomeOf(run.batchIndex!);
      const holder = existing.find((e) => e.taskIdentifier === run.taskIdentifier && e.idempotencyKey === run.idempotencyKey);
      outcome.runId = holder?.friendlyId;
      if (!holder || (holder.batchId === this.batch.id && holder.batchIndex === run.batchIndex)) {
        outcome.deduplicated = true;
        continue;
      }
      outcome.isCached = true;
      this.done.add(run.batchIndex!);
      cached.push({ index: run.batchIndex!, runId: holder.friendlyId });
    }
    return cached;
  }

  private run(input: TriggerRunInput, plan: ReturnType<typeof planRun>, resolved: ResolvedTask, index: number): NewRun {
    return { ...newRun(input, plan, resolved), batchId: this.batch.id, batchIndex: index };
  }

  private outcome(item: BatchItemLine): ItemOutcome {
    return {
      index: item.index,
      taskIdentifier: item.task,
      idempotencyKey: item.options?.idempotencyKey ?? null,
      isCached: false,
      deduplicated: false,
    };
  }

  /** The outcome of the first (not deduplicated) item with this index in this request. */
  private outcomeOf(index: number): ItemOutcome {
    return this.byIndex.get(index)!;
  }

  /** A user error fails its item (recorded with the batch); anything else fails the request. */
  private fail(outcome: ItemOutcome, error: unknown): BatchItemError {
    if (!(error instanceof HotpathError) || error.status >= 500) throw error;
    outcome.error = error.message;
    this.done.add(outcome.index);
    return { index: outcome.index, taskIdentifier: outcome.taskIdentifier, error: error.message, errorCode: String(error.status) };
  }
}

/** Batch items carry their own idempotency keys; the request's key and TTL belong to the batch. */
function batchItemHeaders(headers: TriggerHeaders): TriggerHeaders {
  return { ...headers, idempotencyKey: undefined, idempotencyKeyTTL: undefined };
}

/** `GET /api/v2/batches/:id`: the SDK's RetrieveBatchV2Response. */
export async function retrieveBatch(environment: BatchEnvironment, friendlyId: string) {
  const batch = await requireBatch(environment, friendlyId);
  const runs = await batchRunIds(batch);
  const status = !batch.sealed ? "PENDING" : batch.errors.length ? "PARTIAL_FAILED" : "COMPLETED";
  return {
    id: batch.friendlyId,
    status,
    ...(batch.idempotencyKey ? { idempotencyKey: batch.idempotencyKey } : {}),
    createdAt: batch.createdAt.toISOString(),
    updatedAt: batch.updatedAt.toISOString(),
    runCount: batch.runCount,
    runs,
    processing: {
      ...(batch.sealedAt ? { completedAt: batch.sealedAt.toISOString() } : {}),
      errors: [...batch.errors].sort((a, b) => a.index - b.index),
    },
  };
}
