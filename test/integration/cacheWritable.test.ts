import { Redis } from "ioredis";
import { afterAll, describe, expect, it } from "vitest";
import { keyPrefix } from "~/redis.server";
import { cacheWriteBlocker } from "~/services/cacheWritable.server";
import { TaskMetadataCacheAdmin } from "~/services/taskMetadata/admin.server";
import { closedPort, silentServer, testRedis } from "../support/cacheTesting";

/**
 * Whether the admin's write actions are enabled: the cache's Redis answers a PING within the bound.
 * Up → null; down (refused) or hung (accepts, never answers) → the reason the pages show, within
 * the bound, so a hung Redis costs a page at most that long.
 */

const clients: Redis[] = [];
const adminOn = (client: Redis) => {
  clients.push(client);
  return new TaskMetadataCacheAdmin({ client, prefix: keyPrefix() });
};

afterAll(() => {
  for (const client of clients) client.disconnect();
});

describe("cacheWriteBlocker", () => {
  it("is null while Redis answers", async () => {
    expect(await cacheWriteBlocker({ admin: adminOn(testRedis()) })).toBeNull();
  });

  it("names the reason when Redis refuses connections", async () => {
    const refused = new Redis({ port: await closedPort(), host: "127.0.0.1", maxRetriesPerRequest: 0, retryStrategy: () => 1_000 });
    // The refusals are what this test is about; the client's own error events are expected.
    refused.on("error", () => {});
    const admin = adminOn(refused);
    expect(await cacheWriteBlocker({ admin, timeoutMs: 500 })).toMatch(/^Disabled while Redis \(the task metadata cache\) is unreachable/);
  });

  it("answers within its bound when Redis is hung", async () => {
    const silent = await silentServer();
    try {
      const admin = adminOn(new Redis({ port: silent.port, host: "127.0.0.1", maxRetriesPerRequest: null }));
      const started = performance.now();
      expect(await cacheWriteBlocker({ admin, timeoutMs: 300 })).toMatch(/it did not answer in time/);
      expect(performance.now() - started).toBeLessThan(1_000);
    } finally {
      await silent.close();
    }
  });
});
