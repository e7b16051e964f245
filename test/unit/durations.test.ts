import { describe, expect, it } from "vitest";
import { formatDuration, parseDuration, tryParseDuration } from "~/domain/durations";
import { BadRequestError } from "~/domain/errors";

describe("durations are whole seconds, written as seconds or unit groups", () => {
  it.each([
    ["5m", 300],
    ["1h30m", 5_400],
    ["2d", 172_800],
    ["1w", 604_800],
    ["1w2d3h4m5s", 604_800 + 172_800 + 10_800 + 240 + 5],
    ["90s", 90],
    ["300", 300],
    [" 10m ", 600],
    ["0", 0],
    ["0s", 0],
    [0, 0],
    [45, 45],
  ] as const)("%j is %i seconds", (input, seconds) => {
    expect(parseDuration(input, "options.ttl")).toBe(seconds);
  });

  it.each([["abc"], [""], ["   "], ["5x"], ["m5"], ["5m1h"], ["1.5h"], ["-5m"], ["5 m"], ["5M"], [-1], [1.5], [Number.NaN], [Number.POSITIVE_INFINITY], ["99999999999999999d"]])(
    "%j is malformed: a 400 naming the field",
    (input) => {
      expect(tryParseDuration(input as string | number)).toBeNull();
      let error: unknown;
      try {
        parseDuration(input as string | number, "options.ttl");
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(BadRequestError);
      expect((error as BadRequestError).status).toBe(400);
      expect((error as BadRequestError).message).toContain("options.ttl");
      expect((error as BadRequestError).details).toEqual({ field: "options.ttl" });
    },
  );

  it("the error names whichever field it is given", () => {
    expect(() => parseDuration("soon", "tasks[3].ttl")).toThrow(/^Invalid duration for tasks\[3\]\.ttl: 'soon'/);
  });

  it.each([
    [300, "5m"],
    [5_400, "1h30m"],
    [172_800, "2d"],
    [90, "1m30s"],
    [1, "1s"],
    [1_209_600, "2w"],
    [694_861, "1w1d1h1m1s"],
  ])("%i seconds is written %s, which parses back", (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
    expect(parseDuration(text, "x")).toBe(seconds);
  });

  it("formatting needs a positive whole number", () => {
    expect(() => formatDuration(0)).toThrow(RangeError);
    expect(() => formatDuration(1.5)).toThrow(RangeError);
  });
});
