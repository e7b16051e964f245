import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ABSENT_TASK, type TaskEntry } from "~/domain/taskMetadataEntry";
import { keyPrefix } from "~/redis.server";
import { type InProcessStoreOptions, InProcessTaskMetadataStore } from "~/services/taskMetadata/inProcessStore.server";
import { loadWorkerSnapshot, type TaskMetadataStore } from "~/services/taskMetadata/index.server";
import { RedisTaskMetadataStore } from "~/services/taskMetadata/redisStore.server";
import { prisma } from "~/db.server";
import { closedPort, RecordingSink, testRedis } from "../support/cacheTesting";
import { createTestProject, registerAndPromote, type TestProject, type TestWorker } from "../support/fixtures";

/**
 * The in-process tier in front of the real Redis store (real Postgres data, real Redis keys). Store
 * calls are counted by wrapping the store, so "a hit does not touch Redis" is measured, not assumed.
 */

type Counted<T> = T & { calls: Map<string, number>; callsTo(name: keyof TaskMetadataStore): number };

/** Counts every call into `store`, by method name. */
function counting<T extends object>(store: T): Counted<T> {
  const calls = new Map<string, number>();
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property === "calls") return calls;
      if (property === "callsTo") return (name: string) => calls.get(name) ?? 0;
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        calls.set(String(property), (calls.get(String(property)) ?? 0) + 1);
        return value.apply(target, args);
      };
    },
  }) as Counted<T>;
}

let client: Redis;
let project: TestProject;
let v1: TestWorker;
let v2: TestWorker;

function redisStore(redis: Redis = client) {
  return new RedisTaskMetadataStore({
    client: redis,
    prefix: keyPrefix(),
    currentTtlSeconds: 3_600,
    workerTtlSeconds: 3_600,
    commandTimeoutMs: 1_000,
  });
}

function tier(options: Partial<InProcessStoreOptions> & { store: TaskMetadataStore }) {
  return new InProcessTaskMetadataStore({ maxEntries: 100, ttlMs: 60_000, live: true, ...options });
}

beforeAll(async () => {
  client = testRedis();
  project = await createTestProject();
  v1 = await registerAndPromote({ environmentId: project.prod.id, version: "1.0.0", tasks: 5 });
  v2 = await registerAndPromote({ environmentId: project.prod.id, version: "2.0.0", tasks: 3, promote: false });
});

afterAll(async () => {
  await client.quit();
});

describe("L1 hits", () => {
  it("answer current entries and locked answers from memory without touching the store", async () => {
    const store = counting(redisStore());
    const events = new RecordingSink();
    const l1 = tier({ store, events });
    const env = project.prod.id;

    const first = await l1.getCurrentTask(env, "task-1");
    expect(first).toMatchObject({ found: true, queueName: "queue-1" });
    for (let i = 0; i < 10; i++) expect(await l1.getCurrentTask(env, "task-1")).toBe(first);
    expect(store.callsTo("getCurrentTask")).toBe(1);

    const plain = await l1.getLockedTask(env, "2.0.0", "task-2");
    const withQueue = await l1.getLockedTask(env, "2.0.0", "task-2", "queue-2");
    expect(plain).toEqual({ workerId: v2.workerId, task: expect.objectContaining({ found: true, queueName: "queue-2" }), queueId: undefined });
    expect(withQueue.queueId).toEqual(expect.any(String));
    expect(await l1.getLockedTask(env, "2.0.0", "task-2")).toBe(plain);
    expect(await l1.getLockedTask(env, "2.0.0", "task-2", "queue-2")).toBe(withQueue);
    expect(store.callsTo("getLockedTask")).toBe(2);

    expect(events.count("hit", "l1")).toBe(10 + 2);
    expect(events.count("miss", "l1")).toBe(1 + 2);
  });

  it("are frozen objects, handed out as stored (no copy per hit)", async () => {
    const l1 = tier({ store: redisStore() });
    const entry = (await l1.getCurrentTask(project.prod.id, "task-0")) as TaskEntry & { queueName: string };
    expect(Object.isFrozen(entry)).toBe(true);
    expect(() => {
      entry.queueName = "hijacked";
    }).toThrow(TypeError);
    expect(await l1.getCurrentTask(project.prod.id, "task-0")).toBe(entry);
    expect(entry.queueName).toBe("queue-0");

    const worker = await l1.getLockedTask(project.prod.id, "1.0.0", "task-0", "queue-0");
    expect(Object.isFrozen(worker)).toBe(true);
    expect(Object.isFrozen(worker.task)).toBe(true);
  });

  it("cache a task known to be absent (a negative entry), never a store miss or failure", async () => {
    const env = project.prod.id;
    const store = counting(redisStore());
    const events = new RecordingSink();
    const l1 = tier({ store, events });

    // Not in Redis: the store says null, and asks again every time.
    expect(await l1.getCurrentTask(env, "not-deployed")).toBeNull();
    expect(await l1.getCurrentTask(env, "not-deployed")).toBeNull();
    expect(store.callsTo("getCurrentTask")).toBe(2);

    // The back-fill writes "absent" for the current worker: from then on it is answered from memory.
    expect(await l1.backfillCurrentTask(env, v1.workerId, "not-deployed", ABSENT_TASK)).toBe(true);
    expect(await l1.getCurrentTask(env, "not-deployed")).toEqual({ found: false });
    expect(store.callsTo("getCurrentTask")).toBe(2);
    expect(events.count("negative_hit", "l1")).toBe(1);

    // A worker entry without the queue association asked for is incomplete: not cached.
    expect(await l1.getLockedTask(env, "1.0.0", "task-0", "no-such-queue")).toMatchObject({ queueId: null });
    await l1.getLockedTask(env, "1.0.0", "task-0", "no-such-queue");
    expect(store.callsTo("getLockedTask")).toBe(2);
    // Nor an unknown version.
    expect(await l1.getLockedTask(env, "9.9.9", "task-0")).toMatchObject({ workerId: null });
    await l1.getLockedTask(env, "9.9.9", "task-0");
    expect(store.callsTo("getLockedTask")).toBe(4);

    // Redis unreachable: every read fails open to null, and none of them is remembered.
    const dead = testRedisOn(await closedPort());
    dead.on("error", () => {}); // the refused connection is the point
    try {
      const deadStore = counting(redisStore(dead));
      const overDead = tier({ store: deadStore });
      for (let i = 0; i < 3; i++) expect(await overDead.getCurrentTask(env, "task-0")).toBeNull();
      expect(deadStore.callsTo("getCurrentTask")).toBe(3);
      expect(overDead.size).toBe(0);
    } finally {
      dead.disconnect();
    }
  });
});

function testRedisOn(port: number): Redis {
  return new Redis({
    host: "127.0.0.1",
    port,
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
}

describe("L1 staleness bound and size", () => {
  it("an entry expires TTL after it was stored, however often it is hit", async () => {
    let now = 1_000;
    const store = counting(redisStore());
    const l1 = tier({ store, ttlMs: 2_000, clock: { now: () => now } });
    await l1.getCurrentTask(project.prod.id, "task-0");
    now += 1_999;
    await l1.getCurrentTask(project.prod.id, "task-0");
    expect(store.callsTo("getCurrentTask")).toBe(1);
    now += 2;
    await l1.getCurrentTask(project.prod.id, "task-0");
    expect(store.callsTo("getCurrentTask")).toBe(2);
  });

  it("holds at most maxEntries, evicting the least recently used", async () => {
    const store = counting(redisStore());
    const l1 = tier({ store, maxEntries: 3 });
    for (const slug of ["task-0", "task-1", "task-2"]) await l1.getCurrentTask(project.prod.id, slug);
    await l1.getCurrentTask(project.prod.id, "task-0"); // task-1 is now the least recently used
    await l1.getCurrentTask(project.prod.id, "task-3");
    expect(l1.size).toBe(3);
    expect(store.callsTo("getCurrentTask")).toBe(4);
    await l1.getCurrentTask(project.prod.id, "task-0");
    expect(store.callsTo("getCurrentTask")).toBe(4);
    await l1.getCurrentTask(project.prod.id, "task-1");
    expect(store.callsTo("getCurrentTask")).toBe(5);
  });
});

describe("L1 invalidation", () => {
  it("drops one environment's entries and no other's", async () => {
    const other = await createTestProject();
    await registerAndPromote({ environmentId: other.prod.id, tasks: 2 });
    const store = counting(redisStore());
    const l1 = tier({ store });
    await l1.getCurrentTask(project.prod.id, "task-0");
    await l1.getLockedTask(project.prod.id, "1.0.0", "task-0");
    await l1.getCurrentTask(other.prod.id, "task-0");
    expect(l1.size).toBe(3);

    l1.invalidateEnvironment(project.prod.id);
    expect(l1.size).toBe(1);
    await l1.getCurrentTask(other.prod.id, "task-0");
    expect(store.callsTo("getCurrentTask")).toBe(2);
    await l1.getCurrentTask(project.prod.id, "task-0");
    await l1.getLockedTask(project.prod.id, "1.0.0", "task-0");
    expect(store.callsTo("getCurrentTask")).toBe(3);
    expect(store.callsTo("getLockedTask")).toBe(2);
  });

  it("a read in flight during an invalidation does not put back what it read before it", async () => {
    const real = redisStore();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow: TaskMetadataStore = Object.assign(Object.create(real), {
      getCurrentTask: async (environmentId: string, slug: string) => {
        const entry = await real.getCurrentTask(environmentId, slug);
        await gate;
        return entry;
      },
    });
    const l1 = tier({ store: slow });
    const inFlight = l1.getCurrentTask(project.prod.id, "task-0");
    l1.invalidateEnvironment(project.prod.id);
    release();
    expect(await inFlight).toMatchObject({ found: true });
    expect(l1.size).toBe(0);
  });

  it("a replace through the tier drops the environment's entries here; the next read sees the new hash", async () => {
    const fresh = await createTestProject();
    const a = await registerAndPromote({ environmentId: fresh.prod.id, version: "a", tasks: [{ slug: "job", queue: { name: "queue-a" } }] });
    const b = await registerAndPromote({ environmentId: fresh.prod.id, version: "b", tasks: [{ slug: "job", queue: { name: "queue-b" } }], promote: false });
    const l1 = tier({ store: redisStore() });
    expect(await l1.getCurrentTask(fresh.prod.id, "job")).toMatchObject({ queueName: "queue-a" });

    await l1.replaceCurrent(fresh.prod.id, (await loadWorkerSnapshot(prisma(), b.workerId))!);
    expect(await l1.getCurrentTask(fresh.prod.id, "job")).toMatchObject({ queueName: "queue-b" });
    await l1.clearCurrent(fresh.prod.id);
    expect(await l1.getCurrentTask(fresh.prod.id, "job")).toBeNull();
    await l1.replaceCurrent(fresh.prod.id, (await loadWorkerSnapshot(prisma(), a.workerId))!);
    expect(await l1.getCurrentTask(fresh.prod.id, "job")).toMatchObject({ queueName: "queue-a" });
  });

  it("is bypassed while not live, flushed when it goes down, and caches again once live", async () => {
    const store = counting(redisStore());
    const l1 = tier({ store, live: false });
    await l1.getCurrentTask(project.prod.id, "task-0");
    await l1.getCurrentTask(project.prod.id, "task-0");
    expect(store.callsTo("getCurrentTask")).toBe(2);
    expect(l1.size).toBe(0);

    l1.setLive(true);
    await l1.getCurrentTask(project.prod.id, "task-0");
    await l1.getCurrentTask(project.prod.id, "task-0");
    expect(store.callsTo("getCurrentTask")).toBe(3);
    expect(l1.size).toBe(1);

    l1.setLive(false);
    expect(l1.size).toBe(0);
    await l1.getCurrentTask(project.prod.id, "task-0");
    expect(store.callsTo("getCurrentTask")).toBe(4);
  });
});
