import { describe, expect, it } from "vitest";
import {
  canReschedule,
  DEFAULT_IDEMPOTENCY_KEY_TTL_SECONDS,
  expiresAt,
  idempotencyKeyExpiresAt,
  initialStatus,
  isWaiting,
  parseDelay,
  priorityMs,
} from "~/domain/runSchedule";

/** When a run can start, when it expires, and how long its idempotency key deduplicates. */

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

describe("a run's first status", () => {
  it("DELAYED with a delay, whatever the task", () => {
    expect(initialStatus({ delayUntil: new Date(), taskFound: false, lockedToVersion: false })).toBe("DELAYED");
    expect(initialStatus({ delayUntil: new Date(), taskFound: true, lockedToVersion: true })).toBe("DELAYED");
  });

  it("PENDING_VERSION when the task is not deployed yet; QUEUED otherwise (a locked run never waits for a deploy)", () => {
    expect(initialStatus({ delayUntil: null, taskFound: false, lockedToVersion: false })).toBe("PENDING_VERSION");
    expect(initialStatus({ delayUntil: null, taskFound: true, lockedToVersion: false })).toBe("QUEUED");
    expect(initialStatus({ delayUntil: null, taskFound: false, lockedToVersion: true })).toBe("QUEUED");
  });
});

describe("expiry", () => {
  const now = new Date("2026-11-27T12:00:00.000Z");

  it("counts the TTL from when the run can first start", () => {
    expect(expiresAt({ now, delayUntil: null, ttlSeconds: 60 })?.toISOString()).toBe("2026-11-27T12:01:00.000Z");
    expect(expiresAt({ now, delayUntil: new Date("2026-11-27T13:00:00.000Z"), ttlSeconds: 60 })?.toISOString()).toBe("2026-11-27T13:01:00.000Z");
  });

  it("no TTL, no expiry", () => {
    expect(expiresAt({ now, delayUntil: null, ttlSeconds: null })).toBeNull();
    expect(expiresAt({ now, delayUntil: null, ttlSeconds: 0 })).toBeNull();
  });
});

describe("idempotency-key TTL", () => {
  const now = new Date("2026-11-27T12:00:00.000Z");

  it("defaults to 30 days and takes the SDK's durations", () => {
    expect(idempotencyKeyExpiresAt(now, undefined).getTime() - now.getTime()).toBe(DEFAULT_IDEMPOTENCY_KEY_TTL_SECONDS * 1000);
    expect(idempotencyKeyExpiresAt(now, "1h").toISOString()).toBe("2026-11-27T13:00:00.000Z");
    expect(idempotencyKeyExpiresAt(now, "10s").toISOString()).toBe("2026-11-27T12:00:10.000Z");
  });

  it("a malformed or zero TTL is a 400 naming options.idempotencyKeyTTL", () => {
    for (const bad of ["soon", "0", "-1h"]) {
      expect(() => idempotencyKeyExpiresAt(now, bad)).toThrow(expect.objectContaining({ status: 400, message: expect.stringContaining("options.idempotencyKeyTTL") }));
    }
  });
});

describe("small rules", () => {
  it("priority seconds become whole milliseconds", () => {
    expect(priorityMs(undefined)).toBe(0);
    expect(priorityMs(1.5)).toBe(1500);
    expect(priorityMs(0.0004)).toBe(0);
  });

  it("only a waiting run can be canceled; only a DELAYED one rescheduled", () => {
    expect(["QUEUED", "DELAYED", "PENDING_VERSION"].every((s) => isWaiting(s as never))).toBe(true);
    expect(["EXPIRED", "CANCELED", "COMPLETED"].some((s) => isWaiting(s as never))).toBe(false);
    expect(canReschedule("DELAYED")).toBe(true);
    expect(canReschedule("QUEUED")).toBe(false);
  });
});
