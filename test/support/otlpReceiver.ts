import { createServer, type Server } from "node:http";
import protobuf from "protobufjs";

/**
 * A small OTLP/HTTP trace receiver for tests: accepts POST /v1/traces in JSON
 * (`application/json`) and protobuf (`application/x-protobuf`), decodes both into one flat list
 * of spans with hex ids and plain attribute values. The protobuf schema below is the subset of
 * opentelemetry-proto's trace and common messages the exporter fills (field numbers as upstream).
 */

const OTLP_PROTO = `
syntax = "proto3";
package otlp;
message ExportTraceServiceRequest { repeated ResourceSpans resource_spans = 1; }
message ResourceSpans { Resource resource = 1; repeated ScopeSpans scope_spans = 2; string schema_url = 3; }
message Resource { repeated KeyValue attributes = 1; uint32 dropped_attributes_count = 2; }
message ScopeSpans { InstrumentationScope scope = 1; repeated Span spans = 2; string schema_url = 3; }
message InstrumentationScope { string name = 1; string version = 2; }
message Span {
  bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; bytes parent_span_id = 4;
  string name = 5; int32 kind = 6; fixed64 start_time_unix_nano = 7; fixed64 end_time_unix_nano = 8;
  repeated KeyValue attributes = 9; uint32 dropped_attributes_count = 10;
  repeated Link links = 13; Status status = 15; fixed32 flags = 16;
}
message Link { bytes trace_id = 1; bytes span_id = 2; string trace_state = 3; repeated KeyValue attributes = 4; }
message Status { string message = 2; int32 code = 3; }
message KeyValue { string key = 1; AnyValue value = 2; }
message AnyValue {
  oneof value { string string_value = 1; bool bool_value = 2; int64 int_value = 3; double double_value = 4; ArrayValue array_value = 5; }
}
message ArrayValue { repeated AnyValue values = 1; }
`;

const RequestType = protobuf.parse(OTLP_PROTO, { keepCase: false }).root.lookupType("otlp.ExportTraceServiceRequest");

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
  links: { traceId: string; spanId: string }[];
  serviceName: unknown;
  /** How it arrived. */
  encoding: "json" | "protobuf";
}

type AnyValue = { stringValue?: string; boolValue?: boolean; intValue?: number | string; doubleValue?: number };
type KeyValue = { key: string; value?: AnyValue };
type RawSpan = { traceId?: string; spanId?: string; parentSpanId?: string; name: string; kind: number; attributes?: KeyValue[]; links?: { traceId: string; spanId: string }[] };
type RawRequest = { resourceSpans?: { resource?: { attributes?: KeyValue[] }; scopeSpans?: { spans?: RawSpan[] }[] }[] };

function value(v: AnyValue | undefined): unknown {
  if (!v) return undefined;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  return v.doubleValue;
}

const attributesOf = (list: KeyValue[] | undefined) => Object.fromEntries((list ?? []).map((kv) => [kv.key, value(kv.value)]));

function flatten(request: RawRequest, encoding: ReceivedSpan["encoding"]): ReceivedSpan[] {
  return (request.resourceSpans ?? []).flatMap((rs) => {
    const serviceName = attributesOf(rs.resource?.attributes)["service.name"];
    return (rs.scopeSpans ?? []).flatMap((ss) =>
      (ss.spans ?? []).map((s) => ({
        traceId: s.traceId ?? "",
        spanId: s.spanId ?? "",
        parentSpanId: s.parentSpanId ?? "",
        name: s.name,
        kind: s.kind,
        attributes: attributesOf(s.attributes),
        links: (s.links ?? []).map((l) => ({ traceId: l.traceId, spanId: l.spanId })),
        serviceName,
        encoding,
      })),
    );
  });
}

function decode(body: Buffer, contentType: string): ReceivedSpan[] {
  if (contentType.includes("json")) return flatten(JSON.parse(body.toString("utf8")) as RawRequest, "json");
  const message = RequestType.decode(body);
  // bytes as hex, enums and longs as numbers: the same shape as the JSON encoding.
  const object = RequestType.toObject(message, { longs: Number, bytes: String, defaults: false }) as RawRequest;
  const hex = (b64: string | undefined) => (b64 ? Buffer.from(b64, "base64").toString("hex") : "");
  for (const rs of object.resourceSpans ?? []) {
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        s.traceId = hex(s.traceId);
        s.spanId = hex(s.spanId);
        s.parentSpanId = hex(s.parentSpanId);
        for (const l of s.links ?? []) Object.assign(l, { traceId: hex(l.traceId), spanId: hex(l.spanId) });
      }
    }
  }
  return flatten(object, "protobuf");
}

export interface OtlpReceiver {
  url: string;
  spans: ReceivedSpan[];
  /** Request paths and content types seen. */
  requests: { path: string; contentType: string }[];
  /** Polls until `predicate` holds for the spans received (or throws after `timeoutMs`). */
  waitFor(predicate: (spans: ReceivedSpan[]) => boolean, timeoutMs?: number): Promise<ReceivedSpan[]>;
  close(): Promise<void>;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const requests: OtlpReceiver["requests"] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const contentType = req.headers["content-type"] ?? "";
      requests.push({ path: req.url ?? "", contentType });
      try {
        spans.push(...decode(Buffer.concat(chunks), contentType));
        res.writeHead(200, { "content-type": contentType.includes("json") ? "application/json" : "application/x-protobuf" });
        res.end(contentType.includes("json") ? "{}" : undefined);
      } catch (error) {
        res.writeHead(400).end(String(error));
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    requests,
    async waitFor(predicate, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate(spans)) {
        if (Date.now() > deadline) throw new Error(`OTLP receiver: condition not met; got ${spans.map((s) => s.name).join(", ")}`);
        await new Promise((r) => setTimeout(r, 50));
      }
      return spans;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
