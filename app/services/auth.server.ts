import { createHash } from "node:crypto";
import { normaliseEmail, verifyLogin, type SessionUser } from "~/models/user.server";
import { keyPrefix, redis } from "~/redis.server";
import { logger } from "~/services/logger.server";

/**
 * Password sign-in with brute-force throttling, counted in Redis so that it holds across app
 * instances, and checked before the password:
 * - MAX_FAILURES attempts for one email *from one client address* within the window; keyed by
 *   the pair so that nobody can lock an admin out by failing on purpose from elsewhere;
 * - MAX_ADDRESS_FAILURES failed attempts from one address, whatever the emails (guessing many
 *   accounts from one place).
 * Further attempts are refused (429) until the window ends.
 */

export const MAX_FAILURES = 5;
export const MAX_ADDRESS_FAILURES = 30;
export const FAILURE_WINDOW_SECONDS = 15 * 60;

export type LoginResult =
  | { ok: true; user: SessionUser }
  | { ok: false; status: 422; error: string }
  | { ok: false; status: 429; error: string; retryAfterSeconds: number };

/** Hashed so that Redis holds no email or network addresses. */
function digest(value: string): string {
  return createHash("sha256").update(value).digest("hex").slice(0, 32);
}

function failureKeys(email: string, clientAddress: string) {
  const address = digest(clientAddress);
  return {
    pair: `${keyPrefix()}login-failures:${digest(normaliseEmail(email))}:${address}`,
    address: `${keyPrefix()}login-failures-from:${address}`,
  };
}

interface Reserved {
  attempts: number;
  ttl: number;
  addressAttempts: number;
  addressTtl: number;
}

/**
 * Counts this attempt on both counters before checking the password, so concurrent guesses
 * cannot slip past the limits; the window starts at the first attempt.
 */
async function reserveAttempt(keys: { pair: string; address: string }): Promise<Reserved | null> {
  try {
    const results = await redis()
      .multi()
      .set(keys.pair, 0, "EX", FAILURE_WINDOW_SECONDS, "NX")
      .incr(keys.pair)
      .ttl(keys.pair)
      .set(keys.address, 0, "EX", FAILURE_WINDOW_SECONDS, "NX")
      .incr(keys.address)
      .ttl(keys.address)
      .exec();
    if (!results) return null;
    for (const [error] of results) if (error) throw error;
    const value = (i: number) => Number(results[i][1]);
    return { attempts: value(1), ttl: value(2), addressAttempts: value(4), addressTtl: value(5) };
  } catch (error) {
    // Without Redis, sign-in still works (scrypt keeps each guess slow); only the throttle is off.
    logger.error("login throttle unavailable; allowing the attempt", { error });
    return null;
  }
}

// Decrements only a count that still exists: one that expired meanwhile must not come back at -1 without a TTL.
const FORGET_ATTEMPT = `
redis.call('DEL', KEYS[1])
if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('DECR', KEYS[2]) end
return 1`;

/** A successful sign-in clears its pair and takes its own attempt off the address's count. */
async function forgetAttempt(keys: { pair: string; address: string }) {
  try {
    await redis().eval(FORGET_ATTEMPT, 2, keys.pair, keys.address);
  } catch (error) {
    logger.error("could not clear login failures after a successful sign-in", { error });
  }
}

function refused(ttlSeconds: number, error: string): LoginResult {
  const retryAfterSeconds = Math.max(ttlSeconds, 1);
  const minutes = Math.ceil(retryAfterSeconds / 60);
  return { ok: false, status: 429, retryAfterSeconds, error: `${error} Try again in ${minutes} minute${minutes === 1 ? "" : "s"}.` };
}

/**
 * The caller's network address, as server.ts puts it in Remix's load context (express's `req.ip`,
 * which follows X-Forwarded-For through TRUST_PROXY_HOPS proxies); "unknown" without one.
 */
export function clientAddressOf(context: unknown): string {
  const value = (context as { clientAddress?: unknown } | undefined)?.clientAddress;
  return typeof value === "string" && value !== "" ? value : "unknown";
}

/** `clientAddress`: see {@link clientAddressOf}. */
export async function attemptLogin(email: string, password: string, clientAddress = "unknown"): Promise<LoginResult> {
  const keys = failureKeys(email, clientAddress);
  const reserved = await reserveAttempt(keys);
  if (reserved && reserved.addressAttempts > MAX_ADDRESS_FAILURES) {
    return refused(reserved.addressTtl, "Too many failed sign-in attempts from this network address.");
  }
  if (reserved && reserved.attempts > MAX_FAILURES) {
    return refused(reserved.ttl, "Too many failed sign-in attempts for this email.");
  }
  const user = await verifyLogin(email, password);
  if (!user) return { ok: false, status: 422, error: "Invalid email or password" };
  if (reserved) await forgetAttempt(keys);
  return { ok: true, user };
}
