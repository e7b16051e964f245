import { describe, expect, it } from "vitest";
import { parseDelay } from "~/api/trigger";

/** app/api/trigger.ts: `options.delay` as a duration, whole seconds or an ISO date. */

describe("options.delay", () => {
  const now = new Date("2026-11-27T12:00:00.000Z");

  it("a duration or whole seconds counts from now; zero is no delay", () => {
    expect(parseDelay("30s", now)?.toISOString()).toBe("2026-11-27T12:00:30.000Z");
    expect(parseDelay("1h30m", now)?.toISOString()).toBe("2026-11-27T13:30:00.000Z");
    expect(parseDelay(90, now)?.toISOString()).toBe("2026-11-27T12:01:30.000Z");
    expect(parseDelay("0", now)).toBeNull();
    expect(parseDelay(undefined, now)).toBeNull();
  });

  it("an ISO date is that time; a past date is no delay", () => {
    expect(parseDelay("2026-11-28T00:00:00Z", now)?.toISOString()).toBe("2026-11-28T00:00:00.000Z");
    expect(parseDelay("2026-11-27", now)).toBeNull();
  });

  it("anything else is a 400 naming options.delay", () => {
    for (const bad of ["soon", "2026-13-45T99:00:00Z", -5, 1.5]) {
      expect(() => parseDelay(bad, now)).toThrow(expect.objectContaining({ status: 400, message: expect.stringContaining("options.delay") }));
    }
  });
});
