import { BatchTriggerV2Body, checkBatchSize, CreateBatchBody, NdjsonLineSplitter } from "~/domain/batchItems";
import { BadRequestError } from "~/domain/errors";
import { getEnv } from "~/env.server";
import { authenticateAuthorizationHeader } from "~/services/apiKeyAuth.server";
import { batchRunIds, type BatchRow } from "~/services/batchStore.server";
import { BatchWriter, createBatch, requireBatch, retrieveBatch, streamItems, type BatchEnvironment } from "~/services/batches.server";
import { readJsonBody } from "./body";
import { json, type ApiRequest, type ApiResponse } from "./http";
import { triggerHeaders } from "./trigger";

/**
 * The SDK's batch routes (docs/api.md, "Batches"): create, stream items (NDJSON), the older
 * one-body batch, retrieve and results. Thin: parsing here, the work in services/batches.server.ts.
 */

async function environmentOf(request: ApiRequest): Promise<BatchEnvironment> {
  const environment = await authenticateAuthorizationHeader(request.header("authorization"));
  return { id: environment.id, type: environment.type };
}

function createdBatch(batch: BatchRow, isCached: boolean) {
  return { id: batch.friendlyId, runCount: batch.runCount, isCached, ...(batch.idempotencyKey ? { idempotencyKey: batch.idempotencyKey } : {}) };
}

/** POST /api/v3/batches */
export async function createBatchV3(request: ApiRequest): Promise<ApiResponse> {
  const environment = await environmentOf(request);
  const body = CreateBatchBody.parse((await readJsonBody(request)).value);
  const { batch, isCached } = await createBatch(environment, body, triggerHeaders(request));
  return json(200, createdBatch(batch, isCached));
}

/** The body's lines as they arrive, within the per-line and total limits. */
async function* bodyLines(request: ApiRequest): AsyncIterable<[number, string]> {
  const env = getEnv();
  const splitter = new NdjsonLineSplitter(env.BATCH_ITEM_LINE_LIMIT_BYTES, env.BATCH_STREAM_LIMIT_BYTES);
  const chunks = request.chunks ? request.chunks() : [await request.body(env.BATCH_STREAM_LIMIT_BYTES)];
  for await (const chunk of chunks) yield* splitter.push(chunk);
  yield* splitter.end();
}

/** POST /api/v3/batches/:batchId/items */
export async function streamBatchItemsV3(request: ApiRequest, params: { batchId: string }): Promise<ApiResponse> {
  const environment = await environmentOf(request);
  const batch = await requireBatch(environment, params.batchId);
  return json(200, await streamItems(environment, batch, bodyLines(request), triggerHeaders(request)));
}

/** POST /api/v2/tasks/batch: every item in one JSON body (older SDKs). */
export async function batchTriggerV2(request: ApiRequest): Promise<ApiResponse> {
  const environment = await environmentOf(request);
  const body = BatchTriggerV2Body.parse((await readJsonBody(request)).value);
  if (body.items.length === 0) throw new BadRequestError("Invalid request body: items: must not be empty", { field: "items" });
  checkBatchSize(body.items.length, getEnv().BATCH_MAX_ITEMS, "items.length");
  const headers = triggerHeaders(request);
  const { batch, isCached } = await createBatch(environment, { runCount: body.items.length }, headers);
  const created = createdBatch(batch, isCached);
  if (isCached) {
    const runs = await batchRunIds(batch);
    return json(200, { ...created, runs: runs.map((id, i) => ({ id, taskIdentifier: body.items[i]?.task ?? "", isCached: true })) });
  }
  const writer = new BatchWriter(environment, batch, headers);
  const items = body.items.map((item, index) => ({ index, task: item.task, payload: item.payload, options: item.options }));
  for (let i = 0; i < items.length; i += 500) await writer.write(items.slice(i, i + 500));
  const runs = writer.outcomes.map((o) => ({
    id: o.runId ?? "",
    taskIdentifier: o.taskIdentifier,
    isCached: o.isCached,
    ...(o.idempotencyKey ? { idempotencyKey: o.idempotencyKey } : {}),
    ...(o.error ? { error: o.error } : {}),
  }));
  return json(200, { ...created, runs });
}

/** GET /api/v2/batches/:batchId */
export async function retrieveBatchV2(request: ApiRequest, params: { batchId: string }): Promise<ApiResponse> {
  return json(200, await retrieveBatch(await environmentOf(request), params.batchId));
}

/** GET /api/v1/batches/:batchId/results: Hotpath executes no run, so no item has a result yet. */
export async function batchResultsV1(request: ApiRequest, params: { batchId: string }): Promise<ApiResponse> {
  const batch = await requireBatch(await environmentOf(request), params.batchId);
  return json(200, { id: batch.friendlyId, items: [] });
}
