import { Redis } from "ioredis";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { CircuitBreaker } from "~/domain/circuitBreaker";
import { keyPrefix } from "~/redis.server";
import { RedisTaskMetadataStore } from "~/services/taskMetadata/redisStore.server";
import { TaskMetadataCacheError } from "~/services/taskMetadata/store.server";
import { singleRedisBackend, type CacheTestBackend } from "../support/cacheBackends";
import { DAY, entry, snapshot, taskMetadataCacheStoreSuite } from "../support/cacheSuites/taskMetadataCacheStore.suite";
import { closedPort, RecordingSink, silentServer } from "../support/cacheTesting";

// Replaces, back-fills and reads: the body shared with the Redis Cluster run (test/integration/redisCluster.test.ts).
let backend: CacheTestBackend;
beforeAll(async () => {
  backend = await singleRedisBackend();
});
afterAll(async () => {
  await backend.close();
});
taskMetadataCacheStoreSuite(() => backend);

// Fail-open does not depend on where a healthy Redis runs: this file only.
const prefix = keyPrefix();
let env: string;
let events: RecordingSink;
let envCounter = 0;

function makeCache(overrides: Partial<ConstructorParameters<typeof RedisTaskMetadataStore>[0]> = {}) {
  return new RedisTaskMetadataStore({
    client: backend.client,
    prefix,
    currentTtlSeconds: DAY,
    workerTtlSeconds: 30 * DAY,
    commandTimeoutMs: 1_000,
    events,
    ...overrides,
  });
}

beforeEach(() => {
  env = `failopen${++envCounter}`;
  events = new RecordingSink();
});

describe("fail-open", () => {
  it("Redis on a closed port: every call answers as a miss within the timeout, and the breaker opens", async () => {
    const port = await closedPort();
    const dead = new Redis({ host: "127.0.0.1", port, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    dead.on("error", () => {});
    const breaker = new CircuitBreaker({ failureThreshold: 3, cooldownMs: 60_000 });
    const failing = makeCache({ client: dead, commandTimeoutMs: 200, breaker });
    const durations: number[] = [];
    for (let i = 0; i < 6; i++) {
      const started = performance.now();
      expect(await failing.getCurrentTask(env, "task-0")).toBeNull();
      durations.push(performance.now() - started);
    }
    expect(Math.max(...durations)).toBeLessThan(400);
    expect(breaker.state).toBe("open");
    expect(events.count("redis_error")).toBe(3);
    expect(events.count("breaker_open")).toBe(1);
    expect(events.count("miss", "current")).toBe(6);
    // Once open, Redis is not even tried (the error count above stayed at 3), so no call waits for
    // the 200 ms command timeout; the bound leaves room for a GC pause on a busy machine.
    expect(Math.max(...durations.slice(3))).toBeLessThan(50);
    await expect(failing.replaceCurrent(env, snapshot("w1", "1", 1))).rejects.toBeInstanceOf(TaskMetadataCacheError);
    expect(await failing.backfillCurrentTask(env, "w1", "task-0", { found: false })).toBe(false);
    dead.disconnect();
  });

  it("Redis that accepts connections but never answers: calls end at the command timeout", async () => {
    const silent = await silentServer();
    const hung = new Redis({ host: "127.0.0.1", port: silent.port, enableOfflineQueue: false, maxRetriesPerRequest: 0, lazyConnect: true });
    hung.on("error", () => {});
    const failing = makeCache({ client: hung, commandTimeoutMs: 150, breaker: new CircuitBreaker({ failureThreshold: 2, cooldownMs: 60_000 }) });
    const started = performance.now();
    expect(await failing.getLockedTask(env, "1", "task-0")).toMatchObject({ workerId: null, task: null });
    expect(performance.now() - started).toBeLessThan(400);
    expect(events.count("redis_error", "version")).toBe(1);
    hung.disconnect();
    await silent.close();
  });

  it("the breaker half-opens after the cooldown and closes when Redis answers again", async () => {
    let now = 0;
    const breaker = new CircuitBreaker({ failureThreshold: 1, cooldownMs: 1_000, now: () => now });
    const healthy = makeCache({ breaker });
    await healthy.replaceCurrent(env, snapshot("w1", "1", 1));
    breaker.recordFailure();
    expect(await healthy.getCurrentTask(env, "task-0")).toBeNull();
    now = 1_000;
    expect(await healthy.getCurrentTask(env, "task-0")).toEqual(entry("w1-q0"));
    expect(breaker.state).toBe("closed");
  });
});
