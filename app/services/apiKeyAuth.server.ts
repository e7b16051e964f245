import { createHash } from "node:crypto";
import { z } from "zod";
import { pgPool } from "~/db.server";
import { getEnv } from "~/env.server";
import { hashApiKey, looksLikeApiKey } from "~/domain/apiKeys";
import { ENVIRONMENT_TYPES, type EnvironmentType } from "~/domain/environments";
import { CircuitBreaker } from "~/domain/circuitBreaker";
import { isDatabaseUnavailable } from "~/domain/databaseOutage";
import { ServiceUnavailableError, TooManyRequestsError, UnauthorizedError } from "~/domain/errors";
import { ATTR, SPAN } from "~/domain/traceAttributes";
import { keyPrefix } from "~/redis.server";
import { apiKeyRevocationChannel, apiKeyTier, builtApiKeyTier, closeApiKeyTier } from "~/services/apiKeyL1.server";
import { apiRedis, disconnectApiRedis } from "~/services/apiRedis.server";
import { logger } from "~/services/logger.server";
import { inSpan, setSpanAttribute } from "~/services/tracing.server";

/**
 * `Authorization: Bearer <environment secret key>` → the environment it belongs to.
 *
 * Warm calls cost nothing outside the process: the in-process tier (apiKeyL1.server.ts) holds the
 * answers it saw. Behind it, the key's sha256 maps to the environment in `<prefix>api-key:<hash>`
 * for an hour (one Redis GET, no Postgres query). Rotation and revocation overwrite that entry with a
 * tombstone (see {@link revokeCachedApiKeys}) instead of deleting it, and fills use SET NX, so a
 * request that read Postgres just before the revocation cannot put the old key back.
 *
 * Redis failing open: an error, timeout or a connection that is not ready sends the lookup to
 * Postgres; auth never fails because the cache is down. A circuit breaker (with the task metadata
 * cache's TASK_META_CACHE_BREAKER_* settings) skips reads and fills while Redis keeps failing: a
 * Redis that hangs would otherwise cost every trigger two command timeouts (the read, then the
 * fill). Revocations never skip it.
 *
 * The in-process tier sits in front of {@link ApiKeyCache.get}: {@link revokeCachedApiKeys}
 * publishes the revoked hashes, in the MULTI that writes their tombstones, on a channel every
 * instance's tier listens to (and a tier whose subscription is down is flushed and bypassed).
 */

export interface AuthenticatedEnvironment {
  id: string;
  type: EnvironmentType;
  slug: string;
  projectId: string;
}

const POSITIVE_TTL_SECONDS = 3_600;
// Keys Postgres does not know (or knows as revoked): long enough to keep a flood of bad keys off
// Postgres, short enough that a key created a moment later (seed, rotation) works soon anyway.
const UNKNOWN_TTL_SECONDS = 10;
// Tombstones written by a revocation outlive any in-flight fill that read Postgres before it.
const TOMBSTONE_TTL_SECONDS = 300;

const CachedEntry = z.union([
  z.object({
    v: z.literal(1),
    id: z.string(),
    type: z.enum(ENVIRONMENT_TYPES),
    slug: z.string(),
    projectId: z.string(),
  }),
  z.object({ v: z.literal(1), revoked: z.literal(true) }),
]);

/** "unavailable": Redis could not be asked (down, or its breaker open); treated as a miss. */
type Lookup = AuthenticatedEnvironment | "revoked" | "miss" | "unavailable";

// KEYS[1]: the address's set of key hashes; ARGV: hash, budget, window seconds. 0 = allowed, else seconds to wait.
const SPEND_LOOKUP_SCRIPT = `
if redis.call('SISMEMBER', KEYS[1], ARGV[1]) == 1 then return 0 end
if redis.call('SCARD', KEYS[1]) >= tonumber(ARGV[2]) then return math.max(redis.call('TTL', KEYS[1]), 1) end
redis.call('SADD', KEYS[1], ARGV[1])
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
return 0`;

function cacheKey(hash: string) {
  return `${keyPrefix()}api-key:${hash}`;
}

/** The Redis tier, on the API's fail-fast connection: a lookup gets an answer within the command timeout or goes to Postgres. */
class ApiKeyCache {
  private breakerInstance: CircuitBreaker | undefined;

  private get breaker(): CircuitBreaker {
    const env = getEnv();
    this.breakerInstance ??= new CircuitBreaker({
      failureThreshold: env.TASK_META_CACHE_BREAKER_FAILURES,
      cooldownMs: env.TASK_META_CACHE_BREAKER_COOLDOWN_MS,
    });
    return this.breakerInstance;
  }

  private failed(operation: string, error: unknown) {
    if (this.breaker.recordFailure()) logger.warn("api key cache: Redis keeps failing; skipping it for a while", { operation, error });
    else logger.warn(`api key cache ${operation} failed; using Postgres`, { error });
  }

  async get(hash: string): Promise<Lookup> {
    if (!this.breaker.tryAcquire()) return "unavailable";
    const client = await apiRedis();
    if (!client) return "unavailable";
    let raw: string | null;
    try {
      raw = await client.get(cacheKey(hash));
      this.breaker.recordSuccess();
    } catch (error) {
      this.failed("read", error);
      return "unavailable";
    }
    if (raw === null) return "miss";
    const parsed = CachedEntry.safeParse(safeJson(raw));
    if (!parsed.success) {
      logger.warn("api key cache entry failed to decode; treating as a miss", { key: cacheKey(hash) });
      return "miss";
    }
    if ("revoked" in parsed.data) return "revoked";
    const { id, type, slug, projectId } = parsed.data;
    return { id, type, slug, projectId };
  }

  /** SET NX: never overwrites a tombstone written by a revocation that raced this fill. */
  async fill(hash: string, environment: AuthenticatedEnvironment | null): Promise<void> {
    if (!this.breaker.tryAcquire()) return;
    const client = await apiRedis();
    if (!client) return;
    const value = environment ? { v: 1, ...environment } : { v: 1, revoked: true };
    const ttl = environment ? POSITIVE_TTL_SECONDS : UNKNOWN_TTL_SECONDS;
    try {
      await client.set(cacheKey(hash), JSON.stringify(value), "EX", ttl, "NX");
      this.breaker.recordSuccess();
    } catch (error) {
      this.failed("fill", error);
    }
  }

  /**
   * Records that `clientAddress` sent a key the cache did not answer; returns the seconds left in
   * its window when it has already sent API_KEY_LOOKUP_BUDGET other such keys, else 0. Distinct
   * keys are counted (a set per address, one Lua call), so one cold key under concurrency counts
   * once. Behind the breaker like reads: a failing Redis does not enforce the budget.
   */
  async spendLookup(clientAddress: string, hash: string): Promise<number> {
    if (!this.breaker.tryAcquire()) return 0;
    const client = await apiRedis();
    if (!client) return 0;
    const { API_KEY_LOOKUP_BUDGET: budget, API_KEY_LOOKUP_WINDOW_SECONDS: window } = getEnv();
    const key = `${keyPrefix()}api-key-lookups:${createHash("sha256").update(clientAddress).digest("hex").slice(0, 32)}`;
    try {
      const retryAfter = Number(await client.eval(SPEND_LOOKUP_SCRIPT, 1, key, hash, budget, window));
      this.breaker.recordSuccess();
      return retryAfter;
    } catch (error) {
      this.failed("lookup budget", error);
      return 0;
    }
  }

  /** Tombstones overwrite whatever is cached. Throws when Redis cannot confirm: the caller must not report success. */
  async revoke(hashes: string[]): Promise<void> {
    if (hashes.length === 0) return;
    const client = await apiRedis();
    if (!client) throw new Error("Redis is not connected");
    const tombstone = JSON.stringify({ v: 1, revoked: true });
    const channel = apiKeyRevocationChannel();
    const pipeline = client.multi();
    for (const hash of hashes) pipeline.set(cacheKey(hash), tombstone, "EX", TOMBSTONE_TTL_SECONDS);
    // In the same transaction: every subscribed instance hears of the tombstones as they land.
    for (const hash of hashes) pipeline.publish(channel, hash);
    const results = await pipeline.exec();
    const failed = results?.find(([error]) => error);
    if (!results || failed) throw failed?.[0] ?? new Error("Redis transaction was discarded");
  }

  /** Removes entries (used to undo tombstones when a rotation's transaction fails). */
  async forget(hashes: string[]): Promise<void> {
    const client = await apiRedis();
    if (!client || hashes.length === 0) return;
    await client.del(...hashes.map(cacheKey));
  }
}

function safeJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch {
    return undefined;
  }
}

const cache = new ApiKeyCache();

/** The key → environment lookup on a miss: one indexed query (raw SQL: docs/decisions/0016-prisma-vs-raw-sql-on-the-hot-path.md). */
async function findEnvironmentByKeyHash(hash: string): Promise<AuthenticatedEnvironment | null> {
  const result = await pgPool().query<AuthenticatedEnvironment>({
    name: "api-key-environment",
    text: `SELECT e."id", e."type", e."slug", e."projectId"
             FROM "EnvironmentApiKey" k JOIN "RuntimeEnvironment" e ON e."id" = k."environmentId"
            WHERE k."keyHash" = $1 AND k."revokedAt" IS NULL`,
    values: [hash],
  });
  return result.rows[0] ?? null;
}

const INVALID_KEY = "Invalid API key";

/**
 * Per client address, how many distinct keys may miss the key cache (and so reach Postgres) per
 * window: a flood of made-up keys from one client is refused (429) before Postgres instead of
 * costing a query each. A cold known key counts once an hour. Counted in Redis, so across
 * instances; not enforced while Redis is unavailable, like the unknown-key cache itself.
 */
async function refuseOverBudget(clientAddress: string, hash: string): Promise<void> {
  const retryAfter = await cache.spendLookup(clientAddress, hash);
  if (retryAfter <= 0) return;
  const { API_KEY_LOOKUP_BUDGET: budget, API_KEY_LOOKUP_WINDOW_SECONDS: window } = getEnv();
  throw new TooManyRequestsError(`Too many distinct unknown or uncached API keys from this address (${budget} per ${window} s); retry later`, retryAfter);
}

export const DATABASE_AND_REDIS_DOWN = "The database and Redis are both unavailable; try again shortly";

/**
 * The environment of a secret key; throws {@link UnauthorizedError} for a missing, malformed, unknown
 * or revoked key, and {@link TooManyRequestsError} when `clientAddress` spent its lookup budget.
 */
export async function authenticateApiKey(key: string, clientAddress?: string): Promise<AuthenticatedEnvironment> {
  if (!looksLikeApiKey(key)) throw new UnauthorizedError(INVALID_KEY);
  const hash = hashApiKey(key);
  const tier = apiKeyTier();
  const held = tier?.get(hash);
  if (held) {
    setSpanAttribute(ATTR.authTier, "l1");
    return held;
  }
  // Read before Redis: a revocation heard while this lookup runs keeps its answer out of the tier.
  const generation = tier?.generation ?? 0;
  const cached = await cache.get(hash);
  if (cached === "revoked") throw new UnauthorizedError(INVALID_KEY);
  setSpanAttribute(ATTR.authTier, cached === "miss" || cached === "unavailable" ? "postgres" : "redis");
  if (cached !== "miss" && cached !== "unavailable") {
    tier?.remember(generation, hash, cached);
    return cached;
  }
  if (clientAddress !== undefined) await refuseOverBudget(clientAddress, hash);
  const environment = await findEnvironmentByKeyHash(hash).catch((error: unknown) => {
    // Both stores down: say so, rather than only "the database" (docs/operations.md, "Postgres outage").
    if (cached === "unavailable" && isDatabaseUnavailable(error)) throw new ServiceUnavailableError(DATABASE_AND_REDIS_DOWN);
    throw error;
  });
  await cache.fill(hash, environment);
  if (!environment) throw new UnauthorizedError(INVALID_KEY);
  tier?.remember(generation, hash, environment);
  return environment;
}

/** The bearer token of an Authorization header, or undefined when there is none. */
export function bearerToken(authorization: string | undefined): string | undefined {
  if (!authorization) return undefined;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
  return match?.[1];
}

/** Authenticates the request's bearer key; a missing header is a 401 that says what is expected. */
export async function authenticateAuthorizationHeader(authorization: string | undefined, clientAddress?: string): Promise<AuthenticatedEnvironment> {
  const token = bearerToken(authorization);
  if (!token) throw new UnauthorizedError("Missing API key: send `Authorization: Bearer <environment secret key>`");
  return inSpan(SPAN.auth, {}, () => authenticateApiKey(token, clientAddress));
}

/**
 * Makes the given key hashes fail authentication at once, across every instance (they all read
 * this Redis, and their in-process tiers hear the revocation channel). Rotation calls it before
 * revoking the keys in Postgres.
 */
export async function revokeCachedApiKeys(hashes: string[]): Promise<void> {
  const local = builtApiKeyTier();
  for (const hash of hashes) local?.revoke(hash);
  await cache.revoke(hashes);
}

/** Undoes {@link revokeCachedApiKeys} for keys that turned out not to be revoked. */
export function forgetCachedApiKeys(hashes: string[]): Promise<void> {
  return cache.forget(hashes);
}

/** Closes the in-process tier's subscriber and the API's Redis connection, which this cache uses (tests, scripts, shutdown). */
export async function disconnectApiKeyCache(): Promise<void> {
  await closeApiKeyTier();
  await disconnectApiRedis();
}
