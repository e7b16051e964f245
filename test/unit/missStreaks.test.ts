import { describe, expect, it } from "vitest";
import { MissStreaks } from "~/domain/missStreaks";

const streaks = (maxKeys = 100) => new MissStreaks({ probeIntervalMs: 250, maxKeys });

/** A key that missed, was back-filled, and missed again at `now`. */
function persistent(s: MissStreaks, key: string, now = 0) {
  s.missed(key, s.plan(key, now), now);
  s.backfillFinished(key, false);
  s.missed(key, s.plan(key, now), now);
}

describe("MissStreaks", () => {
  it("asks the cache first, and back-fills on a key's first miss", () => {
    const s = streaks();
    expect(s.plan("a", 0)).toBe("cache-first");
    expect(s.missed("a", "cache-first", 0)).toBe(true);
    expect(s.plan("a", 1)).toBe("cache-first");
  });

  it("counts nothing while the back-fill is in flight: a burst of concurrent misses stays cache-first", () => {
    const s = streaks();
    expect(s.missed("a", "cache-first", 0)).toBe(true);
    for (let i = 0; i < 50; i++) {
      expect(s.plan("a", i)).toBe("cache-first");
      expect(s.missed("a", "cache-first", i)).toBe(false);
    }
    s.backfillFinished("a", true);
    s.hit("a");
    expect(s.size).toBe(0);
    expect(s.plan("a", 100)).toBe("cache-first");
  });

  it("a miss after the back-fill finished makes the key go to Postgres, probing the cache once per interval", () => {
    const s = streaks();
    expect(s.missed("a", "cache-first", 0)).toBe(true);
    s.backfillFinished("a", false);
    // Missed again: the back-fill did not stick, and retrying at once would not either.
    expect(s.missed("a", "cache-first", 10)).toBe(false);
    expect(s.plan("a", 11)).toBe("database-only");
    expect(s.plan("a", 259)).toBe("database-only");
    expect(s.plan("a", 260)).toBe("probe");
    expect(s.plan("a", 261)).toBe("database-only");
    // The probe missed: it back-fills once.
    expect(s.missed("a", "probe", 262)).toBe(true);
    expect(s.plan("a", 510)).toBe("probe");
    expect(s.missed("a", "probe", 510)).toBe(false); // that back-fill is still in flight
    s.backfillFinished("a", false);
    expect(s.plan("a", 760)).toBe("probe");
    expect(s.missed("a", "probe", 760)).toBe(true);
    // Another key is not affected; a hit ends the streak.
    expect(s.plan("b", 760)).toBe("cache-first");
    s.hit("a");
    expect(s.plan("a", 2_000)).toBe("cache-first");
  });

  it("a written back-fill puts a key that kept missing back to cache-first; missing again marks it once more", () => {
    const s = streaks();
    persistent(s, "a", 0);
    expect(s.plan("a", 300)).toBe("probe");
    expect(s.missed("a", "probe", 300)).toBe(true);
    s.backfillFinished("a", true);
    // Redis holds it now (say, after a restart): the next lookup asks Redis first.
    expect(s.plan("a", 301)).toBe("cache-first");
    // It missed anyway (evicted again): back to Postgres, no back-fill.
    expect(s.missed("a", "cache-first", 302)).toBe(false);
    expect(s.plan("a", 303)).toBe("database-only");
  });

  it("remembers at most maxKeys keys, dropping the oldest", () => {
    const s = streaks(3);
    for (const key of ["a", "b", "c"]) persistent(s, key);
    s.missed("d", "cache-first", 0);
    expect(s.size).toBe(3);
    expect(s.plan("a", 1_000)).toBe("cache-first");
    expect(s.plan("b", 1_000)).toBe("probe");
    expect(s.plan("c", 1_000)).toBe("probe");
    // A known key's miss evicts nothing.
    s.missed("d", "cache-first", 1_000);
    expect(s.size).toBe(3);
  });
});
