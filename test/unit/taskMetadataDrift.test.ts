import { describe, expect, it } from "vitest";
import { compareTaskField } from "~/domain/taskMetadataDrift";
import { ABSENT_TASK, encodeTaskEntry, type TaskMetadata } from "~/domain/taskMetadataEntry";

const task: TaskMetadata = { found: true, kind: "AGENT", ttl: "5m", queueId: "q1", queueName: "emails" };

describe("drift between a cached field and Postgres", () => {
  it("is in sync when the cached entry equals what Postgres says", () => {
    expect(compareTaskField(encodeTaskEntry(task), task)).toMatchObject({ state: "in-sync", differences: [] });
  });

  it("treats a field missing from Redis as not cached yet, not as drift", () => {
    expect(compareTaskField(undefined, task)).toMatchObject({ state: "not-cached", cached: null });
    expect(compareTaskField(null, task).state).toBe("not-cached");
  });

  it("names every field that disagrees, with both values", () => {
    const cached = encodeTaskEntry({ ...task, kind: "STANDARD", ttl: null, queueId: "q2", queueName: "old" });
    expect(compareTaskField(cached, task)).toEqual({
      state: "drift",
      cached: { found: true, kind: "STANDARD", ttl: null, queueId: "q2", queueName: "old" },
      differences: [
        "kind: Redis STANDARD, Postgres AGENT",
        "ttl: Redis none, Postgres '5m'",
        "queue id: Redis 'q2', Postgres 'q1'",
        "queue name: Redis 'old', Postgres 'emails'",
      ],
    });
  });

  it("compares TTLs as durations, so '300' and '5m' agree", () => {
    expect(compareTaskField(encodeTaskEntry({ ...task, ttl: "300" }), task).state).toBe("in-sync");
    expect(compareTaskField(encodeTaskEntry({ ...task, ttl: "6m" }), task).state).toBe("drift");
  });

  it("accepts a negative entry for a task the worker lacks, and flags one for a task it has", () => {
    expect(compareTaskField(encodeTaskEntry(ABSENT_TASK), null)).toMatchObject({ state: "negative" });
    expect(compareTaskField(encodeTaskEntry(ABSENT_TASK), task)).toMatchObject({ state: "drift" });
  });

  it("flags a cached task the worker no longer has, and a value that does not decode", () => {
    expect(compareTaskField(encodeTaskEntry(task), null)).toMatchObject({ state: "drift" });
    const corrupt = compareTaskField('{"v":9}', task);
    expect(corrupt.state).toBe("drift");
    expect(corrupt.differences[0]).toMatch(/does not decode/);
  });
});
