/**
 * How the history page (/admin/history) reads one audit row: who did what, from → to, and how it
 * arrived. Pure: rows written before actors were recorded (no `actor` in details) are the user's.
 */

export interface AuditRow {
  action: string;
  target: string;
  details: unknown;
  userEmail: string | null;
}

export interface AuditView {
  what: string;
  who: string;
  /** "user", "api-key", "signature", "sweep", "system". */
  actorKind: string;
  from: string | null;
  to: string | null;
  how: string;
  environmentId: string | null;
}

const ACTIONS: Record<string, string> = {
  "deployment.promote": "Promotion",
  "deployment.rollback": "Roll-back",
  "cache.rebuild": "Cache rebuild",
  "cache.invalidate": "Cache invalidation",
  "cache.delete_field": "Cache field deleted",
  "cache.sweep_repair": "Drift repaired by the sweep",
};

const VIA: Record<string, string> = {
  admin: "deployments page",
  "promote-api": "promote API",
  "deploy-webhook": "deploy webhook (promote: true)",
};

function record(value: unknown): Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

function text(value: unknown): string | null {
  return typeof value === "string" || typeof value === "number" ? String(value) : null;
}

function actorOf(details: Record<string, unknown>, userEmail: string | null): { who: string; kind: string } {
  const actor = record(details.actor);
  if (actor.kind === "api-key") return { who: `API key ${text(actor.key) ?? "?"}…`, kind: "api-key" };
  if (actor.kind === "signature") return { who: `webhook signature (${text(actor.scheme) ?? "v2"})`, kind: "signature" };
  if (actor.kind === "sweep") return { who: "current-hash sweep", kind: "sweep" };
  if (userEmail) return { who: userEmail, kind: "user" };
  return { who: "deleted user or script", kind: "system" };
}

function fromTo(action: string, details: Record<string, unknown>, target: string): { from: string | null; to: string | null } {
  if (action.startsWith("deployment.")) return { from: text(details.previousVersion) ?? "none", to: text(details.version) };
  if (action === "cache.rebuild") return { from: null, to: text(details.version) ? `version ${text(details.version)} (${text(details.fields) ?? "?"} fields)` : "cleared" };
  if (action === "cache.delete_field") return { from: `field ${text(details.field) ?? "?"}`, to: "deleted" };
  if (action === "cache.sweep_repair") {
    const fields = Number(details.fields ?? 0);
    return { from: details.ownerMismatch ? "another worker's hash" : `${fields} drifting field${fields === 1 ? "" : "s"}`, to: "rebuilt from Postgres" };
  }
  if (action === "cache.invalidate") return { from: target, to: "deleted" };
  return { from: null, to: null };
}

export function describeAuditEvent(row: AuditRow): AuditView {
  const details = record(row.details);
  const actor = actorOf(details, row.userEmail);
  const via = text(details.via);
  const how = via ? (VIA[via] ?? via) : actor.kind === "sweep" ? "background sweep" : row.action.startsWith("cache.") ? "environment cache page" : row.action.startsWith("deployment.") ? "deployments page" : "admin";
  return {
    what: ACTIONS[row.action] ?? row.action,
    who: actor.who,
    actorKind: actor.kind,
    ...fromTo(row.action, details, row.target),
    how,
    environmentId: text(details.environmentId),
  };
}
