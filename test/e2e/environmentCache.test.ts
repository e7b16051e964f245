import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server";
import { environmentKeys } from "~/domain/cacheKeys";
import { upsertUser } from "~/models/user.server";
import { keyPrefix, redis } from "~/redis.server";
import { disconnectTaskMetadataCache } from "~/services/taskMetadata/index.server";
import { promoteVersion, registerWorker } from "~/services/workers.server";
import type { AppServer } from "../support/appServer";
import { collectPageErrors, DESKTOP_VIEWPORT, type E2eSession, logIn, screenshot, startE2eSession } from "../support/browser";
import { createTestProject, type TestProject } from "../support/fixtures";

/**
 * The environments list and an environment's cache page in a real browser against the built
 * server: what the page shows is checked against Redis directly, the repairs go through their
 * confirmation step, and a VIEWER can look but not change anything.
 */

const ADMIN = { email: "cache-admin@hotpath.test", password: "cache admin password 1" };
const VIEWER = { email: "cache-viewer@hotpath.test", password: "cache viewer password 1" };
const TASKS = [
  { slug: "send-email", queue: { name: "emails" }, ttl: "5m", triggerSource: "STANDARD" as const },
  { slug: "nightly-report", queue: { name: "reports" }, ttl: "2h", triggerSource: "SCHEDULED" as const },
  { slug: "support-agent", queue: { name: "agents" }, triggerSource: "AGENT" as const },
];

let project: TestProject;
let e2e: E2eSession;
let server: AppServer;
let browser: Browser;
let page: Page;
let cachePath: string;
let keys: ReturnType<typeof environmentKeys>;

async function cacheRow(field: string) {
  return page.locator(`table[aria-label="Current hash fields"] tr[data-field="${field}"]`);
}

beforeAll(async () => {
  project = await createTestProject();
  await registerWorker({ environmentId: project.prod.id, version: "2026.11.1", tasks: TASKS });
  await promoteVersion({ environmentId: project.prod.id, version: "2026.11.1" });
  await disconnectTaskMetadataCache();
  await upsertUser({ ...ADMIN, role: "ADMIN" });
  await upsertUser({ ...VIEWER, role: "VIEWER" });
  keys = environmentKeys(keyPrefix(), project.prod.id);
  cachePath = `/admin/environments/${project.prod.id}/cache`;
  e2e = await startE2eSession({ logInAs: ADMIN });
  ({ server, browser, page } = e2e);
}, 60_000);

afterAll(async () => {
  await e2e?.stop();
});

describe("environments and environment cache pages", () => {
  it("lists the environment with its current version and current-key status, linking to its cache", async () => {
    await page.goto(`${server.url}/admin/environments`);
    const row = page.locator(`tr[data-environment="${project.projectSlug}/prod"]`);
    await expect(row.innerText()).resolves.toMatch(/2026\.11\.1/);
    await expect(row.innerText()).resolves.toMatch(/present/);
    await screenshot(page, "admin-environments");
    await row.getByRole("link", { name: "prod" }).click();
    await page.waitForURL((u) => u.pathname === cachePath);
    expect(e2e.errors).toEqual([]);
  });

  it("lists the tasks of the current hash with their TTL, kind and queue, and the key's TTL with exact seconds on hover", async () => {
    await page.goto(`${server.url}${cachePath}`);
    expect(await (await cacheRow("send-email")).locator('[data-column="ttl"]').innerText()).toBe("5m");
    expect(await (await cacheRow("nightly-report")).locator('[data-column="ttl"]').innerText()).toBe("2h");
    expect(await (await cacheRow("support-agent")).innerText()).toMatch(/AGENT/);
    expect(await (await cacheRow("send-email")).innerText()).toMatch(/emails/);
    expect(await page.getByTestId("current-field-count").innerText()).toBe("3");
    const ttl = page.getByTestId("current-ttl").locator("span");
    expect(await ttl.innerText()).toMatch(/^23h 5\dm$|^1d 0h$/);
    expect(await ttl.getAttribute("title")).toMatch(/^Expires in 8[56],\d{3} seconds$/);
    expect(await page.getByTestId("current-owner").innerText()).toMatch(/2026\.11\.1/);
    await expect(page.locator('[data-state="drift"]').count()).resolves.toBe(0);

    // The raw JSON of an entry, on demand.
    await (await cacheRow("send-email")).getByText("JSON").click();
    expect(JSON.parse(await (await cacheRow("send-email")).locator("pre").innerText())).toMatchObject({ v: 1, k: "STANDARD", t: "5m", n: "emails" });
    await screenshot(page, "admin-environment-cache");
    expect(e2e.errors).toEqual([]);
  });

  it("marks a field that disagrees with Postgres as DRIFT", async () => {
    const raw = await redis().hget(keys.current, "send-email");
    await redis().hset(keys.current, "send-email", raw!.replace('"t":"5m"', '"t":"9m"'));
    await page.goto(`${server.url}${cachePath}`);
    const row = await cacheRow("send-email");
    expect(await row.getAttribute("data-state")).toBe("drift");
    expect(await row.innerText()).toMatch(/ttl: Redis '9m', Postgres '5m'/);
    await screenshot(page, "admin-environment-cache-drift");
  });

  it("invalidate then rebuild, each confirmed by naming the key, change both the page and the Redis key", async () => {
    await page.goto(`${server.url}${cachePath}`);
    await page.getByRole("link", { name: "Invalidate" }).click();
    expect(await page.getByTestId("confirm-target").innerText()).toBe(keys.current);
    expect(await redis().exists(keys.current)).toBe(1);
    await page.getByRole("button", { name: "Delete this key" }).click();
    await page.getByRole("status").filter({ hasText: "Invalidated" }).waitFor();
    expect(await redis().exists(keys.current, keys.owner)).toBe(0);
    await page.getByText("The current hash is not in Redis").waitFor();
    expect(await page.getByTestId("current-ttl").innerText()).toBe("key absent");
    expect(await page.locator('section[aria-label="Not cached yet"]').innerText()).toMatch(/send-email[\s\S]*support-agent/);
    await screenshot(page, "admin-environment-cache-invalidated");

    await page.getByRole("link", { name: "Rebuild from Postgres" }).click();
    expect(await page.getByTestId("confirm-target").innerText()).toBe(keys.current);
    await page.getByRole("button", { name: "Rebuild this key" }).click();
    await page.getByRole("status").filter({ hasText: "Rebuilt" }).waitFor();
    expect((await redis().hkeys(keys.current)).sort()).toEqual(["nightly-report", "send-email", "support-agent"]);
    expect(JSON.parse((await redis().hget(keys.current, "send-email"))!)).toMatchObject({ t: "5m" });
    const worker = await prisma().backgroundWorker.findFirstOrThrow({ where: { environmentId: project.prod.id, version: "2026.11.1" } });
    expect(await redis().get(keys.owner)).toBe(worker.id);
    expect(await (await cacheRow("send-email")).getAttribute("data-state")).toBe("in-sync");
    expect(await page.getByTestId("current-field-count").innerText()).toBe("3");

    const audit = await prisma().auditEvent.findMany({ where: { target: keys.current }, orderBy: { createdAt: "asc" }, select: { action: true } });
    expect(audit.map((a) => a.action)).toEqual(["cache.invalidate", "cache.rebuild"]);
    await screenshot(page, "admin-environment-cache-rebuilt");
    expect(e2e.errors).toEqual([]);
  });

  it("deletes one field after a confirmation naming the key and the field", async () => {
    await page.goto(`${server.url}${cachePath}`);
    await (await cacheRow("support-agent")).getByRole("link", { name: "Delete field" }).click();
    expect(await page.getByTestId("confirm-target").innerText()).toBe(keys.current);
    expect(await page.getByRole("dialog").innerText()).toMatch(/support-agent/);
    await page.getByRole("button", { name: "Delete this field" }).click();
    await page.getByRole("status").filter({ hasText: "Deleted field 'support-agent'" }).waitFor();
    expect((await redis().hkeys(keys.current)).sort()).toEqual(["nightly-report", "send-email"]);
  });

  it("pages a large worker hash with load more (appending) and filters it with HSCAN MATCH", async () => {
    const big = await registerWorker({
      environmentId: project.prod.id,
      version: "2026.11.2-big",
      tasks: Array.from({ length: 600 }, (_, i) => ({ slug: `bulk-${String(i).padStart(3, "0")}`, ttl: "1m" })),
    });
    await disconnectTaskMetadataCache();
    const rows = page.locator('table[aria-label="Worker hash fields"] tbody tr');
    const fields = () => rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-field") ?? ""));
    // Follows "load more" until the scan is complete; after each click, waits for the link to move on.
    const loadAll = async () => {
      const more = page.getByRole("link", { name: "Load more" });
      for (let steps = 0; (await more.count()) > 0; steps++) {
        expect(steps).toBeLessThan(100);
        const href = await more.getAttribute("href");
        await more.click();
        await expect.poll(async () => (await more.count()) === 0 || (await more.getAttribute("href")) !== href).toBe(true);
      }
    };

    await page.goto(`${server.url}${cachePath}`);
    await page.getByRole("link", { name: "2026.11.2-big" }).click();
    await page.waitForURL((u) => u.pathname.endsWith(`/workers/${big.workerId}`));
    await expect.poll(() => rows.count()).toBeGreaterThan(0);
    // One HSCAN step does not cover 600 fields (beyond the listpack size of 512: a real hash table);
    // the steps are appended, each field once.
    expect(await rows.count()).toBeLessThan(600);
    await loadAll();
    const all = await fields();
    expect(all).toHaveLength(600);
    expect(new Set(all).size).toBe(600);
    expect(await page.locator('tr[data-state="drift"]').count()).toBe(0);

    await page.locator("body").press("/");
    await page.keyboard.type("bulk-49");
    await page.keyboard.press("Enter");
    await page.waitForURL((u) => u.searchParams.get("q") === "bulk-49");
    await expect.poll(async () => (await fields()).every((f) => f.startsWith("bulk-49"))).toBe(true);
    await loadAll();
    expect((await fields()).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `bulk-49${i}`));
    await screenshot(page, "admin-worker-hash-filtered");
    expect(e2e.errors).toEqual([]);
  });

  it("shows a VIEWER everything but no buttons, and refuses the VIEWER's forged POST with a 403", async () => {
    const viewerContext = await browser.newContext({ viewport: DESKTOP_VIEWPORT });
    try {
      const viewer = await viewerContext.newPage();
      collectPageErrors(viewer, e2e.errors);
      await logIn(viewer, server.url, VIEWER.email, VIEWER.password);
      // Even a URL that asks for the confirmation shows none.
      await viewer.goto(`${server.url}${cachePath}?confirm=invalidate`);
      await viewer.locator('table[aria-label="Current hash fields"] tr[data-field="send-email"]').waitFor();
      expect(await viewer.getByRole("link", { name: "Invalidate" }).count()).toBe(0);
      expect(await viewer.getByRole("link", { name: "Rebuild from Postgres" }).count()).toBe(0);
      expect(await viewer.getByRole("link", { name: "Delete field" }).count()).toBe(0);
      expect(await viewer.getByRole("dialog").count()).toBe(0);
      expect(await viewer.getByText("read-only (VIEWER)").count()).toBe(1);
      await screenshot(viewer, "admin-environment-cache-viewer");

      const cookie = (await viewerContext.cookies()).map((c) => `${c.name}=${c.value}`).join("; ");
      const forged = await fetch(`${server.url}${cachePath}`, {
        method: "POST",
        headers: { Cookie: cookie, Origin: server.url, "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ intent: "invalidate", confirmTarget: keys.current }),
        redirect: "manual",
      });
      expect(forged.status).toBe(403);
      expect(await redis().exists(keys.current)).toBe(1);
      expect(await prisma().auditEvent.count({ where: { action: "cache.invalidate", user: { email: VIEWER.email } } })).toBe(0);
    } finally {
      await viewerContext.close();
    }
  });

  it("refuses a confirmation that names another key (409) and changes nothing", async () => {
    const cookie = (await e2e.context.cookies()).map((c) => `${c.name}=${c.value}`).join("; ");
    const response = await fetch(`${server.url}${cachePath}`, {
      method: "POST",
      headers: { Cookie: cookie, Origin: server.url, "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ intent: "invalidate", confirmTarget: `${keyPrefix()}task-meta:{other}:current` }),
      redirect: "manual",
    });
    expect(response.status).toBe(409);
    expect(await redis().exists(keys.current)).toBe(1);
  });

  it("redirects a signed-out visitor to /login, and back after signing in", async () => {
    const anonymous = await browser.newContext();
    try {
      const visitor = await anonymous.newPage();
      await visitor.goto(`${server.url}${cachePath}`);
      await visitor.waitForURL((u) => u.pathname === "/login");
      expect(new URL(visitor.url()).searchParams.get("redirectTo")).toBe(cachePath);
      await screenshot(visitor, "admin-logged-out-redirect");
      const post = await fetch(`${server.url}${cachePath}`, {
        method: "POST",
        headers: { Origin: server.url, "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ intent: "invalidate", confirmTarget: keys.current }),
        redirect: "manual",
      });
      expect(post.status).toBe(302);
      expect(post.headers.get("location")).toMatch(/^\/login/);
      expect(await redis().exists(keys.current)).toBe(1);
    } finally {
      await anonymous.close();
    }
  });
});
