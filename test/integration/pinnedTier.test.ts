import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keyPrefix } from "~/redis.server";
import { InProcessTaskMetadataStore } from "~/services/taskMetadata/inProcessStore.server";
import { InvalidationSubscriber, publishInvalidation } from "~/services/taskMetadata/invalidation.server";
import { RedisTaskMetadataStore } from "~/services/taskMetadata/redisStore.server";
import { QueueResolver } from "~/services/taskMetadata/resolver.server";
import { WorkerService } from "~/services/workers.server";
import { eventually, testRedis } from "../support/cacheTesting";
import { testRedisUrl } from "../support/databaseUrls";
import { createTestProject, type TestProject } from "../support/fixtures";

/**
 * The in-process tier and pinned answers across two "instances" (each its own store, tier and
 * subscriber; tier TTL ten minutes, so only the channel can explain a fresh answer): a forced
 * re-deploy that moves an id to another worker reaches the other instance's tier at once, and an
 * id's "not deployed yet" is never served from memory.
 */

const channel = `${keyPrefix()}pinned-test:${randomBytes(3).toString("hex")}`;

function instance() {
  const client = testRedis();
  const store = new RedisTaskMetadataStore({
    client,
    prefix: keyPrefix(),
    currentTtlSeconds: 3_600,
    workerTtlSeconds: 3_600,
    commandTimeoutMs: 2_000,
    onCurrentReplaced: (environmentId) => publishInvalidation(client, channel, environmentId),
  });
  const l1 = new InProcessTaskMetadataStore({ store, maxEntries: 1_000, ttlMs: 600_000 });
  const url = new URL(testRedisUrl());
  const subscriber = new InvalidationSubscriber({
    channel,
    target: { invalidateEnvironment: (id) => l1.invalidateEnvironment(id), setLive: (live) => l1.setLive(live) },
    reconnectDelayMs: 50,
    createClient: () => new Redis({ host: url.hostname, port: Number(url.port || 6379), lazyConnect: true, autoResubscribe: false, enableOfflineQueue: false }),
  });
  subscriber.start();
  return {
    l1,
    resolver: new QueueResolver({ cache: l1, scheduleBackfill: (backfill) => void backfill() }),
    workers: new WorkerService({ cache: l1 }),
    close: async () => {
      await subscriber.close();
      await client.quit();
    },
  };
}

let project: TestProject;
let a: ReturnType<typeof instance>;
let b: ReturnType<typeof instance>;

beforeAll(async () => {
  project = await createTestProject();
  a = instance();
  b = instance();
  await eventually(async () => a.l1.live && b.l1.live);
});

afterAll(async () => {
  await a?.close();
  await b?.close();
});

const tasks = (queue: string) => [{ slug: "job", queue: { name: queue } }];

describe("pinned answers in the in-process tier", () => {
  it("a forced move of an id on one instance reaches the other's tier at once", async () => {
    const environment = { id: project.prod.id, type: "PRODUCTION" as const };
    const first = await a.workers.registerWorker({ environmentId: project.prod.id, version: "1", tasks: tasks("q1"), externalDeploymentId: "sha" });
    const input = { environment, taskSlug: "job", externalDeploymentId: "sha" };
    await eventually(async () => (await b.resolver.resolve(input)).source === "cache");
    expect(await b.resolver.resolve(input)).toMatchObject({ lockedWorkerId: first.workerId, queueName: "q1" });

    const moved = await a.workers.registerWorker({ environmentId: project.prod.id, version: "2", tasks: tasks("q2"), externalDeploymentId: "sha", force: true });
    await eventually(async () => (await b.resolver.resolve(input)).lockedWorkerId === moved.workerId, { timeoutMs: 2_000 });
    expect(await b.resolver.resolve(input)).toMatchObject({ queueName: "q2", source: "cache" });
  });

  it("'not deployed yet' is asked of Redis every time, so a deploy on another instance is seen by the next trigger", async () => {
    const environment = { id: project.prod.id, type: "PRODUCTION" as const };
    const input = { environment, taskSlug: "job", externalDeploymentId: "sha-late" };
    expect(await b.resolver.resolve(input)).toMatchObject({ awaitingDeployment: true });
    await eventually(async () => (await b.resolver.resolve(input)).source === "cache");
    const deployed = await a.workers.registerWorker({ environmentId: project.prod.id, version: "3", tasks: tasks("q3"), externalDeploymentId: "sha-late" });
    expect(await b.resolver.resolve(input)).toMatchObject({ awaitingDeployment: false, lockedWorkerId: deployed.workerId });
  });
});
