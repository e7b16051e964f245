import { afterAll, beforeAll } from "vitest";
import { singleRedisBackend, type CacheTestBackend } from "../support/cacheBackends";
import { queueResolverSuite } from "../support/cacheSuites/queueResolver.suite";

// The body is shared with the Redis Cluster run (test/integration/redisCluster.test.ts).
let backend: CacheTestBackend;
beforeAll(async () => {
  backend = await singleRedisBackend();
});
afterAll(async () => {
  await backend.close();
});
queueResolverSuite(() => backend);
