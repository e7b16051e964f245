import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { dbQueryCount, prisma } from "~/db.server";
import { getEnv } from "~/env.server";
import { keyPrefix } from "~/redis.server";
import type { ResolveInput } from "~/services/taskMetadata/index.server";
import { taskMetadataSource } from "~/services/taskMetadata/instance.server";
import { RedisTaskMetadataStore } from "~/services/taskMetadata/redisStore.server";
import { QueueResolver } from "~/services/taskMetadata/resolver.server";
import { postgresTaskMetadataSource, type TaskMetadataSource } from "~/services/taskMetadata/sources.server";
import { WorkerService } from "~/services/workers.server";
import { eventually, RecordingSink } from "../support/cacheTesting";
import { testRedisUrl } from "../support/databaseUrls";
import { createTestProject, type TestProject } from "../support/fixtures";

/**
 * Single-flight (issue 7): concurrent misses of one task in one process cost one Postgres lookup.
 * The lookup is held behind a table lock taken by another connection, so every one of the 50
 * callers has missed the cache and asked the source before the first answer can come back; the
 * count then does not depend on timing.
 */

const client = new Redis(testRedisUrl(), { enableOfflineQueue: false, maxRetriesPerRequest: 0, lazyConnect: true });
const CALLERS = 50;
let project: TestProject;
let cache: RedisTaskMetadataStore;
let events: RecordingSink;

beforeAll(async () => {
  await client.connect();
  project = await createTestProject();
});

beforeEach(async () => {
  events = new RecordingSink();
  // Prefix per test: every test starts with a cold cache.
  cache = new RedisTaskMetadataStore({
    client,
    prefix: `${keyPrefix()}sf${Math.random().toString(36).slice(2, 8)}:`,
    currentTtlSeconds: 86_400,
    workerTtlSeconds: 86_400,
    commandTimeoutMs: 1_000,
    events,
  });
});

afterAll(() => {
  client.disconnect();
});

/** Holds every read of BackgroundWorkerTask until `release`; the lookups queue behind it. */
async function holdTaskTable() {
  const blocker = new pg.Client({ connectionString: getEnv().DATABASE_URL });
  await blocker.connect();
  await blocker.query("BEGIN");
  await blocker.query('LOCK TABLE "BackgroundWorkerTask" IN ACCESS EXCLUSIVE MODE');
  return {
    async waitingLookups(): Promise<number> {
      const { rows } = await blocker.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()",
      );
      return rows[0].n;
    },
    async release() {
      await blocker.query("ROLLBACK");
      await blocker.end();
    },
  };
}

async function concurrentMisses(source: TaskMetadataSource, input: ResolveInput, keyspace: "current" | "version") {
  const resolver = new QueueResolver({ cache, events, source, scheduleBackfill: () => {} });
  const lock = await holdTaskTable();
  const before = dbQueryCount();
  let results: Awaited<ReturnType<QueueResolver["resolve"]>>[];
  try {
    const calls = Array.from({ length: CALLERS }, () => resolver.resolve(input));
    // Every caller has missed Redis (and so reached the source) and a lookup is blocked on the lock.
    await eventually(() => events.count("miss", keyspace) === CALLERS);
    await eventually(async () => (await lock.waitingLookups()) >= 1);
    await lock.release();
    results = await Promise.all(calls);
  } catch (error) {
    await lock.release().catch(() => {});
    throw error;
  }
  return { lookups: dbQueryCount() - before, results };
}

describe("single-flight: concurrent misses of one task share one Postgres lookup", () => {
  beforeAll(async () => {
    // The env-wired cache of this file's prefix; each test reads through a cache of its own (cold).
    const workers = new WorkerService();
    await workers.registerWorker({
      environmentId: project.prod.id,
      version: "1.0.0",
      tasks: [{ slug: "send-email", queue: { name: "emails" }, ttl: "1h" }],
    });
    await workers.promoteVersion({ environmentId: project.prod.id, version: "1.0.0" });
  });

  const environment = () => ({ id: project.prod.id, type: "PRODUCTION" as const });

  it(`unlocked: ${CALLERS} concurrent misses → exactly 1 lookup, the same answer for all`, async () => {
    const { lookups, results } = await concurrentMisses(taskMetadataSource(), { environment: environment(), taskSlug: "send-email" }, "current");
    expect(lookups).toBe(1);
    expect(results.every((r) => r.queueName === "emails" && r.ttl === "1h" && r.source === "database")).toBe(true);
  });

  it(`locked: ${CALLERS} concurrent misses → exactly 1 lookup, the same answer for all`, async () => {
    const { lookups, results } = await concurrentMisses(
      taskMetadataSource(),
      { environment: environment(), taskSlug: "send-email", lockToVersion: "1.0.0" },
      "version",
    );
    expect(lookups).toBe(1);
    const queue = await prisma().taskQueue.findFirstOrThrow({ where: { environmentId: project.prod.id, name: "emails" } });
    expect(results.every((r) => r.queueName === "emails" && r.lockedQueueId === queue.id && r.source === "database")).toBe(true);
  });

  it("without single-flight the same burst costs one lookup per caller (the harness can tell)", async () => {
    const { lookups } = await concurrentMisses(postgresTaskMetadataSource(prisma()), { environment: environment(), taskSlug: "send-email" }, "current");
    expect(lookups).toBe(CALLERS);
  });

  it("misses of different tasks or configurations are not merged", async () => {
    const resolver = new QueueResolver({ cache, events, source: taskMetadataSource(), scheduleBackfill: () => {} });
    const before = dbQueryCount();
    const results = await Promise.all([
      resolver.resolve({ environment: environment(), taskSlug: "send-email" }),
      resolver.resolve({ environment: environment(), taskSlug: "other" }),
      resolver.resolve({ environment: environment(), taskSlug: "send-email", lockToVersion: "1.0.0" }),
      resolver.resolve({ environment: environment(), taskSlug: "send-email", lockToVersion: "1.0.0", queue: "emails" }),
    ]);
    expect(dbQueryCount() - before).toBe(4);
    expect(results.map((r) => [r.queueName, r.taskFound])).toEqual([
      ["emails", true],
      ["task/other", false],
      ["emails", true],
      ["emails", true],
    ]);
  });
});
