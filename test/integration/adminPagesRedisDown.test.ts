import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server";
import { upsertUser } from "~/models/user.server";
import { disconnectTaskMetadataCache, disconnectTaskMetadataCacheAdmin } from "~/services/taskMetadata/index.server";
import { freePort } from "../support/appServer";
import { createTestProject, registerAndPromote, type TestProject } from "../support/fixtures";
import { remixRequest } from "../support/remixApp";

/**
 * The admin cache pages with the task metadata cache's Redis unreachable (a closed port; the
 * general Redis, for sessions' login throttle, stays up): the pages still answer 200 with
 * Postgres' side and a notice naming Redis, and a repair reports its failure instead of erroring.
 * The configuration is read lazily, so setting the variable before any app code runs is enough.
 */
process.env.TASK_META_CACHE_REDIS_URL = `redis://127.0.0.1:${await freePort()}`;

const ADMIN = { email: "redis-down-admin@hotpath.test", password: "redis down password 1" };
let project: TestProject;
let cookie: string;

beforeAll(async () => {
  project = await createTestProject();
  await registerAndPromote({ environmentId: project.prod.id, version: "7.0.0", tasks: 2 });
  await upsertUser({ ...ADMIN, role: "ADMIN" });
  const login = await remixRequest("/login", {
    method: "POST",
    body: new URLSearchParams(ADMIN),
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
  });
  expect(login.status).toBe(302);
  cookie = login.headers.get("set-cookie")!.split(";")[0];
});

afterAll(async () => {
  await disconnectTaskMetadataCacheAdmin();
  await disconnectTaskMetadataCache();
});

describe("admin cache pages with Redis down", () => {
  it("the environments list still shows Postgres' columns, with a Redis notice", async () => {
    const started = Date.now();
    const response = await remixRequest("/admin/environments", { headers: { Cookie: cookie } });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).toContain("Redis (the task metadata cache) is unavailable");
    expect(html).toContain("7.0.0");
  });

  it("the environment cache page shows the current worker from Postgres and a Redis notice", async () => {
    const response = await remixRequest(`/admin/environments/${project.prod.id}/cache`, { headers: { Cookie: cookie } });
    expect(response.status).toBe(200);
    const html = await response.text();
    expect(html).toContain("Redis is unavailable");
    expect(html).toContain("7.0.0");
  });

  it.each(["invalidate", "rebuild"])("%s reports its failure in the flash message, promptly, and writes no audit row", async (intent) => {
    const path = `/admin/environments/${project.prod.id}/cache`;
    const page = await remixRequest(path, { headers: { Cookie: cookie } });
    const key = /data-testid="current-key"[^>]*>([^<]+)</.exec(await page.text())![1];
    const started = Date.now();
    const response = await remixRequest(path, {
      method: "POST",
      body: new URLSearchParams({ intent, confirmTarget: key }),
      headers: { Cookie: cookie, "Content-Type": "application/x-www-form-urlencoded" },
    });
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toBe(path);
    const flashCookie = response.headers.get("set-cookie")!.split(";")[0];
    const after = await remixRequest(path, { headers: { Cookie: `${cookie}; ${flashCookie}` } });
    expect(await after.text()).toMatch(intent === "rebuild" ? /Rebuild failed: / : /Invalidate failed: /);
    expect(await prisma().auditEvent.count({ where: { target: key } })).toBe(0);
  });
});
