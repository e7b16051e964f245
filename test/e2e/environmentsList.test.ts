import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server";
import { upsertUser } from "~/models/user.server";
import { insertEnvironments } from "../../scripts/scale/fleet";
import type { AppServer } from "../support/appServer";
import { type E2eSession, startE2eSession } from "../support/browser";

/**
 * The environments list in a real browser with more environments than a page: 50 rows, Next and
 * Previous keep the order, and the search box ("/" focuses it) narrows the list and its count.
 */

const ADMIN = { email: "list-admin@hotpath.test", password: "list admin password 1" };
let e2e: E2eSession;
let server: AppServer;
let page: Page;

const rows = () => page.locator('table[aria-label="Environments"] tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute("data-environment")));

beforeAll(async () => {
  await insertEnvironments((sql, ...params) => prisma().$executeRawUnsafe(sql, ...params), "listing", 1, 120);
  await upsertUser({ ...ADMIN, role: "ADMIN" });
  e2e = await startE2eSession({ logInAs: ADMIN });
  ({ server, page } = e2e);
}, 60_000);

afterAll(async () => {
  await e2e?.stop();
});

describe("environments list", () => {
  it("pages 50 at a time with Next and Previous, and searches", async () => {
    await page.goto(`${server.url}/admin/environments`);
    const first = await rows();
    expect(first).toHaveLength(50);
    await expect(page.getByTestId("environments-matching").innerText()).resolves.toMatch(/^120 environments/);
    await page.getByRole("link", { name: "Next →" }).click();
    await page.waitForURL(/after=/);
    await expect.poll(async () => (await rows())[0]).not.toBe(first[0]);
    const second = await rows();
    expect(second).toHaveLength(50);
    expect(second.some((r) => first.includes(r))).toBe(false);
    await page.getByRole("link", { name: "← Previous" }).click();
    await page.waitForURL(/before=/);
    await expect.poll(rows).toEqual(first);

    await page.keyboard.press("/");
    await page.keyboard.type("env-11");
    await page.keyboard.press("Enter");
    await page.waitForURL(/q=env-11/);
    // env-11 and env-110 … env-119.
    await expect.poll(async () => (await rows()).sort()).toEqual(["listing/env-11", ...Array.from({ length: 10 }, (_, i) => `listing/env-11${i}`)].sort());
    await expect(page.getByTestId("environments-matching").innerText()).resolves.toMatch(/^11 matching environments/);
    await expect(page.getByRole("link", { name: "Next →" }).count()).resolves.toBe(0);
  }, 60_000);
});
