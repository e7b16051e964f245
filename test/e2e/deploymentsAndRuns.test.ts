import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server";
import { environmentKeys } from "~/domain/cacheKeys";
import { upsertUser } from "~/models/user.server";
import { keyPrefix, redis } from "~/redis.server";
import { disconnectTaskMetadataCache } from "~/services/taskMetadata/index.server";
import { promoteVersion, registerWorker } from "~/services/workers.server";
import type { AppServer } from "../support/appServer";
import { DESKTOP_VIEWPORT, type E2eSession, logIn, screenshot, startE2eSession } from "../support/browser";
import { createTestProject, type TestProject } from "../support/fixtures";

/**
 * The deployments and runs pages in a real browser against the built server: promote and roll
 * back through the confirmation step (checked in Postgres and in the Redis owner key), a VIEWER
 * refused, and the runs filters (kind above all) and keyset pages in the URL.
 */

const ADMIN = { email: "deploy-admin@hotpath.test", password: "deploy admin password 1" };
const VIEWER = { email: "deploy-viewer@hotpath.test", password: "deploy viewer password 1" };
const KINDS = ["STANDARD", "SCHEDULED", "AGENT"] as const;
const RUNS = 30;

let project: TestProject;
let e2e: E2eSession;
let server: AppServer;
let browser: Browser;
let page: Page;
const workers: Record<string, string> = {};

function prodSection(p: Page = page) {
  return p.locator(`section[data-environment="${project.projectSlug}/prod"]`);
}

async function currentPromotion() {
  return prisma().workerDeploymentPromotion.findUniqueOrThrow({
    where: { environmentId_label: { environmentId: project.prod.id, label: "current" } },
    select: { worker: { select: { version: true } } },
  });
}

beforeAll(async () => {
  project = await createTestProject();
  for (const version of ["1.0.0", "1.1.0"]) {
    const tasks = KINDS.map((kind) => ({ slug: `${kind.toLowerCase()}-task`, queue: { name: `q-${version}` }, triggerSource: kind }));
    workers[version] = (await registerWorker({ environmentId: project.prod.id, version, tasks })).workerId;
  }
  await promoteVersion({ environmentId: project.prod.id, version: "1.0.0" });
  await disconnectTaskMetadataCache();

  // Runs of every kind, one second apart, so the newest-first order is known.
  const start = Date.UTC(2026, 10, 1, 12, 0, 0);
  await prisma().taskRun.createMany({
    data: Array.from({ length: RUNS }, (_, i) => {
      const kind = KINDS[i % 3];
      return {
        friendlyId: `run_e2e${String(i).padStart(3, "0")}`,
        environmentId: project.prod.id,
        taskIdentifier: `${kind.toLowerCase()}-task`,
        queue: "q-1.0.0",
        taskKind: kind,
        status: i % 5 === 0 ? ("PENDING_VERSION" as const) : ("QUEUED" as const),
        ttl: kind === "AGENT" ? "5m" : null,
        tags: kind === "SCHEDULED" ? ["nightly"] : [],
        createdAt: new Date(start + i * 1_000),
      };
    }),
  });

  await upsertUser({ ...ADMIN, role: "ADMIN" });
  await upsertUser({ ...VIEWER, role: "VIEWER" });
  e2e = await startE2eSession({ logInAs: ADMIN });
  ({ server, browser, page } = e2e);
}, 60_000);

afterAll(async () => {
  await e2e?.stop();
});

describe("deployments page", () => {
  it("promotes a newer version and rolls back to the older one, each confirmed, changing Postgres and the cache owner", async () => {
    const keys = environmentKeys(keyPrefix(), project.prod.id);
    await page.goto(`${server.url}/admin/deployments`);
    expect(await prodSection().getByTestId("current-version").innerText()).toBe("1.0.0");
    expect(await prodSection().locator('tr[data-version="1.0.0"]').innerText()).toMatch(/current/);
    await screenshot(page, "admin-deployments");

    await prodSection().locator('tr[data-version="1.1.0"]').getByRole("link", { name: "Promote" }).click();
    expect(await page.getByTestId("confirm-target").innerText()).toBe("1.1.0");
    expect(await page.getByRole("dialog").innerText()).toContain(keys.current);
    expect((await currentPromotion()).worker.version).toBe("1.0.0");
    await screenshot(page, "admin-deployments-confirm");
    // A production environment: the version must be typed before the button works.
    expect(await page.getByRole("dialog").getByRole("button", { name: "Promote" }).isDisabled()).toBe(true);
    await page.getByRole("dialog").getByLabel(/Type 1.1.0 to confirm/).fill("1.1.0");
    await page.getByRole("dialog").getByRole("button", { name: "Promote" }).click();
    await page.getByRole("status").filter({ hasText: "Promoted version 1.1.0 (was 1.0.0)" }).waitFor();
    expect(await prodSection().getByTestId("current-version").innerText()).toBe("1.1.0");
    expect((await currentPromotion()).worker.version).toBe("1.1.0");
    expect(await redis().get(keys.owner)).toBe(workers["1.1.0"]);

    await prodSection().locator('tr[data-version="1.0.0"]').getByRole("link", { name: "Roll back" }).click();
    expect(await page.getByTestId("confirm-target").innerText()).toBe("1.0.0");
    await page.getByRole("dialog").getByLabel(/Type 1.0.0 to confirm/).fill("1.0.0");
    await page.getByRole("dialog").getByRole("button", { name: "Roll back" }).click();
    await page.getByRole("status").filter({ hasText: "Rolled back to version 1.0.0 (was 1.1.0)" }).waitFor();
    expect(await prodSection().getByTestId("current-version").innerText()).toBe("1.0.0");
    expect((await currentPromotion()).worker.version).toBe("1.0.0");
    expect(await redis().get(keys.owner)).toBe(workers["1.0.0"]);

    const audit = await prisma().auditEvent.findMany({
      where: { action: { startsWith: "deployment." } },
      orderBy: { createdAt: "asc" },
      select: { action: true, user: { select: { email: true } } },
    });
    expect(audit).toEqual([
      { action: "deployment.promote", user: { email: ADMIN.email } },
      { action: "deployment.rollback", user: { email: ADMIN.email } },
    ]);
    expect(e2e.errors).toEqual([]);
  });

  it("shows a VIEWER no promote or roll back buttons and refuses the VIEWER's forged POST with a 403", async () => {
    const viewerContext = await browser.newContext({ viewport: DESKTOP_VIEWPORT });
    try {
      const viewer = await viewerContext.newPage();
      await logIn(viewer, server.url, VIEWER.email, VIEWER.password);
      await viewer.goto(`${server.url}/admin/deployments?confirm=${workers["1.1.0"]}`);
      await prodSection(viewer).getByTestId("current-version").waitFor();
      expect(await viewer.getByRole("link", { name: /Promote|Roll back/ }).count()).toBe(0);
      expect(await viewer.getByRole("dialog").count()).toBe(0);
      await screenshot(viewer, "admin-deployments-viewer");
      const cookie = (await viewerContext.cookies()).map((c) => `${c.name}=${c.value}`).join("; ");
      const forged = await fetch(`${server.url}/admin/deployments`, {
        method: "POST",
        headers: { Cookie: cookie, Origin: server.url, "Content-Type": "application/x-www-form-urlencoded" },
        body: new URLSearchParams({ intent: "promote", environmentId: project.prod.id, version: "1.1.0", confirmTarget: "1.1.0" }),
        redirect: "manual",
      });
      expect(forged.status).toBe(403);
      expect((await currentPromotion()).worker.version).toBe("1.0.0");
    } finally {
      await viewerContext.close();
    }
  });
});

describe("runs page", () => {
  const runsUrl = () => `${server.url}/admin/runs?env=${project.prod.id}`;
  const rowIds = () => page.locator('table[aria-label="Runs"] tbody tr td:first-child').allInnerTexts();

  it("narrows the list by kind, with the filter in the URL", async () => {
    await page.goto(runsUrl());
    expect(await rowIds()).toHaveLength(25);
    await page.getByLabel("Kind").selectOption("AGENT");
    await page.waitForURL((u) => u.searchParams.get("kind") === "AGENT");
    const ids = Array.from({ length: RUNS }, (_, i) => i)
      .filter((i) => i % 3 === 2)
      .reverse()
      .map((i) => `run_e2e${String(i).padStart(3, "0")}`);
    // The URL changes as the navigation commits; the table follows on React's next render.
    await expect.poll(rowIds).toEqual(ids);
    const kinds = await page.locator('table[aria-label="Runs"] tbody tr td:nth-child(4)').allInnerTexts();
    expect(new Set(kinds)).toEqual(new Set(["AGENT"]));
    await screenshot(page, "admin-runs-source-agent");

    // The same URL, opened afresh, shows the same list (a shareable link).
    await page.goto(page.url());
    expect(await rowIds()).toEqual(ids);
    expect(e2e.errors).toEqual([]);
  });

  it("pages by cursor: next shows the older runs, newer comes back", async () => {
    await page.goto(runsUrl());
    const first = await rowIds();
    expect(first[0]).toBe("run_e2e029");
    expect(first[24]).toBe("run_e2e005");
    await page.getByRole("link", { name: /Next/ }).click();
    await page.waitForURL((u) => u.searchParams.has("after"));
    await expect.poll(rowIds).toEqual(["run_e2e004", "run_e2e003", "run_e2e002", "run_e2e001", "run_e2e000"]);
    expect(await page.getByRole("link", { name: /Next/ }).count()).toBe(0);
    await page.getByRole("link", { name: /Newer/ }).click();
    await page.waitForURL((u) => u.searchParams.has("before"));
    await expect.poll(rowIds).toEqual(first);
    expect(await page.getByRole("link", { name: /Newer/ }).count()).toBe(0);
  });

  it("focuses the task filter on '/', and shows an empty state with a clear-filters link when nothing matches", async () => {
    await page.goto(`${runsUrl()}&status=COMPLETED`);
    await page.getByText("No runs match these filters").waitFor();
    await page.locator("body").press("/");
    expect(await page.evaluate(() => (document.activeElement as HTMLInputElement | null)?.name)).toBe("task");
    await page.keyboard.type("agent-task");
    await page.keyboard.press("Enter");
    await page.waitForURL((u) => u.searchParams.get("task") === "agent-task");
    await page.getByText("No runs match these filters").waitFor();
    await screenshot(page, "admin-runs-empty");
    await page.getByRole("main").getByRole("link", { name: "Clear filters" }).first().click();
    await page.waitForURL((u) => !u.searchParams.has("status") && !u.searchParams.has("task"));
    await expect.poll(async () => (await rowIds()).length).toBe(25);
  });

  it("picks an environment when the URL names none, and puts it in the URL", async () => {
    await page.goto(`${server.url}/admin/runs`);
    await page.waitForURL((u) => u.searchParams.get("env") === project.prod.id);
    expect(await rowIds()).toHaveLength(25);
    await screenshot(page, "admin-runs");
  });
});
