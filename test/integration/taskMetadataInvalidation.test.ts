import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { upsertUser } from "~/models/user.server";
import { keyPrefix } from "~/redis.server";
import { InProcessTaskMetadataStore } from "~/services/taskMetadata/inProcessStore.server";
import { deleteCurrentHashField, invalidateCurrentHash } from "~/services/taskMetadata/index.server";
import { taskMetadataInvalidationSubscriber } from "~/services/taskMetadata/instance.server";
import { defaultInvalidationChannel, InvalidationSubscriber, publishInvalidation } from "~/services/taskMetadata/invalidation.server";
import { RedisTaskMetadataStore } from "~/services/taskMetadata/redisStore.server";
import { QueueResolver } from "~/services/taskMetadata/resolver.server";
import { WorkerService } from "~/services/workers.server";
import { eventually, RecordingSink, testRedis } from "../support/cacheTesting";
import { testRedisUrl } from "../support/databaseUrls";
import { startFaultProxy, type FaultProxy } from "../support/faultProxy";
import { createTestProject, registerAndPromote, type TestProject } from "../support/fixtures";

/**
 * Cross-instance invalidation with real Redis pub/sub: two "instances" in this process, each with
 * its own connections, store, in-process tier and subscriber — what two app servers have. The
 * tiers' TTL is ten minutes here, so only the channel (or the bypass) can explain a fresh answer.
 */

const LONG_TTL_MS = 600_000;

interface Instance {
  name: string;
  l1: InProcessTaskMetadataStore;
  subscriber: InvalidationSubscriber;
  resolver: QueueResolver;
  workers: WorkerService;
  events: RecordingSink;
  /** Every setLive the subscriber sent the tier, in order. */
  liveness: boolean[];
  /** Every environment the subscriber told the tier to drop, in order. */
  invalidated: string[];
  close(): Promise<void>;
}

const open: Instance[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((i) => i.close()));
});

function instance(channel: string, options: { subscriberPort?: number } = {}): Instance {
  const name = `test-${randomBytes(3).toString("hex")}`;
  const client = testRedis();
  const store = new RedisTaskMetadataStore({
    client,
    prefix: keyPrefix(),
    currentTtlSeconds: 3_600,
    workerTtlSeconds: 3_600,
    commandTimeoutMs: 2_000,
    onCurrentReplaced: (environmentId) => publishInvalidation(client, channel, environmentId),
  });
  const events = new RecordingSink();
  const l1 = new InProcessTaskMetadataStore({ store, maxEntries: 1_000, ttlMs: LONG_TTL_MS, events });
  const liveness: boolean[] = [];
  const invalidated: string[] = [];
  const subscriber = new InvalidationSubscriber({
    channel,
    target: {
      invalidateEnvironment: (environmentId) => {
        invalidated.push(environmentId);
        l1.invalidateEnvironment(environmentId);
      },
      setLive: (live) => {
        liveness.push(live);
        l1.setLive(live);
      },
    },
    reconnectDelayMs: 50,
    createClient: () => {
      const sub = new Redis({
        host: "127.0.0.1",
        port: options.subscriberPort ?? redisTarget().port,
        connectionName: `hotpath:${name}`,
        lazyConnect: true,
        autoResubscribe: false,
        autoResendUnfulfilledCommands: false,
        enableOfflineQueue: false,
        connectTimeout: 1_000,
        retryStrategy: (times) => (times > 5 ? null : 50),
      });
      sub.on("error", () => {}); // a refused reconnect is part of these tests
      return sub;
    },
  });
  subscriber.start();
  const created: Instance = {
    name,
    l1,
    subscriber,
    resolver: new QueueResolver({ cache: l1, scheduleBackfill: (backfill) => void backfill() }),
    workers: new WorkerService({ cache: l1 }),
    events,
    liveness,
    invalidated,
    close: async () => {
      await subscriber.close();
      await client.quit();
    },
  };
  open.push(created);
  return created;
}

let project: TestProject;
const environment = () => ({ id: project.prod.id, type: "PRODUCTION" as const });
const admin = testRedis();

beforeAll(async () => {
  project = await createTestProject();
  await registerAndPromote({ environmentId: project.prod.id, version: "1", tasks: [{ slug: "job", queue: { name: "queue-v1" } }] });
  await registerAndPromote({ environmentId: project.prod.id, version: "2", tasks: [{ slug: "job", queue: { name: "queue-v2" } }], promote: false });
});

afterAll(async () => {
  await admin.quit();
});

function redisTarget() {
  const url = new URL(testRedisUrl());
  return { host: url.hostname, port: Number(url.port || 6379) };
}

function channel() {
  return `${keyPrefix()}task-meta:invalidate-${randomBytes(3).toString("hex")}`;
}

async function queueSeenBy(node: Instance): Promise<string> {
  return (await node.resolver.resolve({ environment: environment(), taskSlug: "job" })).queueName;
}

/** Resolves until an answer comes from the tier (a miss back-fills Redis in the background first). */
async function warm(node: Instance, expected: string) {
  await eventually(() => node.subscriber.isSubscribed);
  await eventually(async () => {
    const hits = node.events.count("hit", "l1");
    const queue = await queueSeenBy(node);
    if (queue !== expected) throw new Error(`${node.name} answered ${queue}, expected ${expected}`);
    return node.events.count("hit", "l1") > hits;
  });
}

async function promoteThrough(node: Instance, version: string) {
  await node.workers.promoteVersion({ environmentId: project.prod.id, version });
}

describe("cross-instance invalidation", () => {
  it("a promotion through one instance drops the other's in-process entries at once", async () => {
    const ch = channel();
    const a = instance(ch);
    const b = instance(ch);
    await eventually(() => a.subscriber.isSubscribed);
    await warm(b, "queue-v1");

    await promoteThrough(a, "2");
    // B's entry would live ten minutes; only the message can make it go within a moment.
    await eventually(async () => (await queueSeenBy(b)) === "queue-v2", { timeoutMs: 500, intervalMs: 1 });

    await promoteThrough(b, "1");
    expect(await queueSeenBy(a)).toBe("queue-v1");
    expect(await queueSeenBy(b)).toBe("queue-v1");
  });

  it("an instance on another channel hears nothing and keeps its entry (the channel is what invalidates)", async () => {
    const a = instance(channel());
    const b = instance(channel());
    await eventually(() => a.subscriber.isSubscribed);
    await warm(b, "queue-v1");
    await promoteThrough(a, "2");
    expect(await queueSeenBy(b)).toBe("queue-v1");
    await promoteThrough(a, "1");
  });

  it("ignores a message that is not an environment id, and drops only the environment named", async () => {
    const ch = channel();
    const b = instance(ch);
    await warm(b, "queue-v1");
    const held = b.l1.size;
    await admin.publish(ch, "not an {id}");
    await admin.publish(ch, "some-other-environment");
    await admin.publish(ch, project.dev.id);
    // Messages arrive in order: once the last is handled, so were the others.
    await eventually(() => b.invalidated.includes(project.dev.id), { timeoutMs: 2_000, intervalMs: 1 });
    expect(b.invalidated).toEqual(["some-other-environment", project.dev.id]);
    expect(b.l1.size).toBe(held);
    const hits = b.events.count("hit", "l1");
    expect(await queueSeenBy(b)).toBe("queue-v1");
    expect(b.events.count("hit", "l1")).toBe(hits + 1);

    await admin.publish(ch, project.prod.id);
    await eventually(() => b.l1.size === 0, { timeoutMs: 2_000, intervalMs: 1 });
  });

  it("admin invalidate and field delete publish on the process's channel", async () => {
    const userId = (await upsertUser({ email: `admin-${project.projectSlug}@example.com`, password: "correct horse battery", role: "ADMIN" })).id;
    // The env-wired singleton publishes on the default channel; B listens there like any instance.
    expect(taskMetadataInvalidationSubscriber()?.channel).toBe(defaultInvalidationChannel(keyPrefix()));
    const b = instance(defaultInvalidationChannel(keyPrefix()));
    await warm(b, "queue-v1");
    await invalidateCurrentHash({ environmentId: project.prod.id, userId });
    await eventually(() => b.l1.size === 0, { timeoutMs: 2_000, intervalMs: 1 });

    await warm(b, "queue-v1");
    await deleteCurrentHashField({ environmentId: project.prod.id, userId, slug: "job" });
    await eventually(() => b.l1.size === 0, { timeoutMs: 2_000, intervalMs: 1 });
  });
});

describe("subscription loss", () => {
  let proxy: FaultProxy;
  beforeAll(async () => {
    proxy = await startFaultProxy(redisTarget());
  });
  afterAll(async () => {
    await proxy.close();
  });

  it("flushes and bypasses the tier while unsubscribed: a promotion made meanwhile is never answered stale; resubscribing restores it", async () => {
    const ch = channel();
    const a = instance(ch);
    const b = instance(ch, { subscriberPort: proxy.port });
    await eventually(() => a.subscriber.isSubscribed);
    await warm(b, "queue-v1");
    expect(b.l1.size).toBeGreaterThan(0);

    await proxy.setMode("refuse");
    await eventually(() => !b.subscriber.isSubscribed);
    expect(b.l1.live).toBe(false);
    expect(b.l1.size).toBe(0);

    // B cannot hear this promotion; bypassing the tier, it asks Redis every time.
    await promoteThrough(a, "2");
    const hits = b.events.count("hit", "l1");
    for (let i = 0; i < 5; i++) expect(await queueSeenBy(b)).toBe("queue-v2");
    expect(b.events.count("hit", "l1")).toBe(hits);
    expect(b.l1.size).toBe(0);

    await proxy.setMode("forward");
    await warm(b, "queue-v2");
    expect(b.liveness).toEqual([true, false, true]);

    // And it hears promotions again.
    await promoteThrough(a, "1");
    await eventually(async () => (await queueSeenBy(b)) === "queue-v1", { timeoutMs: 2_000, intervalMs: 1 });
  });

  it("a killed subscriber connection (CLIENT KILL) flushes the tier, which comes back once resubscribed", async () => {
    const ch = channel();
    const a = instance(ch);
    const b = instance(ch);
    await eventually(() => a.subscriber.isSubscribed);
    await warm(b, "queue-v1");

    const list = (await admin.client("LIST")) as string;
    const line = list.split("\n").find((l) => l.includes(`name=${b.subscriber.connectionName}`));
    expect(line, `no connection named ${b.subscriber.connectionName}`).toBeDefined();
    expect(await admin.client("KILL", "ID", /\bid=(\d+)/.exec(line!)![1])).toBe(1);

    await eventually(() => b.liveness.length === 3, { timeoutMs: 5_000 });
    expect(b.liveness).toEqual([true, false, true]);
    expect(b.l1.size).toBe(0);

    await warm(b, "queue-v1");
    await promoteThrough(a, "2");
    await eventually(async () => (await queueSeenBy(b)) === "queue-v2", { timeoutMs: 2_000, intervalMs: 1 });
    await promoteThrough(a, "1");
  });
});
