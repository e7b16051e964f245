import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server";
import { displayPrefix } from "~/domain/apiKeys";
import { upsertUser } from "~/models/user.server";
import { disconnectTaskMetadataCache } from "~/services/taskMetadata/index.server";
import { freePort, startAppServer, type AppServer } from "../support/appServer";
import { inViewport, openCells, type Cell } from "../support/adminViews";
import { launchBrowser, screenshot } from "../support/browser";
import { createTestProject, registerAndPromote, testTasks, type TestProject } from "../support/fixtures";

/**
 * Safe promotions and confirmations where the user is, in Chromium at 1440×900 and 390×844, as
 * ADMIN and VIEWER: the promotion's diff in its confirmation (which scrolls into view, takes focus,
 * closes on Escape and gives focus back), production's typed version, the history of who promoted
 * what and how (the page, an API key), a "Delete field" confirmation opened from the last row, and
 * every write action disabled with its reason while the cache's Redis is unreachable.
 */

const USERS = {
  ADMIN: { email: "promo-admin@hotpath.test", password: "promo admin password 1" },
  VIEWER: { email: "promo-viewer@hotpath.test", password: "promo viewer password 1" },
};
const V1 = [{ slug: "email", queue: { name: "emails" }, ttl: "5m" }, { slug: "digest", queue: { name: "digests" }, triggerSource: "SCHEDULED" as const }, { slug: "legacy", queue: { name: "legacy" } }];
const V2 = [{ slug: "email", queue: { name: "emails-priority" }, ttl: "5m" }, { slug: "digest", queue: { name: "digests" }, triggerSource: "AGENT" as const }, { slug: "invoice", queue: { name: "billing" } }];

let project: TestProject;
let server: AppServer;
let browser: Browser;
let cells: Cell[];
const workers: Record<string, string> = {};

const cell = (role: Cell["role"], viewport: Cell["viewport"]) => cells.find((c) => c.role === role && c.viewport === viewport)!;
const prodSection = (page: Page) => page.locator(`section[data-environment="${project.projectSlug}/prod"]`);

async function currentVersion() {
  const promotion = await prisma().workerDeploymentPromotion.findFirst({ where: { environmentId: project.prod.id }, select: { worker: { select: { version: true } } } });
  return promotion?.worker.version ?? null;
}

beforeAll(async () => {
  project = await createTestProject();
  workers["1.0.0"] = (await registerAndPromote({ environmentId: project.prod.id, version: "1.0.0", tasks: [...V1, ...testTasks(60, "filler")] })).workerId;
  workers["2.0.0"] = (await registerAndPromote({ environmentId: project.prod.id, version: "2.0.0", tasks: [...V2, ...testTasks(60, "filler")], promote: false })).workerId;
  await disconnectTaskMetadataCache();
  const now = Date.now();
  await prisma().taskRun.createMany({
    data: [
      ...Array.from({ length: 3 }, (_, i) => ({ friendlyId: `run_pe_inv${i}`, environmentId: project.prod.id, taskIdentifier: "invoice", queue: "task/invoice", status: "PENDING_VERSION" as const })),
      ...Array.from({ length: 4 }, (_, i) => ({ friendlyId: `run_pe_leg${i}`, environmentId: project.prod.id, taskIdentifier: "legacy", queue: "legacy", status: "QUEUED" as const, createdAt: new Date(now - (i + 1) * 60_000) })),
    ],
  });
  await upsertUser({ ...USERS.ADMIN, role: "ADMIN" });
  await upsertUser({ ...USERS.VIEWER, role: "VIEWER" });
  server = await startAppServer();
  browser = await launchBrowser();
  cells = await openCells(browser, server.url, USERS);
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
});

/** Opens the promotion of `version` in prod from its row; returns the dialog. */
async function openPromotion(page: Page, version: string) {
  await page.goto(`${server.url}/admin/deployments`);
  const opener = prodSection(page).locator(`tr[data-version="${version}"]`).getByRole("link", { name: /Promote|Roll back/ });
  await opener.click();
  const dialog = page.getByRole("dialog");
  await dialog.waitFor();
  return dialog;
}

describe("safe promotions", () => {
  it("the confirmation shows the diff where the user is, takes focus, closes on Escape and gives focus back (ADMIN, both sizes)", async () => {
    for (const viewport of ["desktop", "phone"] as const) {
      const { page, errors, name } = cell("ADMIN", viewport);
      const dialog = await openPromotion(page, "2.0.0");
      expect(await inViewport(page, '[role="dialog"]'), name).toBe(true);
      // Focus is in the dialog: production asks for the version first.
      expect(await page.evaluate(() => document.activeElement?.closest('[role="dialog"]') !== null), name).toBe(true);
      expect(await dialog.getByTestId("diff-counts").innerText(), name).toMatch(/1 added\s*1 removed\s*2 changed/);
      expect(await dialog.getByTestId("diff-removed").innerText(), name).toBe("legacy");
      expect(await dialog.getByTestId("removed-triggers").innerText(), name).toMatch(/Triggered 4 times in the last 60 minutes: legacy \(4\)/);
      expect(await dialog.getByTestId("released-runs").innerText(), name).toMatch(/3 PENDING_VERSION runs would be released \(queued\): invoice \(3\)/);
      expect(await dialog.locator('[data-task="email"][data-field="queue"]').innerText(), name).toMatch(/emails\s+emails-priority/);
      expect(await dialog.locator('[data-task="digest"][data-field="kind"]').innerText(), name).toMatch(/SCHEDULED\s+AGENT/);
      await screenshot(page, `promotion-diff-${name}`);

      await page.keyboard.press("Escape");
      await page.waitForURL((url) => !url.searchParams.has("confirm"));
      await dialog.waitFor({ state: "detached" });
      await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute("data-promote-for") ?? null)).toBe(workers["2.0.0"]);
      expect(await currentVersion()).toBe("1.0.0");
      expect(errors, name).toEqual([]);
    }
  }, 120_000);

  it("production needs the version typed; then it promotes, and a roll-back follows the same way", async () => {
    const { page, errors } = cell("ADMIN", "desktop");
    let dialog = await openPromotion(page, "2.0.0");
    const submit = dialog.getByRole("button", { name: "Promote" });
    expect(await submit.isDisabled()).toBe(true);
    await dialog.getByLabel("Type 2.0.0 to confirm").fill("2.0.");
    expect(await submit.isDisabled()).toBe(true);
    await dialog.getByLabel("Type 2.0.0 to confirm").fill("2.0.0");
    await submit.click();
    await page.getByRole("status").filter({ hasText: "Promoted version 2.0.0 (was 1.0.0)" }).waitFor();
    expect(await currentVersion()).toBe("2.0.0");

    dialog = await openPromotion(page, "1.0.0");
    expect(await dialog.locator("#confirm-title").innerText()).toMatch(/^Roll back .* to version 1\.0\.0\?$/);
    expect(await dialog.getByTestId("diff-removed").innerText()).toBe("invoice");
    await dialog.getByLabel("Type 1.0.0 to confirm").fill("1.0.0");
    await dialog.getByRole("button", { name: "Roll back" }).click();
    await page.getByRole("status").filter({ hasText: "Rolled back to version 1.0.0 (was 2.0.0)" }).waitFor();
    expect(await currentVersion()).toBe("1.0.0");
    expect(errors).toEqual([]);
  }, 60_000);

  it("a forged promotion without the typed version is refused and changes nothing", async () => {
    const { page } = cell("ADMIN", "desktop");
    const cookie = (await page.context().cookies()).map((c) => `${c.name}=${c.value}`).join("; ");
    const response = await fetch(`${server.url}/admin/deployments`, {
      method: "POST",
      headers: { Cookie: cookie, Origin: server.url, "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams({ intent: "promote", environmentId: project.prod.id, version: "2.0.0", confirmTarget: "2.0.0" }),
      redirect: "manual",
    });
    expect(response.status).toBe(302);
    expect(await currentVersion()).toBe("1.0.0");
  });

  it("the history says who promoted what, from → to, and how — a user on the page or an API key — for ADMIN and VIEWER", async () => {
    const api = await fetch(`${server.url}/api/v1/deployments/2.0.0/promote`, {
      method: "POST",
      headers: { Authorization: `Bearer ${project.prod.apiKey}`, "Content-Type": "application/json" },
      body: "{}",
    });
    expect(api.status).toBe(200);
    for (const c of cells) {
      await c.page.goto(`${server.url}/admin/history?kind=deployments`);
      const rows = c.page.locator('table[aria-label="History"] tbody tr');
      const read = (i: number) => rows.nth(i).evaluate((tr) => ({
        what: tr.children[1].textContent,
        fromTo: tr.querySelector('[data-column="from-to"]')?.textContent,
        who: tr.querySelector('[data-column="who"]')?.textContent,
        how: tr.querySelector('[data-column="how"]')?.textContent,
      }));
      expect(await read(0), c.name).toEqual({ what: "Promotion", fromTo: "1.0.0 → 2.0.0", who: `API key ${displayPrefix(project.prod.apiKey)}…`, how: "promote API" });
      expect(await read(1), c.name).toEqual({ what: "Roll-back", fromTo: "2.0.0 → 1.0.0", who: USERS.ADMIN.email, how: "deployments page" });
      expect(await read(2), c.name).toEqual({ what: "Promotion", fromTo: "1.0.0 → 2.0.0", who: USERS.ADMIN.email, how: "deployments page" });
      expect(await c.page.title(), c.name).toBe("History (deployments) · Hotpath");
      await screenshot(c.page, `history-${c.name}`);
      expect(c.errors, c.name).toEqual([]);
    }
  }, 60_000);

  it("a VIEWER sees the versions without promote or roll back, at both sizes", async () => {
    for (const viewport of ["desktop", "phone"] as const) {
      const { page, errors, name } = cell("VIEWER", viewport);
      await page.goto(`${server.url}/admin/deployments?confirm=${workers["1.0.0"]}`);
      await prodSection(page).getByTestId("current-version").waitFor();
      expect(await page.getByRole("link", { name: /Promote|Roll back/ }).count(), name).toBe(0);
      expect(await page.getByRole("dialog").count(), name).toBe(0);
      expect(await page.getByText("read-only (VIEWER)").count(), name).toBe(1);
      expect(errors, name).toEqual([]);
    }
  });
});

describe("confirmations where the user is", () => {
  it("'Delete field' on the last row opens its confirmation in view, focused; Escape closes it and focus returns to the row", async () => {
    for (const viewport of ["desktop", "phone"] as const) {
      const { page, errors, name } = cell("ADMIN", viewport);
      await page.goto(`${server.url}/admin/environments/${project.prod.id}/cache`);
      const last = page.locator('table[aria-label="Current hash fields"] tbody tr').last();
      const field = await last.getAttribute("data-field");
      await last.getByRole("link", { name: "Delete field" }).click();
      const dialog = page.getByRole("dialog");
      await dialog.waitFor();
      expect(await dialog.locator("#confirm-title").innerText(), name).toBe(`Delete field '${field}'?`);
      expect(await inViewport(page, '[role="dialog"]'), name).toBe(true);
      expect(await page.evaluate(() => document.activeElement?.getAttribute("role")), name).toBe("dialog");
      await screenshot(page, `delete-field-confirm-${name}`);
      await page.keyboard.press("Escape");
      await dialog.waitFor({ state: "detached" });
      await expect.poll(() => page.evaluate(() => document.activeElement?.closest("tr")?.getAttribute("data-field") ?? null)).toBe(field);
      expect(await inViewport(page, `tr[data-field="${field}"] a`), name).toBe(true);
      expect(errors, name).toEqual([]);
    }
  }, 60_000);

  it("while the cache's Redis is unreachable, promote, roll back and the cache repairs are disabled with the reason", async () => {
    const down = await startAppServer({ TASK_META_CACHE_REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
    try {
      for (const c of cells) {
        const { page, errors, name } = c;
        // Same host, same database: the session cookie of the first server is valid on this one.
        await page.goto(`${down.url}/admin/deployments`);
        await prodSection(page).getByTestId("current-version").waitFor();
        expect(await page.getByRole("link", { name: /Promote|Roll back/ }).count(), name).toBe(0);
        if (c.role === "ADMIN") {
          // Whichever version is not current offers its (disabled) promote or roll back.
          const button = prodSection(page).getByRole("button", { name: /Promote|Roll back/ });
          expect(await button.isDisabled(), name).toBe(true);
          expect(await button.getAttribute("title"), name).toMatch(/Redis \(the task metadata cache\) is unreachable/);
          expect(await page.getByRole("alert").filter({ hasText: "Promote and roll back are disabled" }).count(), name).toBe(1);
        }
        await screenshot(page, `deployments-redis-down-${name}`);

        await page.goto(`${down.url}/admin/environments/${project.prod.id}/cache?confirm=rebuild`);
        expect(await page.getByRole("dialog").count(), name).toBe(0);
        if (c.role === "ADMIN") {
          expect(await page.getByRole("button", { name: "Rebuild from Postgres" }).isDisabled(), name).toBe(true);
          expect(await page.locator("#write-blocked").innerText(), name).toMatch(/Disabled while Redis .* is unreachable/);
        } else {
          expect(await page.getByText("read-only (VIEWER)").count(), name).toBe(1);
        }
        // What the browser reports for the page's own failed loads is not an error of ours: none expected.
        expect(errors, name).toEqual([]);
      }
    } finally {
      await down.stop();
    }
  }, 120_000);
});
