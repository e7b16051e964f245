import { beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server";
import { displayPrefix } from "~/domain/apiKeys";
import { signatureHeader } from "~/services/webhookSignature.server";
import { bearer, inProcess, type ApiResult } from "../support/apiClient";
import { createTestProject, type TestProject } from "../support/fixtures";

/**
 * Safe promotions through the API: `?dryRun=1` answers the diff (tasks added, removed, changed;
 * PENDING_VERSION runs released; the last hour's triggers of removed tasks) and changes nothing;
 * a real promotion (the promote route, or the deploy webhook with `promote: true`) is audited with
 * the key's prefix or the signature as its actor.
 */

let project: TestProject;

const V1 = [
  { slug: "email", queue: { name: "emails" }, ttl: "5m" },
  { slug: "digest", queue: { name: "digests" }, triggerSource: "SCHEDULED" },
  { slug: "resize", queue: { name: "images" } },
  { slug: "legacy", queue: { name: "legacy" } },
];
const V2 = [
  { slug: "email", queue: { name: "emails-priority" }, ttl: 300 },
  { slug: "digest", queue: { name: "digests" }, triggerSource: "AGENT" },
  { slug: "resize", queue: { name: "images" } },
  { slug: "invoice", queue: { name: "billing" } },
];

function deploy(body: unknown): Promise<ApiResult> {
  return inProcess({ path: "/api/v1/deployments", headers: bearer(project.prod.apiKey), body });
}

function promote(version: string, query = ""): Promise<ApiResult> {
  return inProcess({ path: `/api/v1/deployments/${version}/promote${query}`, headers: bearer(project.prod.apiKey), body: {} });
}

async function currentVersion() {
  const promotion = await prisma().workerDeploymentPromotion.findFirst({ where: { environmentId: project.prod.id }, select: { worker: { select: { version: true } } } });
  return promotion?.worker.version ?? null;
}

beforeAll(async () => {
  project = await createTestProject();
  expect((await deploy({ version: "1.0.0", tasks: V1, promote: true })).status).toBe(200);
  expect((await deploy({ version: "2.0.0", tasks: V2 })).status).toBe(200);
  const now = Date.now();
  await prisma().taskRun.createMany({
    data: [
      // Waiting for a deploy of "invoice" (v2 has it) and of "ghost" (no version has it).
      ...Array.from({ length: 3 }, (_, i) => ({ friendlyId: `run_pv_inv${i}`, environmentId: project.prod.id, taskIdentifier: "invoice", queue: "task/invoice", status: "PENDING_VERSION" as const })),
      { friendlyId: "run_pv_ghost", environmentId: project.prod.id, taskIdentifier: "ghost", queue: "task/ghost", status: "PENDING_VERSION" as const },
      // "legacy" (removed by v2) triggered 4 times in the last hour and once two hours ago.
      ...Array.from({ length: 4 }, (_, i) => ({ friendlyId: `run_pv_leg${i}`, environmentId: project.prod.id, taskIdentifier: "legacy", queue: "legacy", status: "QUEUED" as const, createdAt: new Date(now - (i + 1) * 60_000) })),
      { friendlyId: "run_pv_legold", environmentId: project.prod.id, taskIdentifier: "legacy", queue: "legacy", status: "QUEUED" as const, createdAt: new Date(now - 2 * 3_600_000) },
    ],
  });
});

describe("POST /api/v1/deployments/:version/promote?dryRun=1", () => {
  it("answers the diff against the current version and changes nothing", async () => {
    const before = await prisma().auditEvent.count();
    const response = await promote("2.0.0", "?dryRun=1");
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    expect(response.body).toMatchObject({
      dryRun: true,
      environment: { id: project.prod.id, slug: "prod", type: "PRODUCTION" },
      from: { version: "1.0.0" },
      to: { version: "2.0.0" },
      kind: "promote",
      tasks: {
        added: [{ slug: "invoice", queueName: "billing" }],
        removed: [{ slug: "legacy", queueName: "legacy" }],
        // TTL "5m" and 300 seconds are the same TTL: only the queue of "email" changed.
        changed: [
          { slug: "digest", changes: [{ field: "kind", from: "SCHEDULED", to: "AGENT" }] },
          { slug: "email", changes: [{ field: "queue", from: "emails", to: "emails-priority" }] },
        ],
        unchanged: 1,
      },
      releasedRuns: { total: 3, byTask: [{ slug: "invoice", runs: 3 }] },
      removedTaskTriggers: { windowMinutes: 60, total: 4, byTask: [{ slug: "legacy", triggers: 4 }] },
    });
    expect(await currentVersion()).toBe("1.0.0");
    expect(await prisma().auditEvent.count()).toBe(before);
  });

  it("is a 404 for an unknown version, like the promotion itself", async () => {
    expect((await promote("9.9.9", "?dryRun=1")).status).toBe(404);
  });
});

describe("audited API promotions", () => {
  it("records the promote route's promotion and roll-back with the key's prefix as the actor", async () => {
    const promoted = await promote("2.0.0");
    expect(promoted.body).toMatchObject({ version: "2.0.0", previousVersion: "1.0.0", promoted: true, rollback: false });
    const rolledBack = await promote("1.0.0");
    expect(rolledBack.body).toMatchObject({ version: "1.0.0", previousVersion: "2.0.0", rollback: true });
    const rows = await prisma().auditEvent.findMany({
      where: { action: { startsWith: "deployment." }, target: { startsWith: `environment/${project.prod.id}` } },
      orderBy: { createdAt: "asc" },
      select: { action: true, userId: true, details: true },
    });
    expect(rows.slice(-2)).toEqual([
      { action: "deployment.promote", userId: null, details: expect.objectContaining({ version: "2.0.0", previousVersion: "1.0.0", via: "promote-api", actor: { kind: "api-key", key: displayPrefix(project.prod.apiKey) } }) },
      { action: "deployment.rollback", userId: null, details: expect.objectContaining({ version: "1.0.0", previousVersion: "2.0.0", via: "promote-api" }) },
    ]);
    expect(JSON.stringify(rows)).not.toContain(project.prod.apiKey);
  });

  it("records a signed deploy webhook's promotion with the signature as the actor", async () => {
    const other = await createTestProject();
    const raw = JSON.stringify({ environment: "prod", project: other.projectSlug, version: "s1", tasks: V1, promote: true });
    const response = await inProcess({
      path: "/api/v1/deployments",
      headers: { "x-hotpath-signature": signatureHeader(other.webhookSecret, { method: "POST", target: "/api/v1/deployments", body: raw }) },
      body: raw,
    });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    const row = await prisma().auditEvent.findFirstOrThrow({ where: { target: `environment/${other.prod.id} version s1` }, select: { action: true, details: true } });
    expect(row).toEqual({ action: "deployment.promote", details: expect.objectContaining({ via: "deploy-webhook", previousVersion: null, actor: { kind: "signature", scheme: "v2" } }) });
  });
});
