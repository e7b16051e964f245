import type { Browser, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { upsertUser } from "~/models/user.server";
import { disconnectTaskMetadataCache } from "~/services/taskMetadata/index.server";
import type { AppServer } from "../support/appServer";
import { screenshot, startE2eSession, type E2eSession } from "../support/browser";
import { createTestProject, registerAndPromote, type TestProject } from "../support/fixtures";
import { axeViolations, expectNoSidewaysScroll, medianServerMs, openAs, pageBudgetMs, VIEWPORTS } from "../support/pageChecks";

/**
 * Every admin page in a real browser at 1440×900 and 390×844, as ADMIN and VIEWER: axe reports no
 * violation, the page never scrolls sideways, its title names what it shows, the skip link moves
 * focus to the content, the narrow navigation keeps the active tab in view, and the server renders
 * it within the page budget. The overview's charts are checked for what makes them trustworthy.
 */

const ADMIN = { email: "pages-admin@hotpath.test", password: "pages admin password 1" };
const VIEWER = { email: "pages-viewer@hotpath.test", password: "pages viewer password 1" };
const METRICS_TOKEN = "every-page-metrics-token";

let project: TestProject;
let e2e: E2eSession;
let server: AppServer;
let browser: Browser;
let workerId: string;
let runId: string;

/** Path, the title it must have, and the nav tab that is active there. */
function pages(): { path: string; title: RegExp; tab: string }[] {
  const env = `${project.projectSlug} / prod`;
  return [
    { path: "/admin", title: /^Cache overview · Hotpath$/, tab: "Overview" },
    { path: "/admin/environments", title: /^Environments · Hotpath$/, tab: "Environments" },
    { path: `/admin/environments/${project.prod.id}/cache`, title: new RegExp(`^${env} cache · Hotpath$`), tab: "Environments" },
    { path: `/admin/environments/${project.prod.id}/cache/workers/${workerId}`, title: new RegExp(`^Worker 1\\.0\\.0 cache of ${env} · Hotpath$`), tab: "Environments" },
    { path: "/admin/deployments", title: /^Deployments · Hotpath$/, tab: "Deployments" },
    { path: `/admin/runs?env=${project.prod.id}`, title: new RegExp(`^Runs of ${env} · Hotpath$`), tab: "Runs" },
    { path: `/admin/runs/${runId}`, title: new RegExp(`^Run ${runId} \\(send-email\\) · Hotpath$`), tab: "Runs" },
    { path: "/admin/users", title: /^Users · Hotpath$/, tab: "Users" },
  ];
}

beforeAll(async () => {
  project = await createTestProject();
  workerId = (
    await registerAndPromote({
      environmentId: project.prod.id,
      version: "1.0.0",
      tasks: [
        { slug: "send-email", queue: { name: "emails" }, ttl: "5m" },
        { slug: "nightly-report", queue: { name: "reports" }, triggerSource: "SCHEDULED" },
      ],
    })
  ).workerId;
  await registerAndPromote({ environmentId: project.prod.id, version: "1.1.0", tasks: [{ slug: "send-email", queue: { name: "emails" } }], promote: false });
  await disconnectTaskMetadataCache();
  await upsertUser({ ...ADMIN, role: "ADMIN" });
  await upsertUser({ ...VIEWER, role: "VIEWER" });
  e2e = await startE2eSession({ env: { METRICS_TOKEN, METRICS_FLUSH_INTERVAL_MS: "300" } });
  ({ server, browser } = e2e);
  for (let i = 0; i < 30; i++) {
    const slug = i % 10 === 9 ? "not-deployed" : "send-email";
    const response = await fetch(`${server.url}/api/v1/tasks/${slug}/trigger`, {
      method: "POST",
      headers: { Authorization: `Bearer ${project.prod.apiKey}`, "Content-Type": "application/json" },
      body: JSON.stringify({ payload: { i }, options: { tags: ["e2e"] } }),
    });
    expect(response.status).toBe(200);
    if (i === 0) runId = ((await response.json()) as { id: string }).id;
  }
  // Let the server flush its counters so the overview has figures and charts.
  await new Promise((r) => setTimeout(r, 1_000));
}, 120_000);

afterAll(async () => {
  await e2e?.stop();
});

async function expectSkipLinkWorks(page: Page) {
  await page.keyboard.press("Tab");
  const skip = page.getByRole("link", { name: "Skip to content" });
  expect(await skip.evaluate((el) => el === document.activeElement)).toBe(true);
  await page.keyboard.press("Enter");
  await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe("main");
}

async function expectActiveTabVisible(page: Page, tab: string) {
  const link = page.getByRole("navigation", { name: "Admin" }).getByRole("link", { name: tab, exact: true });
  expect(await link.getAttribute("aria-current")).toBe("page");
  const box = await link.boundingBox();
  const width = page.viewportSize()!.width;
  expect(box && box.x >= 0 && box.x + box.width <= width, `${tab} tab is in view`).toBe(true);
}

describe("every page", () => {
  for (const { name, viewport } of VIEWPORTS) {
    for (const { role, user } of [
      { role: "ADMIN", user: ADMIN },
      { role: "VIEWER", user: VIEWER },
    ]) {
      it(`is axe-clean, fits, is titled after what it shows and can be skipped to (${role}, ${name})`, async () => {
        const { context, page, errors } = await openAs(browser, server.url, user, viewport);
        const problems: string[] = [];
        try {
          for (const { path, title, tab } of pages()) {
            const response = await page.goto(`${server.url}${path}`);
            expect(response?.status(), path).toBe(200);
            await page.waitForLoadState("networkidle");
            expect(await page.title(), path).toMatch(title);
            problems.push(...(await axeViolations(page)).map((v) => `${path}: ${v}`));
            await expectNoSidewaysScroll(page, path);
            await expectActiveTabVisible(page, tab);
            await screenshot(page, `every-page-${name}-${role.toLowerCase()}${path.replace(/[^a-z0-9]+/gi, "-").slice(0, 60)}`);
          }
          await expectSkipLinkWorks(page);
          const signedOut = await browser.newContext({ viewport });
          const login = await signedOut.newPage();
          await login.goto(`${server.url}/login`);
          expect(await login.title()).toBe("Sign in · Hotpath");
          problems.push(...(await axeViolations(login)).map((v) => `/login: ${v}`));
          await signedOut.close();
          expect(problems).toEqual([]);
          expect(errors).toEqual([]);
        } finally {
          await context.close();
        }
      }, 240_000);
    }
  }

  it("renders each page within the budget of server time", async () => {
    const { context, page } = await openAs(browser, server.url, ADMIN, VIEWPORTS[0].viewport);
    try {
      for (const { path } of pages()) {
        const ms = await medianServerMs(page, server.url, path);
        console.info(`server time ${path}: ${ms.toFixed(1)} ms (budget ${pageBudgetMs().toFixed(0)} ms)`);
        expect(ms, path).toBeLessThanOrEqual(pageBudgetMs());
      }
    } finally {
      await context.close();
    }
  });
});

describe("overview charts", () => {
  it("label UTC, shade the running minute, zoom the hit ratio with 95 % and 80 % bands, and plot misses and undeployed-task triggers", async () => {
    const { context, page, errors } = await openAs(browser, server.url, VIEWER, VIEWPORTS[0].viewport);
    try {
      await page.goto(`${server.url}/admin?window=15m`);
      const hitRatio = page.locator('[data-chart="Hit ratio"]');
      await hitRatio.locator(".recharts-line").first().waitFor({ state: "attached" });
      expect(await page.getByTestId("chart-notes").innerText()).toContain("Times in UTC");
      expect(await hitRatio.locator(".recharts-reference-line").count()).toBe(2);
      expect(await hitRatio.locator(".recharts-reference-area").count()).toBe(1);
      const texts = await hitRatio.locator("svg text").allTextContents();
      const yTicks = texts.filter((t) => /^\d+%$/.test(t));
      expect(yTicks.length).toBeGreaterThan(0);
      expect(yTicks).not.toContain("0%");
      const xTicks = texts.filter((t) => /^\d\d:\d\d$/.test(t));
      const utcNow = new Date().toISOString().slice(11, 13);
      expect(xTicks.length).toBeGreaterThan(0);
      expect(xTicks.every((t) => t.startsWith(utcNow) || t.startsWith(String((Number(utcNow) + 23) % 24).padStart(2, "0"))), xTicks.join(",")).toBe(true);
      const counts = page.locator('[data-chart="Hits, misses, back-fills"]');
      const legend = await counts.locator(".recharts-legend-item-text").allInnerTexts();
      expect(legend).toEqual(expect.arrayContaining(["hits", "misses", "back-fills", "undeployed-task triggers"]));
      expect(await hitRatio.getAttribute("aria-label")).toMatch(/^Hit ratio: /);
      await screenshot(page, "overview-charts");
      expect(errors).toEqual([]);
    } finally {
      await context.close();
    }
  });
});

