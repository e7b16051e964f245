import { createServer, type Server, type Socket } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { freePort, startAppServer } from "../support/appServer";
import { remixRequest } from "../support/remixApp";

/**
 * /healthz answers 200 only when Postgres and Redis both answer, and 503 naming what is down —
 * quickly, even when a dependency refuses connections or accepts them and never replies.
 */

async function healthOf(url: string) {
  const started = performance.now();
  const response = await fetch(`${url}/healthz`);
  const elapsedMs = performance.now() - started;
  return { status: response.status, body: await response.json(), cacheControl: response.headers.get("cache-control"), elapsedMs };
}

/** A TCP server that accepts connections and never writes a byte: a hung dependency. */
async function silentServer(): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe("GET /healthz", () => {
  it("is 200 with both ok when Postgres and Redis answer, and is never cached", async () => {
    const response = await remixRequest("/healthz");
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(await response.json()).toEqual({ postgres: "ok", redis: "ok" });
  });

  it("is 503 naming redis, within 2 s, when Redis refuses connections", async () => {
    const closedPort = await freePort();
    const server = await startAppServer({ REDIS_URL: `redis://127.0.0.1:${closedPort}` });
    cleanups.push(server.stop);
    const health = await healthOf(server.url);
    expect(health.status).toBe(503);
    expect(health.body).toMatchObject({ postgres: "ok", redis: "down", error: "redis is down" });
    expect(health.body.details).toEqual({ redis: expect.any(String) });
    expect(health.cacheControl).toBe("no-store");
    expect(health.elapsedMs).toBeLessThan(2_000);
  });

  it("is 503 naming postgres, within 2 s, when Postgres refuses connections", async () => {
    const closedPort = await freePort();
    const server = await startAppServer({ DATABASE_URL: `postgresql://postgres@127.0.0.1:${closedPort}/hotpath` });
    cleanups.push(server.stop);
    const health = await healthOf(server.url);
    expect(health.status).toBe(503);
    expect(health.body).toMatchObject({ postgres: "down", redis: "ok", error: "postgres is down" });
    expect(health.body.details).toEqual({ postgres: "connection refused" });
    expect(health.elapsedMs).toBeLessThan(2_000);
  });

  it("is 503 after the 1 s probe deadline, not the driver's timeouts, when Redis and Postgres hang", async () => {
    const hungRedis = await silentServer();
    const hungPostgres = await silentServer();
    cleanups.push(hungRedis.close, hungPostgres.close);
    const server = await startAppServer({
      REDIS_URL: `redis://127.0.0.1:${hungRedis.port}`,
      DATABASE_URL: `postgresql://postgres@127.0.0.1:${hungPostgres.port}/hotpath`,
    });
    cleanups.push(server.stop);
    const health = await healthOf(server.url);
    expect(health.status).toBe(503);
    expect(health.body).toEqual({
      postgres: "down",
      redis: "down",
      error: "postgres and redis are down",
      details: { postgres: "no answer within 1000 ms", redis: "no answer within 1000 ms" },
    });
    expect(health.elapsedMs).toBeGreaterThanOrEqual(900);
    expect(health.elapsedMs).toBeLessThan(2_000);
  });
});
