import { describe, expect, it } from "vitest";
import {
  ABSENT_TASK,
  decodeQueueRef,
  decodeTaskEntry,
  decodeWorkerId,
  encodeQueueRef,
  encodeTaskEntry,
  type TaskMetadata,
} from "~/domain/taskMetadataEntry";

const full: TaskMetadata = { found: true, kind: "AGENT", ttl: "5m", queueId: "q_1", queueName: "emails" };

describe("task metadata entries are compact, versioned JSON decoded with zod", () => {
  it("encodes the SPEC shape", () => {
    expect(JSON.parse(encodeTaskEntry(full))).toEqual({ v: 1, k: "AGENT", t: "5m", q: "q_1", n: "emails" });
  });

  it("omits absent fields", () => {
    expect(encodeTaskEntry({ found: true, kind: "STANDARD", ttl: null, queueId: null, queueName: null })).toBe(
      '{"v":1,"k":"STANDARD"}',
    );
  });

  it("round-trips positive and negative entries", () => {
    expect(decodeTaskEntry(encodeTaskEntry(full))).toEqual({ ok: true, value: full });
    const bare: TaskMetadata = { found: true, kind: "SCHEDULED", ttl: null, queueId: null, queueName: null };
    expect(decodeTaskEntry(encodeTaskEntry(bare))).toEqual({ ok: true, value: bare });
    expect(decodeTaskEntry(encodeTaskEntry(ABSENT_TASK))).toEqual({ ok: true, value: { found: false } });
  });

  it.each([
    ["not json", "{oops"],
    ["another schema version", '{"v":2,"k":"STANDARD"}'],
    ["no version", '{"k":"STANDARD"}'],
    ["unknown kind", '{"v":1,"k":"CRON"}'],
    ["wrong type", '{"v":1,"k":"STANDARD","t":5}'],
    ["a bare string", '"hello"'],
    ["null", "null"],
    ["truncated", '{"v":1,"k":"STAND'],
  ])("%s is a decode error, never a cast", (_, raw) => {
    expect(decodeTaskEntry(raw).ok).toBe(false);
  });

  it("queue refs and worker ids decode strictly", () => {
    expect(decodeQueueRef(encodeQueueRef("q_1"))).toEqual({ ok: true, value: "q_1" });
    expect(decodeQueueRef('{"v":1}').ok).toBe(false);
    expect(decodeWorkerId("cm3abc")).toEqual({ ok: true, value: "cm3abc" });
    expect(decodeWorkerId("").ok).toBe(false);
    expect(decodeWorkerId("a b").ok).toBe(false);
  });
});
