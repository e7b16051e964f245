import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dbQueryCount } from "~/db.server";
import { resetEnvForTests } from "~/env.server";
import { authenticateApiKey, disconnectApiKeyCache } from "~/services/apiKeyAuth.server";
import { eventually } from "../support/cacheTesting";
import { createTestProject, type TestProject } from "../support/fixtures";
import { startPrivateRedis, type PrivateRedis } from "../support/privateRedis";

/**
 * A Redis that hangs (process frozen: connections open, no answers) must not cost every API call
 * the key cache's command timeout — twice, read then fill. After a few failures the breaker skips
 * Redis and auth goes straight to Postgres; when Redis answers again, warm calls leave Postgres.
 * The in-process tier is off here: it would answer warm calls from memory and hide the Redis tier.
 */

const COMMAND_TIMEOUT_MS = 300;
const FAILURES = 3;
const COOLDOWN_MS = 1_000;

let redisServer: PrivateRedis;
let project: TestProject;
const saved = { ...process.env };

beforeAll(async () => {
  redisServer = await startPrivateRedis();
  project = await createTestProject();
  Object.assign(process.env, {
    REDIS_URL: redisServer.url,
    TASK_META_CACHE_COMMAND_TIMEOUT_MS: String(COMMAND_TIMEOUT_MS),
    TASK_META_CACHE_BREAKER_FAILURES: String(FAILURES),
    TASK_META_CACHE_BREAKER_COOLDOWN_MS: String(COOLDOWN_MS),
    API_KEY_CACHE_L1_ENABLED: "false",
  });
  resetEnvForTests();
  await disconnectApiKeyCache();
});

afterAll(async () => {
  await disconnectApiKeyCache();
  await redisServer?.stop();
  for (const name of ["REDIS_URL", "TASK_META_CACHE_COMMAND_TIMEOUT_MS", "TASK_META_CACHE_BREAKER_FAILURES", "TASK_META_CACHE_BREAKER_COOLDOWN_MS", "API_KEY_CACHE_L1_ENABLED"]) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
  resetEnvForTests();
});

async function timed<T>(call: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await call();
  return { value, ms: performance.now() - started };
}

describe("the API key cache while Redis hangs", () => {
  it("pays the command timeout only until the breaker opens, then answers from Postgres at once", async () => {
    await authenticateApiKey(project.prod.apiKey); // cold: fills Redis
    const before = dbQueryCount();
    expect((await authenticateApiKey(project.prod.apiKey)).id).toBe(project.prod.id);
    expect(dbQueryCount() - before, "warm: Redis answers").toBe(0);

    redisServer.freeze();
    try {
      const calls: number[] = [];
      for (let i = 0; i < 20; i++) {
        const { value, ms } = await timed(() => authenticateApiKey(project.prod.apiKey));
        expect(value.id).toBe(project.prod.id);
        calls.push(ms);
      }
      const slow = calls.filter((ms) => ms >= COMMAND_TIMEOUT_MS * 0.9);
      // Read and fill each time out until FAILURES failures have been counted; nothing after that.
      expect(slow.length, calls.map((ms) => ms.toFixed(0)).join(" ")).toBeLessThanOrEqual(FAILURES);
      expect(calls.slice(FAILURES).every((ms) => ms < COMMAND_TIMEOUT_MS / 2), calls.map((ms) => ms.toFixed(0)).join(" ")).toBe(true);
    } finally {
      redisServer.thaw();
    }

    // Redis answers again: after the cooldown a probe closes the breaker and warm calls cost no query.
    await eventually(
      async () => {
        const start = dbQueryCount();
        await authenticateApiKey(project.prod.apiKey);
        return dbQueryCount() === start;
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
  });
});
