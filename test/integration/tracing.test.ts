import { randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { bearer, overHttp, type ApiCall } from "../support/apiClient";
import { createTestProject, registerAndPromote, type TestProject } from "../support/fixtures";
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from "../support/otlpReceiver";
import { startPrivateRedis, type PrivateRedis } from "../support/privateRedis";

/**
 * Issue 17: traces exported over OTLP/HTTP to a receiver this file starts, decoded from protobuf
 * (the default protocol) and from JSON. A trigger continuing the SDK's traceparent yields a
 * SERVER span with that trace id, and auth, resolve and insert children with their attributes;
 * back-fills are linked, not parented. The cache has a Redis of its own here, so the outage case
 * can kill it.
 */

const receiver: OtlpReceiver = await startOtlpReceiver();
const cacheRedis: PrivateRedis = await startPrivateRedis();
Object.assign(process.env, {
  OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url,
  OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
  OTEL_SERVICE_NAME: "hotpath-test",
  TASK_META_CACHE_REDIS_URL: cacheRedis.url,
  TASK_META_CACHE_L1_TTL_MS: "150",
  TASK_META_CACHE_BREAKER_FAILURES: "1",
  TASK_META_CACHE_BREAKER_COOLDOWN_MS: "60000",
  // One sweep at start (then hourly) and a lifecycle tick every half second: both traced.
  TASK_META_CACHE_RECONCILE_INTERVAL_MS: "3600000",
  RUN_LIFECYCLE_INTERVAL_MS: "500",
  LOG_LEVEL: "warn",
});

const { start } = await import("~/lifecycle.server");
const { handleApiRequest } = await import("~/api/node");
const { handleRemixApiRequest } = await import("~/api/remix");
const tracing = await import("~/services/tracing.server");

let project: TestProject;
let lean: Server;
let leanUrl: string;
let version: string;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function traceparent() {
  const traceId = randomBytes(16).toString("hex");
  const parentId = randomBytes(8).toString("hex");
  return { traceId, parentId, header: `00-${traceId}-${parentId}-01` };
}

function triggerCall(slug: string, tp: string, options: Record<string, unknown> = {}): ApiCall {
  return {
    path: `/api/v1/tasks/${slug}/trigger`,
    headers: { ...bearer(project.prod.apiKey), traceparent: tp },
    body: { payload: { n: 1 }, options },
  };
}

/** The trace of one request: its spans once the SERVER span and `names` have arrived. */
async function traceOf(traceId: string, names: string[]): Promise<Record<string, ReceivedSpan>> {
  await tracing.flushTracing();
  const spans = await receiver.waitFor((all) => names.every((n) => all.some((s) => s.traceId === traceId && s.name === n)));
  return Object.fromEntries(spans.filter((s) => s.traceId === traceId).map((s) => [s.name, s]));
}

const SERVER = "POST /api/v1/tasks/:taskId/trigger";
const CHILDREN = ["hotpath.auth", "hotpath.resolve", "INSERT TaskRun"];

beforeAll(async () => {
  await start();
  project = await createTestProject();
  const worker = await registerAndPromote({ environmentId: project.prod.id, tasks: 3 });
  version = worker.version;
  lean = createServer((req, res) => {
    if (!handleApiRequest(req, res)) res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => lean.listen(0, "127.0.0.1", resolve));
  leanUrl = `http://127.0.0.1:${(lean.address() as { port: number }).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => lean?.close(resolve));
  await receiver.close();
  await cacheRedis.stop();
});

describe("tracing a trigger", () => {
  it("warm hit (lean lane): a SERVER span continuing the traceparent, with auth, resolve and insert children", async () => {
    // The first call fills the key and task tiers; the in-process tiers take the next ones.
    const first = traceparent();
    await overHttp(leanUrl, triggerCall("task-0", first.header));
    expect((await traceOf(first.traceId, ["hotpath.auth"]))["hotpath.auth"].attributes["hotpath.auth.tier"]).toBe("postgres");
    await overHttp(leanUrl, triggerCall("task-0", traceparent().header));
    const tp = traceparent();
    const response = await overHttp(leanUrl, triggerCall("task-0", tp.header));
    expect(response.status).toBe(200);
    const trace = await traceOf(tp.traceId, [SERVER, ...CHILDREN]);
    const server = trace[SERVER];
    expect(server).toMatchObject({ kind: 2, parentSpanId: tp.parentId, serviceName: "hotpath-test", encoding: "protobuf" });
    expect(server.attributes).toMatchObject({
      "http.request.method": "POST",
      "http.route": "/api/v1/tasks/:taskId/trigger",
      "http.response.status_code": 200,
      "hotpath.lane": "node",
    });
    for (const name of CHILDREN) expect(trace[name].parentSpanId).toBe(server.spanId);
    expect(trace["hotpath.auth"].attributes["hotpath.auth.tier"]).toBe("l1");
    expect(trace["hotpath.resolve"].attributes).toMatchObject({
      "hotpath.cache.tier": "l1",
      "hotpath.cache.hit": true,
      "hotpath.cache.negative": false,
      "hotpath.cache.breaker": "closed",
      "hotpath.task.locked": false,
    });
    expect(trace["INSERT TaskRun"]).toMatchObject({ kind: 3 });
    expect(trace["INSERT TaskRun"].attributes).toMatchObject({
      "db.system.name": "postgresql",
      "db.operation.name": "INSERT",
      "db.collection.name": "TaskRun",
      "server.address": "127.0.0.1",
      "hotpath.run.cached": false,
    });
    expect(typeof trace["INSERT TaskRun"].attributes["db.namespace"]).toBe("string");
  });

  it("a hit from Redis once the in-process entry expired says tier redis", async () => {
    await sleep(200);
    const tp = traceparent();
    await overHttp(leanUrl, triggerCall("task-0", tp.header));
    const trace = await traceOf(tp.traceId, [SERVER, "hotpath.resolve"]);
    expect(trace["hotpath.resolve"].attributes).toMatchObject({ "hotpath.cache.tier": "redis", "hotpath.cache.hit": true });
  });

  it("cold miss: resolve from the primary, and a back-fill span linked (not parented) to it", async () => {
    const redis = new Redis(cacheRedis.url);
    await redis.flushall(); // this file's own redis-server
    await redis.quit();
    await sleep(200);
    const tp = traceparent();
    await overHttp(leanUrl, triggerCall("task-1", tp.header));
    const trace = await traceOf(tp.traceId, [SERVER, ...CHILDREN]);
    const resolve = trace["hotpath.resolve"];
    expect(resolve.attributes).toMatchObject({ "hotpath.cache.tier": "primary", "hotpath.cache.hit": false });
    await sleep(100); // the back-fill runs after the answer
    await tracing.flushTracing();
    const spans = await receiver.waitFor((all) => all.some((s) => s.name === "hotpath.cache.backfill" && s.links.some((l) => l.spanId === resolve.spanId)));
    const backfill = spans.find((s) => s.name === "hotpath.cache.backfill" && s.links.some((l) => l.spanId === resolve.spanId))!;
    expect(backfill.traceId).not.toBe(tp.traceId);
    expect(backfill.parentSpanId).toBe("");
    expect(backfill.links[0]).toEqual({ traceId: tp.traceId, spanId: resolve.spanId });
    expect(backfill.attributes["hotpath.cache.written"]).toBe(true);
  });

  it("locked trigger (Remix lane): hotpath.task.locked and lane remix", async () => {
    const tp = traceparent();
    const response = await handleRemixApiRequest(
      new Request("http://localhost/api/v1/tasks/task-2/trigger", {
        method: "POST",
        headers: { "content-type": "application/json", ...bearer(project.prod.apiKey), traceparent: tp.header },
        body: JSON.stringify({ payload: {}, options: { lockToVersion: version } }),
      }),
      { clientAddress: "127.0.0.1" },
    );
    expect(response.status).toBe(200);
    const trace = await traceOf(tp.traceId, [SERVER, ...CHILDREN]);
    expect(trace[SERVER].attributes["hotpath.lane"]).toBe("remix");
    expect(trace[SERVER].parentSpanId).toBe(tp.parentId);
    expect(trace["hotpath.resolve"].attributes["hotpath.task.locked"]).toBe(true);
  });

  it("promotion over the API: the cache write is linked to the request, the publish to the write; the receive and background work are traces of their own", async () => {
    const next = await registerAndPromote({ environmentId: project.prod.id, tasks: 3, promote: false });
    const tp = traceparent();
    const response = await overHttp(leanUrl, {
      path: `/api/v1/deployments/${next.version}/promote`,
      headers: { ...bearer(project.prod.apiKey), traceparent: tp.header },
      body: {},
    });
    expect(response.status).toBe(200);
    const trace = await traceOf(tp.traceId, ["POST /api/v1/deployments/:version/promote"]);
    const server = trace["POST /api/v1/deployments/:version/promote"];
    const linkedTo = (name: string, spanId: string) => (all: ReceivedSpan[]) =>
      all.find((s) => s.name === name && s.links.some((l) => l.spanId === spanId));
    await receiver.waitFor((all) => linkedTo("hotpath.cache.replace_current", server.spanId)(all) !== undefined);
    const replace = linkedTo("hotpath.cache.replace_current", server.spanId)(receiver.spans)!;
    expect(replace.traceId).not.toBe(tp.traceId);
    await tracing.flushTracing();
    await receiver.waitFor((all) => linkedTo("hotpath.cache.invalidation publish", replace.spanId)(all) !== undefined);
    const publish = linkedTo("hotpath.cache.invalidation publish", replace.spanId)(receiver.spans)!;
    expect(publish).toMatchObject({ kind: 4, attributes: { "messaging.system": "redis" } });
    await tracing.flushTracing();
    const spans = await receiver.waitFor((all) =>
      ["hotpath.cache.invalidation receive", "hotpath.cache.sweep", "hotpath.run_lifecycle.tick"].every((n) => all.some((s) => s.name === n)),
    );
    const receive = spans.find((s) => s.name === "hotpath.cache.invalidation receive")!;
    expect(receive).toMatchObject({ kind: 5, parentSpanId: "" });
    expect(spans.find((s) => s.name === "hotpath.run_lifecycle.tick")!.attributes["hotpath.count"]).toBeTypeOf("number");
    expect(spans.find((s) => s.name === "hotpath.cache.sweep")!.attributes["hotpath.count"]).toBeTypeOf("number");
  });

  it("a batch's item stream: batch resolve and chunk insert spans, children of the request span, with their attributes", async () => {
    // The cold-miss test flushed the cache: rewrite the locked hash (as a registration does), so no
    // back-fill runs here, whose timeout on a busy machine would open this file's one-failure breaker.
    const { loadWorkerSnapshot, taskMetadataCache } = await import("~/services/taskMetadata/index.server");
    const { prisma } = await import("~/db.server");
    const worker = await prisma().backgroundWorker.findFirstOrThrow({ where: { environmentId: project.prod.id, version }, select: { id: true } });
    await taskMetadataCache().replaceWorker(project.prod.id, (await loadWorkerSnapshot(prisma(), worker.id))!);
    const headers = bearer(project.prod.apiKey);
    const created = await overHttp(leanUrl, { path: "/api/v3/batches", headers, body: { runCount: 600 } });
    expect(created.status).toBe(200);
    const tp = traceparent();
    // 600 items: two chunks (500 + 100); every third locked to the worker's version, one item with a bad ttl.
    const lines = Array.from({ length: 600 }, (_, index) =>
      JSON.stringify({ index, task: `task-${index % 3}`, payload: {}, options: { ...(index % 3 === 1 ? { lockToVersion: version } : {}), ...(index === 507 ? { ttl: "soon" } : {}) } }),
    ).join("\n");
    const response = await overHttp(leanUrl, {
      path: `/api/v3/batches/${created.body.id}/items`,
      headers: { ...headers, traceparent: tp.header, "content-type": "application/x-ndjson" },
      body: lines,
    });
    expect(response.status).toBe(200);
    const route = "POST /api/v3/batches/:batchId/items";
    await traceOf(tp.traceId, [route, "hotpath.batch.resolve", "BATCH INSERT TaskRun"]);
    await tracing.flushTracing();
    const spans = await receiver.waitFor((all) => all.filter((s) => s.traceId === tp.traceId && s.name === "BATCH INSERT TaskRun").length === 2);
    const ours = spans.filter((s) => s.traceId === tp.traceId);
    const server = ours.find((s) => s.name === route)!;
    const resolves = ours.filter((s) => s.name === "hotpath.batch.resolve").sort((a, b) => Number(b.attributes["hotpath.batch.items"]) - Number(a.attributes["hotpath.batch.items"]));
    const inserts = ours.filter((s) => s.name === "BATCH INSERT TaskRun").sort((a, b) => Number(b.attributes["db.operation.batch.size"]) - Number(a.attributes["db.operation.batch.size"]));
    expect(resolves).toHaveLength(2);
    for (const span of [...resolves, ...inserts]) expect(span.parentSpanId).toBe(server.spanId);
    expect(resolves[0].attributes).toMatchObject({
      "hotpath.batch.items": 500,
      "hotpath.batch.groups.current": 1,
      "hotpath.batch.groups.locked": 1,
      "hotpath.batch.failed": 0,
      "hotpath.cache.breaker": "closed",
    });
    expect(resolves[0].attributes["hotpath.cache.tier"]).toMatch(/^(l1|redis|replica|primary)$/);
    expect(typeof resolves[0].attributes["hotpath.batch.from_database"]).toBe("number");
    expect(typeof resolves[0].attributes["hotpath.cache.hit"]).toBe("boolean");
    // The bad ttl fails its item alone: 100 items in the second chunk, 99 runs.
    expect(resolves[1].attributes).toMatchObject({ "hotpath.batch.items": 100, "hotpath.batch.failed": 1 });
    expect(inserts[0]).toMatchObject({ kind: 3 });
    expect(inserts[0].attributes).toMatchObject({
      "db.system.name": "postgresql",
      "db.operation.name": "BATCH INSERT",
      "db.collection.name": "TaskRun",
      "db.operation.batch.size": 500,
      "hotpath.batch.inserted": 500,
    });
    expect(inserts[1].attributes).toMatchObject({ "db.operation.batch.size": 99, "hotpath.batch.inserted": 99 });
  });

  it("the trigger buffer's drain: a trace of its own, linked to the buffered triggers' traceparent", async () => {
    const { bufferRun } = await import("~/services/triggerBuffer/buffer.server");
    const { friendlyRunId } = await import("~/services/runs.server");
    const tp = traceparent();
    const friendlyId = friendlyRunId();
    const buffered = await bufferRun({
      id: randomBytes(12).toString("hex"),
      friendlyId,
      environmentId: project.prod.id,
      taskIdentifier: "task-0",
      payload: { buffered: true },
      queue: "task/task-0",
      lockedQueueId: null,
      lockedToVersionId: null,
      ttl: null,
      expiresAt: null,
      taskKind: "STANDARD",
      tags: [],
      delayUntil: null,
      status: "QUEUED",
      idempotencyKey: null,
      createdAt: new Date(),
      traceparent: tp.header,
    });
    expect(buffered).toBeTruthy();
    await tracing.flushTracing();
    const spans = await receiver.waitFor((all) => all.some((s) => s.name === "hotpath.trigger_buffer.drain" && s.links.some((l) => l.traceId === tp.traceId)), 15_000);
    const drain = spans.find((s) => s.name === "hotpath.trigger_buffer.drain" && s.links.some((l) => l.traceId === tp.traceId))!;
    expect(drain.traceId).not.toBe(tp.traceId);
    expect(drain.parentSpanId).toBe("");
    expect(drain.links).toContainEqual({ traceId: tp.traceId, spanId: tp.parentId });
    expect(drain.attributes).toMatchObject({ "hotpath.count": 1, "hotpath.trigger_buffer.inserted": 1, "hotpath.trigger_buffer.aliased": 0 });
    expect(drain.attributes["hotpath.trigger_buffer.stream"]).toMatch(/trigger-buffer/);
  });

  it("Redis outage: the breaker opens, the primary answers, and the warning logged inside the request carries its trace id", async () => {
    await cacheRedis.kill();
    await sleep(200);
    const lines: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    vi.spyOn(process.stderr, "write").mockImplementation((chunk: any, ...rest: any[]) => {
      lines.push(String(chunk));
      return write(chunk, ...rest);
    });
    const first = traceparent();
    expect((await overHttp(leanUrl, triggerCall("task-0", first.header))).status).toBe(200);
    vi.restoreAllMocks();
    const tp = traceparent();
    expect((await overHttp(leanUrl, triggerCall("task-0", tp.header))).status).toBe(200);
    const trace = await traceOf(tp.traceId, [SERVER, ...CHILDREN]);
    expect(trace["hotpath.resolve"].attributes).toMatchObject({
      "hotpath.cache.breaker": "open",
      "hotpath.cache.tier": "primary",
      "hotpath.cache.hit": false,
    });
    const logged = lines.map((l) => JSON.parse(l)).filter((l) => l.trace_id === first.traceId);
    expect(logged.length).toBeGreaterThan(0);
    expect(logged[0]).toMatchObject({ level: "warn", trace_id: first.traceId });
    expect(logged[0].span_id).toMatch(/^[0-9a-f]{16}$/);
    await cacheRedis.restart();
  });

  it("exemplars: the resolve histogram carries the trace id of a sampled resolve in OpenMetrics only; labels unchanged", async () => {
    const { MetricsRecorder } = await import("~/services/metrics.server");
    const { Registry } = await import("prom-client");
    const recorder = new MetricsRecorder({ registry: new Registry(), flushIntervalMs: 60_000 });
    let traceId = "";
    await tracing.inLinkedSpan("test", {}, async () => {
      traceId = tracing.sampledTraceId()!;
      recorder.observeResolve("cache", 0.3);
    });
    recorder.record("hit", "l1");
    const open = await recorder.render(true);
    expect(open.contentType).toContain("application/openmetrics-text");
    expect(open.body).toMatch(new RegExp(`hotpath_resolve_duration_seconds_bucket\\{le="0\\.0005",source="cache"\\} 1 # \\{trace_id="${traceId}"\\} 0\\.0003 \\d+`));
    expect(open.body.trimEnd().endsWith("# EOF")).toBe(true);
    const plain = await recorder.render();
    expect(plain.body).not.toContain("trace_id");
    // Rendering OpenMetrics did not rename the registry's own counters.
    expect(plain.body).toContain('hotpath_task_meta_cache_events_total{event="hit",keyspace="l1"} 1');
    await recorder.stop();
  });

  it("exports JSON with OTEL_EXPORTER_OTLP_PROTOCOL=http/json", async () => {
    const { getEnv } = await import("~/env.server");
    await tracing.stopTracing();
    await tracing.startTracing({ ...getEnv().tracing!, protocol: "http/json" });
    const tp = traceparent();
    await overHttp(leanUrl, triggerCall("task-0", tp.header));
    const trace = await traceOf(tp.traceId, [SERVER, ...CHILDREN]);
    expect(trace[SERVER]).toMatchObject({ encoding: "json", kind: 2, parentSpanId: tp.parentId });
    expect(receiver.requests.some((r) => r.path === "/v1/traces" && r.contentType.includes("json"))).toBe(true);
    expect(receiver.requests.some((r) => r.path === "/v1/traces" && r.contentType.includes("protobuf"))).toBe(true);
  });
});
