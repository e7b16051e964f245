import cluster, { type Worker } from "node:cluster";
import { availableParallelism } from "node:os";
import { AggregatorRegistry, type PrometheusContentType, type Registry } from "prom-client";
import { getEnv } from "~/env.server";
import { logger } from "~/services/logger.server";

/**
 * WEB_CONCURRENCY: the server as that many worker processes through node:cluster (decision 0077).
 * The primary only forks, restarts a worker that died unexpectedly, answers /metrics aggregation
 * and relays a stop signal; every worker is a whole Hotpath process (its own pools, Redis clients,
 * invalidation subscriber, in-process tiers, metrics recorder) listening on the one shared port.
 */

const AGGREGATE_REQUEST = "hotpath:metrics:aggregate";
const AGGREGATE_REPLY = "hotpath:metrics:aggregated";
/** A worker that dies within this long of its start is not restarted (a crash loop would fork forever). */
const MIN_UPTIME_FOR_RESTART_MS = 5_000;

/** Worker processes: the setting, else every core in production and one otherwise. */
export function webConcurrency(): number {
  const env = getEnv();
  return env.WEB_CONCURRENCY ?? (env.NODE_ENV === "production" ? availableParallelism() : 1);
}

export function isClusterWorker(): boolean {
  return cluster.isWorker;
}

/**
 * Runs the primary: forks `workers` processes of this same script and keeps them running until
 * SIGINT/SIGTERM, which it passes on to each; each drains and stops as a single server does
 * (lifecycle.server.ts). Exits with 0 once all have exited cleanly, 1 otherwise. Never resolves.
 */
export async function runClusterPrimary(workers: number): Promise<never> {
  const aggregator = new AggregatorRegistry<PrometheusContentType>();
  let stopping = false;
  let failed = false;
  const startedAt = new Map<Worker, number>();

  const fork = () => {
    const worker = cluster.fork();
    startedAt.set(worker, Date.now());
    worker.on("message", (message: unknown) => void answerAggregation(aggregator, worker, message));
  };
  cluster.on("exit", (worker, code, signal) => {
    const uptime = Date.now() - (startedAt.get(worker) ?? 0);
    startedAt.delete(worker);
    if (code !== 0) failed = true;
    if (!stopping && uptime >= MIN_UPTIME_FOR_RESTART_MS) {
      logger.error("server worker died; starting another", { pid: worker.process.pid, code, signal });
      fork();
    } else if (!stopping) {
      logger.error("server worker died right after starting; not restarting it", { pid: worker.process.pid, code, signal });
    }
    if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(failed ? 1 : 0);
  });
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      logger.info("stopping server workers", { workers: Object.keys(cluster.workers ?? {}).length, signal });
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill(signal);
    });
  }
  for (let i = 0; i < workers; i++) fork();
  console.log(`Hotpath primary ${process.pid}: ${workers} server workers (WEB_CONCURRENCY)`);
  return new Promise<never>(() => {});
}

/** The primary's side of /metrics: gathers every worker's registry (prom-client) and sends the sum back to the asker. */
async function answerAggregation(aggregator: AggregatorRegistry<PrometheusContentType>, worker: Worker, message: unknown): Promise<void> {
  if (!isRequest(message)) return;
  try {
    const registry = await aggregator.clusterMetrics();
    worker.send({ type: AGGREGATE_REPLY, id: message.id, body: registry });
  } catch (error) {
    logger.error("metrics aggregation over the server workers failed", { error });
    worker.send({ type: AGGREGATE_REPLY, id: message.id, error: error instanceof Error ? error.message : String(error) });
  }
}

function isRequest(message: unknown): message is { type: string; id: number } {
  return typeof message === "object" && message !== null && (message as { type?: unknown }).type === AGGREGATE_REQUEST;
}

/** In a worker: the registries the primary's aggregator collects from this process. */
export function shareRegistries(registries: Registry[]): void {
  if (!cluster.isWorker) return;
  AggregatorRegistry.setRegistries(registries);
  // prom-client answers the primary's requests only once an aggregator exists in the worker too.
  new AggregatorRegistry<PrometheusContentType>();
}

let nextRequest = 0;

/**
 * In a worker: every worker's metrics added up, in Prometheus text, asked of the primary (which
 * asks each worker, this one included). Rejects after `timeoutMs`.
 */
export function clusterMetricsText(timeoutMs = 5_000): Promise<string> {
  const id = ++nextRequest;
  return new Promise<string>((resolve, reject) => {
    const onMessage = (message: { type?: string; id?: number; body?: string; error?: string }) => {
      if (message?.type !== AGGREGATE_REPLY || message.id !== id) return;
      clearTimeout(timer);
      process.off("message", onMessage);
      if (message.error !== undefined) reject(new Error(message.error));
      else resolve(message.body ?? "");
    };
    const timer = setTimeout(() => {
      process.off("message", onMessage);
      reject(new Error(`the server workers' metrics did not arrive within ${timeoutMs} ms`));
    }, timeoutMs);
    process.on("message", onMessage);
    process.send?.({ type: AGGREGATE_REQUEST, id });
  });
}
