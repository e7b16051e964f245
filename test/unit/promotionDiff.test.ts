import { describe, expect, it } from "vitest";
import { describeAuditEvent } from "~/domain/auditView";
import { diffTasks, type DiffTask } from "~/domain/promotionDiff";

const task = (slug: string, over: Partial<DiffTask> = {}): DiffTask => ({ slug, queueName: `q-${slug}`, ttl: null, kind: "STANDARD", ...over });

describe("diffTasks", () => {
  it("lists added, removed and changed tasks (queue, TTL by duration, kind), sorted", () => {
    const diff = diffTasks(
      [task("b"), task("a", { ttl: "5m" }), task("gone"), task("k", { kind: "AGENT" })],
      [task("a", { ttl: "300" }), task("b", { queueName: "other" }), task("new"), task("k", { kind: "SCHEDULED", ttl: "1h" })],
    );
    expect(diff.added.map((t) => t.slug)).toEqual(["new"]);
    expect(diff.removed.map((t) => t.slug)).toEqual(["gone"]);
    expect(diff.changed).toEqual([
      { slug: "b", changes: [{ field: "queue", from: "q-b", to: "other" }] },
      { slug: "k", changes: [{ field: "ttl", from: null, to: "1h" }, { field: "kind", from: "AGENT", to: "SCHEDULED" }] },
    ]);
    expect(diff.unchanged).toBe(1);
  });

  it("from nothing current, every task is added", () => {
    expect(diffTasks([], [task("a")])).toMatchObject({ added: [{ slug: "a" }], removed: [], changed: [], unchanged: 0 });
  });
});

describe("describeAuditEvent", () => {
  it("names the actor: user, API key prefix, signature, sweep", () => {
    const base = { action: "deployment.promote", target: "environment/e1 version 2", userEmail: null };
    expect(describeAuditEvent({ ...base, userEmail: "a@b.c", details: { environmentId: "e1", version: "2", previousVersion: "1", via: "admin" } })).toMatchObject({
      who: "a@b.c",
      from: "1",
      to: "2",
      how: "deployments page",
      what: "Promotion",
    });
    expect(describeAuditEvent({ ...base, details: { version: "2", previousVersion: null, via: "promote-api", actor: { kind: "api-key", key: "tr_prod_abcd" } } })).toMatchObject({
      who: "API key tr_prod_abcd…",
      from: "none",
      how: "promote API",
    });
    expect(describeAuditEvent({ ...base, details: { via: "deploy-webhook", actor: { kind: "signature", scheme: "v2" } } }).who).toBe("webhook signature (v2)");
    expect(describeAuditEvent({ action: "cache.sweep_repair", target: "k", userEmail: null, details: { fields: 2, actor: { kind: "sweep" } } })).toMatchObject({
      who: "current-hash sweep",
      from: "2 drifting fields",
      to: "rebuilt from Postgres",
      how: "background sweep",
    });
  });
});
