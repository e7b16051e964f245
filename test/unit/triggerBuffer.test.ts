import { describe, expect, it } from "vitest";
import {
  bufferShard,
  claimTtlSeconds,
  drainRatePerSecond,
  decodeBufferedRun,
  encodeBufferedRun,
  entryAgeMs,
  idempotencyClaimKey,
  shardKeys,
} from "~/domain/triggerBuffer";

const createdAt = new Date("2026-12-07T06:00:00.000Z");
const run = {
  id: "0b6c1c8e-0000-4000-8000-000000000000",
  friendlyId: "run_abc",
  environmentId: "env_1",
  taskIdentifier: "email",
  payload: { n: 1 },
  metadata: undefined,
  queue: "task/email",
  lockedQueueId: null,
  lockedToVersionId: null,
  ttl: "10m",
  expiresAt: new Date("2026-12-07T06:10:00.000Z"),
  taskKind: "STANDARD" as const,
  tags: ["a"],
  delayUntil: null,
  status: "QUEUED" as const,
  idempotencyKey: "k",
  idempotencyKeyExpiresAt: new Date("2026-12-08T06:00:00.000Z"),
  createdAt,
};

describe("trigger buffer keys and codec", () => {
  it("an environment always lands on the same shard, within range", () => {
    for (const shards of [1, 4, 16]) {
      const shard = bufferShard("env_1", shards);
      expect(shard).toBeGreaterThanOrEqual(0);
      expect(shard).toBeLessThan(shards);
      expect(bufferShard("env_1", shards)).toBe(shard);
    }
  });

  it("a shard's keys share one hash tag (Cluster-safe scripts)", () => {
    const keys = shardKeys("tr:", 3);
    const tags = Object.values(keys).map((key) => /\{[^}]+\}/.exec(key)![0]);
    expect(new Set(tags)).toEqual(new Set(["{trigger-buffer:3}"]));
  });

  it("idempotency claims are per environment, task and key, and do not collide across task/key splits", () => {
    expect(idempotencyClaimKey("tr:", "e", "a:b", "c")).not.toBe(idempotencyClaimKey("tr:", "e", "a", "b:c"));
  });

  it("round-trips a run with the same ids, dates and resolved fields", () => {
    const decoded = decodeBufferedRun(encodeBufferedRun(run));
    expect(decoded).toEqual({ ...run, metadata: undefined });
    expect(decoded!.createdAt.getTime()).toBe(createdAt.getTime());
  });

  it("refuses what it cannot read instead of casting", () => {
    expect(decodeBufferedRun("not json")).toBeNull();
    expect(decodeBufferedRun(JSON.stringify({ ...run, status: "RUNNING" }))).toBeNull();
  });

  it("entry age comes from the stream id; claim TTL is the key's remaining life, at least 1 s", () => {
    expect(entryAgeMs("1000-0", 3500)).toBe(2500);
    expect(claimTtlSeconds(new Date(createdAt.getTime() + 1_500), createdAt)).toBe(2);
    expect(claimTtlSeconds(new Date(createdAt.getTime() - 5_000), createdAt)).toBe(1);
  });
});

describe("drain rate", () => {
  it("spreads the previous whole minute and the current part over their seconds", () => {
    expect(drainRatePerSecond(600, 0, 0)).toBe(10);
    expect(drainRatePerSecond(0, 300, 30_000)).toBeCloseTo(300 / 90);
  });
});
