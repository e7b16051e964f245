import { createServer, type Server } from "node:http";

/**
 * `npm run bench:http -- --tracing [--before DIR]`: what tracing costs the trigger route. The same
 * server with tracing off (no OTLP endpoint), on at a 1 % ratio and on at 100 %, exporting to a
 * sink in the bench process that answers every export at once (the cost measured is Hotpath's,
 * not a collector's). With `--before DIR`, a checkout of the commit before tracing (built there,
 * node_modules linked) runs beside them: tracing off must keep ≥ 0.98 × its req/s, 100 % ≥ 0.85 ×.
 */

export interface OtlpSink {
  url: string;
  /** Export requests and bytes received. */
  stats: () => { requests: number; bytes: number };
  close: () => Promise<void>;
}

export async function startOtlpSink(): Promise<OtlpSink> {
  let requests = 0;
  let bytes = 0;
  const server: Server = createServer((req, res) => {
    req.on("data", (chunk: Buffer) => (bytes += chunk.length));
    req.on("end", () => {
      requests += 1;
      res.writeHead(200, { "content-type": "application/x-protobuf", "content-length": 0 }).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}`,
    stats: () => ({ requests, bytes }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The variables of a route server exporting to `sinkUrl` at `ratio` (the bench sends no traceparent: root sampling decides). */
export function tracingVariables(sinkUrl: string, ratio: number): Record<string, string> {
  return {
    OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
    OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
    OTEL_TRACES_SAMPLER_ARG: String(ratio),
  };
}
