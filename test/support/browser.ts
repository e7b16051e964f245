import { mkdirSync } from "node:fs";
import path from "node:path";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { type AppServer, startAppServer } from "./appServer";

/**
 * Debian's Chromium driven by playwright-core (never a downloaded browser). Screenshots go to the
 * git-ignored test-results/screenshots folder.
 */
export const CHROMIUM_PATH = "/usr/bin/chromium";

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

const screenshotDir = path.resolve(import.meta.dirname, "../../test-results/screenshots");

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(screenshotDir, { recursive: true });
  const file = path.join(screenshotDir, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

export async function logIn(page: Page, baseUrl: string, email: string, password: string) {
  await page.goto(`${baseUrl}/login`);
  await page.getByLabel(/email/i).fill(email);
  await page.getByLabel(/password/i).fill(password);
  await Promise.all([page.waitForURL((u) => !u.pathname.startsWith("/login")), page.getByRole("button", { name: /log in|sign in/i }).click()]);
}

export const DESKTOP_VIEWPORT = { width: 1440, height: 900 };

/**
 * Adds what a page reports as an error (an uncaught exception, a console.error — a hydration
 * mismatch shows up here) to `errors`, for the test to expect it empty. The browser's own favicon
 * probe is not the page's doing.
 */
export function collectPageErrors(page: Page, errors: string[]): void {
  page.on("pageerror", (error) => errors.push(error.message));
  page.on("console", (message) => {
    if (message.type() === "error" && !message.location().url.endsWith("/favicon.ico")) {
      errors.push(`${message.text()} (${message.location().url})`);
    }
  });
}

export interface E2eSession {
  server: AppServer;
  browser: Browser;
  context: BrowserContext;
  page: Page;
  /** Errors `page` reported (see collectPageErrors). */
  errors: string[];
  stop: () => Promise<void>;
}

/**
 * The set-up of a browser test file: the built server (with `env` added to this file's
 * environment), Chromium and one desktop-sized page whose errors are collected, logged in when
 * `logInAs` is given. Whatever started is stopped again if a later step fails.
 */
export async function startE2eSession(options: { env?: Record<string, string>; logInAs?: { email: string; password: string } } = {}): Promise<E2eSession> {
  const server = await startAppServer(options.env);
  let browser: Browser | undefined;
  const stop = async () => {
    await browser?.close();
    await server.stop();
  };
  try {
    browser = await launchBrowser();
    const context = await browser.newContext({ viewport: DESKTOP_VIEWPORT });
    const page = await context.newPage();
    page.setDefaultTimeout(8_000);
    const errors: string[] = [];
    collectPageErrors(page, errors);
    if (options.logInAs) await logIn(page, server.url, options.logInAs.email, options.logInAs.password);
    return { server, browser, context, page, errors, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
