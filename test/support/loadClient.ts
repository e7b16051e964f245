import { Agent, request as httpRequest } from "node:http";
import { percentile } from "../../scripts/bench/stats";

/**
 * A closed-loop HTTP load generator for the reliability tests: `concurrency` workers each send
 * their next request as soon as the previous answered, over keep-alive connections (node:http,
 * which costs the client far less CPU than fetch on a 2-core machine shared with the server).
 * Every call is recorded — status (0 for a transport error), when it started and how long it took —
 * so a test can split latencies by phase (before, during, after a fault).
 */

export interface LoadRequest {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface CallRecord {
  index: number;
  status: number;
  /** ms since the run started. */
  startedAt: number;
  latencyMs: number;
  body: string;
  error?: string;
}

export interface LoadRun {
  calls: CallRecord[];
  wallMs: number;
  requestsPerSecond: number;
}

export interface LoadOptions {
  baseUrl: string;
  total: number;
  concurrency: number;
  request: (index: number) => LoadRequest;
  /** Called with each finished call, in completion order (e.g. to inject a fault half-way). */
  onCall?: (call: CallRecord, completed: number) => void | Promise<void>;
  /** Per-call deadline; a call exceeding it is recorded as an error (status 0). */
  timeoutMs?: number;
}

function send(agent: Agent, base: URL, spec: LoadRequest, timeoutMs: number): Promise<{ status: number; body: string; error?: string }> {
  return new Promise((resolve) => {
    const body = spec.body === undefined ? undefined : Buffer.from(spec.body);
    const req = httpRequest(
      {
        agent,
        host: base.hostname,
        port: base.port,
        method: spec.method ?? (body ? "POST" : "GET"),
        path: spec.path,
        headers: {
          ...(body ? { "content-type": "application/json", "content-length": String(body.length) } : {}),
          ...spec.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
        res.on("error", (error) => resolve({ status: 0, body: "", error: String(error) }));
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on("error", (error) => resolve({ status: 0, body: "", error: String(error) }));
    req.end(body);
  });
}

export async function runLoad(options: LoadOptions): Promise<LoadRun> {
  const base = new URL(options.baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: options.concurrency });
  const calls: CallRecord[] = new Array(options.total);
  let next = 0;
  let completed = 0;
  const started = performance.now();
  const worker = async () => {
    for (;;) {
      const index = next++;
      if (index >= options.total) return;
      const startedAt = performance.now() - started;
      const result = await send(agent, base, options.request(index), options.timeoutMs ?? 30_000);
      const call: CallRecord = { index, startedAt, latencyMs: performance.now() - started - startedAt, ...result };
      calls[index] = call;
      completed += 1;
      await options.onCall?.(call, completed);
    }
  };
  try {
    await Promise.all(Array.from({ length: options.concurrency }, worker));
  } finally {
    agent.destroy();
  }
  const wallMs = performance.now() - started;
  return { calls, wallMs, requestsPerSecond: (options.total / wallMs) * 1000 };
}

/** Nearest-rank percentile of the calls' latencies (NaN for none). */
export function latencyPercentile(calls: readonly CallRecord[], q: number): number {
  if (calls.length === 0) return Number.NaN;
  return percentile(
    calls.map((c) => c.latencyMs).sort((a, b) => a - b),
    q,
  );
}

/** A one-line summary for the test's report: count, p50, p99, max. */
export function describeLatencies(calls: readonly CallRecord[]): string {
  if (calls.length === 0) return "no calls";
  const fmt = (ms: number) => `${ms.toFixed(1)} ms`;
  return `${calls.length} calls, p50 ${fmt(latencyPercentile(calls, 0.5))}, p99 ${fmt(latencyPercentile(calls, 0.99))}, max ${fmt(Math.max(...calls.map((c) => c.latencyMs)))}`;
}
