import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateApiKey } from "~/domain/apiKeys";
import { upsertUser } from "~/models/user.server";
import { bearer, deployOverHttp, inProcess, overHttp } from "../support/apiClient";
import { startAppServer, type AppServer } from "../support/appServer";
import { createTestProject, type TestProject } from "../support/fixtures";
import { remixRequest } from "../support/remixApp";

/**
 * Issue 12, finding 11: HEAD answers wherever GET does on the API; an out-of-range SCAN cursor in
 * the cache browser is a 400, not "Redis unavailable"; a flood of distinct unknown API keys from
 * one address is refused (429) before Postgres once its lookup budget is spent.
 */

const BUDGET = 5;
let server: AppServer;
let project: TestProject;
let runId: string;

beforeAll(async () => {
  project = await createTestProject();
  // One trusted proxy, so that the test can speak from several addresses.
  server = await startAppServer({ API_KEY_LOOKUP_BUDGET: String(BUDGET), API_KEY_LOOKUP_WINDOW_SECONDS: "60", TRUST_PROXY_HOPS: "1" });
  await deployOverHttp(server.url, project.prod.apiKey, { version: "v1", tasks: [{ slug: "email" }] });
  const run = await overHttp(server.url, { path: "/api/v1/tasks/email/trigger", headers: bearer(project.prod.apiKey), body: {} });
  runId = run.body.id;
}, 120_000);

afterAll(async () => {
  await server?.stop();
});

describe("HEAD on the API", () => {
  it("HEAD /api/v1/runs/:id answers as GET does, without a body, in both lanes", async () => {
    const head = await fetch(`${server.url}/api/v1/runs/${runId}`, { method: "HEAD", headers: bearer(project.prod.apiKey) });
    const get = await fetch(`${server.url}/api/v1/runs/${runId}`, { headers: bearer(project.prod.apiKey) });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-type")).toBe(get.headers.get("content-type"));
    expect(await head.text()).toBe("");
    const inProc = await inProcess({ method: "HEAD", path: `/api/v1/runs/${runId}`, headers: bearer(project.prod.apiKey) });
    expect(inProc.status).toBe(200);
    const remix = await remixRequest(`/api/v1/runs/${runId}`, { method: "HEAD", headers: bearer(project.prod.apiKey) });
    expect(remix.status).toBe(200);
  });

  it("HEAD of an unknown run is the GET's 404; HEAD on a POST-only route is a 405 naming POST", async () => {
    expect((await fetch(`${server.url}/api/v1/runs/run_nope`, { method: "HEAD", headers: bearer(project.prod.apiKey) })).status).toBe(404);
    const refused = await fetch(`${server.url}/api/v1/tasks/email/trigger`, { method: "HEAD", headers: bearer(project.prod.apiKey) });
    expect(refused.status).toBe(405);
    expect(refused.headers.get("allow")).toBe("POST");
    const getOnly = await fetch(`${server.url}/api/v1/runs/${runId}`, { method: "POST", headers: bearer(project.prod.apiKey), body: "{}" });
    expect(getOnly.headers.get("allow")).toBe("GET, HEAD");
  });
});

describe("the cache browser's SCAN cursors", () => {
  it("an out-of-range cursor is a 400 naming the parameter, not a Redis error", async () => {
    const viewer = { email: "cursor-viewer@hotpath.test", password: "cursor viewer password" };
    await upsertUser({ ...viewer, role: "VIEWER" });
    const login = await remixRequest("/login", { method: "POST", body: new URLSearchParams(viewer), headers: { "Content-Type": "application/x-www-form-urlencoded" } });
    const cookie = login.headers.get("set-cookie")!.split(";")[0];
    for (const param of ["cursor", "wcursor"]) {
      const response = await remixRequest(`/admin/environments/${project.prod.id}/cache?${param}=99999999999999999999`, { headers: { Cookie: cookie } });
      expect(response.status, param).toBe(400);
      expect(await response.text(), param).toContain(`Query parameter '${param}': must be a SCAN cursor`);
    }
    const largest = await remixRequest(`/admin/environments/${project.prod.id}/cache?cursor=18446744073709551615`, { headers: { Cookie: cookie } });
    expect(largest.status).toBe(200);
  });
});

describe("the per-address budget of unknown-key lookups", () => {
  const from = (address: string, key: string) =>
    overHttp(server.url, { path: `/api/v1/runs/${runId}`, headers: { ...bearer(key), "X-Forwarded-For": address } });

  it(`after ${BUDGET} unknown keys from one address, further ones are a 429 with Retry-After; other addresses and cached keys are unaffected`, async () => {
    for (let i = 0; i < BUDGET; i++) expect((await from("203.0.113.7", generateApiKey("PRODUCTION"))).status).toBe(401);
    const refused = await from("203.0.113.7", generateApiKey("PRODUCTION"));
    expect(refused.status).toBe(429);
    expect(refused.body.error).toMatch(/Too many distinct unknown or uncached API keys/);
    expect(Number(refused.headers["retry-after"])).toBeGreaterThan(0);
    // A cached (known) key from the same address never spends the budget.
    expect((await from("203.0.113.7", project.prod.apiKey)).status).toBe(200);
    // Another address has its own budget.
    expect((await from("203.0.113.8", generateApiKey("PRODUCTION"))).status).toBe(401);
  });

  it("one key sent many times at once (a cold key under concurrency) counts once", async () => {
    const key = generateApiKey("PRODUCTION");
    const results = await Promise.all(Array.from({ length: 3 * BUDGET }, () => from("203.0.113.9", key)));
    expect(results.map((r) => r.status)).toEqual(Array(3 * BUDGET).fill(401));
  });
});
