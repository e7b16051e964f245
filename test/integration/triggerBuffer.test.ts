import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server";
import { upsertUser } from "~/models/user.server";
import { NO_PERSISTENCE_WARNING } from "~/services/triggerBuffer/durability.server";
import { DATABASE_AND_REDIS_DOWN } from "~/services/apiKeyAuth.server";
import { BUFFER_FULL, BUFFER_REDIS_DOWN, METADATA_NOT_CACHED } from "~/services/triggerBuffer/buffer.server";
import { bearer, overHttp } from "../support/apiClient";
import { startAppServer, type AppServer } from "../support/appServer";
import { eventually, testRedis } from "../support/cacheTesting";
import { startFaultProxy, type FaultProxy } from "../support/faultProxy";
import { createTestProject, registerAndPromote, type TestProject } from "../support/fixtures";

/**
 * The trigger buffer's rules, one by one, through the production server with Postgres (and, for
 * one rule, the general Redis) behind fault proxies: buffered while Postgres is cut, answered by
 * id from the buffer, idempotent across the cut, drained exactly once when Postgres is back, and
 * refused with a 503 that says why when it cannot be buffered.
 */

const METRICS_TOKEN = "buffer-metrics-token";
const ADMIN = { email: "buffer-admin@hotpath.test", password: "buffer admin password" };
let pgProxy: FaultProxy;
let redisProxy: FaultProxy;
let server: AppServer;
let project: TestProject;
const report: string[] = [];

function viaProxy(url: string, proxy: FaultProxy): string {
  const parsed = new URL(url);
  parsed.hostname = "127.0.0.1";
  parsed.port = String(proxy.port);
  return parsed.toString();
}

beforeAll(async () => {
  const pgTarget = new URL(process.env.DATABASE_URL!);
  pgProxy = await startFaultProxy({ host: pgTarget.hostname, port: Number(pgTarget.port || 5432) });
  const redisTarget = new URL(process.env.REDIS_URL!);
  redisProxy = await startFaultProxy({ host: redisTarget.hostname, port: Number(redisTarget.port || 6379) });
  await upsertUser({ ...ADMIN, role: "ADMIN" });
  project = await createTestProject();
  await registerAndPromote({ environmentId: project.prod.id, version: "v1", tasks: [{ slug: "email", queue: { name: "emails" } }] });
  server = await startAppServer({
    DATABASE_URL: viaProxy(process.env.DATABASE_URL!, pgProxy),
    // The general Redis (the buffer's) through its own proxy; the cache Redis direct.
    REDIS_URL: viaProxy(process.env.REDIS_URL!, redisProxy),
    TASK_META_CACHE_REDIS_URL: process.env.REDIS_URL!,
    API_KEY_CACHE_L1_TTL_MS: "600000",
    TRIGGER_BUFFER_MAX: "50",
    METRICS_TOKEN: METRICS_TOKEN,
    // The buffered-mode log lines are part of what this file checks.
    LOG_LEVEL: "info",
    TRIGGER_BUFFER_SHARDS: "1",
  });
}, 120_000);

afterAll(async () => {
  console.log(`[trigger buffer]\n  ${report.join("\n  ")}`);
  await server?.stop();
  await pgProxy?.close();
  await redisProxy?.close();
});

const trigger = (task: string, options: { key?: string; payload?: unknown } = {}) =>
  overHttp(server.url, {
    path: `/api/v1/tasks/${task}/trigger`,
    headers: { ...bearer(project.prod.apiKey), ...(options.key ? { "idempotency-key": options.key } : {}) },
    body: { payload: options.payload ?? { hello: "world" } },
  });
const get = (path: string) => overHttp(server.url, { path, headers: bearer(project.prod.apiKey) });
const runsWithIds = (ids: string[]) => prisma().taskRun.findMany({ where: { friendlyId: { in: ids } } });

describe("the trigger buffer rides out a Postgres outage", () => {
  const buffered: string[] = [];
  let keyedId = "";
  let beforeOutageId = "";
  let aliasId = "";

  it("before the cut: normal inserts, no buffer header", async () => {
    const first = await trigger("email");
    expect(first.status).toBe(200);
    expect(first.headers["x-hotpath-buffered"]).toBeUndefined();
    const before = await trigger("email", { key: "existed-before" });
    expect(before.status).toBe(200);
    beforeOutageId = before.body.id;
  });

  it("Postgres cut: a cached task is buffered, answered 200 with its id, readable by id", async () => {
    await pgProxy.setMode("refuse");
    const response = await trigger("email", { payload: { n: 1 } });
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    expect(response.headers["x-hotpath-buffered"]).toBe("1");
    expect(response.body).toMatchObject({ id: expect.stringMatching(/^run_/), isCached: false });
    buffered.push(response.body.id);

    const v1 = await get(`/api/v1/runs/${response.body.id}`);
    expect(v1.status).toBe(200);
    expect(v1.body).toMatchObject({ id: response.body.id, queue: "emails", status: "QUEUED", payload: { n: 1 } });
    const v3 = await get(`/api/v3/runs/${response.body.id}`);
    expect(v3.status).toBe(200);
    expect(v3.body).toMatchObject({ id: response.body.id, status: "QUEUED" });
  });

  it("idempotency during the cut: the repeat gets the same id, isCached", async () => {
    const first = await trigger("email", { key: "during-cut" });
    const repeat = await trigger("email", { key: "during-cut" });
    expect(first.status).toBe(200);
    expect(repeat.body).toEqual({ id: first.body.id, isCached: true });
    keyedId = first.body.id;
    buffered.push(keyedId);
  });

  it("a key that already had a run before the cut: buffered under a new id (the claim cannot know)", async () => {
    const repeat = await trigger("email", { key: "existed-before" });
    expect(repeat.status).toBe(200);
    expect(repeat.body.id).not.toBe(beforeOutageId);
    aliasId = repeat.body.id;
  });

  it("metadata not cached during the cut: 503 naming the cause", async () => {
    const response = await trigger("never-registered");
    expect(response.status).toBe(503);
    expect(response.body).toEqual({ error: METADATA_NOT_CACHED });
  });

  it("buffer full: 503 with Retry-After", async () => {
    const results = [];
    for (let i = 0; i < 60; i++) results.push(await trigger("email", { payload: { fill: i } }));
    const accepted = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status === 503);
    expect(accepted.length + refused.length).toBe(60);
    // 50 per stream, three already in it.
    expect(accepted.length).toBe(47);
    expect(refused[0].body).toEqual({ error: BUFFER_FULL });
    expect(refused[0].headers["retry-after"]).toBe("5");
    buffered.push(...accepted.map((r) => r.body.id));
  }, 30_000);

  it("visible while buffering: /metrics gauges and counters, /healthz persistence warning", async () => {
    const metrics = await fetch(`${server.url}/metrics`, { headers: { Authorization: `Bearer ${METRICS_TOKEN}` } }).then((r) => r.text());
    expect(metrics).toMatch(/^hotpath_trigger_buffer_depth 50$/m);
    expect(metrics).toMatch(/^hotpath_trigger_buffer_oldest_age_seconds \d/m);
    expect(metrics).toMatch(/^hotpath_trigger_buffer_buffered_total 50$/m);
    expect(metrics).toMatch(/^hotpath_trigger_buffer_rejected_total\{reason="full"\} 13$/m);
    expect(metrics).toMatch(/^hotpath_trigger_buffer_rejected_total\{reason="not_cached"\} 1$/m);
    const health = await fetch(`${server.url}/healthz`).then((r) => r.json());
    const probe = testRedis();
    const aof = /aof_enabled:1/.test(await probe.info("persistence"));
    await probe.quit();
    expect(health.warnings).toEqual(aof ? undefined : [NO_PERSISTENCE_WARNING]);
    expect(server.output()).toContain("entering buffered mode");
  });

  it("Redis down too: 503 naming both", async () => {
    await redisProxy.setMode("refuse");
    const response = await trigger("email");
    expect(response.status).toBe(503);
    // The buffer's append fails, or — once the API-key tier has dropped its entries because its
    // revocation channel went with Redis — authentication finds neither store: both name Redis.
    expect([BUFFER_REDIS_DOWN, DATABASE_AND_REDIS_DOWN]).toContain(response.body.error);
    await redisProxy.setMode("forward");
  });

  it("Postgres back: the first buffered run is in Postgres within 1 s, every one exactly once", async () => {
    const backAt = performance.now();
    await pgProxy.setMode("forward");
    await eventually(async () => (await runsWithIds([buffered[0]])).length === 1, { timeoutMs: 1_000, intervalMs: 10 });
    report.push(`first buffered run in Postgres ${(performance.now() - backAt).toFixed(0)} ms after Postgres came back`);
    await eventually(async () => (await runsWithIds(buffered)).length === buffered.length, { timeoutMs: 10_000, intervalMs: 50 });
    report.push(`all ${buffered.length} buffered runs drained ${(performance.now() - backAt).toFixed(0)} ms after`);
    const rows = await runsWithIds(buffered);
    expect(new Set(rows.map((r) => r.friendlyId)).size).toBe(buffered.length);
    const first = rows.find((r) => r.friendlyId === buffered[0])!;
    expect(first).toMatchObject({ queue: "emails", status: "QUEUED", payload: { n: 1 } });
  }, 30_000);

  it("after the drain: the keyed run is found in Postgres, one run per key; the pre-existing key's buffered id is an alias", async () => {
    const repeat = await trigger("email", { key: "during-cut" });
    expect(repeat.body).toEqual({ id: keyedId, isCached: true });
    expect(await prisma().taskRun.count({ where: { environmentId: project.prod.id, idempotencyKey: "during-cut" } })).toBe(1);
    expect(await prisma().taskRun.count({ where: { environmentId: project.prod.id, idempotencyKey: "existed-before" } })).toBe(1);
    await eventually(async () => (await prisma().taskRunAlias.count({ where: { friendlyId: aliasId } })) === 1, { timeoutMs: 5_000 });
    const viaAlias = await get(`/api/v3/runs/${aliasId}`);
    expect(viaAlias.status).toBe(200);
    expect(viaAlias.body.id).toBe(beforeOutageId);
    expect((await get(`/api/v1/runs/${aliasId}`)).body.id).toBe(beforeOutageId);
    await eventually(() => server.output().includes("leaving buffered mode"), { timeoutMs: 5_000 });
  }, 30_000);

  it("the admin overview shows depth, oldest entry and drain rate", async () => {
    const login = await fetch(`${server.url}/login`, { method: "POST", body: new URLSearchParams(ADMIN), headers: { Origin: server.url }, redirect: "manual" });
    const cookie = login.headers.get("set-cookie")!.split(";")[0];
    const html = await fetch(`${server.url}/admin`, { headers: { Cookie: cookie } }).then((r) => r.text());
    expect(html).toContain('data-testid="trigger-buffer"');
    expect(html).toMatch(/Buffered runs/);
    expect(html).toMatch(/Drain rate/);
    // 49 runs drained this minute: the rate is above zero.
    expect(html).toMatch(/[1-9][0-9.]*\/s/);
  });
});
