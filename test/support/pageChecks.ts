import { availableParallelism, loadavg } from "node:os";
import { AxeBuilder } from "@axe-core/playwright";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { expect } from "vitest";
import { collectPageErrors, DESKTOP_VIEWPORT, logIn } from "./browser";

/**
 * Checks every admin page's browser test makes: axe finds no violations (WCAG 2.x A/AA and best
 * practices), the page does not scroll sideways, and how long the server takes to render it.
 */

export const NARROW_VIEWPORT = { width: 390, height: 844 };
export const VIEWPORTS = [
  { name: "desktop", viewport: DESKTOP_VIEWPORT },
  { name: "narrow", viewport: NARROW_VIEWPORT },
] as const;

/** Every axe violation on the page, as "rule: selector" lines (empty when clean). */
export async function axeViolations(page: Page): Promise<string[]> {
  const results = await new AxeBuilder({ page }).analyze();
  return results.violations.flatMap((v) => v.nodes.map((n) => `${v.id} (${v.impact}): ${n.target.join(" ")} — ${n.failureSummary?.split("\n")[1]?.trim() ?? v.help}`));
}

export async function expectAxeClean(page: Page): Promise<void> {
  expect(await axeViolations(page)).toEqual([]);
}

/** The page is no wider than the window (a table may scroll inside its own box, never the page). */
export async function expectNoSidewaysScroll(page: Page, what = "page"): Promise<void> {
  const { scrollWidth, innerWidth, widest } = await page.evaluate(() => {
    // The element reaching furthest right, to name in the failure.
    let widest = "";
    let right = 0;
    for (const el of Array.from(document.body.querySelectorAll("*"))) {
      const r = el.getBoundingClientRect().right;
      if (r > right) [right, widest] = [r, `${el.tagName.toLowerCase()}.${String(el.getAttribute("class") ?? "").split(" ").slice(0, 3).join(".")}`];
    }
    return { scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth, widest };
  });
  expect(scrollWidth, `${what} is ${scrollWidth}px wide in a ${innerWidth}px window (widest: ${widest})`).toBeLessThanOrEqual(innerWidth);
}

/** A new logged-in context of the given size with its errors collected (close `context` when done). */
export async function openAs(
  browser: Browser,
  baseUrl: string,
  user: { email: string; password: string },
  viewport: { width: number; height: number },
): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport });
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: baseUrl });
  const page = await context.newPage();
  page.setDefaultTimeout(8_000);
  const errors: string[] = [];
  collectPageErrors(page, errors);
  await logIn(page, baseUrl, user.email, user.password);
  return { context, page, errors };
}

/**
 * The median time the server takes to answer `path` (a full page render, loaders included) over
 * `times` sequential requests (after three warm-ups) with the page's session cookie. Loopback, so network time is nil.
 */
export async function medianServerMs(page: Page, baseUrl: string, path: string, times = 7): Promise<number> {
  const cookie = (await page.context().cookies()).map((c) => `${c.name}=${c.value}`).join("; ");
  const samples: number[] = [];
  // Three warm-up renders first: the first ones pay for compiling the route's code.
  for (let i = -3; i < times; i++) {
    const started = performance.now();
    const response = await fetch(`${baseUrl}${path}`, { headers: { Cookie: cookie }, redirect: "manual" });
    await response.arrayBuffer();
    if (i >= 0) samples.push(performance.now() - started);
    expect(response.status, path).toBe(200);
  }
  samples.sort((a, b) => a - b);
  return samples[Math.floor(samples.length / 2)];
}

/**
 * The server-time budget of a page (100 ms on a quiet machine), stretched by how overloaded the
 * machine is while the test runs (one-minute load average per core, at least 1): on a 2-core box
 * shared with other work a render queues behind it, which says nothing about the page.
 */
export function pageBudgetMs(quietBudgetMs = 100): number {
  const load = loadavg()[0] / Math.max(1, availableParallelism());
  return quietBudgetMs * Math.max(1, load);
}
