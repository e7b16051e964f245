import { describe, expect, it } from "vitest";
import { exactUtc, relativeTime } from "~/domain/relativeTime";
import { metadataSource, prettyJson, resolvedVersion } from "~/domain/runProvenance";

describe("resolvedVersion", () => {
  const since = new Date("2026-12-07T12:00:00.000Z");
  it("is the locked version when the run was locked", () => {
    expect(resolvedVersion({ lockedVersion: "1.2.0", createdAt: since, current: null })).toEqual({ how: "locked", version: "1.2.0" });
  });
  it("is the current version for a run made after it became current, an earlier one before", () => {
    const current = { version: "2.0.0", since };
    expect(resolvedVersion({ lockedVersion: null, createdAt: new Date(since.getTime() + 1), current })).toMatchObject({ how: "current", version: "2.0.0" });
    expect(resolvedVersion({ lockedVersion: null, createdAt: since, current })).toMatchObject({ how: "current" });
    expect(resolvedVersion({ lockedVersion: null, createdAt: new Date(since.getTime() - 1), current })).toMatchObject({ how: "earlier", currentVersion: "2.0.0" });
  });
  it("is none when the environment has no current worker", () => {
    expect(resolvedVersion({ lockedVersion: null, createdAt: since, current: null })).toEqual({ how: "none" });
  });
});

describe("metadataSource and prettyJson", () => {
  it("reads only the two known sources", () => {
    expect(metadataSource("cache")).toBe("cache");
    expect(metadataSource("database")).toBe("database");
    expect(metadataSource(null)).toBe("unrecorded");
    expect(metadataSource("redis")).toBe("unrecorded");
  });
  it("prints JSON indented, strings as they are, nothing as null", () => {
    expect(prettyJson({ a: [1] })).toBe('{\n  "a": [\n    1\n  ]\n}');
    expect(prettyJson("raw")).toBe("raw");
    expect(prettyJson(null)).toBeNull();
    expect(prettyJson(undefined)).toBeNull();
  });
});

describe("relativeTime", () => {
  const now = "2026-12-07T12:00:00.000Z";
  it("says how long ago or how soon, in the largest whole unit", () => {
    expect(relativeTime("2026-12-07T11:59:58.000Z", now)).toBe("just now");
    expect(relativeTime("2026-12-07T11:59:30.000Z", now)).toBe("30 s ago");
    expect(relativeTime("2026-12-07T11:57:00.000Z", now)).toBe("3 min ago");
    expect(relativeTime("2026-12-07T09:00:00.000Z", now)).toBe("3 h ago");
    expect(relativeTime("2026-12-05T12:00:00.000Z", now)).toBe("2 d ago");
    expect(relativeTime("2026-12-07T12:10:00.000Z", now)).toBe("in 10 min");
  });
  it("gives the exact time in UTC, labelled", () => {
    expect(exactUtc(now)).toBe("2026-12-07 12:00:00 UTC");
  });
});
