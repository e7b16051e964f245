import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DATABASE_UNAVAILABLE } from "~/api/errors";
import { prisma } from "~/db.server";
import { upsertUser } from "~/models/user.server";
import { bearer, overHttp } from "../support/apiClient";
import { startAppServer, type AppServer } from "../support/appServer";
import { eventually } from "../support/cacheTesting";
import { startFaultProxy, type FaultProxy } from "../support/faultProxy";
import { createTestProject, registerAndPromote, type TestProject } from "../support/fixtures";
import { describeLatencies, latencyPercentile, runLoad, type CallRecord } from "../support/loadClient";

/**
 * Postgres goes away under a running production server and comes back, without the shared
 * Postgres being touched: the server reaches it through a fault proxy that the test switches to
 * "refuse" (the port closed, as when Postgres is stopped) and "hang" (connections accepted, never
 * answered), then back to "forward". Triggers answer 503 with a clear message and create nothing,
 * /healthz says postgres is down, admin pages show an error page, the process stays up, and
 * everything works again — same process — once Postgres is back.
 */

const ADMIN = { email: "outage-admin@hotpath.test", password: "outage admin password" };
let ADMIN_PAGES: string[] = [];
const PHASE_TOTAL = 300;
const CONCURRENCY = 10;
// pg's connect timeout in app/db.server.ts: a hung Postgres is given up on after this.
const CONNECT_TIMEOUT_MS = 3_000;

let proxy: FaultProxy;
let server: AppServer;
let project: TestProject;
let cookie: string;
const report: string[] = [];

function proxiedDatabaseUrl(): string {
  const url = new URL(process.env.DATABASE_URL!);
  url.hostname = "127.0.0.1";
  url.port = String(proxy.port);
  return url.toString();
}

beforeAll(async () => {
  const target = new URL(process.env.DATABASE_URL!);
  proxy = await startFaultProxy({ host: target.hostname, port: Number(target.port || 5432) });
  await upsertUser({ ...ADMIN, role: "ADMIN" });
  project = await createTestProject();
  await registerAndPromote({ environmentId: project.prod.id, version: "v1", tasks: [{ slug: "email", queue: { name: "emails" } }] });
  ADMIN_PAGES = ["/admin", "/admin/environments", "/admin/deployments", `/admin/runs?env=${project.prod.id}`, `/admin/environments/${project.prod.id}/cache`];
  // This file pins the behaviour with the trigger buffer off (TRIGGER_BUFFER_ENABLED=false): every
  // trigger is a 503. With it on, see triggerBuffer.test.ts and reliability.triggerBuffer.test.ts.
  server = await startAppServer({ DATABASE_URL: proxiedDatabaseUrl(), TRIGGER_BUFFER_ENABLED: "false" });
  const login = await fetch(`${server.url}/login`, {
    method: "POST",
    body: new URLSearchParams(ADMIN),
    headers: { Origin: server.url },
    redirect: "manual",
  });
  expect(login.status).toBe(302);
  cookie = login.headers.get("set-cookie")!.split(";")[0];
}, 120_000);

afterAll(async () => {
  console.log(`[reliability] Postgres outage (fault proxy)\n  ${report.join("\n  ")}`);
  await server?.stop();
  await proxy?.close();
});

const trigger = (key: string, i: number) => ({
  path: "/api/v1/tasks/email/trigger",
  headers: bearer(key),
  body: JSON.stringify({ payload: { i } }),
});

function phase(prefix: string) {
  return runLoad({
    baseUrl: server.url,
    total: PHASE_TOTAL,
    concurrency: CONCURRENCY,
    request: (i) => ({ ...trigger(project.prod.apiKey, i), headers: { ...bearer(project.prod.apiKey), "idempotency-key": `${prefix}-${i}` } }),
  });
}

const statuses = (calls: CallRecord[]) => [...new Set(calls.map((c) => c.status))].sort();
const runCount = () => prisma().taskRun.count({ where: { environmentId: project.prod.id } });

async function adminPage(path: string) {
  const response = await fetch(`${server.url}${path}`, { headers: { Cookie: cookie }, redirect: "manual" });
  return { status: response.status, html: await response.text() };
}

async function health() {
  const response = await fetch(`${server.url}/healthz`);
  return { status: response.status, body: await response.json() };
}

describe("Postgres stops and comes back under a running server", () => {
  let before: CallRecord[] = [];
  let during: CallRecord[] = [];
  let pid: number | undefined;

  it("before: triggers, /healthz and admin pages work", async () => {
    pid = server.process.pid;
    const run = await phase("before");
    before = run.calls;
    expect(statuses(before)).toEqual([200]);
    expect(await health()).toEqual({ status: 200, body: { postgres: "ok", redis: "ok" } });
    for (const path of ADMIN_PAGES) expect((await adminPage(path)).status, path).toBe(200);
    expect(await runCount()).toBe(PHASE_TOTAL);
    report.push(`before: ${describeLatencies(before)}`);
  }, 60_000);

  it("Postgres refusing connections: every trigger is a 503 with a clear message, and creates nothing", async () => {
    await proxy.setMode("refuse");
    const run = await phase("during");
    during = run.calls;
    expect(statuses(during)).toEqual([503]);
    for (const call of during) expect(JSON.parse(call.body)).toEqual({ error: DATABASE_UNAVAILABLE });
    report.push(`during (port closed): ${describeLatencies(during)}; ${during.filter((c) => c.status === 503).length} × 503`);
    // A key that is not in the key cache needs Postgres before anything else: also a 503.
    const fresh = await createTestProject().catch(() => null);
    expect(fresh, "this file's own Prisma client does not go through the proxy").not.toBeNull();
    const cold = await overHttp(server.url, { path: "/api/v1/tasks/email/trigger", headers: bearer(fresh!.prod.apiKey), body: {} });
    expect(cold).toMatchObject({ status: 503, body: { error: DATABASE_UNAVAILABLE } });
    // The SDK backs off and retries instead of failing its caller.
    expect(cold.headers).toMatchObject({ "retry-after": "1", "x-should-retry": "true" });
    expect(await runCount()).toBe(PHASE_TOTAL);
  }, 60_000);

  it("/healthz is 503 naming postgres; admin pages show an error page; the process stays up", async () => {
    const down = await health();
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ postgres: "down", redis: "ok", error: "postgres is down" });
    for (const path of ADMIN_PAGES) {
      const page = await adminPage(path);
      expect(page.status, path).toBe(503);
      expect(page.html, path).toMatch(/<html/i);
      expect(page.html, path).toContain("Postgres is unreachable");
      // No stack trace or connection details reach the browser.
      expect(page.html, path).not.toMatch(/ECONNREFUSED|at .+\.js:\d+|postgres(ql)?:\/\//);
    }
    report.push(`admin pages during the outage: ${(await adminPage("/admin")).status} with an error page ("Postgres is unreachable…")`);
    expect(server.process.exitCode).toBeNull();
    expect(server.process.pid).toBe(pid);
  }, 60_000);

  it("Postgres hanging (connections accepted, never answered): triggers are 503s within the connect timeout", async () => {
    await proxy.setMode("hang");
    const run = await runLoad({ baseUrl: server.url, total: 20, concurrency: CONCURRENCY, request: (i) => trigger(project.prod.apiKey, i) });
    expect(statuses(run.calls)).toEqual([503]);
    const slowest = Math.max(...run.calls.map((c) => c.latencyMs));
    expect(slowest, describeLatencies(run.calls)).toBeLessThan(CONNECT_TIMEOUT_MS * 2 + 1_000);
    report.push(`during (hung): ${describeLatencies(run.calls)}`);
    expect(server.process.exitCode).toBeNull();
  }, 60_000);

  it("Postgres back: the same process recovers by itself — triggers, /healthz and admin pages", async () => {
    await proxy.setMode("forward");
    const backAt = performance.now();
    await eventually(async () => (await overHttp(server.url, trigger(project.prod.apiKey, -1))).status === 200, {
      timeoutMs: 20_000,
      intervalMs: 100,
    });
    report.push(`first 200 ${(performance.now() - backAt).toFixed(0)} ms after Postgres came back`);
    const run = await phase("after");
    expect(statuses(run.calls)).toEqual([200]);
    expect((await health()).status).toBe(200);
    for (const path of ADMIN_PAGES) expect((await adminPage(path)).status, path).toBe(200);
    expect(server.process.pid).toBe(pid);
    expect(server.process.exitCode).toBeNull();

    // Nothing lost, nothing invented: the 200s of before and after (plus the one probe that
    // succeeded) are runs; none of the 503s is.
    const ok = before.length + run.calls.length + 1;
    expect(await runCount()).toBe(ok);
    report.push(`after: ${describeLatencies(run.calls)}`);
    report.push(
      `p99: before ${latencyPercentile(before, 0.99).toFixed(1)} ms, during ${latencyPercentile(during, 0.99).toFixed(1)} ms, ` +
        `after ${latencyPercentile(run.calls, 0.99).toFixed(1)} ms; runs in Postgres ${ok} for ${ok} 2xx answers (lost 0)`,
    );
  }, 60_000);
});
