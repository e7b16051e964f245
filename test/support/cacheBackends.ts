import { Cluster, Redis } from "ioredis";
import { createRedisClient, type RedisClient } from "~/redis.server";
import { testRedisUrl } from "./databaseUrls";
import type { RedisClusterHarness } from "./redisCluster";

/**
 * Where the shared cache test bodies (test/support/cacheSuites/) run: the test Redis, or a Redis
 * Cluster started by test/support/redisCluster.ts. Each gives the hot-path client configured as
 * production configures it, an admin client for planting and inspecting keys, and a SCAN that
 * walks every master.
 */
export interface CacheTestBackend {
  name: "redis" | "cluster";
  /** Hot-path options: no offline queue, no retries (services/taskMetadata/instance.server.ts). */
  client: RedisClient;
  admin: RedisClient;
  /** Another connection, for a reader running alongside a write. */
  newClient(): RedisClient;
  /** Every key matching `pattern`, from every master. */
  scanKeys(pattern: string): Promise<string[]>;
  close(): Promise<void>;
}

const HOT_PATH_OPTIONS = { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 } as const;

async function scanNode(node: Redis, pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await node.scan(cursor, "MATCH", pattern, "COUNT", 1000);
    cursor = next;
    found.push(...batch);
  } while (cursor !== "0");
  return found;
}

export async function scanAllMasters(client: RedisClient, pattern: string): Promise<string[]> {
  const nodes = client instanceof Cluster ? client.nodes("master") : [client];
  return (await Promise.all(nodes.map((node) => scanNode(node, pattern)))).flat();
}

export async function singleRedisBackend(): Promise<CacheTestBackend> {
  const extra: Redis[] = [];
  const admin = new Redis(testRedisUrl(), { maxRetriesPerRequest: 1 });
  const client = new Redis(testRedisUrl(), HOT_PATH_OPTIONS);
  await client.connect();
  return {
    name: "redis",
    client,
    admin,
    newClient() {
      const reader = new Redis(testRedisUrl(), { maxRetriesPerRequest: 1 });
      extra.push(reader);
      return reader;
    },
    scanKeys: (pattern) => scanAllMasters(admin, pattern),
    async close() {
      client.disconnect();
      for (const c of extra) c.disconnect();
      await admin.quit();
    },
  };
}

/** Clients built by the app's own factory from TASK_META_CACHE_REDIS_CLUSTER_NODES-style config. */
export async function clusterBackend(cluster: RedisClusterHarness): Promise<CacheTestBackend> {
  const config = { host: "127.0.0.1", port: 6379, tls: false, clusterNodes: cluster.nodes };
  const extra: RedisClient[] = [];
  const client = createRedisClient(config, HOT_PATH_OPTIONS, "test-cluster-hot-path");
  const admin = createRedisClient(config, { lazyConnect: true, maxRetriesPerRequest: 2 }, "test-cluster-admin");
  await Promise.all([client.connect(), admin.connect()]);
  return {
    name: "cluster",
    client,
    admin,
    newClient() {
      const reader = createRedisClient(config, { maxRetriesPerRequest: 2 }, "test-cluster-reader");
      extra.push(reader);
      return reader;
    },
    scanKeys: (pattern) => scanAllMasters(admin, pattern),
    async close() {
      for (const c of [client, admin, ...extra]) c.disconnect();
    },
  };
}
