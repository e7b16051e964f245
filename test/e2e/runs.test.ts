import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server";
import { upsertUser } from "~/models/user.server";
import { disconnectTaskMetadataCache } from "~/services/taskMetadata/index.server";
import type { AppServer } from "../support/appServer";
import { type E2eSession, screenshot, startE2eSession } from "../support/browser";
import { createTestProject, registerAndPromote, type TestProject } from "../support/fixtures";
import { expectAxeClean, expectNoSidewaysScroll, medianServerMs, openAs, pageBudgetMs, VIEWPORTS } from "../support/pageChecks";

/**
 * The run detail page and the runs list in a real browser, at 1440×900 and 390×844, as ADMIN and
 * VIEWER: runs made by real triggers through the API (so their provenance is what the hot path
 * recorded), every page axe-clean, no sideways scroll, and rendered within 100 ms by the server.
 */

const ADMIN = { email: "runs-admin@hotpath.test", password: "runs admin password 1" };
const VIEWER = { email: "runs-viewer@hotpath.test", password: "runs viewer password 1" };
const USERS = [
  { role: "ADMIN", user: ADMIN },
  { role: "VIEWER", user: VIEWER },
] as const;

let project: TestProject;
let e2e: E2eSession;
let server: AppServer;
let browser: Browser;
let keyedRunId: string;

async function trigger(slug: string, body: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${server.url}/api/v1/tasks/${slug}/trigger`, {
    method: "POST",
    headers: { Authorization: `Bearer ${project.prod.apiKey}`, "Content-Type": "application/json", ...headers },
    body: JSON.stringify(body),
  });
  expect(response.status, await response.clone().text()).toBe(200);
  return (await response.json()) as { id: string; isCached: boolean };
}

beforeAll(async () => {
  project = await createTestProject();
  await registerAndPromote({
    environmentId: project.prod.id,
    version: "1.0.0",
    tasks: [
      { slug: "send-email", queue: { name: "emails" }, ttl: "5m" },
      { slug: "nightly-report", queue: { name: "reports" }, triggerSource: "SCHEDULED" },
    ],
  });
  await disconnectTaskMetadataCache();
  await upsertUser({ ...ADMIN, role: "ADMIN" });
  await upsertUser({ ...VIEWER, role: "VIEWER" });
  e2e = await startE2eSession();
  ({ server, browser } = e2e);

  keyedRunId = (
    await trigger(
      "send-email",
      { payload: { to: "ops@example.com", n: 1 }, options: { tags: ["welcome"], metadata: { campaign: "dec" }, delay: "10m" } },
      { "idempotency-key": "welcome-ops" },
    )
  ).id;
  expect(await trigger("send-email", { payload: { to: "ops@example.com", n: 1 } }, { "idempotency-key": "welcome-ops" })).toEqual({ id: keyedRunId, isCached: true });
  await trigger("nightly-report", { payload: { day: "2026-12-06" }, options: { lockToVersion: "1.0.0" } });
  for (let i = 0; i < 3; i++) await trigger("send-email", { payload: { i } });
}, 90_000);

afterAll(async () => {
  await e2e?.stop();
});

describe("run detail", () => {
  for (const { name, viewport } of VIEWPORTS) {
    for (const { role, user } of USERS) {
      it(`shows a run's status, payload, metadata, tags, key reuse, delay, expiry and provenance (${role}, ${name})`, async () => {
        const { context, page, errors } = await openAs(browser, server.url, user, viewport);
        try {
          await page.goto(`${server.url}/admin/runs?env=${project.prod.id}`);
          await page.getByRole("link", { name: keyedRunId }).click();
          await page.waitForURL(`**/admin/runs/${keyedRunId}`);
          await page.getByRole("heading", { level: 1, name: keyedRunId }).waitFor();
          expect(await page.title()).toBe(`Run ${keyedRunId} (send-email) · Hotpath`);

          const field = (label: string) => page.locator(`dd[data-field="${label}"]`).innerText();
          expect(await field("Queue")).toBe("emails");
          expect(await field("TTL")).toBe("5m");
          expect(await field("Kind")).toBe("STANDARD");
          expect(await field("Locked version")).toBe("not locked");
          expect(await field("Resolved version")).toContain("1.0.0");
          expect(await field("Metadata from")).toMatch(/cache|Postgres/);
          expect(await field("Key")).toContain("welcome-ops");
          expect(await page.getByTestId("idempotency-reuse").innerText()).toMatch(/^yes: 1 later trigger got this run back/);
          expect(await field("Delayed until")).toBe("in 9 min");
          expect(await field("Tags")).toBe("welcome");
          expect(await page.getByRole("region", { name: "Payload" }).locator("pre").innerText()).toContain('"to": "ops@example.com"');
          expect(await page.getByRole("region", { name: "Metadata" }).locator("pre").innerText()).toContain('"campaign": "dec"');
          expect(await page.locator("main").getByText("delayed", { exact: true }).count()).toBe(1);
          // Exact time on hover.
          expect(await page.locator('dd[data-field="Created"] time').getAttribute("title")).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);

          await page.getByRole("button", { name: "Copy run id" }).click();
          await page.getByText("Copied").first().waitFor();
          expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(keyedRunId);

          await expectNoSidewaysScroll(page);
          await expectAxeClean(page);
          await screenshot(page, `admin-run-detail-${name}-${role.toLowerCase()}`);
          expect(errors).toEqual([]);
        } finally {
          await context.close();
        }
      });
    }
  }

  it("names the locked version and locked queue of a locked run", async () => {
    const run = await prisma().taskRun.findFirstOrThrow({ where: { environmentId: project.prod.id, taskIdentifier: "nightly-report" } });
    const { context, page } = await openAs(browser, server.url, VIEWER, VIEWPORTS[0].viewport);
    try {
      await page.goto(`${server.url}/admin/runs/${run.friendlyId}`);
      expect(await page.locator('dd[data-field="Locked version"]').innerText()).toBe("1.0.0");
      expect(await page.locator('dd[data-field="Locked queue"]').innerText()).toBe("reports");
      expect(await page.locator('dd[data-field="Resolved version"]').innerText()).toBe("1.0.0 (locked by the trigger)");
      expect(await page.locator('dd[data-field="Kind"]').innerText()).toBe("SCHEDULED");
    } finally {
      await context.close();
    }
  });

  it("answers an unknown run with a 404 inside the admin layout", async () => {
    const { context, page } = await openAs(browser, server.url, VIEWER, VIEWPORTS[0].viewport);
    try {
      const response = await page.goto(`${server.url}/admin/runs/run_unknown`);
      expect(response?.status()).toBe(404);
      expect(await page.getByRole("alert").innerText()).toContain("No run with id 'run_unknown'");
      await expectAxeClean(page);
    } finally {
      await context.close();
    }
  });

  it("renders the run detail and the runs list within 100 ms of server time (stretched by the machine's load)", async () => {
    const { context, page } = await openAs(browser, server.url, ADMIN, VIEWPORTS[0].viewport);
    try {
      for (const path of [`/admin/runs/${keyedRunId}`, `/admin/runs?env=${project.prod.id}`]) {
        const ms = await medianServerMs(page, server.url, path);
        console.info(`server time ${path}: ${ms.toFixed(1)} ms (budget ${pageBudgetMs().toFixed(0)} ms)`);
        expect(ms).toBeLessThanOrEqual(pageBudgetMs());
      }
    } finally {
      await context.close();
    }
  });
});
