import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { metricsBucketKey, minuteOf, parseBucketFields, sumCounts, summarise } from "~/domain/metricsMath";
import { upsertUser } from "~/models/user.server";
import { keyPrefix, redis } from "~/redis.server";
import { type AppServer, startAppServer } from "../support/appServer";
import { type E2eSession, logIn, screenshot, startE2eSession } from "../support/browser";
import { createTestProject, registerAndPromote, type TestProject } from "../support/fixtures";

/**
 * The cache overview in a real browser against the built server: triggers through the API warm
 * the cache, the server's metrics flusher (every 500 ms here) writes the counts to Redis, and the
 * page shows a non-zero hit rate, its charts (drawn after hydration) and the environment's row.
 */

const ADMIN = { email: "overview-admin@hotpath.test", password: "overview password 1" };
const METRICS_TOKEN = "overview-e2e-metrics-token";

let project: TestProject;
/** The server and the browser page; the page's errors would show a hydration mismatch or a chart that throws. */
let e2e: E2eSession;
let server: AppServer;
let page: Page;

async function trigger(slug: string, i: number, to: AppServer = server) {
  const response = await fetch(`${to.url}/api/v1/tasks/${slug}/trigger`, {
    method: "POST",
    headers: { Authorization: `Bearer ${project.prod.apiKey}`, "Content-Type": "application/json" },
    body: JSON.stringify({ payload: { i } }),
  });
  expect(response.status, await response.clone().text()).toBeLessThan(300);
}

/** Lookups the servers have flushed to Redis over the last 10 minutes (longer than this file runs). */
async function flushedLookups(): Promise<number> {
  const now = minuteOf(Date.now());
  const minutes = Array.from({ length: 10 }, (_, i) => now - i);
  const hashes = await Promise.all(minutes.map((m) => redis().hgetall(metricsBucketKey(keyPrefix(), m))));
  return summarise(sumCounts(hashes.map(parseBucketFields)), 60).lookups;
}

async function waitForFlushedLookups(atLeast: number) {
  const deadline = Date.now() + 10_000;
  while ((await flushedLookups()) < atLeast) {
    if (Date.now() > deadline) throw new Error(`the server did not flush ${atLeast} lookups within 10 s:\n${server.output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The figure of an overview tile (`tile-hits`, `tile-hit-rate`, …). */
async function tileValue(testId: string): Promise<string> {
  return page.getByTestId(testId).locator("p").nth(1).innerText();
}

async function tileNumber(testId: string): Promise<number> {
  return Number((await tileValue(testId)).replace(/[^0-9.]/g, ""));
}

beforeAll(async () => {
  project = await createTestProject();
  await registerAndPromote({ environmentId: project.prod.id, tasks: 3 });
  await upsertUser({ ...ADMIN, role: "ADMIN" });
  e2e = await startE2eSession({ env: { METRICS_FLUSH_INTERVAL_MS: "500", METRICS_TOKEN } });
  ({ server, page } = e2e);
}, 60_000);

afterAll(async () => {
  await e2e?.stop();
});

describe("cache overview page", () => {
  it("shows a non-zero hit rate, charts and the environment after triggers through the API", async () => {
    for (let i = 0; i < 12; i++) await trigger(`task-${i % 3}`, i);
    await waitForFlushedLookups(12);

    await logIn(page, server.url, ADMIN.email, ADMIN.password);
    await page.goto(`${server.url}/admin?window=5m`);
    const rateText = await tileValue("tile-hit-rate");
    expect(rateText).toMatch(/^\d+(\.\d)? %$/);
    expect(Number.parseFloat(rateText)).toBeGreaterThan(0);
    expect(await tileNumber("tile-hits")).toBeGreaterThan(0);
    expect(await page.getByRole("link", { name: "5 min" }).getAttribute("aria-current")).toBe("page");

    // The three charts draw in the browser after hydration.
    await page.locator(".recharts-surface").nth(2).waitFor({ timeout: 10_000 });
    expect(await page.locator("[data-chart] .recharts-line").count()).toBeGreaterThanOrEqual(3);

    const prodRow = page.getByTestId("environments-table").locator("tr", { has: page.getByRole("link", { name: "prod" }) });
    await expect(prodRow.innerText()).resolves.toMatch(/present/);
    await expect(prodRow.innerText()).resolves.toMatch(/\d+(\.\d)? %/);
    await expect(page.getByTestId("redis-server").innerText()).resolves.toMatch(/Connected clients/i);
    await screenshot(page, "overview");
    expect(e2e.errors).toEqual([]);
  });

  it("Refresh reloads the figures in place, and the window chooser puts the window in the URL", async () => {
    await page.goto(`${server.url}/admin?window=5m`);
    const before = await tileNumber("tile-hits");
    const flushed = await flushedLookups();
    for (let i = 0; i < 5; i++) await trigger("task-1", 100 + i);
    await waitForFlushedLookups(flushed + 5);

    await page.getByRole("button", { name: "Refresh" }).click();
    await expect.poll(() => tileNumber("tile-hits"), { timeout: 10_000 }).toBeGreaterThanOrEqual(before + 5);

    await page.getByRole("link", { name: "24 h" }).click();
    await page.waitForURL(/\?window=24h$/);
    await expect.poll(() => page.getByRole("link", { name: "24 h" }).getAttribute("aria-current")).toBe("page");
    expect(await tileNumber("tile-hits")).toBeGreaterThanOrEqual(before + 5);
    expect(e2e.errors).toEqual([]);
  });

  it("serves the same counters on GET /metrics, with no environment id in them", async () => {
    const unauthorised = await fetch(`${server.url}/metrics`);
    expect(unauthorised.status).toBe(401);
    const response = await fetch(`${server.url}/metrics`, { headers: { Authorization: `Bearer ${METRICS_TOKEN}` } });
    expect(response.status).toBe(200);
    const body = await response.text();
    expect(body).toMatch(/hotpath_resolve_duration_seconds_count\{source="cache"\} [1-9]/);
    expect(body).toMatch(/hotpath_task_meta_cache_events_total\{event="hit",keyspace="(current|l1)"\} [1-9]/);
    expect(body).not.toContain(project.prod.id);
    expect(body).not.toContain(project.dev.id);
  });

  it("writes the last counts to Redis when the server shuts down, before its next flush", async () => {
    const quiet = await startAppServer({ METRICS_FLUSH_INTERVAL_MS: "600000" });
    const flushed = await flushedLookups();
    try {
      for (let i = 0; i < 3; i++) await trigger("task-2", 200 + i, quiet);
      expect(await flushedLookups()).toBe(flushed);
    } finally {
      await quiet.stop();
    }
    expect(quiet.process.exitCode).toBe(0);
    expect(await flushedLookups()).toBe(flushed + 3);
  });
});
