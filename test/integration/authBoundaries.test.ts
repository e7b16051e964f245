import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server";
import { generateApiKey } from "~/domain/apiKeys";
import { upsertUser } from "~/models/user.server";
import { keyPrefix, redis } from "~/redis.server";
import { rotateApiKey } from "~/services/credentials.server";
import { disconnectTaskMetadataCacheAdmin, taskMetadataCacheAdmin } from "~/services/taskMetadata/index.server";
import { bearer, overHttp, type ApiCall, type ApiResult } from "../support/apiClient";
import { MAX_ADDRESS_FAILURES, MAX_FAILURES } from "~/services/auth.server";
import { startAppServer, type AppServer } from "../support/appServer";
import { createTestProject, type TestProject } from "../support/fixtures";
import { remixRequest } from "../support/remixApp";

/**
 * Who may do what, route by route (docs/security.md). Complements, without repeating, the tests
 * that already pin single cases: api.lanes (missing/malformed/unknown key on the trigger),
 * api.credentials (rotation of a warm key on the trigger), api.deployments (webhook signatures:
 * wrong secret, stale, replayed, tampered; cross-environment deploys), auth.test (login, cookie
 * flags through Remix, the four main admin pages and three actions, login throttle).
 *
 * Here: every API route against every kind of bad credential, over the production server's lean
 * lane; every admin route file found in app/routes (so a new page is covered the day it is added)
 * without a session, as VIEWER and cross-origin, with the state checked to be unchanged; the
 * cookie flags and the login throttle through the production server.
 */

const ADMIN = { email: "boundary-admin@hotpath.test", password: "boundary admin password" };
const VIEWER = { email: "boundary-viewer@hotpath.test", password: "boundary viewer password" };
const V1_TASKS = [{ slug: "email", queue: { name: "emails" }, ttl: "5m" }];
const V2_TASKS = [{ slug: "email", queue: { name: "emails-v2" } }];

let server: AppServer;
let project: TestProject;
let other: TestProject;
let revokedKey: string;
let prodKey: string;
let prodRunId: string;
let workerId: string;

beforeAll(async () => {
  project = await createTestProject();
  other = await createTestProject();
  await upsertUser({ ...ADMIN, role: "ADMIN" });
  await upsertUser({ ...VIEWER, role: "VIEWER" });
  // One proxy in front, as in a typical deployment: the login throttle believes one X-Forwarded-For hop.
  server = await startAppServer({ TRUST_PROXY_HOPS: "1" });
  const call = (c: ApiCall) => overHttp(server.url, c);
  expect((await call({ path: "/api/v1/deployments", headers: bearer(project.prod.apiKey), body: { version: "v1", tasks: V1_TASKS, promote: true } })).status).toBe(200);
  const v2 = await call({ path: "/api/v1/deployments", headers: bearer(project.prod.apiKey), body: { version: "v2", tasks: V2_TASKS } });
  expect(v2.status).toBe(200);
  workerId = v2.body.workerId;
  // The key is warm in the server's key cache when it is rotated: revocation must still be instant.
  const run = await call({ path: "/api/v1/tasks/email/trigger", headers: bearer(project.prod.apiKey), body: {} });
  expect(run.status).toBe(200);
  prodRunId = run.body.id;
  revokedKey = project.prod.apiKey;
  prodKey = (await rotateApiKey(project.prod.id)).apiKey;
}, 120_000);

afterAll(async () => {
  await server?.stop();
  await disconnectTaskMetadataCacheAdmin();
});

/* ─────────────────────────────── API keys ─────────────────────────────── */

interface ApiRoute {
  name: string;
  call: (authorization: string | undefined) => ApiCall;
}

const withAuth = (authorization: string | undefined): Record<string, string> => (authorization === undefined ? {} : { authorization });

const API_ROUTES: ApiRoute[] = [
  { name: "POST /api/v1/tasks/:taskId/trigger", call: (a) => ({ path: "/api/v1/tasks/email/trigger", headers: withAuth(a), body: {} }) },
  { name: "GET /api/v1/runs/:runId", call: (a) => ({ path: `/api/v1/runs/${prodRunId}`, headers: withAuth(a) }) },
  // Re-sending v1 unchanged and promoting the current version are harmless 200s for a valid key.
  { name: "POST /api/v1/deployments", call: (a) => ({ path: "/api/v1/deployments", headers: withAuth(a), body: { version: "v1", tasks: V1_TASKS } }) },
  { name: "POST /api/v1/deployments/:version/promote", call: (a) => ({ path: "/api/v1/deployments/v1/promote", headers: withAuth(a), body: {} }) },
];

const BAD_CREDENTIALS: { name: string; authorization: () => string | undefined; error: RegExp }[] = [
  { name: "no Authorization header", authorization: () => undefined, error: /^Missing API key/ },
  { name: "an empty header", authorization: () => "", error: /^Missing API key/ },
  { name: "another scheme (Basic)", authorization: () => "Basic dXNlcjpwYXNz", error: /^Missing API key/ },
  { name: "'Bearer' without a token", authorization: () => "Bearer", error: /^Missing API key/ },
  { name: "a token followed by junk", authorization: () => `Bearer ${prodKey} junk`, error: /^Missing API key/ },
  { name: "a malformed key", authorization: () => "Bearer not-a-key", error: /^Invalid API key$/ },
  { name: "a key of the right shape that was never issued", authorization: () => `Bearer ${generateApiKey("PRODUCTION")}`, error: /^Invalid API key$/ },
  { name: "the key revoked by rotation (warm in the server's cache)", authorization: () => `Bearer ${revokedKey}`, error: /^Invalid API key$/ },
  { name: "a prod key with its type prefix changed", authorization: () => `Bearer ${prodKey.replace("tr_prod_", "tr_dev_")}`, error: /^Invalid API key$/ },
];

/** What a refused request must not have changed in the prod environment. */
async function prodState() {
  const [runs, workers, current] = await Promise.all([
    prisma().taskRun.count({ where: { environmentId: project.prod.id } }),
    prisma().backgroundWorker.count({ where: { environmentId: project.prod.id } }),
    prisma().workerDeploymentPromotion.findFirst({ where: { environmentId: project.prod.id }, select: { worker: { select: { version: true } } } }),
  ]);
  return { runs, workers, current: current?.worker.version ?? null };
}

function expectErrorShape(result: ApiResult) {
  expect(result.headers["content-type"]).toBe("application/json; charset=utf-8");
  expect(typeof result.body.error).toBe("string");
  expect(Object.keys(result.body).every((k) => k === "error" || k === "details")).toBe(true);
}

describe("API routes refuse every kind of bad key (lean lane, production server)", () => {
  for (const route of API_ROUTES) {
    it(`${route.name}: 401 for each bad credential, 200 for the rotated key; nothing changes`, async () => {
      const before = await prodState();
      for (const credential of BAD_CREDENTIALS) {
        const result = await overHttp(server.url, route.call(credential.authorization()));
        expect(result.status, credential.name).toBe(401);
        expectErrorShape(result);
        expect(result.body.error, credential.name).toMatch(credential.error);
      }
      expect(await prodState()).toEqual(before);
      const ok = await overHttp(server.url, route.call(`Bearer ${prodKey}`));
      expect(ok.status, JSON.stringify(ok.body)).toBe(200);
    });
  }
});

describe("a valid key of another environment or project reaches nothing of this one", () => {
  const keys = () => [
    { name: "this project's dev key", key: project.dev.apiKey },
    { name: "another project's prod key", key: other.prod.apiKey },
  ];

  it("reading a prod run: 404, exactly like an unknown run", async () => {
    for (const { name, key } of keys()) {
      const result = await overHttp(server.url, { path: `/api/v1/runs/${prodRunId}`, headers: bearer(key) });
      expect(result.status, name).toBe(404);
      expect(result.body).toEqual({ error: `Run '${prodRunId}' not found` });
    }
  });

  it("deploying to or promoting in prod: 404 for the dev key; the other project's key only touches its own prod", async () => {
    const before = await prodState();
    const devDeploy = await overHttp(server.url, { path: "/api/v1/deployments", headers: bearer(project.dev.apiKey), body: { environment: "prod", version: "v9", tasks: [] } });
    expect(devDeploy.status).toBe(404);
    const devPromote = await overHttp(server.url, { path: "/api/v1/deployments/v2/promote", headers: bearer(project.dev.apiKey), body: { environment: "prod" } });
    expect(devPromote.status).toBe(404);
    // Same slug "prod", other project: the key decides, so this is the other project's prod.
    const otherPromote = await overHttp(server.url, { path: "/api/v1/deployments/v2/promote", headers: bearer(other.prod.apiKey), body: { environment: "prod" } });
    expect(otherPromote).toMatchObject({ status: 404, body: { error: expect.stringContaining("v2") } });
    const otherDeploy = await overHttp(server.url, { path: "/api/v1/deployments", headers: bearer(other.prod.apiKey), body: { environment: "prod", version: "v9", tasks: [] } });
    expect(otherDeploy.status).toBe(200);
    expect(await prisma().backgroundWorker.count({ where: { environmentId: other.prod.id, version: "v9" } })).toBe(1);
    expect(await prodState()).toEqual(before);
  });

  it("triggering: the run is created in the key's own environment, never in prod", async () => {
    const before = await prodState();
    for (const { name, key } of keys()) {
      const result = await overHttp(server.url, { path: "/api/v1/tasks/email/trigger", headers: bearer(key), body: {} });
      expect(result.status, name).toBe(200);
      const run = await prisma().taskRun.findUniqueOrThrow({ where: { friendlyId: result.body.id }, select: { environmentId: true } });
      expect(run.environmentId, name).not.toBe(project.prod.id);
    }
    expect(await prodState()).toEqual(before);
  });
});

/* ─────────────────────────────── admin ─────────────────────────────── */

interface AdminRoute {
  file: string;
  url: string;
  /** The URL a POST must use: index routes need `?index`. */
  actionUrl: string;
  hasAction: boolean;
}

/** Every admin route module (Remix flat routes) with its URL; params filled with real ids. */
function adminRoutes(): AdminRoute[] {
  const dir = path.resolve(import.meta.dirname, "../../app/routes");
  return readdirSync(dir)
    .filter((file) => /^admin\..+\.tsx$/.test(file))
    .map((file) => {
      const segments = file.replace(/\.tsx$/, "").split(".");
      const index = segments.at(-1) === "_index";
      const url = `/${segments
        .filter((s) => s !== "_index")
        .map((s) => s.replace(/_$/, ""))
        .map((s) => (s === "$envId" ? project.prod.id : s === "$workerId" ? workerId : s === "$runId" ? prodRunId : s))
        .join("/")}`;
      const source = readFileSync(path.join(dir, file), "utf8");
      return { file, url, actionUrl: index ? `${url}?index` : url, hasAction: /export (async function|const) action\b/.test(source) };
    });
}

async function cookieFor(user: { email: string; password: string }): Promise<string> {
  const response = await remixRequest("/login", {
    method: "POST",
    body: new URLSearchParams(user),
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
  });
  expect(response.status).toBe(302);
  return response.headers.get("set-cookie")!.split(";")[0];
}

/** A form each action would accept from an ADMIN (confirmed), so that a refusal is the guard's doing. */
function validForm(route: AdminRoute): Record<string, string> {
  if (route.file === "admin.deployments.tsx") return { intent: "promote", environmentId: project.prod.id, version: "v2", confirmTarget: "v2", typedConfirmation: "v2" };
  if (route.file === "admin.environments.$envId.cache.tsx") {
    return { intent: "invalidate", confirmTarget: taskMetadataCacheAdmin().keys(project.prod.id).current };
  }
  return { intent: "anything" };
}

const postForm = (url: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
  remixRequest(url, { method: "POST", body: new URLSearchParams(fields), headers: { "Content-Type": "application/x-www-form-urlencoded", ...headers } });

async function adminState() {
  const currentHash = taskMetadataCacheAdmin().keys(project.prod.id).current;
  return {
    ...(await prodState()),
    audits: await prisma().auditEvent.count(),
    currentHashExists: await redis().exists(currentHash),
  };
}

describe("admin routes: every route file in app/routes", () => {
  let viewer: string;
  let admin: string;

  beforeAll(async () => {
    viewer = await cookieFor(VIEWER);
    admin = await cookieFor(ADMIN);
    expect(adminRoutes().map((r) => `${r.file} → ${r.url}`)).toEqual(
      expect.arrayContaining([
        "admin._index.tsx → /admin",
        "admin.deployments.tsx → /admin/deployments",
        `admin.environments.$envId.cache.tsx → /admin/environments/${project.prod.id}/cache`,
        `admin.environments.$envId.cache_.workers.$workerId.tsx → /admin/environments/${project.prod.id}/cache/workers/${workerId}`,
        "admin.runs.tsx → /admin/runs",
        `admin.runs_.$runId.tsx → /admin/runs/${prodRunId}`,
      ]),
    );
    expect(await redis().exists(taskMetadataCacheAdmin().keys(project.prod.id).current)).toBe(1);
    expect(keyPrefix()).toBe(process.env.REDIS_KEY_PREFIX);
  });

  it("pages: without a session → /login (with redirectTo); as VIEWER → 200", async () => {
    for (const route of adminRoutes()) {
      const url = `${route.url}?env=${project.prod.id}`;
      const anonymous = await remixRequest(url);
      expect(anonymous.status, route.file).toBe(302);
      expect(anonymous.headers.get("location"), route.file).toBe(`/login?${new URLSearchParams({ redirectTo: url })}`);
      const asViewer = await remixRequest(url, { headers: { Cookie: viewer } });
      expect(asViewer.status, route.file).toBe(200);
    }
  });

  it("actions refuse, and change nothing: no session → /login, VIEWER → 403, ADMIN cross-origin → 403", async () => {
    const actions = adminRoutes().filter((r) => r.hasAction);
    expect(actions.map((r) => r.file)).toEqual(expect.arrayContaining(["admin.deployments.tsx", "admin.environments.$envId.cache.tsx"]));
    const before = await adminState();
    for (const route of actions) {
      const form = validForm(route);
      const anonymous = await postForm(route.actionUrl, form);
      expect(anonymous.status, route.file).toBe(302);
      expect(anonymous.headers.get("location"), route.file).toMatch(/^\/login\?redirectTo=/);

      const asViewer = await postForm(route.actionUrl, form, { Cookie: viewer });
      expect(asViewer.status, route.file).toBe(403);
      expect(await asViewer.text(), route.file).toContain("needs the ADMIN role");

      // A fetcher / client-side submission (single fetch: `<path>.data`) from another site, with the admin's cookie.
      const [pathname, query] = route.actionUrl.split("?");
      const dataUrl = `${pathname}.data${query ? `?${query}` : ""}`;
      // Remix's own CSRF check stops it before route code in-process; the production server answers 403.
      const crossOrigin = await fetch(`${server.url}${dataUrl}`, {
        method: "POST",
        body: new URLSearchParams(form),
        headers: { "Content-Type": "application/x-www-form-urlencoded", Cookie: admin, Origin: "https://evil.example" },
        redirect: "manual",
      });
      expect(crossOrigin.status, route.file).toBe(403);
      expect(await crossOrigin.text(), route.file).toContain("Cross-origin");
    }
    expect(await adminState()).toEqual(before);
  });

  it("a document POST from another site is refused by the production server (403), the same form from this site works", async () => {
    const before = await adminState();
    const deployments = adminRoutes().find((r) => r.file === "admin.deployments.tsx")!;
    const post = (origin: string) =>
      fetch(`${server.url}${deployments.actionUrl}`, {
        method: "POST",
        body: new URLSearchParams(validForm(deployments)),
        headers: { Cookie: admin, Origin: origin },
        redirect: "manual",
      });
    const refused = await post("https://evil.example");
    expect(refused.status).toBe(403);
    expect(await refused.text()).toContain("Cross-origin form submission refused");
    expect(await adminState()).toEqual(before);

    // The positive control: the same confirmed form, same-origin, promotes v2 and is audited.
    const accepted = await post(server.url);
    expect(accepted.status).toBe(302);
    expect((await prodState()).current).toBe("v2");
    expect(await prisma().auditEvent.count()).toBe(before.audits + 1);
  });
});

/* ─────────────────────────────── session cookie and login throttle ─────────────────────────────── */

describe("the session cookie and the login throttle through the production server", () => {
  const login = (user: { email: string; password: string }, headers: Record<string, string> = {}) =>
    fetch(`${server.url}/login`, { method: "POST", body: new URLSearchParams(user), headers: { Origin: server.url, ...headers }, redirect: "manual" });

  it("the cookie is HttpOnly and SameSite=Lax; Secure only when the proxy says the request came over https", async () => {
    const plain = (await login(ADMIN)).headers.get("set-cookie")!;
    expect(plain).toMatch(/HttpOnly/i);
    expect(plain).toMatch(/SameSite=Lax/i);
    expect(plain).not.toMatch(/;\s*Secure/i);
    const https = (await login(ADMIN, { "X-Forwarded-Proto": "https" })).headers.get("set-cookie")!;
    expect(https).toMatch(/;\s*Secure/i);
    expect(https).toMatch(/HttpOnly/i);
    expect(https).toMatch(/SameSite=Lax/i);
  });

  it("failures count across app instances: 3 on the server and 2 in this process, then both refuse (429)", async () => {
    const user = { email: "boundary-throttled@hotpath.test", password: "the right password" };
    await upsertUser({ ...user, role: "VIEWER" });
    for (let i = 0; i < 3; i++) expect((await login({ ...user, password: `wrong ${i}` })).status).toBe(422);
    for (let i = 0; i < 2; i++) expect((await postForm("/login", { ...user, password: `wrong ${i}` })).status).toBe(422);
    const refused = await login(user);
    expect(refused.status).toBe(429);
    expect(refused.headers.get("set-cookie")).toBeNull();
    expect((await postForm("/login", user)).status).toBe(429);
  });

  it("failures from one address do not lock the same email out from another address", async () => {
    const user = { email: "targeted-admin@hotpath.test", password: "the right password" };
    await upsertUser({ ...user, role: "ADMIN" });
    const attacker = { "X-Forwarded-For": "203.0.113.7" };
    for (let i = 0; i < MAX_FAILURES; i++) expect((await login({ ...user, password: `guess ${i}` }, attacker)).status).toBe(422);
    const blocked = await login(user, attacker);
    expect(blocked.status).toBe(429);
    expect(await blocked.text()).toContain("Too many failed sign-in attempts for this email.");

    const owner = await login(user, { "X-Forwarded-For": "198.51.100.20" });
    expect(owner.status).toBe(302);
    expect(owner.headers.get("set-cookie")).toMatch(/__hotpath_session=/);
  });

  it(`one address failing on many emails is refused after ${MAX_ADDRESS_FAILURES} failures, whatever the email`, async () => {
    const sprayer = { "X-Forwarded-For": "203.0.113.99" };
    for (let i = 0; i < MAX_ADDRESS_FAILURES; i++) {
      expect((await login({ email: `nobody-${i}@hotpath.test`, password: "password1" }, sprayer)).status).toBe(422);
    }
    const refused = await login(ADMIN, sprayer);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(await refused.text()).toContain("Too many failed sign-in attempts from this network address.");
    // Another address is not affected.
    expect((await login(ADMIN, { "X-Forwarded-For": "198.51.100.21" })).status).toBe(302);
  }, 60_000);

  it("without TRUST_PROXY_HOPS, X-Forwarded-For is not believed: a new header per guess does not reset the count", async () => {
    const direct = await startAppServer();
    try {
      const user = { email: "spoofing-target@hotpath.test", password: "the right password" };
      await upsertUser({ ...user, role: "VIEWER" });
      const send = (password: string, i: number) =>
        fetch(`${direct.url}/login`, {
          method: "POST",
          body: new URLSearchParams({ ...user, password }),
          headers: { Origin: direct.url, "X-Forwarded-For": `192.0.2.${i}` },
          redirect: "manual",
        });
      for (let i = 0; i < MAX_FAILURES; i++) expect((await send(`guess ${i}`, i)).status).toBe(422);
      expect((await send(user.password, 99)).status).toBe(429);
    } finally {
      await direct.stop();
    }
  }, 90_000);
});
