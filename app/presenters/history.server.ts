import { readPrisma } from "~/db.server";
import { describeAuditEvent, type AuditView } from "~/domain/auditView";

/**
 * /admin/history: the audit log newest first — promotions and roll-backs (from the admin, the
 * promote API and the deploy webhook), cache repairs (admin and sweep) — a page at a time with a
 * keyset cursor (`before` = "<createdAt ms>_<id>" of the last row shown).
 */

export const HISTORY_PAGE_SIZE = 50;

export type HistoryKind = "all" | "deployments" | "cache";

export interface HistoryRow extends AuditView {
  id: string;
  action: string;
  createdAt: string;
  /** "project / env" when the row names an environment that still exists. */
  environmentLabel: string | null;
}

export interface HistoryPage {
  rows: HistoryRow[];
  kind: HistoryKind;
  /** The cursor of the next (older) page; null at the end. */
  nextBefore: string | null;
}

export function parseBefore(value: string | null): { at: Date; id: string } | null {
  const match = value?.match(/^(\d{1,15})_([A-Za-z0-9_-]{1,64})$/);
  return match ? { at: new Date(Number(match[1])), id: match[2] } : null;
}

export async function historyPage(options: { kind?: HistoryKind; before?: string | null } = {}): Promise<HistoryPage> {
  const kind = options.kind ?? "all";
  const before = parseBefore(options.before ?? null);
  const db = readPrisma();
  const rows = await db.auditEvent.findMany({
    where: {
      ...(kind === "deployments" ? { action: { startsWith: "deployment." } } : kind === "cache" ? { action: { startsWith: "cache." } } : {}),
      ...(before ? { OR: [{ createdAt: { lt: before.at } }, { createdAt: before.at, id: { lt: before.id } }] } : {}),
    },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: HISTORY_PAGE_SIZE + 1,
    select: { id: true, action: true, target: true, details: true, createdAt: true, user: { select: { email: true } } },
  });
  const page = rows.slice(0, HISTORY_PAGE_SIZE);
  const views = page.map((row) => ({ row, view: describeAuditEvent({ ...row, userEmail: row.user?.email ?? null }) }));
  const environmentIds = [...new Set(views.map((v) => v.view.environmentId).filter((id): id is string => id !== null))];
  const environments = environmentIds.length
    ? await db.runtimeEnvironment.findMany({ where: { id: { in: environmentIds } }, select: { id: true, slug: true, project: { select: { slug: true } } } })
    : [];
  const labels = new Map(environments.map((e) => [e.id, `${e.project.slug} / ${e.slug}`]));
  const last = page[page.length - 1];
  return {
    kind,
    nextBefore: rows.length > HISTORY_PAGE_SIZE && last ? `${last.createdAt.getTime()}_${last.id}` : null,
    rows: views.map(({ row, view }) => ({
      ...view,
      id: row.id,
      action: row.action,
      createdAt: row.createdAt.toISOString(),
      environmentLabel: view.environmentId ? (labels.get(view.environmentId) ?? null) : null,
    })),
  };
}
