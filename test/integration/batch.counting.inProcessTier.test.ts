import { afterAll, beforeAll, describe } from "vitest";
import { batchCountingSuite } from "../support/batchSuites/batchCounting.suite";
import { startPrivateRedis } from "../support/privateRedis";
import { RedisCommandCounter } from "../support/redisCommandCount";

/** In-process task tier on (a TTL longer than the test): a warm batch asks Redis nothing for its metadata. */
const privateRedis = await startPrivateRedis();
Object.assign(process.env, {
  REDIS_URL: privateRedis.url,
  TASK_META_CACHE_L1_ENABLED: "true",
  TASK_META_CACHE_L1_TTL_MS: "600000",
  API_KEY_CACHE_L1_TTL_MS: "600000",
  TASK_META_CACHE_COMMAND_TIMEOUT_MS: "2000",
});

let counter: RedisCommandCounter;
beforeAll(() => {
  counter = new RedisCommandCounter(privateRedis.url);
});
afterAll(async () => {
  await counter?.close();
  setTimeout(() => void privateRedis.stop(), 2_000).unref();
});

describe("batch cost, in-process tier on", () => {
  batchCountingSuite(() => counter, { metadataRoundTrips: 0, lockedRoundTrips: 0 });
});
