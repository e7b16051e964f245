import { describe, expect, it } from "vitest";
import { CacheMiss, ReadThrough, type Lookup } from "~/services/taskMetadata/readThrough.server";

/**
 * ReadThrough with in-memory fakes: a Map for the cache, a counting function for Postgres, a
 * queue of back-fills run by hand and a clock set by hand. No Redis, no Postgres.
 */
function harness(options: { backfillWrites?: boolean; backfillFails?: boolean } = {}) {
  const cache = new Map<string, string>();
  const calls = { cache: 0, source: [] as (string | undefined)[], backfills: 0 };
  const pending: (() => Promise<unknown>)[] = [];
  let now = 0;
  const readThrough = new ReadThrough({
    scheduleBackfill: (work) => void pending.push(work),
    missStreaks: { probeIntervalMs: 250 },
    now: () => now,
  });
  // The key is the whole argument.
  const lookup: Lookup<string, string, string, string> = {
    key: (key) => key,
    context: (key) => ({ key }),
    fromCache: async (key) => {
      calls.cache += 1;
      return cache.get(key) ?? new CacheMiss("worker-1");
    },
    fromSource: async (key, hint) => {
      calls.source.push(hint);
      return `db:${key}`;
    },
    backfill: (key, found) => async () => {
      calls.backfills += 1;
      if (options.backfillFails) throw new Error("Redis went away");
      // backfillWrites false: a back-fill the store refuses (the owner check), so the key keeps missing.
      if (options.backfillWrites === false) return false;
      cache.set(key, found);
      return true;
    },
  };
  /** Runs the scheduled back-fills; resolves with their outcomes. */
  const runBackfills = () => Promise.allSettled(pending.splice(0).map((work) => work()));
  return { cache, calls, readThrough, lookup, runBackfills, advance: (ms: number) => (now += ms) };
}

describe("ReadThrough", () => {
  it("a hit answers from the cache: no Postgres lookup, no back-fill", async () => {
    const h = harness();
    h.cache.set("a", "cached:a");
    expect(await h.readThrough.read(h.lookup, "a")).toEqual({ fromDatabase: false, value: "cached:a" });
    expect(h.calls.source).toEqual([]);
    expect(await h.runBackfills()).toEqual([]);
  });

  it("a miss answers from Postgres with the cache's hint, then back-fills so the next read hits", async () => {
    const h = harness();
    expect(await h.readThrough.read(h.lookup, "a")).toEqual({ fromDatabase: true, value: "db:a" });
    expect(h.calls.source).toEqual(["worker-1"]);
    // The answer came first; the back-fill waits for the scheduler.
    expect(h.cache.has("a")).toBe(false);
    await h.runBackfills();
    expect(await h.readThrough.read(h.lookup, "a")).toEqual({ fromDatabase: false, value: "db:a" });
    expect(h.calls.source).toHaveLength(1);
  });

  it("a key that keeps missing after its back-fill goes straight to Postgres", async () => {
    const h = harness({ backfillWrites: false });
    await h.readThrough.read(h.lookup, "a");
    await h.runBackfills();
    // Missed again after its back-fill: no second back-fill.
    await h.readThrough.read(h.lookup, "a");
    expect(await h.runBackfills()).toEqual([]);
    const cacheReads = h.calls.cache;
    expect(await h.readThrough.read(h.lookup, "a")).toEqual({ fromDatabase: true, value: "db:a" });
    expect(h.calls.cache).toBe(cacheReads);
    expect(h.calls.backfills).toBe(1);
    // Other keys are not affected.
    h.cache.set("b", "cached:b");
    expect(await h.readThrough.read(h.lookup, "b")).toEqual({ fromDatabase: false, value: "cached:b" });
  });

  it("once per probe interval, a key that keeps missing asks the cache beside Postgres; a hit puts it back to cache-first", async () => {
    const h = harness({ backfillWrites: false });
    await h.readThrough.read(h.lookup, "a");
    await h.runBackfills();
    await h.readThrough.read(h.lookup, "a");

    h.advance(250);
    const cacheReads = h.calls.cache;
    expect(await h.readThrough.read(h.lookup, "a")).toEqual({ fromDatabase: true, value: "db:a" });
    expect(h.calls.cache).toBe(cacheReads + 1);
    // The probe's Postgres lookup started beside the cache read, so it has no hint.
    expect(h.calls.source.at(-1)).toBeUndefined();
    // Still missing: the probe back-fills once more.
    expect(await h.runBackfills()).toHaveLength(1);

    // Within the interval, Postgres alone again.
    h.advance(100);
    await h.readThrough.read(h.lookup, "a");
    expect(h.calls.cache).toBe(cacheReads + 1);

    h.advance(150);
    h.cache.set("a", "cached:a");
    expect(await h.readThrough.read(h.lookup, "a")).toEqual({ fromDatabase: false, value: "cached:a" });
    await h.readThrough.read(h.lookup, "a");
    expect(h.calls.cache).toBe(cacheReads + 3);
  });

  it("a failed back-fill reaches the scheduler as a failure and counts as not written", async () => {
    const h = harness({ backfillFails: true });
    expect(await h.readThrough.read(h.lookup, "a")).toEqual({ fromDatabase: true, value: "db:a" });
    const [outcome] = await h.runBackfills();
    expect(outcome).toMatchObject({ status: "rejected", reason: new Error("Redis went away") });
    // Not stuck "in flight": the next miss is counted, and the key then goes to Postgres alone.
    await h.readThrough.read(h.lookup, "a");
    const cacheReads = h.calls.cache;
    await h.readThrough.read(h.lookup, "a");
    expect(h.calls.cache).toBe(cacheReads);
  });

  it("nothing to back-fill (Postgres found nothing) counts as a back-fill not written", async () => {
    const h = harness();
    let cacheReads = 0;
    const nothing: Lookup<string, string, null> = {
      key: (key) => key,
      context: () => ({}),
      fromCache: async () => ((cacheReads += 1), null),
      fromSource: async () => null,
      backfill: () => null,
    };
    await h.readThrough.read(nothing, "gone");
    await h.readThrough.read(nothing, "gone");
    await h.readThrough.read(nothing, "gone");
    // The second miss found the (empty) back-fill finished: the third goes to Postgres alone.
    expect(cacheReads).toBe(2);
  });
});
