import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { disconnectRedis } from "~/redis.server";
import { disconnectApiKeyCache } from "~/services/apiKeyAuth.server";
import { rotateApiKey } from "~/services/credentials.server";
import { bearer, overHttp } from "../support/apiClient";
import { startAppServer, type AppServer } from "../support/appServer";
import { createTestProject, registerAndPromote, type TestProject } from "../support/fixtures";
import { startPrivateRedis } from "../support/privateRedis";
import { RedisCommandCounter } from "../support/redisCommandCount";

/**
 * Two production server processes, each holding the API key in its in-process tier, so that a
 * request there reaches neither Redis nor Postgres for auth (their tiers' TTL is ten minutes: only
 * the revocation channel can explain a refusal). A rotation made by another instance (this test
 * process, as scripts/rotate-api-key.ts does) must be refused by both on their very next request.
 * The servers and this process share a redis-server of the file's own, whose INFO commandstats
 * shows the tiers were really warm. Needs `npx remix build`.
 */

const privateRedis = await startPrivateRedis();
// perFile.ts cleans this file's keys on the shared Redis through REDIS_URL: restored in afterAll.
const sharedRedisUrl = process.env.REDIS_URL;
Object.assign(process.env, { REDIS_URL: privateRedis.url });

const LONG_TTLS = { API_KEY_CACHE_L1_TTL_MS: "600000", TASK_META_CACHE_L1_TTL_MS: "600000", METRICS_FLUSH_INTERVAL_MS: "600000" };

let project: TestProject;
let a: AppServer;
let b: AppServer;
let counter: RedisCommandCounter;

beforeAll(async () => {
  counter = new RedisCommandCounter(privateRedis.url);
  project = await createTestProject();
  await registerAndPromote({ environmentId: project.prod.id, version: "1", tasks: [{ slug: "job", queue: { name: "queue-v1" } }] });
  [a, b] = await Promise.all([startAppServer(LONG_TTLS), startAppServer(LONG_TTLS)]);
});

afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await counter?.close();
  // This process's connections to that server close before it stops (see apiKeyL1.test.ts).
  await disconnectApiKeyCache();
  await disconnectRedis();
  await privateRedis.stop();
  process.env.REDIS_URL = sharedRedisUrl;
});

const trigger = (server: AppServer, apiKey: string) =>
  overHttp(server.url, { path: "/api/v1/tasks/job/trigger", headers: bearer(apiKey), body: {} });

/** Triggers through `server` until one trigger sends Redis no command at all: both tiers answer from memory. */
async function warm(server: AppServer, apiKey: string) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    let status = 0;
    const commands = await counter.during(async () => (status = (await trigger(server, apiKey)).status));
    expect(status).toBe(200);
    if (Object.keys(commands).length === 0) return;
    if (Date.now() > deadline) throw new Error(`${server.url} still sends Redis ${JSON.stringify(commands)} per trigger`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe("API-key revocation across two app server processes", () => {
  it("a key rotated elsewhere is refused by both servers on their next request, though both held it warm", async () => {
    await warm(a, project.prod.apiKey);
    await warm(b, project.prod.apiKey);
    const rotated = await rotateApiKey(project.prod.id);
    for (const server of [b, a]) {
      const refused = await trigger(server, project.prod.apiKey);
      expect(refused.status, `${server.url} after the rotation`).toBe(401);
      expect(refused.body).toEqual({ error: "Invalid API key" });
    }
    expect((await trigger(b, rotated.apiKey)).status).toBe(200);
    expect((await trigger(a, rotated.apiKey)).status).toBe(200);
  });
});
