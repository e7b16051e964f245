import { describe, expect, it } from "vitest";
import { ApiKeyL1, defaultRevocationChannel } from "~/services/apiKeyL1.server";

const prod = { id: "env_prod", type: "PRODUCTION" as const, slug: "prod", projectId: "proj_1" };
const HASH = "a".repeat(64);

function clock(start = 1_000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

function liveTier(ttlMs = 5_000, time = clock()) {
  return new ApiKeyL1({ maxEntries: 100, ttlMs, live: true, clock: time });
}

describe("the API-key in-process tier", () => {
  it("answers a key it was given, until its TTL ends (hits never extend it)", () => {
    const time = clock();
    const tier = liveTier(5_000, time);
    tier.remember(tier.generation, HASH, prod);
    time.advance(4_000);
    expect(tier.get(HASH)).toEqual(prod);
    time.advance(1_001);
    expect(tier.get(HASH)).toBeUndefined();
  });

  it("holds a frozen copy: a caller mutating what it got cannot change the next answer", () => {
    const tier = liveTier();
    const given = { ...prod };
    tier.remember(tier.generation, HASH, given);
    given.slug = "changed";
    expect(tier.get(HASH)?.slug).toBe("prod");
    expect(Object.isFrozen(tier.get(HASH))).toBe(true);
  });

  it("a revocation drops the key", () => {
    const tier = liveTier();
    tier.remember(tier.generation, HASH, prod);
    tier.revoke(HASH);
    expect(tier.get(HASH)).toBeUndefined();
  });

  it("a lookup that started before a revocation cannot put its answer back", () => {
    const tier = liveTier();
    const startedAt = tier.generation;
    tier.revoke(HASH);
    tier.remember(startedAt, HASH, prod);
    expect(tier.get(HASH)).toBeUndefined();
    tier.remember(tier.generation, HASH, prod);
    expect(tier.get(HASH)).toEqual(prod);
  });

  it("is bypassed until its channel is subscribed, and flushed and bypassed when the subscription drops", () => {
    const tier = new ApiKeyL1({ maxEntries: 100, ttlMs: 5_000 });
    tier.remember(tier.generation, HASH, prod);
    expect(tier.get(HASH)).toBeUndefined();
    expect(tier.size).toBe(0);
    tier.setLive(true);
    tier.remember(tier.generation, HASH, prod);
    expect(tier.get(HASH)).toEqual(prod);
    const startedAt = tier.generation;
    tier.setLive(false);
    expect(tier.size).toBe(0);
    tier.setLive(true);
    // A lookup that straddled the outage stores nothing: a revocation may have been missed meanwhile.
    tier.remember(startedAt, HASH, prod);
    expect(tier.get(HASH)).toBeUndefined();
  });

  it("revocations live on a channel of their own under the key prefix", () => {
    expect(defaultRevocationChannel("tr:")).toBe("tr:api-key:revoke");
  });
});
