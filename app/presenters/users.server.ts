import { prisma } from "~/db.server";
import type { UserRole } from "~/generated/prisma/enums.ts";

/** The users page: every user with their role and how many live sessions they have. */
export interface UserRow {
  id: string;
  email: string;
  role: UserRole;
  sessions: number;
}

export async function usersPage(): Promise<UserRow[]> {
  const users = await prisma().user.findMany({
    orderBy: { email: "asc" },
    take: 500,
    select: { id: true, email: true, role: true, _count: { select: { sessions: { where: { expiresAt: { gt: new Date() } } } } } },
  });
  return users.map((u) => ({ id: u.id, email: u.email, role: u.role, sessions: u._count.sessions }));
}
