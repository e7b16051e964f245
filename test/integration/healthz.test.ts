import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AppServer, startAppServer } from "../support/appServer";
import { testRedisUrl } from "../support/databaseUrls";
import { type FaultProxy, startFaultProxy } from "../support/faultProxy";
import { remixRequest } from "../support/remixApp";
import { testRedis } from "../support/cacheTesting";
import { NO_PERSISTENCE_WARNING } from "~/services/triggerBuffer/durability.server";

/**
 * /healthz answers 200 only when Postgres and Redis both answer, and 503 naming what is down —
 * within about a second, whether a dependency refuses connections or accepts them and hangs.
 * One production server (server.ts over the build) reaches the real Postgres and Redis through
 * fault proxies that the tests switch between up, refusing (port closed) and hung.
 */

interface Health {
  status: number;
  body: Record<string, unknown>;
  cacheControl: string | null;
  elapsedMs: number;
}

async function health(server: AppServer): Promise<Health> {
  const started = performance.now();
  const response = await fetch(`${server.url}/healthz`);
  const elapsedMs = performance.now() - started;
  return { status: response.status, body: await response.json(), cacheControl: response.headers.get("cache-control"), elapsedMs };
}

async function healthyAgain(server: AppServer, deadlineMs = 15_000): Promise<Health> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const result = await health(server);
    if (result.status === 200 || Date.now() > deadline) return result;
    await new Promise((r) => setTimeout(r, 200));
  }
}

function viaProxy(url: string, proxy: FaultProxy): string {
  const proxied = new URL(url);
  proxied.hostname = "127.0.0.1";
  proxied.port = String(proxy.port);
  return proxied.toString();
}

function hostPortOf(url: string, defaultPort: number) {
  const parsed = new URL(url);
  return { host: parsed.hostname, port: Number(parsed.port || defaultPort) };
}

let postgres: FaultProxy;
let redis: FaultProxy;
let server: AppServer;
/** Both ok, plus the trigger buffer's warning when the test Redis runs without an AOF (buffering is on by default). */
let HEALTHY: Record<string, unknown> = { postgres: "ok", redis: "ok" };

beforeAll(async () => {
  const probe = testRedis();
  const aof = /aof_enabled:1/.test(await probe.info("persistence"));
  await probe.quit();
  if (!aof) HEALTHY = { ...HEALTHY, warnings: [NO_PERSISTENCE_WARNING] };
  postgres = await startFaultProxy(hostPortOf(process.env.DATABASE_URL!, 5432));
  redis = await startFaultProxy(hostPortOf(testRedisUrl(), 6379));
  server = await startAppServer({
    DATABASE_URL: viaProxy(process.env.DATABASE_URL!, postgres),
    REDIS_URL: viaProxy(testRedisUrl(), redis),
  });
}, 90_000);

afterAll(async () => {
  await server?.stop();
  await postgres?.close();
  await redis?.close();
});

describe("GET /healthz", () => {
  it("is 200 with both ok through Remix's handler, and is never cached", async () => {
    const response = await remixRequest("/healthz");
    expect(response.status).toBe(200);
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(await response.json()).toEqual(HEALTHY);
  });

  it("is 200 with both ok from the production server", async () => {
    const result = await health(server);
    expect(result.status).toBe(200);
    expect(result.body).toEqual(HEALTHY);
    expect(result.cacheControl).toBe("no-store");
  });

  it("is 503 naming redis, within 2 s, when Redis's port is closed — and 200 again when it is back", async () => {
    await redis.setMode("refuse");
    const down = await health(server);
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ postgres: "ok", redis: "down", error: "redis is down" });
    expect(down.body.details).toEqual({ redis: expect.any(String) });
    expect(down.cacheControl).toBe("no-store");
    expect(down.elapsedMs).toBeLessThan(2_000);

    await redis.setMode("forward");
    expect((await healthyAgain(server)).body).toEqual(HEALTHY);
  });

  it("is 503 naming postgres, within 2 s, when Postgres's port is closed — and 200 again when it is back", async () => {
    await postgres.setMode("refuse");
    const down = await health(server);
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ postgres: "down", redis: "ok", error: "postgres is down" });
    expect(down.body.details).toEqual({ postgres: expect.any(String) });
    expect(down.elapsedMs).toBeLessThan(2_000);

    // A new connection (the dropped ones are gone) meets the closed port.
    const refused = await health(server);
    expect(refused.body.details).toEqual({ postgres: "connection refused" });

    await postgres.setMode("forward");
    expect((await healthyAgain(server)).body).toEqual(HEALTHY);
  });

  it("is 503 after the 1 s probe deadline, not the drivers' timeouts, when both accept connections and hang", async () => {
    await postgres.setMode("hang");
    await redis.setMode("hang");
    const down = await health(server);
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ postgres: "down", redis: "down", error: "postgres and redis are down" });
    expect(down.body.details).toMatchObject({ postgres: "no answer within 1000 ms" });
    expect(down.elapsedMs).toBeGreaterThanOrEqual(900);
    expect(down.elapsedMs).toBeLessThan(2_000);

    await postgres.setMode("forward");
    await redis.setMode("forward");
    expect((await healthyAgain(server)).body).toEqual(HEALTHY);
  });
});
