import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { dbQueryCount, prisma } from "~/db.server";
import { environmentKeys } from "~/domain/cacheKeys";
import { keyPrefix } from "~/redis.server";
import { logger } from "~/services/logger.server";
import { RedisTaskMetadataStore } from "~/services/taskMetadata/redisStore.server";
import { QueueResolver } from "~/services/taskMetadata/resolver.server";
import { postgresTaskMetadataSource, type TaskMetadataSource } from "~/services/taskMetadata/sources.server";
import { singleRedisBackend, type CacheTestBackend } from "../support/cacheBackends";
import { RecordingSink } from "../support/cacheTesting";
import { createTestProject, registerAndPromote, type TestProject } from "../support/fixtures";

/**
 * A key whose back-fills do not stick (here: the current hash's owner names another worker, so the
 * owner-guarded back-fill is refused; or a worker hash evicted after each back-fill) misses on every
 * call. Once it misses after its back-fill finished, the resolver sends its lookups straight to
 * Postgres and asks Redis beside Postgres at most once per probe interval; the first probe that
 * hits ends it, at the cost of that probe's unused Postgres answer.
 */

const TASKS = [
  { slug: "send-email", queue: { name: "emails" }, ttl: "1h" },
  { slug: "nightly", queue: { name: "cron" } },
];

let backend: CacheTestBackend;
let project: TestProject;
let cache: RedisTaskMetadataStore;
let workerId: string;
/** What happened, in order: "cache" when a cache read answered, "pg" when a Postgres lookup started. */
let log: string[];
let lookups: Promise<unknown>[];
let backfills: (() => Promise<unknown>)[];
let failLookups: boolean;

class LoggingCache extends RedisTaskMetadataStore {
  override async getCurrentTask(environmentId: string, slug: string) {
    const entry = await super.getCurrentTask(environmentId, slug);
    log.push(entry ? "cache:hit" : "cache:miss");
    return entry;
  }
  override async getLockedTask(environmentId: string, version: string, slug: string, queueName?: string) {
    const found = await super.getLockedTask(environmentId, version, slug, queueName);
    log.push(found.task ? "cache:hit" : "cache:miss");
    return found;
  }
}

function loggingSource(): TaskMetadataSource {
  const postgres = postgresTaskMetadataSource(prisma());
  const started = <T>(lookup: () => Promise<T>): Promise<T> => {
    log.push("pg");
    const answer = failLookups ? Promise.reject(new Error("Postgres is gone")) : lookup();
    lookups.push(answer.catch(() => undefined));
    return answer;
  };
  return {
    findCurrentTask: (environment, slug) => started(() => postgres.findCurrentTask(environment, slug)),
    findCurrentTasks: (environment, slugs) => started(() => postgres.findCurrentTasks(environment, slugs)),
    findLockedTask: (...args) => started(() => postgres.findLockedTask(...args)),
    findLockedTasks: (...args) => started(() => postgres.findLockedTasks(...args)),
  };
}

function resolver(probeIntervalMs: number) {
  return new QueueResolver({ cache, source: loggingSource(), scheduleBackfill: (work) => backfills.push(work), missStreaks: { probeIntervalMs } });
}
/** Never a probe within a test: a persistent key's lookups all go to Postgres alone. */
const NEVER = 3_600_000;
/** Every lookup of a persistent key is a probe. */
const ALWAYS = 0;

const prod = () => ({ id: project.prod.id, type: "PRODUCTION" as const });

beforeAll(async () => {
  backend = await singleRedisBackend();
});
afterAll(async () => {
  await backend.close();
});

beforeEach(async () => {
  project = await createTestProject();
  cache = new LoggingCache({
    client: backend.client,
    prefix: keyPrefix(),
    currentTtlSeconds: 86_400,
    workerTtlSeconds: 86_400,
    commandTimeoutMs: 2_000,
    events: new RecordingSink(),
  });
  workerId = (await registerAndPromote({ environmentId: project.prod.id, version: "1.0.0", tasks: TASKS })).workerId;
  log = [];
  lookups = [];
  backfills = [];
  failLookups = false;
});

/** The current hash lacks send-email and its owner names another worker: every back-fill is refused. */
async function strandCurrentHash() {
  const keys = environmentKeys(keyPrefix(), project.prod.id);
  await backend.admin.hdel(keys.current, "send-email");
  await backend.admin.set(keys.owner, "a-worker-that-is-not-current");
}

/** send-email stranded, missed once, back-fill refused, missed again: every later call is a probe. */
async function keptMissingWithProbes() {
  await strandCurrentHash();
  const r = resolver(ALWAYS);
  const call = () => r.resolve({ environment: prod(), taskSlug: "send-email" });
  await call();
  await runBackfills();
  await call();
  return call;
}

function runBackfills() {
  return Promise.all(backfills.splice(0).map((work) => work()));
}

describe("a key that keeps missing", () => {
  it("after its back-fill is refused and it misses again, goes to Postgres alone, with the right answer", async () => {
    await strandCurrentHash();
    const r = resolver(NEVER);
    const call = () => r.resolve({ environment: prod(), taskSlug: "send-email" });

    expect(await call()).toMatchObject({ queueName: "emails", ttl: "1h", source: "database" });
    expect(backfills).toHaveLength(1);
    expect(await runBackfills()).toEqual([false]); // refused: the owner is another worker
    expect(await call()).toMatchObject({ queueName: "emails", ttl: "1h", source: "database" });
    expect(log).toEqual(["cache:miss", "pg", "cache:miss", "pg"]);
    expect(backfills).toHaveLength(0);

    log = [];
    for (let i = 0; i < 3; i++) expect(await call()).toMatchObject({ queueName: "emails", ttl: "1h", source: "database" });
    expect(log).toEqual(["pg", "pg", "pg"]);
    expect(backfills).toHaveLength(0);
    // Other keys are not affected.
    expect(await r.resolve({ environment: prod(), taskSlug: "nightly" })).toMatchObject({ queueName: "cron", source: "cache" });
  });

  it("a probe asks Redis beside Postgres and back-fills once; the first probe that hits ends it with one unused lookup", async () => {
    const call = await keptMissingWithProbes();

    log = [];
    for (let i = 0; i < 3; i++) expect(await call()).toMatchObject({ queueName: "emails", source: "database" });
    // The Postgres lookup starts before the cache read has answered.
    expect(log).toEqual(["pg", "cache:miss", "pg", "cache:miss", "pg", "cache:miss"]);
    // One back-fill, from the first probe; the later probes find it still in flight.
    expect(backfills).toHaveLength(1);
    expect(await runBackfills()).toEqual([false]);

    // Repaired (a promotion replaces the hash): the next probe is served by the cache.
    await registerAndPromote({ environmentId: project.prod.id, version: "1.0.1", tasks: TASKS });
    log = [];
    lookups = [];
    let before = dbQueryCount();
    expect(await call()).toMatchObject({ queueName: "emails", source: "cache" });
    await Promise.all(lookups);
    expect(log).toEqual(["pg", "cache:hit"]);
    expect(dbQueryCount() - before).toBe(1);

    // From then on a warm call asks Postgres nothing.
    log = [];
    before = dbQueryCount();
    expect(await call()).toMatchObject({ queueName: "emails", source: "cache" });
    expect(log).toEqual(["cache:hit"]);
    expect(dbQueryCount() - before).toBe(0);
  });

  it("concurrent misses while the first back-fill is in flight stay cache-first, and the back-fill ends them", async () => {
    const keys = environmentKeys(keyPrefix(), project.prod.id);
    await backend.admin.hdel(keys.current, "send-email");
    const r = resolver(NEVER);
    const call = () => r.resolve({ environment: prod(), taskSlug: "send-email" });
    const burst = await Promise.all(Array.from({ length: 20 }, call));
    expect(burst.every((resolved) => resolved.source === "database")).toBe(true);
    expect(log.filter((e) => e === "cache:miss")).toHaveLength(20);
    expect(backfills).toHaveLength(1);
    expect(await runBackfills()).toEqual([true]);

    log = [];
    for (let i = 0; i < 3; i++) expect(await call()).toMatchObject({ source: "cache" });
    expect(log).toEqual(["cache:hit", "cache:hit", "cache:hit"]);
  });

  it("locked: a locked hash evicted after each back-fill turns it on; an unknown version's 422 is unchanged", async () => {
    const keys = environmentKeys(keyPrefix(), project.prod.id);
    await backend.admin.del(keys.locked("1.0.0"));
    const r = resolver(NEVER);
    const call = () => r.resolve({ environment: prod(), taskSlug: "send-email", lockToVersion: "1.0.0" });
    expect(await call()).toMatchObject({ queueName: "emails", lockedWorkerId: workerId, source: "database" });
    await runBackfills();
    expect(await backend.admin.hexists(keys.locked("1.0.0"), "t:send-email")).toBe(1);
    await backend.admin.del(keys.locked("1.0.0")); // evicted
    for (let i = 0; i < 3; i++) {
      expect(await call()).toMatchObject({ queueName: "emails", lockedWorkerId: workerId, source: "database" });
    }
    expect(log).toEqual(["cache:miss", "pg", "cache:miss", "pg", "pg", "pg"]);
    expect(backfills).toHaveLength(0);

    // An unknown version is never cached: the same 422 each time, from the third call from Postgres alone.
    const unknown = () => r.resolve({ environment: prod(), taskSlug: "send-email", lockToVersion: "9.9.9" });
    for (let i = 0; i < 3; i++) {
      await expect(unknown()).rejects.toThrow("Task locked to version '9.9.9', but no worker found with that version.");
    }
  });

  it("an unused probe lookup that fails is logged, never thrown at the caller; a used one that fails is the caller's error", async () => {
    const call = await keptMissingWithProbes();

    failLookups = true;
    await expect(call()).rejects.toThrow("Postgres is gone");

    await registerAndPromote({ environmentId: project.prod.id, version: "1.0.1", tasks: TASKS });
    const warn = vi.spyOn(logger, "warn").mockImplementation(() => {});
    try {
      log = [];
      expect(await call()).toMatchObject({ queueName: "emails", source: "cache" });
      expect(log).toEqual(["pg", "cache:hit"]);
      // Let the rejected lookup settle (an unhandled rejection would also fail the run).
      await Promise.all(lookups);
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(warn.mock.calls.map(([message]) => message)).toEqual(["unused Postgres lookup beside a cache hit failed"]);
      expect(warn.mock.calls[0][1]).toMatchObject({ environmentId: project.prod.id, slug: "send-email" });
    } finally {
      warn.mockRestore();
    }
  });
});
