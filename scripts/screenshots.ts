/**
 * The screenshots in docs/screenshots/, taken from a running Hotpath that holds the seed's data
 * (the quickstart's): `npm run quickstart` in one terminal, then `npm run docs:screenshots` in
 * another. It first sends triggers for five minutes (the overview's shortest window) — every seeded
 * environment, a few tasks no worker has, some locked to the previous prod version — so the
 * overview has hit rates and full charts, then logs in with Debian's Chromium and saves one PNG
 * per admin page.
 *
 *   npm run docs:screenshots [-- --url http://localhost:3000 --seconds 300 --out docs/screenshots]
 *
 * Reads .env like the quickstart: ADMIN_EMAIL / ADMIN_PASSWORD, SEED_PROD_API_KEY (required), the
 * dev and staging keys (used when set), PORT and METRICS_FLUSH_INTERVAL_MS.
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import type { Page } from "playwright-core";
import { getEnv } from "~/env.server";
import { launchBrowser, logIn } from "../test/support/browser";

const env = getEnv();
const { values: args } = parseArgs({
  options: {
    url: { type: "string", default: `http://localhost:${env.PORT}` },
    seconds: { type: "string", default: "300" },
    out: { type: "string", default: path.resolve(import.meta.dirname, "../docs/screenshots") },
  },
});
const baseUrl = args.url.replace(/\/$/, "");
const loadSeconds = Number(args.seconds);

function need<T>(value: T | undefined, name: string): T {
  if (value === undefined) {
    console.error(`${name} is not set: the quickstart writes it to .env (or pass the seed's value in the environment).`);
    process.exit(2);
  }
  return value;
}
const adminPassword = need(env.ADMIN_PASSWORD, "ADMIN_PASSWORD");
const prodKey = need(env.SEED_PROD_API_KEY, "SEED_PROD_API_KEY");

// Tasks of the seed's workers; `lockable` ones also exist on the previous prod version.
const TASKS = ["send-welcome-email", "charge-invoice", "deliver-webhook", "summarize-support-ticket", "export-orders-csv", "send-weekly-digest", "cleanup-expired-sessions", "draft-customer-reply"];
const LOCKABLE = ["send-welcome-email", "charge-invoice", "deliver-webhook", "sync-stripe-customers"];
const NOT_DEPLOYED = ["send-sms-reminder", "sync-crm-contacts"];
const PREVIOUS_PROD_VERSION = "20261120.1";
const keys = [prodKey, prodKey, env.SEED_STAGING_API_KEY, env.SEED_DEV_API_KEY].filter((k): k is string => k !== undefined);
const pick = <T>(list: readonly T[]) => list[Math.floor(Math.random() * list.length)];

async function trigger(): Promise<number> {
  let key = pick(keys);
  let slug = pick(TASKS);
  const options: Record<string, unknown> = { tags: [`customer:${1000 + Math.floor(Math.random() * 200)}`] };
  const roll = Math.random();
  if (roll < 0.01) {
    // A developer trying tasks not registered yet: each one a cache miss answered by Postgres.
    key = env.SEED_DEV_API_KEY ?? key;
    slug = `experiment-${Math.floor(Math.random() * 1e6)}`;
  } else if (roll < 0.04) slug = pick(NOT_DEPLOYED);
  else if (roll < 0.1 && key === prodKey) {
    slug = pick(LOCKABLE);
    options.lockToVersion = PREVIOUS_PROD_VERSION;
  }
  const response = await fetch(`${baseUrl}/api/v1/tasks/${slug}/trigger`, {
    method: "POST",
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ payload: { from: "docs:screenshots" }, options }),
  }).catch((error: unknown) => {
    throw new Error(`cannot reach ${baseUrl} (${(error as Error).cause ?? error}); start it with \`npm run quickstart\` or pass --url`);
  });
  await response.arrayBuffer();
  return response.status;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** About 15 triggers a second, in uneven bursts so the per-minute charts have some shape, until stopped. */
function startTriggers() {
  const statuses = new Map<number, number>();
  let running = true;
  const finished = (async () => {
    while (running) {
      const burst = 5 + Math.floor(Math.random() * 21);
      for (const status of await Promise.all(Array.from({ length: burst }, trigger))) {
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (status === 401 || status >= 500) throw new Error(`a trigger got ${status} from ${baseUrl}; is it running with the seed's keys?`);
      }
      await sleep(1000);
    }
    return `triggers sent: ${[...statuses].map(([status, n]) => `${n} × ${status}`).join(", ")}`;
  })();
  // A failure while pages are being taken is reported by stop().
  finished.catch(() => {});
  return {
    finished,
    stop: () => {
      running = false;
      return finished;
    },
  };
}

/** `ready`: a selector for what the browser draws after hydration (the overview's charts). */
async function shoot(page: Page, name: string, pathname: string, ready?: string) {
  await page.goto(`${baseUrl}${pathname}`, { waitUntil: "networkidle" });
  if (ready) await page.locator(ready).waitFor({ timeout: 15_000 });
  const file = path.join(args.out, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`${file}  ←  ${pathname}`);
}

// Triggers keep coming until the overview is taken, so its charts do not end in a dip; a failing
// trigger ends the script at once.
const load = startTriggers();
await Promise.race([sleep(loadSeconds * 1000), load.finished]);

mkdirSync(args.out, { recursive: true });
const browser = await launchBrowser().catch(async (error) => {
  await load.stop().catch(() => {});
  throw error;
});
try {
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  await shoot(page, "login", "/login");
  await logIn(page, baseUrl, env.ADMIN_EMAIL ?? "admin@hotpath.local", adminPassword);
  await shoot(page, "overview", "/admin?window=5m", ".recharts-surface >> nth=2");
  console.log(await load.stop());
  await shoot(page, "environments", "/admin/environments");

  const prodCache = await page.locator('tr[data-environment$="/prod"] a').first().getAttribute("href");
  if (!prodCache) throw new Error("no prod environment on /admin/environments; run the seed first");
  await shoot(page, "environment-cache", prodCache);
  const worker = await page.locator('table[aria-label="Worker hashes"] tr', { hasText: "current" }).locator("a").first().getAttribute("href");
  if (!worker) throw new Error(`no current worker hash on ${prodCache}`);
  await shoot(page, "worker-hash", worker);

  await shoot(page, "deployments", "/admin/deployments");
  const prodId = prodCache.split("/")[3];
  const runs = `/admin/runs?${new URLSearchParams({ env: prodId, kind: "SCHEDULED" })}`;
  await shoot(page, "runs", runs);
  const run = await page.locator('table[aria-label="Runs"] a[href^="/admin/runs/run_"]').first().getAttribute("href");
  if (run) await shoot(page, "run-detail", run);
  await shoot(page, "history", "/admin/history");

  // The same pages on a phone-sized screen (390×844), signed in as the same user.
  const narrow = await page.context().newPage();
  await narrow.setViewportSize({ width: 390, height: 844 });
  for (const [name, pathname] of [
    ["overview", "/admin?window=5m"],
    ["environments", "/admin/environments"],
    ["environment-cache", prodCache],
    ["deployments", "/admin/deployments"],
    ["runs", runs],
    ["history", "/admin/history"],
    ...(run ? [["run-detail", run]] : []),
  ] as [string, string][]) {
    await shoot(narrow, `${name}-narrow`, pathname, name === "overview" ? ".recharts-surface >> nth=2" : undefined);
  }
} finally {
  await load.stop().catch(() => {});
  await browser.close();
}
