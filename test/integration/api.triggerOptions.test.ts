import { beforeAll, describe, expect, it } from "vitest";
import { dbQueryCount, prisma } from "~/db.server";
import { bearer, inProcess, type ApiResult } from "../support/apiClient";
import { createTestProject, registerAndPromote, type TestProject } from "../support/fixtures";

/**
 * Every trigger option the SDK sends is stored with the run (issue 13 item 1), the warm trigger
 * stays one Postgres statement with all of them, and an idempotency key lives only for its TTL.
 */

process.env.TASK_META_CACHE_COMMAND_TIMEOUT_MS = "2000";

let project: TestProject;

beforeAll(async () => {
  project = await createTestProject();
  await registerAndPromote({ environmentId: project.prod.id, version: "v1", tasks: [{ slug: "email", queue: { name: "emails" }, ttl: "5m" }] });
});

function trigger(body: unknown, headers: Record<string, string> = {}): Promise<ApiResult> {
  return inProcess({ path: "/api/v1/tasks/email/trigger", headers: { ...bearer(project.prod.apiKey), ...headers }, body });
}

async function triggerOk(body: unknown, headers: Record<string, string> = {}) {
  const result = await trigger(body, headers);
  expect(result.status, JSON.stringify(result.body)).toBe(200);
  return result.body as { id: string; isCached: boolean };
}

const everyOption = (key: string) => ({
  queue: { name: "emails" },
  concurrencyKey: 42,
  idempotencyKey: key,
  idempotencyKeyTTL: "1h",
  delay: "5m",
  ttl: "10m",
  tags: ["a", "b"],
  metadata: { step: 1 },
  metadataType: "application/json",
  maxAttempts: 3,
  maxDuration: 90,
  machine: "small-2x",
  priority: 1.5,
  region: "eu-central-1",
  test: true,
  payloadType: "application/json",
});

const traceHeaders = {
  traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
  tracestate: "vendor=x",
  "trigger-version": "4.8.3",
  "x-trigger-client": "browser",
};

describe("every option is stored", () => {
  it("with the SDK's shapes, plus the tracing and client headers", async () => {
    const before = Date.now();
    const { id } = await triggerOk({ payload: '{"hello":"world"}', options: everyOption("stored-1") }, traceHeaders);
    const run = await prisma().taskRun.findUniqueOrThrow({ where: { friendlyId: id } });
    expect(run).toMatchObject({
      status: "DELAYED",
      queue: "emails",
      concurrencyKey: "42",
      idempotencyKey: "stored-1",
      ttl: "10m",
      tags: ["a", "b"],
      metadata: { step: 1 },
      metadataType: "application/json",
      maxAttempts: 3,
      maxDurationInSeconds: 90,
      machinePreset: "small-2x",
      priorityMs: 1500,
      region: "eu-central-1",
      isTest: true,
      payload: '{"hello":"world"}',
      payloadType: "application/json",
      traceparent: traceHeaders.traceparent,
      tracestate: "vendor=x",
      sdkVersion: "4.8.3",
      triggerClient: "browser",
    });
    expect(run.idempotencyKeyExpiresAt!.getTime() - run.createdAt.getTime()).toBe(3_600_000);
    expect(run.delayUntil!.getTime()).toBeGreaterThanOrEqual(before + 300_000);
    expect(run.expiresAt!.getTime() - run.delayUntil!.getTime()).toBe(600_000);
  });

  it("super+json payloads are stored as sent; other payload types are a 400 naming the field", async () => {
    const { id } = await triggerOk({ payload: '{"json":{"d":"x"},"meta":{}}', options: { payloadType: "application/super+json" } });
    expect(await prisma().taskRun.findUniqueOrThrow({ where: { friendlyId: id }, select: { payload: true, payloadType: true } })).toEqual({
      payload: '{"json":{"d":"x"},"meta":{}}',
      payloadType: "application/super+json",
    });
    const refused = await trigger({ payload: "x", options: { payloadType: "application/store" } });
    expect(refused.status).toBe(400);
    expect(JSON.stringify(refused.body)).toContain("options.payloadType");
  });

  it("a warm trigger with every option set costs exactly one Postgres statement", async () => {
    let n = 0;
    const call = async () => expect((await trigger({ payload: "{}", options: everyOption(`warm-${n++}`) }, traceHeaders)).status).toBe(200);
    const cost = async () => {
      const before = dbQueryCount();
      await call();
      return dbQueryCount() - before;
    };
    const deadline = Date.now() + 5_000;
    while ((await cost()) !== 1) if (Date.now() > deadline) throw new Error("still more than one statement after 5 s");
    for (let i = 0; i < 5; i++) expect(await cost()).toBe(1);
  });
});

describe("idempotency-key TTL", () => {
  it("within the TTL the key returns the same run; after it a new run starts and the old one keeps existing without the key", async () => {
    const first = await triggerOk({ options: { idempotencyKey: "ttl-1", idempotencyKeyTTL: "1h" } });
    expect(await triggerOk({ options: { idempotencyKey: "ttl-1" } })).toEqual({ id: first.id, isCached: true });

    // Age the key past its TTL.
    await prisma().taskRun.update({ where: { friendlyId: first.id }, data: { idempotencyKeyExpiresAt: new Date(Date.now() - 1000) } });
    const second = await triggerOk({ options: { idempotencyKey: "ttl-1" } });
    expect(second.isCached).toBe(false);
    expect(second.id).not.toBe(first.id);
    const old = await prisma().taskRun.findUniqueOrThrow({ where: { friendlyId: first.id }, select: { idempotencyKey: true } });
    expect(old.idempotencyKey).toBeNull();
    expect(await triggerOk({ options: { idempotencyKey: "ttl-1" } })).toEqual({ id: second.id, isCached: true });
  });

  it("the default TTL is 30 days; the idempotency-key-ttl header sets it too", async () => {
    const a = await triggerOk({ options: { idempotencyKey: "ttl-default" } });
    const b = await triggerOk({}, { "idempotency-key": "ttl-header", "idempotency-key-ttl": "2h" });
    const rows = await prisma().taskRun.findMany({
      where: { friendlyId: { in: [a.id, b.id] } },
      select: { friendlyId: true, createdAt: true, idempotencyKeyExpiresAt: true },
    });
    const ttl = (id: string) => {
      const row = rows.find((r) => r.friendlyId === id)!;
      return row.idempotencyKeyExpiresAt!.getTime() - row.createdAt.getTime();
    };
    expect(ttl(a.id)).toBe(30 * 86_400_000);
    expect(ttl(b.id)).toBe(2 * 3_600_000);
  });

  it("20 concurrent triggers after expiry create exactly one new run", async () => {
    const first = await triggerOk({ options: { idempotencyKey: "ttl-race" } });
    await prisma().taskRun.update({ where: { friendlyId: first.id }, data: { idempotencyKeyExpiresAt: new Date(Date.now() - 1000) } });
    const results = await Promise.all(Array.from({ length: 20 }, () => triggerOk({ options: { idempotencyKey: "ttl-race" } })));
    const ids = new Set(results.map((r) => r.id));
    expect(ids.size).toBe(1);
    expect(ids.has(first.id)).toBe(false);
    expect(results.filter((r) => !r.isCached)).toHaveLength(1);
  });
});

describe("concurrent updates of one run", () => {
  it("20 concurrent metadata increments and tag additions are all applied", async () => {
    const { id } = await triggerOk({ options: { metadata: { count: 0 } } });
    const put = (i: number) =>
      inProcess({ method: "PUT", path: `/api/v1/runs/${id}/metadata`, headers: bearer(project.prod.apiKey), body: { operations: [{ type: "increment", key: "count", value: 1 }, { type: "append", key: "seen", value: i }] } });
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => put(i)));
    expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
    const tagged = await Promise.all(Array.from({ length: 5 }, (_, i) => inProcess({ path: `/api/v1/runs/${id}/tags`, headers: bearer(project.prod.apiKey), body: { tags: [`t${i}`] } })));
    expect(tagged.map((r) => r.status)).toEqual(Array(5).fill(200));
    const run = await prisma().taskRun.findUniqueOrThrow({ where: { friendlyId: id }, select: { metadata: true, tags: true } });
    expect((run.metadata as { count: number }).count).toBe(20);
    expect((run.metadata as { seen: number[] }).seen).toHaveLength(20);
    expect([...run.tags].sort()).toEqual(["t0", "t1", "t2", "t3", "t4"]);
  });
});
