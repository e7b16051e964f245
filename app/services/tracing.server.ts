import {
  context,
  isSpanContextValid,
  propagation,
  ROOT_CONTEXT,
  SpanKind,
  SpanStatusCode,
  trace,
  type Attributes,
  type ProxyTracerProvider,
  type AttributeValue,
  type Span,
  type SpanContext,
  type TextMapGetter,
  type Tracer,
} from "@opentelemetry/api";
import type { NodeSDK } from "@opentelemetry/sdk-node";
import { getEnv, type TracingConfig } from "~/env.server";
import { ATTR } from "~/domain/traceAttributes";

/**
 * OpenTelemetry tracing (docs/operations.md, "Traces"). The SDK is loaded and started by
 * {@link startTracing} only when app/env.server.ts found an OTLP endpoint; until then every helper
 * here is one boolean test and a direct call of the function it wraps, so tracing off costs
 * nothing measurable (docs/benchmarks.md). Span and attribute names: app/domain/traceAttributes.ts.
 */

let enabled = false;
let sdk: NodeSDK | undefined;
let cachedTracer: Tracer | undefined;
/** Looked up once per start: `trace.getTracer` builds a key and asks the provider on every call. */
const tracer = () => (cachedTracer ??= trace.getTracer("hotpath"));

export function tracingEnabled(): boolean {
  return enabled;
}

/** Starts the SDK from the parsed configuration; does nothing when tracing is off. Idempotent. */
export async function startTracing(config: TracingConfig | null = getEnv().tracing): Promise<void> {
  if (!config || sdk) return;
  const { NodeSDK, tracing, resources, core } = await import("@opentelemetry/sdk-node");
  const exporter = await createExporter(config);
  sdk = new NodeSDK({
    resource: resources.resourceFromAttributes({ "service.name": config.serviceName }),
    autoDetectResources: false,
    sampler: createSampler(tracing, config),
    spanProcessors: [new tracing.BatchSpanProcessor(exporter)],
    textMapPropagator: new core.W3CTraceContextPropagator(),
    instrumentations: [],
    // Traces only: without these the SDK would also export metrics and logs over OTLP.
    metricReaders: [],
    logRecordProcessors: [],
  });
  sdk.start();
  cachedTracer = undefined;
  enabled = true;
}

async function createExporter(config: TracingConfig) {
  if (config.protocol === "http/json") {
    const { OTLPTraceExporter } = await import("@opentelemetry/exporter-trace-otlp-http");
    return new OTLPTraceExporter({ url: config.url });
  }
  const { OTLPTraceExporter } = await import("@opentelemetry/exporter-trace-otlp-proto");
  return new OTLPTraceExporter({ url: config.url });
}

type SamplerClasses = typeof import("@opentelemetry/sdk-node").tracing;

function createSampler(classes: SamplerClasses, config: TracingConfig) {
  const ratio = () => new classes.TraceIdRatioBasedSampler(config.ratio);
  switch (config.sampler) {
    case "always_on":
      return new classes.AlwaysOnSampler();
    case "always_off":
      return new classes.AlwaysOffSampler();
    case "traceidratio":
      return ratio();
    case "parentbased_always_on":
      return new classes.ParentBasedSampler({ root: new classes.AlwaysOnSampler() });
    case "parentbased_always_off":
      return new classes.ParentBasedSampler({ root: new classes.AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new classes.ParentBasedSampler({ root: ratio() });
  }
}

/** Exports what is buffered (tests). */
export async function flushTracing(): Promise<void> {
  if (!sdk) return;
  // The API hands out a proxy; the SDK's provider behind it has forceFlush.
  const provider = (trace.getTracerProvider() as ProxyTracerProvider).getDelegate() as { forceFlush?: () => Promise<void> };
  await provider.forceFlush?.();
}

/** Flushes and stops the SDK (shutdown); the next {@link startTracing} starts a new one. */
export async function stopTracing(): Promise<void> {
  const current = sdk;
  sdk = undefined;
  enabled = false;
  cachedTracer = undefined;
  if (!current) return;
  await current.shutdown();
  trace.disable();
  context.disable();
  propagation.disable();
}

// ---- spans ------------------------------------------------------------------------------------

/** The active span's ids for log lines; undefined outside a (sampled or not) span. */
export function activeTraceIds(): { trace_id: string; span_id: string } | undefined {
  if (!enabled) return undefined;
  const span = trace.getActiveSpan();
  if (!span) return undefined;
  const { traceId, spanId } = span.spanContext();
  return { trace_id: traceId, span_id: spanId };
}

/** The active span's trace id when it is sampled (a metrics exemplar), else undefined. */
export function sampledTraceId(): string | undefined {
  if (!enabled) return undefined;
  const spanContext = trace.getActiveSpan()?.spanContext();
  return spanContext && spanContext.traceFlags & 1 ? spanContext.traceId : undefined;
}

/** Sets an attribute on the active span (a cache tier saying it answered); nothing when tracing is off. */
export function setSpanAttribute(name: string, value: AttributeValue): void {
  if (!enabled) return;
  trace.getActiveSpan()?.setAttribute(name, value);
}

function endWith<T>(span: Span, work: Promise<T>, onResult?: (span: Span, result: T) => void): Promise<T> {
  return work.then(
    (result) => {
      onResult?.(span, result);
      span.end();
      return result;
    },
    (error: unknown) => {
      span.recordException(error instanceof Error ? error : String(error));
      span.setStatus({ code: SpanStatusCode.ERROR, message: error instanceof Error ? error.message : String(error) });
      span.end();
      throw error;
    },
  );
}

export interface SpanOptions<T> {
  kind?: SpanKind;
  attributes?: Attributes;
  /** Linked spans only: further causes beside the active span (e.g. the traceparents of buffered triggers). */
  links?: readonly string[];
  /** Attributes from the result (set before the span ends). */
  onResult?: (span: Span, result: T) => void;
}

/**
 * `work` inside a child span of the active one. Without a recording parent (outside a request, or
 * in a request the sampler dropped) it is a direct call: an unsampled trigger pays for no children.
 */
export function inSpan<T>(name: string, options: SpanOptions<T>, work: () => Promise<T>): Promise<T> {
  if (!enabled || !trace.getActiveSpan()?.isRecording()) return work();
  return tracer().startActiveSpan(name, { kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes }, (span) =>
    endWith(span, work(), options.onResult),
  );
}

/**
 * `work` off the request path: a new trace (root span) *linked* to the active span, so that a
 * back-fill or a publish shows up beside the request that caused it without stretching it.
 */
export function inLinkedSpan<T>(name: string, options: SpanOptions<T>, work: () => Promise<T>): Promise<T> {
  if (!enabled) return work();
  const cause = trace.getActiveSpan()?.spanContext();
  const links = cause && isSpanContextValid(cause) ? [{ context: cause }] : [];
  for (const parent of options.links ?? []) {
    const linked = parseTraceparent(parent);
    if (linked) links.push({ context: linked });
  }
  return tracer().startActiveSpan(
    name,
    { root: true, links, kind: options.kind ?? SpanKind.INTERNAL, attributes: options.attributes },
    (span) => endWith(span, work(), options.onResult),
  );
}

/** A W3C `traceparent` header's span context, or undefined when it is not one. */
function parseTraceparent(header: string): SpanContext | undefined {
  const match = /^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(header.trim());
  if (!match) return undefined;
  const context: SpanContext = { traceId: match[1], spanId: match[2], traceFlags: Number.parseInt(match[3], 16) & 1, isRemote: true };
  return isSpanContextValid(context) ? context : undefined;
}

export interface ServerRequest {
  method: string;
  path: string;
  header(name: string): string | undefined;
}

const headerGetter: TextMapGetter<ServerRequest> = {
  get: (request, key) => request.header(key),
  keys: () => ["traceparent", "tracestate"],
};

/**
 * The request's SERVER span, continuing the caller's `traceparent` (the SDK's trace id is then the
 * run's). Named `METHOD` until the router names the route ({@link nameServerSpan}).
 */
export function inServerSpan<T extends { status: number }>(request: ServerRequest, lane: "node" | "remix", work: () => Promise<T>): Promise<T> {
  if (!enabled) return work();
  const parent = propagation.extract(ROOT_CONTEXT, request, headerGetter);
  const attributes: Attributes = { "http.request.method": request.method, "url.path": request.path, [ATTR.lane]: lane };
  const span = tracer().startSpan(request.method, { kind: SpanKind.SERVER, attributes }, parent);
  // Not sampled: no active span, so nothing below records, links or sets attributes.
  if (!span.isRecording()) return work();
  return context.with(trace.setSpan(parent, span), () =>
    endWith(span, work(), (done, response) => {
      done.setAttribute("http.response.status_code", response.status);
      if (response.status >= 500) done.setStatus({ code: SpanStatusCode.ERROR });
    }),
  );
}

/** The matched route's pattern (`/api/v1/tasks/:taskId/trigger`): the server span's name and `http.route`. */
export function nameServerSpan(method: string, route: string): void {
  if (!enabled) return;
  const span = trace.getActiveSpan();
  span?.updateName(`${method} ${route}`);
  span?.setAttribute("http.route", route);
}
