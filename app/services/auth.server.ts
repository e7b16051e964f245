import { createHash } from "node:crypto";
import { normaliseEmail, verifyLogin, type SessionUser } from "~/models/user.server";
import { keyPrefix, redis } from "~/redis.server";
import { logger } from "~/services/logger.server";

/**
 * Password sign-in with brute-force throttling: after MAX_FAILURES failed attempts for one email
 * within the window, further attempts are refused (429) without checking the password until the
 * window ends. The counter lives in Redis so that it holds across app instances.
 */

export const MAX_FAILURES = 5;
export const FAILURE_WINDOW_SECONDS = 15 * 60;

export type LoginResult =
  | { ok: true; user: SessionUser }
  | { ok: false; status: 422; error: string }
  | { ok: false; status: 429; error: string; retryAfterSeconds: number };

function failureKey(email: string): string {
  // Hashed so that Redis holds no email addresses.
  const digest = createHash("sha256").update(normaliseEmail(email)).digest("hex").slice(0, 32);
  return `${keyPrefix()}login-failures:${digest}`;
}

/**
 * Counts this attempt before checking the password, so concurrent guesses cannot slip past the
 * limit; a successful sign-in clears the count. The window starts at the first failure.
 */
async function reserveAttempt(key: string): Promise<{ attempts: number; ttl: number } | null> {
  try {
    const results = await redis()
      .multi()
      .set(key, 0, "EX", FAILURE_WINDOW_SECONDS, "NX")
      .incr(key)
      .ttl(key)
      .exec();
    if (!results) return null;
    for (const [error] of results) if (error) throw error;
    return { attempts: Number(results[1][1]), ttl: Number(results[2][1]) };
  } catch (error) {
    // Without Redis, sign-in still works (scrypt keeps each guess slow); only the throttle is off.
    logger.error("login throttle unavailable; allowing the attempt", { error });
    return null;
  }
}

async function clearFailures(key: string) {
  try {
    await redis().del(key);
  } catch (error) {
    logger.error("could not clear login failures after a successful sign-in", { error });
  }
}

export async function attemptLogin(email: string, password: string): Promise<LoginResult> {
  const key = failureKey(email);
  const reserved = await reserveAttempt(key);
  if (reserved && reserved.attempts > MAX_FAILURES) {
    const retryAfterSeconds = Math.max(reserved.ttl, 1);
    const minutes = Math.ceil(retryAfterSeconds / 60);
    return {
      ok: false,
      status: 429,
      retryAfterSeconds,
      error: `Too many failed sign-in attempts for this email. Try again in ${minutes} minute${minutes === 1 ? "" : "s"}.`,
    };
  }
  const user = await verifyLogin(email, password);
  if (!user) return { ok: false, status: 422, error: "Invalid email or password" };
  if (reserved) await clearFailures(key);
  return { ok: true, user };
}
