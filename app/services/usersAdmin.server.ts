import { prisma } from "~/db.server";
import { NotFoundError } from "~/domain/errors";
import type { UserRole } from "~/generated/prisma/enums.ts";
import { setUserRole } from "~/models/user.server";
import { endUserSessions } from "~/models/userSession.server";
import { recordAudit } from "~/services/audit.server";
import { logger } from "~/services/logger.server";

/**
 * The users page's actions (admin.users.tsx), each audited. Both end sessions on the server: an
 * admin acting on their own account keeps the session they act from (`actorToken`) and ends the rest.
 */

async function userEmail(userId: string): Promise<string> {
  const user = await prisma().user.findUnique({ where: { id: userId }, select: { email: true } });
  if (!user) throw new NotFoundError(`No user with id '${userId}'.`);
  return user.email;
}

interface Actor {
  id: string;
  token: string | undefined;
}

export async function signOutEverywhere(userId: string, actor: Actor): Promise<string> {
  const email = await userEmail(userId);
  const ended = await endUserSessions(userId, userId === actor.id ? actor.token : undefined);
  await recordAudit({ userId: actor.id, action: "user.sign-out-everywhere", target: `user/${userId}`, details: { email, sessionsEnded: ended } });
  logger.info("admin ended a user's sessions", { actorId: actor.id, userId, ended });
  return `Signed ${email} out everywhere (${ended} session${ended === 1 ? "" : "s"} ended).`;
}

export async function changeRole(userId: string, role: UserRole, actor: Actor): Promise<string> {
  const email = await userEmail(userId);
  const ended = await setUserRole(userId, role, userId === actor.id ? actor.token : undefined);
  await recordAudit({ userId: actor.id, action: "user.role", target: `user/${userId}`, details: { email, role, sessionsEnded: ended } });
  logger.info("admin changed a user's role", { actorId: actor.id, userId, role, ended });
  return `${email} is now ${role}; ${ended} other session${ended === 1 ? "" : "s"} ended.`;
}
