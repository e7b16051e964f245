import type { Redis } from "ioredis";
import { LRUCache } from "lru-cache";
import type { EnvironmentType } from "~/domain/environments";
import { getEnv } from "~/env.server";
import { createRedisClient } from "~/redis.server";
import { InvalidationSubscriber, subscriberConnection } from "~/services/taskMetadata/index.server";

/**
 * The in-process tier of the API-key cache (docs/decisions/0040-api-keys-in-the-in-process-tier.md):
 * key hash → environment in memory, so a warm trigger authenticates without a Redis round trip.
 *
 * Only positive answers are held (a key Postgres knows and has not revoked); unknown and revoked
 * keys always go to Redis, whose tombstones and 10-second "unknown" entries stay the single place
 * that says no.
 *
 * Revocation: {@link revokeCachedApiKeys} (apiKeyAuth.server.ts) writes the Redis tombstones and
 * PUBLISHes each revoked hash on the revocation channel in the same MULTI, so every instance
 * subscribed at that moment hears it. An instance that is not subscribed cannot vouch for its
 * memory: from start-up until SUBSCRIBE is confirmed, and from the moment the subscriber's
 * connection drops until it is confirmed again, the tier is flushed and bypassed (the subscriber is
 * the task tier's, taskMetadataInvalidation.server.ts, on a channel of its own). A message lost in
 * a way the subscriber does not notice costs at most `ttlMs`: entries expire that long after they
 * were stored, whatever the hits.
 *
 * A lookup that was in flight while a revocation (or a flush) happened must not put back what it
 * read before: every revocation bumps a generation counter, and a lookup stores its answer only if
 * the generation it started with is still current.
 */

export interface CachedEnvironment {
  id: string;
  type: EnvironmentType;
  slug: string;
  projectId: string;
}

export interface ApiKeyL1Options {
  maxEntries: number;
  ttlMs: number;
  /** Starts bypassed until the revocation channel is subscribed; true for a tier without one (tests). */
  live?: boolean;
  /** Clock of the TTLs (tests); `performance` by default. */
  clock?: { now(): number };
}

export class ApiKeyL1 {
  private readonly entries: LRUCache<string, CachedEnvironment>;
  private generationCounter = 0;
  private isLive: boolean;

  constructor(options: ApiKeyL1Options) {
    this.isLive = options.live ?? false;
    this.entries = new LRUCache<string, CachedEnvironment>({
      max: options.maxEntries,
      ttl: options.ttlMs,
      // Age counts from the store, never from the last hit: the TTL is the staleness bound.
      updateAgeOnGet: false,
      allowStale: false,
      perf: options.clock,
      ttlResolution: options.clock ? 0 : 1,
    });
  }

  /** True while the tier answers lookups (its revocation channel is subscribed). */
  get live(): boolean {
    return this.isLive;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Read before a lookup that may end in {@link remember}. */
  get generation(): number {
    return this.generationCounter;
  }

  /** The environment of a key hash held here, or undefined (not held, or the tier is bypassed). */
  get(hash: string): CachedEnvironment | undefined {
    return this.isLive ? this.entries.get(hash) : undefined;
  }

  /** Holds a positive answer read at `generation`, unless a revocation or a flush happened since. */
  remember(generation: number, hash: string, environment: CachedEnvironment): void {
    if (!this.isLive || generation !== this.generationCounter) return;
    this.entries.set(hash, Object.freeze({ ...environment }));
  }

  /** A key was revoked (here or on another instance): drop it, and refuse in-flight stores. */
  revoke(hash: string): void {
    this.generationCounter++;
    this.entries.delete(hash);
  }

  /** The revocation channel is subscribed (true) or not (false); going down flushes the tier. */
  setLive(live: boolean): void {
    this.generationCounter++;
    if (!live) this.entries.clear();
    this.isLive = live;
  }
}

export function defaultRevocationChannel(prefix: string): string {
  return `${prefix}api-key:revoke`;
}

/** The channel revocations are published on: API_KEY_REVOCATION_CHANNEL or the default. */
export function apiKeyRevocationChannel(): string {
  const env = getEnv();
  return env.API_KEY_REVOCATION_CHANNEL ?? defaultRevocationChannel(env.REDIS_KEY_PREFIX);
}

interface Tier {
  l1: ApiKeyL1;
  subscriber: InvalidationSubscriber;
}

let tier: Tier | undefined;
let disabled = false;

function build(): Tier | undefined {
  const env = getEnv();
  if (!env.API_KEY_CACHE_L1_ENABLED) return undefined;
  const l1 = new ApiKeyL1({ maxEntries: env.API_KEY_CACHE_L1_MAX_ENTRIES, ttlMs: env.API_KEY_CACHE_L1_TTL_MS });
  // The API-key cache lives on the general Redis (REDIS_*), so its channel does too.
  const rotating = Boolean(env.redis.clusterNodes?.length);
  const subscriber = new InvalidationSubscriber({
    channel: apiKeyRevocationChannel(),
    target: { invalidateEnvironment: (hash) => l1.revoke(hash), setLive: (live) => l1.setLive(live) },
    createClient: (attempt) =>
      createRedisClient(
        subscriberConnection(env.redis, attempt),
        {
          lazyConnect: true,
          autoResubscribe: false,
          autoResendUnfulfilledCommands: false,
          enableOfflineQueue: false,
          connectTimeout: 2_000,
          // Bounds the wait for SUBSCRIBE's confirmation; without it the tier stays bypassed.
          commandTimeout: 5_000,
          retryStrategy: (times) => (rotating && times > 5 ? null : Math.min(times * 100, 1_000)),
        },
        "api-key-revocations",
      ) as Redis,
  });
  subscriber.start();
  return { l1, subscriber };
}

/**
 * The process's tier, built (and its subscriber started) on first use; undefined when
 * API_KEY_CACHE_L1_ENABLED=false. Processes that only revoke (the rotation script) never build it.
 */
export function apiKeyTier(): ApiKeyL1 | undefined {
  if (disabled) return undefined;
  tier ??= build();
  if (!tier) disabled = true;
  return tier?.l1;
}

/** This process's tier, if it was built: a revocation made here drops the keys at once. */
export function builtApiKeyTier(): ApiKeyL1 | undefined {
  return tier?.l1;
}

/** The tier's subscriber, if the tier was built (tests kill its connection by name). */
export function apiKeyRevocationSubscriber(): InvalidationSubscriber | undefined {
  return tier?.subscriber;
}

/** Closes the subscriber (tests, scripts, shutdown); the next use builds a new tier. */
export async function closeApiKeyTier(): Promise<void> {
  const current = tier;
  tier = undefined;
  disabled = false;
  await current?.subscriber.close();
}
