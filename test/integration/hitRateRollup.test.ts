import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROLLUP_SHARDS } from "~/domain/hitRateRollup";
import type { MetricsWindow } from "~/domain/metricsMath";
import { environmentLookups, readLowestHitRates, writeEnvironmentLookups } from "~/services/hitRateRollup.server";
import { startPrivateRedis, type PrivateRedis } from "../support/privateRedis";
import { RedisCommandCounter } from "../support/redisCommandCount";

/**
 * The per-environment hit-rate roll-ups (decision 0076) against a Redis of the test's own: each
 * window holds exactly the lookups of its minutes (5 min, 1 h) or tens of minutes (24 h) as it
 * slides, the lowest K merged from the shards is the true lowest K, and reading the overview's
 * table costs the same at 10,000 active environments as at 1,000.
 */

let server: PrivateRedis;
let client: Redis;
let counter: RedisCommandCounter;

beforeAll(async () => {
  server = await startPrivateRedis();
  client = new Redis(server.url);
  counter = new RedisCommandCounter(server.url);
}, 30_000);
afterAll(async () => {
  await client.quit();
  await counter.close();
  await server.stop();
});

interface Lookup {
  minute: number;
  environmentId: string;
  cache: number;
  database: number;
}

/** The first minute of what `window` covers when read at `minute`. */
function windowStart(window: MetricsWindow, minute: number): number {
  if (window === "5m") return minute - 4;
  if (window === "1h") return minute - 59;
  return (Math.floor(minute / 10) - 143) * 10;
}

function bruteForce(lookups: Lookup[], window: MetricsWindow, minute: number) {
  const sums = new Map<string, { cache: number; database: number }>();
  for (const l of lookups) {
    if (l.minute < windowStart(window, minute) || l.minute > minute) continue;
    const s = sums.get(l.environmentId) ?? { cache: 0, database: 0 };
    s.cache += l.cache;
    s.database += l.database;
    sums.set(l.environmentId, s);
  }
  return sums;
}

/** A deterministic pseudo-random sequence (the test must fail the same way twice). */
function random(seed: number) {
  let s = seed;
  return () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32);
}

describe("hit-rate roll-ups", () => {
  it("hold exactly each window's lookups while they slide over 30 hours, and rank the lowest K exactly", async () => {
    const prefix = "slide:";
    const next = random(18);
    const environments = Array.from({ length: 60 }, (_, i) => `env-${i}`);
    const lookups: Lookup[] = [];
    const start = 29_000_000;
    for (let minute = start; minute < start + 30 * 60; minute += 1 + Math.floor(next() * 13)) {
      const batch: Record<string, { cache: number; database: number }> = {};
      for (const environmentId of environments) {
        if (next() < 0.3) continue;
        const entry = { cache: Math.floor(next() * 20), database: Math.floor(next() * 5) };
        if (!entry.cache && !entry.database) continue;
        batch[environmentId] = entry;
        lookups.push({ minute, environmentId, ...entry });
      }
      expect((await writeEnvironmentLookups(client, prefix, minute, batch)).error).toBeUndefined();
      if (next() < 0.15) {
        for (const window of ["5m", "1h", "24h"] as const) {
          const expected = bruteForce(lookups, window, minute);
          const read = await readLowestHitRates(client, prefix, window, minute, 10);
          expect(read.active).toBe(expected.size);
          const lowest = [...expected.entries()]
            .map(([environmentId, s]) => ({ environmentId, hitRate: s.cache / (s.cache + s.database), ...s }))
            .sort((a, b) => a.hitRate - b.hitRate || a.environmentId.localeCompare(b.environmentId))
            .slice(0, 10);
          expect(read.environments.map((e) => e.hitRate)).toEqual(lowest.map((e) => e.hitRate));
          expect(read.environments.map((e) => e.cache + e.database)).toEqual(lowest.map((e) => e.cache + e.database));
          for (const environmentId of environments.slice(0, 5)) {
            expect(await environmentLookups(client, prefix, window, environmentId)).toEqual(expected.get(environmentId) ?? { cache: 0, database: 0 });
          }
        }
      }
    }
    // Two idle days later every window is empty, and so are the ranks.
    const later = start + 30 * 60 + 2 * 1440;
    for (const window of ["5m", "1h", "24h"] as const) expect(await readLowestHitRates(client, prefix, window, later, 10)).toEqual({ environments: [], active: 0 });
  }, 120_000);

  it("adds a writer's lookups from a clock that is behind to the latest minute, so a window never keeps what already left it", async () => {
    const prefix = "skew:";
    await writeEnvironmentLookups(client, prefix, 1_000, { "env-x": { cache: 1, database: 1 } });
    await writeEnvironmentLookups(client, prefix, 990, { "env-x": { cache: 2, database: 0 } }); // ten minutes behind
    expect(await environmentLookups(client, prefix, "5m", "env-x")).toEqual({ cache: 3, database: 1 });
    // Five minutes on, the 5 min window has let go of all of it, late lookups included.
    expect((await readLowestHitRates(client, prefix, "5m", 1_005, 10)).environments).toEqual([]);
    expect(await environmentLookups(client, prefix, "1h", "env-x")).toEqual({ cache: 3, database: 1 });
  });

  it("reads the overview's lowest 100 with the same Redis commands at 10,000 active environments as at 1,000", async () => {
    const minute = 30_000_000;
    const cost = async (prefix: string, active: number) => {
      const batch: Record<string, { cache: number; database: number }> = {};
      for (let i = 0; i < active; i++) batch[`env-${i}`] = { cache: i % 7, database: 1 + (i % 3) };
      expect((await writeEnvironmentLookups(client, prefix, minute, batch)).error).toBeUndefined();
      let read!: Awaited<ReturnType<typeof readLowestHitRates>>;
      const commands = await counter.during(async () => (read = await readLowestHitRates(client, prefix, "24h", minute, 100)));
      expect(read.active).toBe(active);
      expect(read.environments).toHaveLength(100);
      expect(read.environments[0].hitRate).toBe(0);
      return commands;
    };
    const small = await cost("k1000:", 1_000);
    const large = await cost("k10000:", 10_000);
    expect(large).toEqual(small);
    // Per shard the script (inside it, four HGETs of its clock and its windows' places: nothing
    // left a window), its lowest 100 and its size; then the 100 environments' counts.
    expect(large).toEqual({ evalsha: ROLLUP_SHARDS, hget: 4 * ROLLUP_SHARDS, zrange: ROLLUP_SHARDS, zcard: ROLLUP_SHARDS, hmget: 100 });
  }, 60_000);
});
