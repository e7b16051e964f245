import { describe, expect, it } from "vitest";
import { BadRequestError } from "~/domain/errors";
import { effectiveTtl, parseTriggerTtl } from "~/domain/ttl";

const DAY = 86_400;

describe("TTL precedence: trigger ttl → task ttl → 10m in DEVELOPMENT, clamped", () => {
  it.each([
    // trigger,   task,   environment,     max,      ttl,     seconds
    [undefined, null, "PRODUCTION", 14 * DAY, null, null],
    [undefined, null, "DEVELOPMENT", 14 * DAY, "10m", 600],
    [undefined, "1h", "DEVELOPMENT", 14 * DAY, "1h", 3_600],
    [undefined, "1h", "PRODUCTION", 14 * DAY, "1h", 3_600],
    ["5m", "1h", "PRODUCTION", 14 * DAY, "5m", 300],
    ["5m", null, "DEVELOPMENT", 14 * DAY, "5m", 300],
    [120, "1h", "STAGING", 14 * DAY, "2m", 120],
    ["300", null, "PREVIEW", 14 * DAY, "5m", 300],
    // An explicit 0 means "no TTL" and beats the task's TTL and the dev default.
    [0, "1h", "PRODUCTION", 14 * DAY, null, null],
    ["0", null, "DEVELOPMENT", 14 * DAY, null, null],
    // Clamping applies to every source.
    ["30d", null, "PRODUCTION", 14 * DAY, "2w", 14 * DAY],
    [undefined, "30d", "PRODUCTION", 7 * DAY, "1w", 7 * DAY],
    [undefined, null, "DEVELOPMENT", 300, "5m", 300],
    // A stored task ttl that does not parse is ignored rather than failing triggers.
    [undefined, "garbage", "DEVELOPMENT", 14 * DAY, "10m", 600],
    [undefined, "garbage", "PRODUCTION", 14 * DAY, null, null],
  ] as const)("trigger %j, task %j, %s, max %i → %j (%j s)", (trigger, task, environmentType, maxSeconds, ttl, seconds) => {
    expect(
      effectiveTtl({ triggerTtlSeconds: parseTriggerTtl(trigger), taskTtl: task, environmentType, maxSeconds }),
    ).toEqual({ ttl, ttlSeconds: seconds });
  });

  it("a malformed trigger ttl is a 400 naming options.ttl", () => {
    expect(() => parseTriggerTtl("5 minutes")).toThrow(BadRequestError);
    expect(() => parseTriggerTtl("5 minutes")).toThrow(/options\.ttl/);
  });

  it("absent means absent", () => {
    expect(parseTriggerTtl(undefined)).toBeUndefined();
    expect(parseTriggerTtl(null)).toBeUndefined();
  });
});
