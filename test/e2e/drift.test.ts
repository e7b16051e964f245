import type { Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { environmentKeys, reconcileLockKey } from "~/domain/cacheKeys";
import { emptyCounts, metricsBucketKey, minuteOf, toBucketFields } from "~/domain/metricsMath";
import { decodeTaskEntry, encodeTaskEntry, ABSENT_TASK } from "~/domain/taskMetadataEntry";
import { upsertUser } from "~/models/user.server";
import { keyPrefix, redis } from "~/redis.server";
import { readDriftRecords } from "~/services/taskMetadata/driftRecords.server";
import { disconnectTaskMetadataCache, disconnectTaskMetadataCacheAdmin, taskMetadataCacheAdmin } from "~/services/taskMetadata/index.server";
import { startAppServer, type AppServer } from "../support/appServer";
import { inViewport, openCells, type Cell } from "../support/adminViews";
import { launchBrowser, screenshot } from "../support/browser";
import { eventually } from "../support/cacheTesting";
import { createTestProject, registerAndPromote, testTasks, type TestProject } from "../support/fixtures";

/**
 * Drift everywhere, in Chromium at 1440×900 and 390×844, as ADMIN and VIEWER, against the built
 * server with its sweep on (every second, repair policy on). The test holds the sweep's lock to
 * keep it still while it looks at the cache page, then lets one sweep run: the hand-written drift
 * appears on the overview and Environments as repaired, and the hash is right again.
 */

const USERS = {
  ADMIN: { email: "drift-admin@hotpath.test", password: "drift admin password 1" },
  VIEWER: { email: "drift-viewer@hotpath.test", password: "drift viewer password 1" },
};

let project: TestProject;
let server: AppServer;
let browser: Browser;
let cells: Cell[];

const keys = () => environmentKeys(keyPrefix(), project.prod.id);
const holdSweep = () => redis().set(reconcileLockKey(keyPrefix()), "held-by-test", "PX", 120_000);

async function cachedQueue(slug: string) {
  const raw = await redis().hget(keys().current, slug);
  const decoded = raw ? decodeTaskEntry(raw) : null;
  return decoded?.ok && decoded.value.found ? decoded.value.queueName : null;
}

beforeAll(async () => {
  project = await createTestProject();
  const tasks = [{ slug: "send-email", queue: { name: "emails" }, ttl: "5m" }, { slug: "zz-report", queue: { name: "reports" }, triggerSource: "SCHEDULED" as const }, ...testTasks(40, "filler")];
  await registerAndPromote({ environmentId: project.prod.id, version: "1.0.0", tasks });
  await disconnectTaskMetadataCache();
  await upsertUser({ ...USERS.ADMIN, role: "ADMIN" });
  await upsertUser({ ...USERS.VIEWER, role: "VIEWER" });
  // Held before the server starts: its first sweep (at start) is skipped.
  await holdSweep();
  server = await startAppServer({ TASK_META_CACHE_RECONCILE_INTERVAL_MS: "1000", TASK_META_CACHE_L1_ENABLED: "false" });
  browser = await launchBrowser();
  cells = await openCells(browser, server.url, USERS);
}, 90_000);

afterAll(async () => {
  await browser?.close();
  await server?.stop();
  await disconnectTaskMetadataCacheAdmin();
});

describe("drift everywhere", () => {
  it("the cache page says how many fields drift over the whole hash, and filters to them", async () => {
    // Hand edits: a wrong queue and TTL, and a negative entry for a task the worker has.
    await redis().hset(keys().current, "send-email", encodeTaskEntry({ found: true, kind: "STANDARD", ttl: "1h", queueId: "q_wrong", queueName: "wrong-queue" }));
    await redis().hset(keys().current, "zz-report", encodeTaskEntry(ABSENT_TASK));
    for (const cell of cells) {
      const { page } = cell;
      await page.goto(`${server.url}/admin/environments/${project.prod.id}/cache`);
      const banner = page.getByTestId("drift-banner");
      expect(await banner.innerText(), cell.name).toMatch(/2 fields drift from Postgres/);
      await banner.getByRole("button", { name: "Show only drifting fields" }).click();
      await page.waitForURL(/drift=1/);
      const rows = page.locator('table[aria-label="Drifting fields"] tbody tr');
      expect(await rows.evaluateAll((trs) => trs.map((tr) => [tr.getAttribute("data-field"), tr.getAttribute("data-state")])), cell.name).toEqual([
        ["send-email", "drift"],
        ["zz-report", "drift"],
      ]);
      expect(await page.getByRole("link", { name: "Delete field" }).count(), cell.name).toBe(cell.role === "ADMIN" ? 2 : 0);
      await screenshot(page, `drift-cache-${cell.name}`);
      await banner.getByRole("button", { name: "Show all fields" }).click();
      await page.waitForURL((url) => !url.search.includes("drift=1"));
      expect(cell.errors, cell.name).toEqual([]);
    }
  }, 120_000);

  it("the overview's Errors tile links to where the errors happened (the keyspace table)", async () => {
    // A minute of traffic with decode errors on the current hash, as an app instance flushes it.
    const counts = emptyCounts();
    counts.events.hit.current = 20;
    counts.events.decode_error.current = 3;
    counts.resolves.cache[3] = 20;
    const key = metricsBucketKey(keyPrefix(), minuteOf(Date.now()));
    const pipeline = redis().pipeline();
    for (const [field, n] of toBucketFields(counts)) pipeline.hincrby(key, field, n);
    await pipeline.expire(key, 3_600).exec();
    for (const cell of cells) {
      const { page } = cell;
      await page.goto(`${server.url}/admin`);
      const tile = page.getByTestId("tile-errors");
      expect(await tile.getAttribute("href"), cell.name).toBe("#by-keyspace");
      await tile.click();
      await page.waitForURL(/#by-keyspace$/);
      expect(await inViewport(page, "#by-keyspace"), cell.name).toBe(true);
      expect(await page.locator("#by-keyspace").innerText(), cell.name).toMatch(/Decode errors/i);
      expect(cell.errors, cell.name).toEqual([]);
    }
  }, 60_000);

  it("hand-written drift appears on the overview and Environments within one sweep, and is repaired by it", async () => {
    const released = Date.now();
    await redis().del(reconcileLockKey(keyPrefix()));
    // One sweep: the next one runs within the 1 s interval of the lock's release.
    const record = await eventually(
      async () => {
        const [r] = await readDriftRecords(taskMetadataCacheAdmin(), [project.prod.id]);
        return r && Date.parse(r.checkedAt) >= released && r.seenAt ? r : null;
      },
      { timeoutMs: 15_000, intervalMs: 100 },
    );
    expect(record).toMatchObject({ seenFields: 2 });
    await holdSweep();
    expect(await cachedQueue("send-email")).toBe("emails");
    expect(await cachedQueue("zz-report")).toBe("reports");

    for (const cell of cells) {
      const { page } = cell;
      await page.goto(`${server.url}/admin`);
      const panel = page.getByTestId("drift-panel");
      const entry = panel.locator(`li[data-environment="${project.projectSlug} / prod"]`);
      expect(await entry.innerText(), cell.name).toMatch(/2 fields drifted · repaired/);
      await screenshot(page, `drift-overview-${cell.name}`);

      await page.goto(`${server.url}/admin/environments`);
      const row = page.locator(`tr[data-environment="${project.projectSlug}/prod"]`);
      expect(await row.locator('[data-column="drift"]').innerText(), cell.name).toMatch(/2 fields drifted · repaired/);
      // The dev environment has no current hash: nothing to compare yet.
      expect(await page.locator(`tr[data-environment="${project.projectSlug}/dev"] [data-column="drift"]`).innerText(), cell.name).toMatch(/not checked yet/);
      await screenshot(page, `drift-environments-${cell.name}`);

      // From the overview to the environment's drifting fields: none left.
      await page.goto(`${server.url}/admin`);
      await entry.getByRole("link").click();
      await page.waitForURL(/\/cache\?drift=1/);
      expect(await page.getByTestId("drift-banner").innerText(), cell.name).toMatch(/No field drifts from Postgres[\s\S]*repaired it/);
      expect(cell.errors, cell.name).toEqual([]);
    }
  }, 120_000);
});
