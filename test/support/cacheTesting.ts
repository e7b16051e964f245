import net from "node:net";
import { Redis } from "ioredis";
import type { CacheEvent, CacheEventSink, Keyspace } from "~/domain/cacheEvents";
import { testRedisUrl } from "./databaseUrls";

/** Helpers for tests of the task metadata cache: an event recorder, Redis clients, dead endpoints. */

export class RecordingSink implements CacheEventSink {
  readonly counts = new Map<string, number>();
  readonly resolves: { source: "cache" | "database"; durationMs: number }[] = [];

  record(event: CacheEvent, keyspace: Keyspace, count = 1) {
    const key = `${event}:${keyspace}`;
    this.counts.set(key, (this.counts.get(key) ?? 0) + count);
  }
  observeResolve(source: "cache" | "database", durationMs: number) {
    this.resolves.push({ source, durationMs });
  }
  count(event: CacheEvent, keyspace?: Keyspace): number {
    let total = 0;
    for (const [key, n] of this.counts) {
      const [e, k] = key.split(":");
      if (e === event && (keyspace === undefined || k === keyspace)) total += n;
    }
    return total;
  }
}

/** A plain client on the test Redis, for planting and inspecting keys. */
export function testRedis(): Redis {
  return new Redis(testRedisUrl(), { maxRetriesPerRequest: 1 });
}

/** A loopback port with nothing listening on it (bound, then released). */
export async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A TCP server that accepts connections and never answers: Redis hung rather than down. */
export async function silentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

/** Polls `check` until it returns a truthy value or the deadline passes (then throws). */
export async function eventually<T>(
  check: () => Promise<T> | T,
  { timeoutMs = 5_000, intervalMs = 20 } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`condition not met within ${timeoutMs} ms${last ? `: ${String(last)}` : ""}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
