import { createHash, randomBytes } from "node:crypto";
import { prisma } from "~/db.server";
import type { UserRole } from "~/generated/prisma/enums.ts";
import type { SessionUser } from "~/models/user.server";

/**
 * Server-side admin sessions (docs/decisions/0030-server-side-sessions.md). The cookie carries a
 * random token; Postgres keeps its sha256 with the user and an expiry. A session ends when its row
 * is deleted: sign-out, "sign out everywhere", a role or password change, or the user's deletion
 * (cascade). Checking a session is one statement: a primary-key lookup joined to the user's row.
 */

export const SESSION_TTL_SECONDS = 7 * 24 * 60 * 60;
const TOKEN_BYTES = 32;

/** The stored id of a cookie's token. */
export const sessionId = (token: string) => createHash("sha256").update(token).digest("hex");

/** Opens a session for the user and returns the cookie's token (shown nowhere else). */
export async function openSession(userId: string, now = new Date()): Promise<string> {
  const token = randomBytes(TOKEN_BYTES).toString("base64url");
  await prisma().$transaction([
    // The user's expired sessions go when they sign in again: the table holds live sessions only.
    prisma().userSession.deleteMany({ where: { userId, expiresAt: { lte: now } } }),
    prisma().userSession.create({
      data: { id: sessionId(token), userId, expiresAt: new Date(now.getTime() + SESSION_TTL_SECONDS * 1000) },
      select: { id: true },
    }),
  ]);
  return token;
}

/** The user of a live session, or null (unknown, ended or expired). */
export async function sessionUser(token: string): Promise<SessionUser | null> {
  const rows = await prisma().$queryRaw<{ id: string; email: string; role: UserRole }[]>`
    SELECT u."id", u."email", u."role"
    FROM "UserSession" s JOIN "User" u ON u."id" = s."userId"
    WHERE s."id" = ${sessionId(token)} AND s."expiresAt" > now()`;
  return rows[0] ?? null;
}

/** Ends one session (sign-out). */
export async function endSession(token: string): Promise<void> {
  await prisma().userSession.deleteMany({ where: { id: sessionId(token) } });
}

/** Ends every session of the user except `keepToken`'s (the acting admin's own); returns how many ended. */
export async function endUserSessions(userId: string, keepToken?: string): Promise<number> {
  const { count } = await prisma().userSession.deleteMany({
    where: { userId, ...(keepToken ? { id: { not: sessionId(keepToken) } } : {}) },
  });
  return count;
}
