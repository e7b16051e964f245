import { afterAll, beforeAll, describe } from "vitest";
import { batchCountingSuite } from "../support/batchSuites/batchCounting.suite";
import { startPrivateRedis } from "../support/privateRedis";
import { RedisCommandCounter } from "../support/redisCommandCount";

/** In-process task tier off: the batch's metadata is one HMGET per group (current, each locked version) per chunk of 500: 2 for 1,000 current items, 6 with two locked versions. */
const privateRedis = await startPrivateRedis();
Object.assign(process.env, {
  REDIS_URL: privateRedis.url,
  TASK_META_CACHE_L1_ENABLED: "false",
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

describe("batch cost, in-process tier off", () => {
  batchCountingSuite(() => counter, { metadataRoundTrips: 2, lockedRoundTrips: 6 });
});
