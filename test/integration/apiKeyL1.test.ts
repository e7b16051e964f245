import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dbQueryCount } from "~/db.server";
import { hashApiKey } from "~/domain/apiKeys";
import { disconnectRedis } from "~/redis.server";
import { authenticateApiKey, disconnectApiKeyCache, revokeCachedApiKeys } from "~/services/apiKeyAuth.server";
import { apiKeyRevocationSubscriber, apiKeyTier } from "~/services/apiKeyL1.server";
import { disconnectTaskMetadataCache, taskMetadataInvalidationSubscriber } from "~/services/taskMetadata/instance.server";
import { bearer, inProcess } from "../support/apiClient";
import { eventually } from "../support/cacheTesting";
import { createTestProject, registerAndPromote, type TestProject } from "../support/fixtures";
import { startPrivateRedis } from "../support/privateRedis";
import { RedisCommandCounter } from "../support/redisCommandCount";

/**
 * A warm trigger with both in-process tiers on costs no Redis command and one Postgres statement
 * (the run's INSERT). Counted, not assumed: this file's app talks to a redis-server of its own,
 * whose INFO commandstats sees every command of every connection. The tiers' TTLs are ten minutes
 * here so that no entry expires inside the counted window (with the defaults, each key or task
 * costs one Redis read per TTL: 5 s for keys, 2 s for tasks).
 */

const privateRedis = await startPrivateRedis();
// perFile.ts cleans this file's keys on the shared Redis through REDIS_URL: restored in afterAll.
const sharedRedisUrl = process.env.REDIS_URL;
Object.assign(process.env, {
  REDIS_URL: privateRedis.url,
  TASK_META_CACHE_L1_TTL_MS: "600000",
  API_KEY_CACHE_L1_TTL_MS: "600000",
  // Room for a loaded machine: a timed-out read would be a fail-open, not what is counted here.
  TASK_META_CACHE_COMMAND_TIMEOUT_MS: "2000",
});

const WARM_TRIGGERS = 25;
let project: TestProject;
let counter: RedisCommandCounter;
let admin: Redis;

beforeAll(async () => {
  counter = new RedisCommandCounter(privateRedis.url);
  admin = new Redis(privateRedis.url);
  project = await createTestProject();
  await registerAndPromote({ environmentId: project.prod.id, version: "1", tasks: [{ slug: "job", queue: { name: "queue-v1" } }] });
});

afterAll(async () => {
  await counter?.close();
  await admin?.quit();
  // The app's connections to this server close before it stops (a client with an offline queue
  // would otherwise wait forever for it to come back); perFile's own closing finds nothing left.
  await disconnectApiKeyCache();
  await disconnectTaskMetadataCache();
  await disconnectRedis();
  await privateRedis.stop();
  process.env.REDIS_URL = sharedRedisUrl;
});

const trigger = (apiKey: string) => inProcess({ path: "/api/v1/tasks/job/trigger", headers: bearer(apiKey), body: {} });

async function warmUp(apiKey: string) {
  expect((await trigger(apiKey)).status).toBe(200);
  await eventually(() => apiKeyRevocationSubscriber()?.isSubscribed && taskMetadataInvalidationSubscriber()?.isSubscribed, { timeoutMs: 10_000 });
  // Once subscribed, one trigger fills both tiers.
  expect((await trigger(apiKey)).status).toBe(200);
}

describe("a warm trigger with the in-process tiers on", () => {
  it("sends 0 Redis commands and 1 Postgres statement", async () => {
    await warmUp(project.prod.apiKey);
    let statements = 0;
    const commands = await counter.during(async () => {
      const before = dbQueryCount();
      for (let i = 0; i < WARM_TRIGGERS; i++) expect((await trigger(project.prod.apiKey)).status).toBe(200);
      statements = dbQueryCount() - before;
    });
    console.log(`${WARM_TRIGGERS} warm triggers: Redis commands ${JSON.stringify(commands)}, Postgres statements ${statements}`);
    expect(commands).toEqual({});
    expect(statements).toBe(WARM_TRIGGERS);
  });

  it("the counter does see a trigger's Redis reads once the API-key tier is bypassed", async () => {
    // Control for the test above: the same trigger with the key's tier flushed and bypassed costs a GET.
    apiKeyTier()!.setLive(false);
    try {
      const commands = await counter.during(() => trigger(project.prod.apiKey));
      expect(commands).toEqual({ get: 1 });
    } finally {
      apiKeyTier()!.setLive(true);
    }
  });
});

describe("revocation and the subscription", () => {
  it("a revoked key is refused at once, though it was warm in the tier", async () => {
    const { prod } = await createTestProject();
    await authenticateApiKey(prod.apiKey);
    await authenticateApiKey(prod.apiKey);
    expect(await counter.during(() => authenticateApiKey(prod.apiKey))).toEqual({});
    await revokeCachedApiKeys([hashApiKey(prod.apiKey)]);
    await expect(authenticateApiKey(prod.apiKey)).rejects.toMatchObject({ status: 401 });
  });

  it("while the subscriber's connection is down the tier is flushed and bypassed; it comes back once resubscribed", async () => {
    const { prod } = await createTestProject();
    await authenticateApiKey(prod.apiKey);
    expect(await counter.during(() => authenticateApiKey(prod.apiKey))).toEqual({});
    const name = apiKeyRevocationSubscriber()!.connectionName!;
    const list = String(await admin.client("LIST"));
    const id = list.split("\n").find((line) => line.includes(`name=${name} `))?.match(/id=(\d+)/)?.[1];
    expect(id, `no connection named ${name}`).toBeDefined();
    await admin.client("KILL", "ID", id!);
    await eventually(() => !apiKeyTier()!.live, { timeoutMs: 5_000 });
    const whileDown = await counter.during(() => authenticateApiKey(prod.apiKey));
    expect(whileDown.get).toBe(1);
    await eventually(() => apiKeyTier()!.live, { timeoutMs: 10_000 });
    await authenticateApiKey(prod.apiKey);
    expect(await counter.during(() => authenticateApiKey(prod.apiKey))).toEqual({});
  });
});
