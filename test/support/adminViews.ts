import type { Browser, Page } from "playwright-core";
import { collectPageErrors, logIn } from "./browser";

/**
 * The admin browser tests' matrix: each page as an ADMIN and as a VIEWER, on a desktop and on a
 * phone. One context per cell, logged in, with its page errors collected.
 */

export const VIEWPORTS = {
  desktop: { width: 1440, height: 900 },
  phone: { width: 390, height: 844 },
} as const;

export type Role = "ADMIN" | "VIEWER";

export interface Cell {
  role: Role;
  viewport: keyof typeof VIEWPORTS;
  page: Page;
  errors: string[];
  name: string;
}

export async function openCells(browser: Browser, baseUrl: string, users: Record<Role, { email: string; password: string }>): Promise<Cell[]> {
  const cells: Cell[] = [];
  for (const role of ["ADMIN", "VIEWER"] as const) {
    for (const viewport of ["desktop", "phone"] as const) {
      const context = await browser.newContext({ viewport: VIEWPORTS[viewport] });
      const page = await context.newPage();
      page.setDefaultTimeout(10_000);
      const errors: string[] = [];
      collectPageErrors(page, errors);
      await logIn(page, baseUrl, users[role].email, users[role].password);
      cells.push({ role, viewport, page, errors, name: `${role.toLowerCase()}-${viewport}` });
    }
  }
  return cells;
}

/** Whether `selector`'s box lies inside the viewport (what the user sees without scrolling). */
export async function inViewport(page: Page, selector: string): Promise<boolean> {
  return page.locator(selector).first().evaluate((element) => {
    const box = element.getBoundingClientRect();
    return box.top >= 0 && box.top < window.innerHeight && box.left >= -1 && box.left < window.innerWidth;
  });
}
