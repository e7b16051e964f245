import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dbQueryCount } from "~/db.server";
import { keyPrefix } from "~/redis.server";
import { QueueResolver, type ResolveInput } from "~/services/taskMetadata/resolver.server";
import { RedisTaskMetadataStore } from "~/services/taskMetadata/redisStore.server";
import { eventually } from "../support/cacheTesting";
import { createTestProject, registerAndPromote, type TestProject } from "../support/fixtures";
import { startPrivateRedis } from "../support/privateRedis";
import { RedisCommandCounter } from "../support/redisCommandCount";

/**
 * A warm locked resolve costs one Redis command and no Postgres statement, in each of the four
 * locked configurations (queue override or not × ttl or not), with the in-process tier off: the
 * resolver reads the Redis store directly (docs/decisions/0055-locked-hash-by-version.md). Counted,
 * not assumed: the store talks to a redis-server of its own, whose INFO commandstats sees every
 * command of every connection. The app's own cache (used by the registrations) stays on the test
 * Redis, so the store's keys are filled by the resolver's back-fills, as after a deploy of 0055.
 */

const privateRedis = await startPrivateRedis();

let project: TestProject;
let counter: RedisCommandCounter;
let client: Redis;
let resolver: QueueResolver;
let lockedWorkerId: string;

beforeAll(async () => {
  counter = new RedisCommandCounter(privateRedis.url);
  client = new Redis(privateRedis.url, { maxRetriesPerRequest: 0 });
  project = await createTestProject();
  // The locked version is the older one; its tasks use the shared queue, so the override is valid.
  const v1 = await registerAndPromote({
    environmentId: project.prod.id,
    version: "1.0.0",
    tasks: [
      { slug: "send-email", queue: { name: "shared" }, ttl: "1h" },
      { slug: "other", queue: { name: "other-queue" } },
    ],
  });
  lockedWorkerId = v1.workerId;
  await registerAndPromote({ environmentId: project.prod.id, version: "2.0.0", tasks: [{ slug: "send-email", queue: { name: "v2" } }] });
  const cache = new RedisTaskMetadataStore({ client, prefix: keyPrefix(), currentTtlSeconds: 3_600, workerTtlSeconds: 3_600, commandTimeoutMs: 2_000 });
  resolver = new QueueResolver({ cache });
});

afterAll(async () => {
  await counter?.close();
  await client?.quit();
  await privateRedis.stop();
});

const CONFIGS: { name: string; options: Partial<ResolveInput> }[] = [
  { name: "queue override · ttl", options: { queue: "shared", ttl: "5m" } },
  { name: "queue override · no ttl", options: { queue: "shared" } },
  { name: "no queue override · ttl", options: { ttl: "5m" } },
  { name: "no queue override · no ttl", options: {} },
];

describe("a warm locked resolve, in-process tier off", () => {
  for (const { name, options } of CONFIGS) {
    it(`${name}: 1 Redis command, 0 Postgres statements`, async () => {
      const input: ResolveInput = {
        environment: { id: project.prod.id, type: "PRODUCTION" },
        taskSlug: "send-email",
        lockToVersion: "1.0.0",
        ...options,
      };
      // Postgres answers the first call and back-fills the locked hash; then it is warm.
      await eventually(async () => (await resolver.resolve(input)).source === "cache");

      for (let i = 0; i < 3; i++) {
        const statements = dbQueryCount();
        let resolved: Awaited<ReturnType<QueueResolver["resolve"]>> | undefined;
        const commands = await counter.during(async () => {
          resolved = await resolver.resolve(input);
        });
        expect(resolved).toMatchObject({ lockedWorkerId, queueName: "shared", source: "cache" });
        expect(commands).toEqual({ hmget: 1 });
        expect(dbQueryCount() - statements).toBe(0);
      }
    });
  }

  it("an unknown version is still the 422 with its message, and is never cached", async () => {
    const input: ResolveInput = { environment: { id: project.prod.id, type: "PRODUCTION" }, taskSlug: "send-email", lockToVersion: "9.9.9" };
    for (let i = 0; i < 2; i++) {
      await expect(resolver.resolve(input)).rejects.toThrow("Task locked to version '9.9.9', but no worker found with that version.");
    }
  });
});
