import http from "node:http";
import { batch, configure, runs, tasks } from "@trigger.dev/sdk";
import { ApiClient } from "@trigger.dev/core/v3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server";
import { startAppServer, type AppServer } from "../support/appServer";
import { createTestProject, registerAndPromote, type TestProject } from "../support/fixtures";

/**
 * The batch routes driven by `@trigger.dev/sdk` 4.8.3 against the built server (`npm run build`
 * first): every response passes the SDK's own schemas. What Postgres holds is checked beside it.
 */

const TASKS = Array.from({ length: 10 }, (_, i) => `batch-task-${i}`);
/** Deployed: tasks 0–7 (task 7 without a queue of its own); 8 and 9 are not deployed yet. */
const DEPLOYED = TASKS.slice(0, 8).map((slug, i) => (i === 7 ? { slug } : { slug, queue: { name: `queue-${i}` }, ttl: "1h" }));

let server: AppServer;
let project: TestProject;
let client: ApiClient;
const headers = () => ({ authorization: `Bearer ${project.prod.apiKey}`, "content-type": "application/json" });

beforeAll(async () => {
  project = await createTestProject();
  await registerAndPromote({ environmentId: project.prod.id, version: "v1", tasks: DEPLOYED });
  server = await startAppServer({ TASK_META_CACHE_L1_ENABLED: "false" });
  configure({ baseURL: server.url, accessToken: project.prod.apiKey });
  client = new ApiClient(server.url, project.prod.apiKey);
});

afterAll(async () => {
  await server?.stop();
});

const batchRows = (friendlyId: string) =>
  prisma().taskRun.findMany({ where: { batch: { friendlyId } }, orderBy: { batchIndex: "asc" } });

async function createBatch(runCount: number) {
  const response = await fetch(`${server.url}/api/v3/batches`, { method: "POST", headers: headers(), body: JSON.stringify({ runCount }) });
  expect(response.status).toBe(200);
  return (await response.json()) as { id: string };
}

const line = (index: number) => JSON.stringify({ index, task: TASKS[index % 8], payload: { n: index } });
const ndjson = (indices: number[]) => indices.map(line).join("\n") + "\n";

async function streamItems(id: string, body: string) {
  const response = await fetch(`${server.url}/api/v3/batches/${id}/items`, {
    method: "POST",
    headers: { ...headers(), "content-type": "application/x-ndjson" },
    body,
  });
  return { status: response.status, body: await response.json() };
}

describe("batch.trigger: 1,000 items over 10 tasks", () => {
  it("stores every item once, with each task's queue, locks, overrides and PENDING_VERSION", async () => {
    const items = Array.from({ length: 1000 }, (_, i) => {
      const id = TASKS[i % 10];
      const options: Record<string, unknown> = {};
      if (i % 10 < 3 && i % 7 === 0) options.version = "v1";
      if (i % 10 === 4 && i % 3 === 0) options.queue = "override-queue";
      if (i % 100 === 5) Object.assign(options, { tags: ["a", `item-${i}`], maxAttempts: 3, ttl: "5m" });
      return { id, payload: { i }, options };
    });
    const handle = await batch.trigger(items as never);
    expect(handle.batchId).toMatch(/^batch_/);
    expect(handle.runCount).toBe(1000);

    const rows = await batchRows(handle.batchId);
    expect(rows.map((r) => r.batchIndex)).toEqual(items.map((_, i) => i));
    for (const [i, row] of rows.entries()) {
      const task = i % 10;
      expect(row.taskIdentifier).toBe(TASKS[task]);
      expect(JSON.parse(row.payload as string)).toEqual({ json: { i } }); // the SDK's superjson packet, stored as sent
      if (task >= 8) expect(row.status).toBe("PENDING_VERSION");
      else expect(row.status).toBe("QUEUED");
      if (items[i].options.queue) expect(row.queue).toBe("override-queue");
      else if (task < 7) expect(row.queue).toBe(`queue-${task}`);
      expect(row.lockedToVersionId !== null).toBe(items[i].options.version === "v1");
      if (i % 100 === 5) expect(row).toMatchObject({ tags: ["a", `item-${i}`], maxAttempts: 3, ttl: "5m" });
      else expect(row.tags).toEqual([]);
    }

    const retrieved = await batch.retrieve(handle.batchId);
    expect(retrieved).toMatchObject({ id: handle.batchId, status: "COMPLETED", runCount: 1000 });
    expect(retrieved.runs).toEqual(rows.map((r) => r.friendlyId));
    const run = await runs.retrieve(rows[0].friendlyId);
    expect(run.triggerFunction).toBe("batchTrigger");
    expect((run as { batchId?: string }).batchId).toBe(handle.batchId);
    expect(await client.getBatchResults(handle.batchId)).toEqual({ id: handle.batchId, items: [] });
  });

  it("a bad option fails its item alone, reported by batch.retrieve", async () => {
    const handle = await batch.trigger([
      { id: TASKS[0], payload: {} },
      { id: TASKS[1], payload: {}, options: { version: "no-such-version" } },
      { id: TASKS[2], payload: {} },
    ] as never);
    const retrieved = await batch.retrieve(handle.batchId);
    expect(retrieved.status).toBe("PARTIAL_FAILED");
    expect(retrieved.runs).toHaveLength(2);
    expect(retrieved.processing.errors).toEqual([
      { index: 1, taskIdentifier: TASKS[1], error: "Task locked to version 'no-such-version', but no worker found with that version.", errorCode: "422" },
    ]);
  });
});

describe("tasks.batchTrigger, batch.triggerByTask and idempotency", () => {
  it("tasks.batchTrigger with a batch idempotency key returns the same batch the second time", async () => {
    const items = Array.from({ length: 20 }, (_, i) => ({ payload: { i } }));
    const first = await tasks.batchTrigger(TASKS[0], items, { idempotencyKey: "nightly-import" });
    const second = await tasks.batchTrigger(TASKS[0], items, { idempotencyKey: "nightly-import" });
    expect(second.batchId).toBe(first.batchId);
    expect(await batchRows(first.batchId)).toHaveLength(20);
    expect(await prisma().batchTaskRun.count({ where: { environmentId: project.prod.id, friendlyId: first.batchId } })).toBe(1);
  });

  it("an item's idempotency key returns the run that already holds it", async () => {
    const single = await tasks.trigger(TASKS[1], { n: 1 }, { idempotencyKey: "order-42", idempotencyKeyTTL: "1h" });
    const handle = await batch.trigger([
      { id: TASKS[1], payload: { n: 2 }, options: { idempotencyKey: "order-42" } },
      { id: TASKS[1], payload: { n: 3 } },
    ] as never);
    const retrieved = await batch.retrieve(handle.batchId);
    expect(retrieved.runs[0]).toBe(single.id);
    expect(retrieved.runs).toHaveLength(2);
    expect(await batchRows(handle.batchId)).toHaveLength(1);
  });

  it("batch.triggerByTask", async () => {
    const handle = await batch.triggerByTask([
      { task: { id: TASKS[2] }, payload: { a: 1 } },
      { task: { id: TASKS[3] }, payload: { b: 2 } },
    ] as never);
    expect((await batchRows(handle.batchId)).map((r) => r.taskIdentifier)).toEqual([TASKS[2], TASKS[3]]);
  });

  it("POST /api/v2/tasks/batch (older SDKs, one body) answers both response shapes", async () => {
    const response = await client.batchTriggerV3({ items: [{ task: TASKS[0], payload: {} }, { task: TASKS[8], payload: {} }] } as never);
    expect(response.runCount).toBe(2);
    const raw = await fetch(`${server.url}/api/v2/tasks/batch`, { method: "POST", headers: headers(), body: JSON.stringify({ items: [{ task: TASKS[0] }] }) });
    const body = await raw.json();
    expect(body).toMatchObject({ isCached: false, runCount: 1, runs: [{ taskIdentifier: TASKS[0], isCached: false }] });
    expect(body.runs[0].id).toMatch(/^run_/);
  });
});

describe("the item stream", () => {
  it("a stream cut mid-way, then retried: nothing duplicated, nothing missing", async () => {
    const { id } = await createBatch(1000);
    const body = ndjson(Array.from({ length: 1000 }, (_, i) => i));
    // Send 600 lines' worth, then cut the connection.
    const cut = Buffer.from(body).subarray(0, Math.floor(body.length * 0.6));
    await new Promise<void>((resolve) => {
      const request = http.request(`${server.url}/api/v3/batches/${id}/items`, {
        method: "POST",
        headers: { ...headers(), "content-type": "application/x-ndjson", "transfer-encoding": "chunked" },
      });
      request.on("error", () => resolve());
      request.on("response", () => resolve());
      request.write(cut, () => setTimeout(() => request.destroy(), 300));
      request.on("close", () => resolve());
    });
    // The server stores what arrived before the cut (it may still be finishing when the client gives up).
    await new Promise((resolve) => setTimeout(resolve, 500));
    const partial = await batchRows(id);
    expect(partial.length).toBeGreaterThan(0);
    expect(partial.length).toBeLessThan(1000);

    const retried = await streamItems(id, body);
    expect(retried.status).toBe(200);
    expect(retried.body).toMatchObject({ id, sealed: true, itemsDeduplicated: partial.length, itemsAccepted: 1000 - partial.length });
    const rows = await batchRows(id);
    expect(rows.map((r) => r.batchIndex)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it("some indices missing: sealed false with the counts; the rest later seals it", async () => {
    const { id } = await createBatch(10);
    expect((await streamItems(id, ndjson([0, 1, 2, 3, 4, 4]))).body).toEqual({
      id, itemsAccepted: 5, itemsDeduplicated: 1, sealed: false, enqueuedCount: 5, expectedCount: 10,
    });
    expect((await streamItems(id, ndjson([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]))).body).toEqual({ id, itemsAccepted: 5, itemsDeduplicated: 5, sealed: true });
  });

  it("a bad line is a 400 naming it; the items before it are stored, nothing after it", async () => {
    const { id } = await createBatch(5);
    const body = [line(0), line(1), "{not json", line(3), line(4)].join("\n");
    const response = await streamItems(id, body);
    expect(response.status).toBe(400);
    expect(response.body.error).toMatch(/^Line 3: invalid JSON/);
    expect((await batchRows(id)).map((r) => r.batchIndex)).toEqual([0, 1]);
  });

  it("more items than declared, and a batch over the limit, are 400s", async () => {
    const { id } = await createBatch(2);
    const response = await streamItems(id, ndjson([0, 1, 2]));
    expect(response.status).toBe(400);
    expect(response.body.error).toBe("Line 3: index 2 is outside the batch of 2 items");
    const tooBig = await fetch(`${server.url}/api/v3/batches`, { method: "POST", headers: headers(), body: JSON.stringify({ runCount: 1001 }) });
    expect(tooBig.status).toBe(400);
    expect((await tooBig.json()).error).toBe("A batch holds at most 1000 items; runCount is 1001");
  });

  it("another environment's batch is a 404", async () => {
    const other = await createTestProject();
    const { id } = await createBatch(1);
    const response = await fetch(`${server.url}/api/v2/batches/${id}`, { headers: { authorization: `Bearer ${other.prod.apiKey}` } });
    expect(response.status).toBe(404);
  });
});
