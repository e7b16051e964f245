import { cachified, totalTtl, type Cache, type CacheEntry } from "@epic-web/cachified";
import { BentoCache, bentostore } from "bentocache";
import { memoryDriver } from "bentocache/drivers/memory";
import { redisBusDriver, redisDriver } from "bentocache/drivers/redis";
import { Redis, type RedisOptions } from "ioredis";
import { LRUCache } from "lru-cache";
import { getEnv } from "~/env.server";
import type { ResolveInput, ResolvedTask } from "~/services/taskMetadata/index.server";
import { BENCH_PREFIX } from "./environment";

/**
 * The peers of `npm run bench`: the same lookup cached the way a user of each library would,
 * configured as its documentation shows (docs/benchmarks.md prints this configuration in full).
 *
 * The lookup: the caller's request (environment, task, queue override, ttl, lock) → the resolved
 * task, with Postgres behind it (the app's resolver over the no-op cache: exactly the baseline's
 * statement). Each library caches the whole answer under a key built from the request — the
 * simplest use of either API, and a kind one: a hit skips the resolver's own work too.
 *
 * - bentocache 1.6.1 (bentocache.dev "Multi tier"): `memoryDriver({ maxSize: "10mb" })` as L1,
 *   `redisDriver` as L2, `redisBusDriver` to keep other instances' L1 in step; TTL 1 h (the bus,
 *   not the TTL, keeps L1 coherent). "Redis only": the same L2 driver alone (its "Redis" page).
 * - @epic-web/cachified 5.6.3: the README's `lru-cache` adapter in front of a Redis adapter, by
 *   nesting two `cachified` calls (the outer one's fresh value is the inner one's answer). There is
 *   no bus, so the LRU's TTL is the staleness bound: 2 s, like Hotpath's tier. The Redis adapter
 *   follows the pattern of the redis adapter the README lists (an entry as JSON, expiring at
 *   `createdTime + totalTtl`), written for ioredis. "Redis only": the inner call alone.
 *
 * Both libraries get a Redis connection of their own with ioredis' defaults, as their docs do.
 */

const TIERED_TTL_MS = 3_600_000;
const CACHIFIED_LRU_TTL_MS = 2_000;

export type PeerLookup = (input: ResolveInput) => Promise<ResolvedTask>;

/** A peer's answer and whether it had to ask Postgres for it. */
export interface PeerAnswer {
  task: ResolvedTask;
  fromDatabase: boolean;
}

export interface Peer {
  tiered(key: string, input: ResolveInput): Promise<PeerAnswer>;
  redisOnly(key: string, input: ResolveInput): Promise<PeerAnswer>;
  close(): Promise<void>;
}

/** The request as a cache key: every field that changes the answer. */
export function peerKey(input: ResolveInput): string {
  return [input.environment.id, input.taskSlug, input.queue ?? "", input.ttl ?? "", input.lockToVersion ?? "", input.externalDeploymentId ?? ""].join("|");
}

function redisConnection(): RedisOptions {
  const config = getEnv().taskMetaCacheRedis;
  if (config.url) {
    const url = new URL(config.url);
    return { host: url.hostname, port: Number(url.port || 6379), username: url.username || undefined, password: url.password || undefined };
  }
  return { host: config.host, port: config.port, username: config.username, password: config.password };
}

/** Runs the Postgres lookup and notes that it ran (a warm call must never get here). */
function fresh(lookup: PeerLookup, input: ResolveInput, ran: { database: boolean }) {
  return () => {
    ran.database = true;
    return lookup(input);
  };
}

export function bentocachePeer(lookup: PeerLookup): Peer {
  const connection = redisConnection();
  const bento = new BentoCache({
    default: "tiered",
    ttl: TIERED_TTL_MS,
    stores: {
      tiered: bentostore()
        .useL1Layer(memoryDriver({ maxSize: "10mb" }))
        .useL2Layer(redisDriver({ connection, prefix: `${BENCH_PREFIX}bentocache` }))
        .useBus(redisBusDriver({ connection })),
      redis: bentostore().useL2Layer(redisDriver({ connection, prefix: `${BENCH_PREFIX}bentocache-l2` })),
    },
  });
  const redisOnly = bento.use("redis");
  const get = async (store: typeof redisOnly, key: string, input: ResolveInput): Promise<PeerAnswer> => {
    const ran = { database: false };
    const task = await store.getOrSet({ key, factory: fresh(lookup, input, ran) });
    return { task, fromDatabase: ran.database };
  };
  return {
    tiered: (key, input) => get(bento.use("tiered"), key, input),
    redisOnly: (key, input) => get(redisOnly, key, input),
    close: () => bento.disconnectAll(),
  };
}

/** cachified's Cache over an ioredis client: an entry as JSON, expiring with its metadata. */
function ioredisAdapter(client: Redis, prefix: string): Cache {
  return {
    name: "ioredis",
    async get(key) {
      const raw = await client.get(prefix + key);
      return raw === null ? null : (JSON.parse(raw) as CacheEntry);
    },
    set(key, entry) {
      const ttl = totalTtl(entry.metadata);
      const json = JSON.stringify(entry);
      if (ttl === Infinity) return client.set(prefix + key, json);
      return client.set(prefix + key, json, "PXAT", Math.ceil(entry.metadata.createdTime + ttl));
    },
    delete: (key) => client.del(prefix + key),
  };
}

/** The README's lru-cache adapter. */
function lruAdapter(max: number): Cache {
  const lru = new LRUCache<string, CacheEntry>({ max });
  return {
    name: "lru-cache",
    get: (key) => lru.get(key),
    set(key, entry) {
      const ttl = totalTtl(entry.metadata);
      return lru.set(key, entry, { ttl: ttl === Infinity ? undefined : ttl, start: entry.metadata.createdTime });
    },
    delete: (key) => lru.delete(key),
  };
}

export function cachifiedPeer(lookup: PeerLookup): Peer {
  const client = new Redis(redisConnection());
  const redis = ioredisAdapter(client, `${BENCH_PREFIX}cachified:`);
  const memory = lruAdapter(10_000);
  const fromRedis = (key: string, input: ResolveInput, ran: { database: boolean }) =>
    cachified<ResolvedTask>({ key, cache: redis, ttl: TIERED_TTL_MS, getFreshValue: fresh(lookup, input, ran) });
  return {
    async tiered(key, input) {
      const ran = { database: false };
      const task = await cachified<ResolvedTask>({
        key,
        cache: memory,
        ttl: CACHIFIED_LRU_TTL_MS,
        getFreshValue: () => fromRedis(key, input, ran),
      });
      return { task, fromDatabase: ran.database };
    },
    async redisOnly(key, input) {
      const ran = { database: false };
      const task = await fromRedis(`l2:${key}`, input, ran);
      return { task, fromDatabase: ran.database };
    },
    close: async () => {
      await client.quit().catch(() => client.disconnect());
    },
  };
}
