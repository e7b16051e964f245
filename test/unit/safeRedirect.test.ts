import { describe, expect, it } from "vitest";
import { safeRedirect } from "~/domain/safeRedirect";

describe("safeRedirect: only paths on this site", () => {
  it.each([
    ["/admin/runs", "/admin/runs"],
    ["/admin/runs?env=prod&status=QUEUED", "/admin/runs?env=prod&status=QUEUED"],
    ["/admin#top", "/admin#top"],
    ["/admin/../login", "/login"],
  ])("keeps the local path %s", (target, expected) => {
    expect(safeRedirect(target)).toBe(expected);
  });

  it.each([
    "https://evil.example",
    "http://evil.example/admin",
    "//evil.example",
    "///evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "/\t/evil.example",
    "/\n/evil.example",
    "javascript:alert(1)",
    "admin",
    "",
    "%2F%2Fevil.example",
  ])("falls back to /admin for %j", (target) => {
    expect(safeRedirect(target)).toBe("/admin");
  });

  // Issue 12, finding 2: targets that pass a check on the raw string but normalise to "//host".
  it.each([
    "/.//evil.example",
    "/a/..//evil.example",
    "/%2e//evil.example",
    "/%2E//evil.example",
    "/%2e%2e//evil.example",
    "/a/%2e%2e//evil.example",
    "/./\\evil.example",
    "/.//evil.example/admin?x=1",
    "/a/b/../..//evil.example",
    "/.%2e//evil.example",
  ])("falls back for %j, which normalises to another host", (target) => {
    expect(safeRedirect(target)).toBe("/admin");
  });

  it.each([
    ["/%2F%2Fevil.example", "/%2F%2Fevil.example"],
    ["/admin/%2e/runs", "/admin/runs"],
    ["/./admin", "/admin"],
  ])("keeps %j, which stays a path on this site, as %j", (target, expected) => {
    expect(safeRedirect(target)).toBe(expected);
  });

  it("falls back when there is no target at all", () => {
    expect(safeRedirect(undefined)).toBe("/admin");
    expect(safeRedirect(null)).toBe("/admin");
    expect(safeRedirect(["/admin/runs"])).toBe("/admin");
  });

  it("uses the given fallback", () => {
    expect(safeRedirect("https://evil.example", "/login")).toBe("/login");
  });
});
