/**
 * Which cache lookups keep missing. A miss is followed by a back-fill, so the next lookup of the
 * same key hits. A key that misses again after its back-fill has finished is one whose back-fills
 * do not stick: Redis evicting at maxmemory, a back-fill refused because the current hash's owner
 * is another worker until a repair lands, Redis not answering. Asking Redis first for such a key
 * only adds a round trip to every call, so until the cache answers again its lookups go straight
 * to Postgres, and at most once per `probeIntervalMs` one asks Redis beside Postgres (a probe) and
 * back-fills if Redis still misses; a back-fill that is written puts the key back to cache-first.
 *
 * Misses while a key's back-fill is still in flight (a burst of concurrent callers after a flush)
 * prove nothing and do not count. Bounded: at most `maxKeys` keys, the oldest dropped first. While
 * no key is missing, a lookup costs one size check.
 */

export interface MissStreakOptions {
  probeIntervalMs: number;
  maxKeys: number;
}

/** How to look a key up: the cache first (Postgres on a miss), Postgres alone, or both at once. */
export type LookupPlan = "cache-first" | "database-only" | "probe";

interface Streak {
  backfillInFlight: boolean;
  /** The back-fill finished and a later lookup still missed. */
  persistent: boolean;
  /** When the last probe started (the caller's clock, ms). */
  probedAt: number;
}

export class MissStreaks {
  private readonly streaks = new Map<string, Streak>();

  constructor(private readonly options: MissStreakOptions) {}

  get size(): number {
    return this.streaks.size;
  }

  plan(key: string, now: number): LookupPlan {
    if (this.streaks.size === 0) return "cache-first";
    const streak = this.streaks.get(key);
    if (!streak?.persistent) return "cache-first";
    if (now - streak.probedAt < this.options.probeIntervalMs) return "database-only";
    streak.probedAt = now;
    return "probe";
  }

  hit(key: string): void {
    if (this.streaks.size !== 0) this.streaks.delete(key);
  }

  /** Records a miss of a cache read; true when this lookup should back-fill the key. */
  missed(key: string, plan: LookupPlan, now: number): boolean {
    const streak = this.streaks.get(key);
    if (!streak) {
      if (this.streaks.size >= this.options.maxKeys) {
        const oldest = this.streaks.keys().next();
        if (!oldest.done) this.streaks.delete(oldest.value);
      }
      this.streaks.set(key, { backfillInFlight: true, persistent: false, probedAt: 0 });
      return true;
    }
    if (streak.backfillInFlight) return false;
    if (!streak.persistent) {
      // Missed after the back-fill finished: it did not stick. Retrying at once would not either.
      streak.persistent = true;
      streak.probedAt = now;
      return false;
    }
    if (plan !== "probe") return false;
    streak.backfillInFlight = true;
    return true;
  }

  /**
   * The back-fill of `key` has finished. Written, the key goes back to cache-first (Redis holds it
   * now, as after a Redis restart); the next miss, if any, shows it did not stick after all.
   */
  backfillFinished(key: string, written: boolean): void {
    const streak = this.streaks.get(key);
    if (!streak) return;
    streak.backfillInFlight = false;
    if (written) streak.persistent = false;
  }
}
