import { prisma } from "~/db.server";
import type { Prisma } from "~/generated/prisma/client.ts";

/**
 * The audit log (the AuditEvent model of prisma/schema.prisma): one row per admin action that changed state, written after
 * the change succeeded. `action` is a stable dotted name ("cache.invalidate", "deployment.promote"),
 * `target` names what was changed (a Redis key, "environment/<id> version <v>"), `details` holds the
 * specifics a reader needs to reconstruct what happened.
 */

export interface AuditInput {
  /** The signed-in user; null for actions without one (scripts). */
  userId: string | null;
  action: string;
  target: string;
  details?: Prisma.InputJsonValue;
}

export async function recordAudit(input: AuditInput): Promise<{ id: string }> {
  return prisma().auditEvent.create({
    data: { userId: input.userId, action: input.action, target: input.target, details: input.details },
    select: { id: true },
  });
}
