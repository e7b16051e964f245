import { describe, expect, it } from "vitest";
import { environmentKeys, LOCKED_WORKER_FIELD, lockedQueueField, lockedTaskField, parseTaskMetaKey, reconcileLockKey } from "~/domain/cacheKeys";

/** Redis Cluster's key → slot: CRC16-XMODEM of the hash tag (or the whole key) mod 16384. */
function keySlot(key: string): number {
  const open = key.indexOf("{");
  if (open >= 0) {
    const close = key.indexOf("}", open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  let crc = 0;
  for (const byte of Buffer.from(key)) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16_384;
}

describe("task metadata keys", () => {
  it("slot maths matches Redis (known values)", () => {
    expect(keySlot("foo")).toBe(12_182);
    expect(keySlot("123456789")).toBe(0x31c3 % 16_384);
    expect(keySlot("{user1000}.following")).toBe(keySlot("{user1000}.followers"));
  });

  it("follow the SPEC layout with the default prefix", () => {
    const keys = environmentKeys("tr:", "env_1");
    expect(keys.current).toBe("tr:task-meta:{env_1}:current");
    expect(keys.owner).toBe("tr:task-meta:{env_1}:owner");
    expect(keys.versions).toBe("tr:task-meta:{env_1}:versions");
    expect(keys.worker("w1")).toBe("tr:task-meta:{env_1}:worker:w1");
    expect(keys.queues("w1")).toBe("tr:task-meta:{env_1}:queues:w1");
    expect(keys.locked("1.0.0")).toBe("tr:task-meta:{env_1}:locked:1.0.0");
  });

  it("a locked hash is addressed by version, in the environment's slot whatever the version holds", () => {
    const keys = environmentKeys("tr:", "env_1");
    for (const version of ["1.0.0", "v{2}", "a}b", "with space"]) {
      expect(keySlot(keys.locked(version))).toBe(keySlot(keys.current));
      expect(parseTaskMetaKey("tr:", keys.locked(version))).toEqual({ environmentId: "env_1", kind: "locked", id: version });
    }
    expect(() => keys.locked("")).toThrow(/non-empty/);
  });

  it("a locked hash's fields never collide: the worker, prefixed slugs and prefixed queue names", () => {
    expect(LOCKED_WORKER_FIELD).toBe("w");
    expect(lockedTaskField("w")).toBe("t:w");
    expect(lockedQueueField("w")).toBe("q:w");
    expect(lockedTaskField("q:x")).not.toBe(lockedQueueField("x"));
  });

  it("every key of one environment maps to one Cluster slot", () => {
    for (const env of ["cm3x1abc000001", "env_1", "a"]) {
      const keys = environmentKeys("tr:", env);
      const all = [keys.current, keys.owner, keys.versions, keys.worker("w1"), keys.worker("w2"), keys.queues("w1"), keys.staging("t:tasks")];
      expect(new Set(all.map(keySlot)).size).toBe(1);
      expect(keySlot(keys.current)).toBe(keySlot(env));
    }
  });

  it("the owner is its own key, so no slug can collide with it", () => {
    const keys = environmentKeys("tr:", "e");
    expect(keys.owner).not.toBe(keys.current);
    // A slug is only ever a field of the current hash, never part of a key name.
    expect(Object.values(keys).filter((k) => typeof k === "string")).not.toContain("owner");
  });

  it("refuses ids and prefixes that would break the hash tag", () => {
    expect(() => environmentKeys("tr:", "a}b")).toThrow(/braces/);
    expect(() => environmentKeys("tr:", "")).toThrow(/non-empty/);
    expect(() => environmentKeys("t{x}:", "e")).toThrow(/prefix/);
    expect(() => environmentKeys("tr:", "e").worker("{w}")).toThrow(/worker id/);
  });

  it("keys parse back into their kind (admin pages)", () => {
    const keys = environmentKeys("tr:", "env_1");
    expect(parseTaskMetaKey("tr:", keys.current)).toEqual({ environmentId: "env_1", kind: "current" });
    expect(parseTaskMetaKey("tr:", keys.owner)).toEqual({ environmentId: "env_1", kind: "owner" });
    expect(parseTaskMetaKey("tr:", keys.worker("w9"))).toEqual({ environmentId: "env_1", kind: "worker", id: "w9" });
    expect(parseTaskMetaKey("tr:", keys.queues("w9"))).toEqual({ environmentId: "env_1", kind: "queues", id: "w9" });
    expect(parseTaskMetaKey("tr:", "tr:sessions:abc")).toBeNull();
    expect(parseTaskMetaKey("tr:", "tr:task-meta:{env_1}:bogus")).toBeNull();
  });

  it("SCAN patterns escape glob characters of the prefix", () => {
    expect(environmentKeys("t*:", "e").pattern).toBe("t\\*:task-meta:{e}:*");
  });

  it("the sweep's lock lives under the prefix, outside every environment's hash tag", () => {
    expect(reconcileLockKey("tr:")).toBe("tr:task-meta:reconcile-lock");
  });
});
