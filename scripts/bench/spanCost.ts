/**
 * What tracing costs per traced trigger, in one process (docs/benchmarks.md, "tracing"): the four
 * spans of a warm trigger (server, auth, resolve, insert, with their attributes and the
 * AsyncLocalStorage context the SDK uses), created and ended N times through the SDK's own
 * classes, then serialised to OTLP protobuf and JSON as the exporters do. No network, no app.
 *
 *   node --import tsx scripts/bench/spanCost.ts [N]
 *
 * The serialisers come from @opentelemetry/otlp-transformer, the exporters' own dependency.
 */
import { context, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { JsonTraceSerializer, ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { tracing } from "@opentelemetry/sdk-node";

const N = Number(process.argv[2] ?? 20_000);
const collected: tracing.ReadableSpan[] = [];
const exporter: tracing.SpanExporter = {
  export: (spans, done) => {
    collected.push(...spans);
    done({ code: 0 });
  },
  shutdown: async () => {},
};
const provider = new tracing.BasicTracerProvider({
  spanProcessors: [new tracing.BatchSpanProcessor(exporter, { maxQueueSize: N * 4, maxExportBatchSize: N * 4, scheduledDelayMillis: 3_600_000 })],
});
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
trace.setGlobalTracerProvider(provider);
const tracer = trace.getTracer("span-cost");
const database = {
  "db.system.name": "postgresql",
  "db.operation.name": "INSERT",
  "db.collection.name": "TaskRun",
  "db.namespace": "hotpath",
  "server.address": "127.0.0.1",
  "server.port": 5432,
};

async function oneTrigger() {
  const server = tracer.startSpan("POST /api/v1/tasks/:taskId/trigger", {
    attributes: { "http.request.method": "POST", "url.path": "/api/v1/tasks/t/trigger", "hotpath.lane": "node" },
  });
  await context.with(trace.setSpan(context.active(), server), async () => {
    await tracer.startActiveSpan("hotpath.auth", async (span) => {
      span.setAttribute("hotpath.auth.tier", "l1");
      span.end();
    });
    await tracer.startActiveSpan("hotpath.resolve", { attributes: { "hotpath.task.locked": false, "hotpath.cache.breaker": "closed", "hotpath.cache.negative": false } }, async (span) => {
      span.setAttribute("hotpath.cache.tier", "l1");
      span.setAttribute("hotpath.cache.hit", true);
      span.end();
    });
    await tracer.startActiveSpan("INSERT TaskRun", { attributes: database }, async (span) => {
      span.setAttribute("hotpath.run.cached", false);
      span.end();
    });
  });
  server.setAttribute("http.route", "/api/v1/tasks/:taskId/trigger");
  server.setAttribute("http.response.status_code", 200);
  server.end();
}

for (let i = 0; i < 1_000; i++) await oneTrigger(); // warm-up
await provider.forceFlush();
collected.length = 0;
let started = performance.now();
for (let i = 0; i < N; i++) await oneTrigger();
const create = performance.now() - started;
await provider.forceFlush();
started = performance.now();
const protobuf = ProtobufTraceSerializer.serializeRequest(collected)!;
const protobufMs = performance.now() - started;
started = performance.now();
const json = JsonTraceSerializer.serializeRequest(collected)!;
const jsonMs = performance.now() - started;
const us = (ms: number) => `${((ms * 1000) / N).toFixed(1)} µs`;
console.log(`${N} traced triggers (4 spans each), per trigger:`);
console.log(`  create and end the spans   ${us(create)}`);
console.log(`  OTLP protobuf              ${us(protobufMs)}  (${(protobuf.length / N).toFixed(0)} bytes)`);
console.log(`  OTLP JSON                  ${us(jsonMs)}  (${(json.length / N).toFixed(0)} bytes)`);
await provider.shutdown();
