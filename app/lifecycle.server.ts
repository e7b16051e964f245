import type { Server } from "node:http";
import { disconnectDb } from "~/db.server";
import { getEnv } from "~/env.server";
import { disconnectRedis } from "~/redis.server";
import { disconnectApiKeyCache } from "~/services/apiKeyAuth.server";
import { logger } from "~/services/logger.server";
import { metricsRecorder, stopMetrics } from "~/services/metrics.server";
import { isClusterWorker } from "~/services/webCluster.server";
import { startRunLifecycle, stopRunLifecycle } from "~/services/runLifecycle.server";
import { startTracing, stopTracing } from "~/services/tracing.server";
import { disconnectTriggerBuffer } from "~/services/triggerBuffer/buffer.server";
import { startTriggerBufferDrainer, stopTriggerBufferDrainer } from "~/services/triggerBuffer/drainer.server";
import { warnWithoutPersistence } from "~/services/triggerBuffer/durability.server";
import {
  connectTaskMetadataCache,
  disconnectTaskMetadataCache,
  disconnectTaskMetadataCacheAdmin,
  startCacheReconciler,
  stopCacheReconciler,
} from "~/services/taskMetadata/index.server";

/**
 * What a process starts and how it stops: the production server (server.ts, through the build's
 * entry) and every test file (test/support/perFile.ts) go through these two functions, so a test
 * that leaves nothing open proves the server does not either.
 *
 * Everything else is lazy (connections open on first use), so `shutdown` closes whatever was
 * opened, started or not by `start`, and leaves the singletons ready to reopen on next use.
 */

export interface Started {
  port: number;
  /** How many proxies' X-Forwarded-For to believe for the client's address (express' "trust proxy"). */
  trustProxyHops: number;
  /** The page routes' body limit (server.ts refuses larger bodies before Remix). */
  pageBodyLimitBytes: number;
  /** Whether the hot path's Redis answered within the wait; if not, the cache fails open to Postgres. */
  cacheConnected: boolean;
}

/**
 * Parses the whole configuration (a bad variable throws here, naming it), opens the hot path's
 * Redis connection before the first trigger (or gives up after `cacheConnectTimeoutMs`), and
 * starts the background work: the current-hash sweep (docs/decisions/0024-current-hash-sweep.md),
 * the run lifecycle (docs/decisions/0035-run-lifecycle-scheduler.md), and the trigger buffer's
 * drainer (docs/decisions/0060-trigger-buffer.md).
 */
export async function start(options: { cacheConnectTimeoutMs?: number } = {}): Promise<Started> {
  const env = getEnv();
  // First, so that the spans of everything below (and of the first requests) are recorded.
  await startTracing(env.tracing);
  const cacheConnected = await connectTaskMetadataCache(options.cacheConnectTimeoutMs ?? 2_000);
  startCacheReconciler();
  startRunLifecycle();
  startTriggerBufferDrainer();
  // A cluster worker's registry must exist before the primary first asks for it (/metrics).
  if (isClusterWorker()) metricsRecorder();
  void warnWithoutPersistence();
  return { port: env.PORT, trustProxyHops: env.TRUST_PROXY_HOPS, pageBodyLimitBytes: env.PAGE_BODY_LIMIT_BYTES, cacheConnected };
}

let stopping: Promise<void> | undefined;

/**
 * Closes everything, in the order that loses nothing: the HTTP server stops accepting and lets
 * requests in flight finish (idle keep-alive sockets are closed at once, busy ones after
 * `drainMs`); then the background work (the sweep, and the metrics flusher's last write, which
 * needs Redis); then the invalidation subscriber and the cache's Redis clients; then the other
 * Redis clients (the API-key tier's subscriber with its connection); Postgres (a sweep or a request may still have been reading it); the
 * tracer last (flushing the spans of all that). Never
 * throws; a second call waits for the first.
 */
export function shutdown(options: { server?: Server; drainMs?: number } = {}): Promise<void> {
  stopping ??= closeAll(options).finally(() => (stopping = undefined));
  return stopping;
}

async function closeAll({ server, drainMs = 3_000 }: { server?: Server; drainMs?: number }): Promise<void> {
  if (server) await closeHttpServer(server, drainMs);
  await step("background work", async () => {
    await stopCacheReconciler();
    await stopRunLifecycle();
    await stopTriggerBufferDrainer();
    await stopMetrics();
  });
  // The subscriber goes first inside: its tier is switched off before the clients it reads through close.
  await step("task metadata cache", disconnectTaskMetadataCache);
  await step("redis clients", () => Promise.all([disconnectTaskMetadataCacheAdmin(), disconnectApiKeyCache(), disconnectTriggerBuffer(), disconnectRedis()]));
  await step("postgres pools", disconnectDb);
  // Last: the spans of everything above are exported before the process exits.
  await step("tracing", stopTracing);
}

async function step(what: string, close: () => Promise<unknown>): Promise<void> {
  try {
    await close();
  } catch (error) {
    logger.warn("shutdown step failed; continuing with the next", { step: what, error });
  }
}

function closeHttpServer(server: Server, drainMs: number): Promise<void> {
  if (!server.listening) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const forced = setTimeout(() => server.closeAllConnections(), drainMs);
    forced.unref();
    server.close(() => {
      clearTimeout(forced);
      resolve();
    });
    server.closeIdleConnections();
  });
}
