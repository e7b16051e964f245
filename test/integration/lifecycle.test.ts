import { Agent, createServer, get, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, expect, it } from "vitest";
import { shutdown, start } from "~/lifecycle.server";
import { redis } from "~/redis.server";
import { apiRedis } from "~/services/apiRedis.server";
import { metricsRecorder, processMetricsSink } from "~/services/metrics.server";
import { setCacheEventSink, taskMetadataCacheAdmin } from "~/services/taskMetadata/index.server";
import { taskMetadataInvalidationSubscriber } from "~/services/taskMetadata/instance.server";
import { bearer, inProcess } from "../support/apiClient";
import { createTestProject, registerAndPromote } from "../support/fixtures";

/**
 * app/lifecycle.server.ts: what `start()` and a process's work open, `shutdown()` closes — every
 * socket (Postgres, each Redis client, the subscriber, the HTTP server and its keep-alive
 * connections) and every timer (the sweep, the metrics flusher) — so that Node has nothing left
 * to wait for. Checked through Node's own list of active handles, not through the modules' flags.
 */

// Handles that keep a process alive and that this app opens; vitest's worker has some of its own.
const WATCHED = ["TCPSocketWrap", "TCPServerWrap", "Timeout"];

function openHandles(): Record<string, number> {
  const counts: Record<string, number> = Object.fromEntries(WATCHED.map((kind) => [kind, 0]));
  for (const kind of process.getActiveResourcesInfo()) if (kind in counts) counts[kind] += 1;
  return counts;
}

/** Polls until no watched kind is above `baseline` (sockets report closed a tick after `end`), or the deadline. */
async function settledTo(baseline: Record<string, number>, deadlineMs = 3_000): Promise<Record<string, number>> {
  const deadline = Date.now() + deadlineMs;
  for (;;) {
    const now = openHandles();
    if (WATCHED.every((kind) => now[kind] <= baseline[kind]) || Date.now() > deadline) return now;
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function listening(): Promise<Server> {
  const server = createServer((_req, res) => res.end("ok"));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

/** One request on a keep-alive agent, whose socket then stays open and idle on both ends. */
async function keepAliveRequest(server: Server): Promise<Agent> {
  const agent = new Agent({ keepAlive: true });
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve, reject) => {
    get({ host: "127.0.0.1", port, agent }, (res) => {
      res.resume();
      res.on("end", resolve);
    }).on("error", reject);
  });
  return agent;
}

describe("lifecycle", () => {
  it("shutdown closes every connection and timer that start and a trigger opened", async () => {
    const baseline = await settledTo(openHandles(), 0);
    setCacheEventSink(processMetricsSink);
    const server = await listening();
    const agent = await keepAliveRequest(server);

    const started = await start();
    expect(started.cacheConnected).toBe(true);
    const project = await createTestProject();
    const worker = await registerAndPromote({ environmentId: project.prod.id, tasks: 1 });
    const triggered = await inProcess({
      path: `/api/v1/tasks/${worker.tasks[0].slug}/trigger`,
      headers: bearer(project.prod.apiKey),
      body: { payload: {} },
    });
    expect(triggered.status).toBe(200);
    const clients = [redis(), (await apiRedis())!, taskMetadataCacheAdmin().client];
    await taskMetadataCacheAdmin().client.ping();
    const subscriber = taskMetadataInvalidationSubscriber()!;
    await expect.poll(() => subscriber.isSubscribed, { timeout: 5_000 }).toBe(true);
    metricsRecorder().record("hit", "current");
    expect(openHandles()).not.toEqual(baseline);

    const before = Date.now();
    await shutdown({ server });
    expect(Date.now() - before).toBeLessThan(3_000); // the idle keep-alive socket did not hold it up

    expect(clients.map((client) => client.status)).toEqual(["end", "end", "end"]);
    expect(subscriber.isSubscribed).toBe(false);
    expect(server.listening).toBe(false);
    const after = await settledTo(baseline);
    for (const kind of WATCHED) expect(after[kind], kind).toBeLessThanOrEqual(baseline[kind]);
    agent.destroy();
  });

  it("a second shutdown waits for the first, and the lazy connections reopen on next use", async () => {
    await start();
    await Promise.all([shutdown(), shutdown()]);
    expect(await redis().ping()).toBe("PONG");
    await shutdown();
    expect(redis().status).not.toBe("end");
    await shutdown();
  });
});
