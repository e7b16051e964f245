import { describe, expect, it } from "vitest";
import { chooseIdempotency, TriggerBody } from "~/domain/triggerOptions";

/** The SDK's trigger request as Hotpath reads it: every option kept, bad ones named. */

const everyOption = {
  queue: { name: "emails" },
  concurrencyKey: 42,
  idempotencyKey: "k".repeat(2048),
  idempotencyKeyTTL: "1h",
  delay: "5m",
  ttl: "10m",
  tags: "one",
  metadata: { a: 1 },
  metadataType: "application/json",
  maxAttempts: 3,
  maxDuration: 90.5,
  machine: "small-2x",
  priority: 1.5,
  region: "eu-central-1",
  test: true,
  lockToVersion: "v1",
  payloadType: "application/super+json",
};

describe("TriggerBody", () => {
  it("keeps every option the SDK sends, normalising queue, tags and concurrencyKey", () => {
    const parsed = TriggerBody.parse({ payload: "{}", options: everyOption });
    expect(parsed.options).toEqual({ ...everyOption, queue: "emails", concurrencyKey: "42", tags: ["one"] });
  });

  it("accepts the queue as a string, {name} and {name: {name}}", () => {
    for (const queue of ["q", { name: "q" }, { name: { name: "q" } }]) {
      expect(TriggerBody.parse({ options: { queue } }).options?.queue).toBe("q");
    }
  });

  it("ignores options it does not know (as the SDK's schema does)", () => {
    const parsed = TriggerBody.parse({ options: { parentRunId: "run_x", debounce: { key: "k", delay: "1s" } } });
    expect(parsed.options).toEqual({});
  });

  it.each([
    [{ machine: "huge" }, "machine"],
    [{ payloadType: "application/xml" }, "payloadType"],
    [{ metadataType: "text/plain" }, "metadataType"],
    [{ maxAttempts: 1.5 }, "maxAttempts"],
    [{ maxAttempts: 0 }, "maxAttempts"],
    [{ priority: -1 }, "priority"],
    [{ idempotencyKey: "k".repeat(2049) }, "idempotencyKey"],
    [{ tags: Array.from({ length: 11 }, (_, i) => `t${i}`) }, "tags"],
    [{ tags: ["x".repeat(129)] }, "tags.0"],
    [{ test: "yes" }, "test"],
  ])("%j is refused at options.%s", (options, path) => {
    const parsed = TriggerBody.safeParse({ options });
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0].path.join(".")).toBe(`options.${path}`);
  });
});

describe("chooseIdempotency", () => {
  it("takes the header or the option, and the TTL from either", () => {
    expect(chooseIdempotency({ idempotencyKey: "h", idempotencyKeyTTL: "1h" }, {})).toEqual({ key: "h", ttl: "1h" });
    expect(chooseIdempotency({}, { idempotencyKey: "o", idempotencyKeyTTL: "2h" })).toEqual({ key: "o", ttl: "2h" });
    expect(chooseIdempotency({}, {})).toEqual({ key: null, ttl: undefined });
  });

  it("refuses two different keys and an over-long header", () => {
    expect(() => chooseIdempotency({ idempotencyKey: "a" }, { idempotencyKey: "b" })).toThrow(expect.objectContaining({ status: 400 }));
    expect(() => chooseIdempotency({ idempotencyKey: "a".repeat(2049) }, {})).toThrow(expect.objectContaining({ status: 400 }));
  });
});
