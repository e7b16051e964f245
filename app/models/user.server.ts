import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from "node:crypto";
import { prisma } from "~/db.server";
import type { UserRole } from "~/generated/prisma/enums.ts";
import { sessionId } from "~/models/userSession.server";
import { logger } from "~/services/logger.server";

/**
 * Admin webapp users and their passwords. Passwords are hashed with scrypt and stored as
 * `scrypt$N$r$p$<salt b64>$<hash b64>`, so the cost can be raised later without invalidating
 * existing hashes (docs/decisions/0001-password-hashing-scrypt.md).
 */

const SCRYPT_PARAMS = { N: 2 ** 15, r: 8, p: 1 } as const;
const KEY_LENGTH = 32;
const SALT_BYTES = 16;
// Node's default maxmem (32 MiB) is exactly 128·N·r at N=2^15, r=8, which scrypt refuses; leave headroom.
const MAX_MEMORY = 256 * 1024 * 1024;

export interface SessionUser {
  id: string;
  email: string;
  role: UserRole;
}

const sessionUserSelect = { id: true, email: true, role: true } as const;

function derive(password: string, salt: Buffer, length: number, params: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password.normalize("NFKC"), salt, length, { ...params, maxmem: MAX_MEMORY }, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const { N, r, p } = SCRYPT_PARAMS;
  const hash = await derive(password, salt, KEY_LENGTH, SCRYPT_PARAMS);
  return ["scrypt", N, r, p, salt.toString("base64"), hash.toString("base64")].join("$");
}

/** Constant-time comparison against a stored hash; a malformed stored value never matches. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split("$");
  if (parts.length !== 6 || parts[0] !== "scrypt") return false;
  const [N, r, p] = parts.slice(1, 4).map(Number);
  if (![N, r, p].every((n) => Number.isSafeInteger(n) && n > 0)) return false;
  const salt = Buffer.from(parts[4], "base64");
  const expected = Buffer.from(parts[5], "base64");
  if (salt.length === 0 || expected.length === 0) return false;
  try {
    const actual = await derive(password, salt, expected.length, { N, r, p });
    return timingSafeEqual(actual, expected);
  } catch (error) {
    // Parameters scrypt refuses (N not a power of two, over the memory cap): a corrupt row, not a wrong password.
    logger.error("stored password hash has unusable scrypt parameters", { N, r, p, error });
    return false;
  }
}

/**
 * Creates the user, or resets the password and role of an existing one (the seed calls this). A
 * reset ends every session the user had: whoever signed in with the old password is signed out.
 */
export async function upsertUser(input: { email: string; password: string; role: UserRole }) {
  const email = normaliseEmail(input.email);
  const passwordHash = await hashPassword(input.password);
  const [user] = await prisma().$transaction(async (tx) => {
    const upserted = await tx.user.upsert({
      where: { email },
      create: { email, passwordHash, role: input.role },
      update: { passwordHash, role: input.role },
    });
    return [upserted, await tx.userSession.deleteMany({ where: { userId: upserted.id } })] as const;
  });
  return user;
}

/**
 * Changes a user's role and ends their other sessions (all of them, or all but `keepSessionId`'s
 * when admins change their own role: their cookie's token), in one transaction. Returns how many sessions ended.
 */
export async function setUserRole(userId: string, role: UserRole, keepToken?: string): Promise<number> {
  const [, ended] = await prisma().$transaction([
    prisma().user.update({ where: { id: userId }, data: { role }, select: { id: true } }),
    prisma().userSession.deleteMany({ where: { userId, ...(keepToken ? { id: { not: sessionId(keepToken) } } : {}) } }),
  ]);
  return ended.count;
}

export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

// Hashed once, lazily: an unknown email is checked against it so that it costs as much as a known one.
let decoyHash: Promise<string> | undefined;

/** The user when email and password match, else null — in about the same time whether or not the email exists. */
export async function verifyLogin(email: string, password: string): Promise<SessionUser | null> {
  const user = await prisma().user.findUnique({
    where: { email: normaliseEmail(email) },
    select: { ...sessionUserSelect, passwordHash: true },
  });
  if (!user) {
    decoyHash ??= hashPassword(randomBytes(16).toString("hex"));
    await verifyPassword(password, await decoyHash);
    return null;
  }
  if (!(await verifyPassword(password, user.passwordHash))) return null;
  return { id: user.id, email: user.email, role: user.role };
}
