import { performance } from "node:perf_hooks";
import { MissStreaks, type LookupPlan, type MissStreakOptions } from "~/domain/missStreaks";
import { logger } from "~/services/logger.server";

/**
 * How one lookup goes through the cache to Postgres and back: the cache first; on a miss Postgres
 * answers and the cache is back-filled after the answer is returned. A key that misses again after
 * its back-fill finished (back-fills do not stick) goes straight to Postgres, and a few times a
 * second asks the cache beside it, until the cache answers again: it costs the Postgres lookup,
 * not a cache round trip plus the lookup
 * (docs/decisions/0023-keys-that-keep-missing-go-to-postgres.md).
 *
 * The resolver says what to read and write; this class decides when, and keeps the books.
 */

export interface ReadThroughOptions {
  /** How keys that keep missing are handled (default MISS_STREAKS); false: every miss is a first miss. */
  missStreaks?: Partial<MissStreakOptions> | false;
  /**
   * Runs a back-fill after the answer has been returned. The default starts it at once without
   * awaiting it; tests inject a scheduler to interleave a back-fill with a promotion.
   */
  scheduleBackfill?: (backfill: () => Promise<unknown>) => void;
  /** Clock of the probe interval (tests); `performance.now` by default. */
  now?: () => number;
}

/** One key's way through the cache. `H` is what the cache knew on a miss (a worker id, say). */
export interface Lookup<Cached, Found, Hint = never> {
  /** Everything the answer depends on: the key of its miss streak. */
  key: string;
  /** The cache's answer, null on a miss; `hint` narrows the Postgres lookup that follows. */
  fromCache(): Promise<{ value: Cached | null; hint?: Hint }>;
  /** Postgres' answer. `hint` is undefined when the lookup runs beside the cache or without it. */
  fromSource(hint: Hint | undefined): Promise<Found>;
  /** The back-fill of what Postgres found (resolves true when written); null when there is nothing to write. */
  backfill(found: Found, hint: Hint | undefined): (() => Promise<boolean>) | null;
  /** Logged with a failure of a Postgres lookup whose answer went unused. */
  context: Record<string, unknown>;
}

export type ReadThroughResult<Cached, Found> = { fromDatabase: false; value: Cached } | { fromDatabase: true; value: Found };

/** A key that keeps missing goes to Postgres, asking the cache beside it (and back-filling) 4 times a second. */
const MISS_STREAKS: MissStreakOptions = { probeIntervalMs: 250, maxKeys: 10_000 };

function runInBackground(backfill: () => Promise<unknown>) {
  backfill().catch((error) => logger.warn("task metadata back-fill failed", { error }));
}

export class ReadThrough {
  private readonly streaks: MissStreaks | null;
  private readonly scheduleBackfill: (backfill: () => Promise<unknown>) => void;
  private readonly now: () => number;

  constructor(options: ReadThroughOptions = {}) {
    this.streaks = options.missStreaks === false ? null : new MissStreaks({ ...MISS_STREAKS, ...options.missStreaks });
    this.scheduleBackfill = options.scheduleBackfill ?? runInBackground;
    this.now = options.now ?? (() => performance.now());
  }

  async read<Cached, Found, Hint>(lookup: Lookup<Cached, Found, Hint>): Promise<ReadThroughResult<Cached, Found>> {
    const { key } = lookup;
    const plan = this.plan(key);
    if (plan === "database-only") return { fromDatabase: true, value: await lookup.fromSource(undefined) };

    const beside = plan === "probe" ? lookupBeside(() => lookup.fromSource(undefined)) : undefined;
    const cached = await lookup.fromCache();
    if (cached.value !== null) {
      this.streaks?.hit(key);
      leaveUnused(beside, lookup.context);
      return { fromDatabase: false, value: cached.value };
    }
    const backfills = this.streaks?.missed(key, plan, this.now()) ?? true;
    const found = await (beside ?? lookup.fromSource(cached.hint));
    if (backfills) {
      const work = lookup.backfill(found, cached.hint);
      if (work) this.schedule(key, work);
      else this.streaks?.backfillFinished(key, false);
    }
    return { fromDatabase: true, value: found };
  }

  private plan(key: string): LookupPlan {
    const streaks = this.streaks;
    // While no key is missing (a warm cache), not even the clock is read.
    return streaks && streaks.size !== 0 ? streaks.plan(key, this.now()) : "cache-first";
  }

  /** Schedules a back-fill and records, when it finishes, whether it was written. */
  private schedule(key: string, work: () => Promise<boolean>) {
    const streaks = this.streaks;
    if (!streaks) return this.scheduleBackfill(work);
    this.scheduleBackfill(() =>
      work().then(
        (written) => {
          streaks.backfillFinished(key, written === true);
          return written;
        },
        (error: unknown) => {
          streaks.backfillFinished(key, false);
          throw error;
        },
      ),
    );
  }
}

/**
 * Starts a probe's Postgres lookup beside its cache read. Its rejection is marked handled at once:
 * the caller awaits it only when the cache misses (and then sees the error).
 */
function lookupBeside<T>(lookup: () => Promise<T>): Promise<T> {
  const answer = lookup();
  answer.catch(() => undefined);
  return answer;
}

/** The cache answered first: the Postgres answer goes unused, and a failure of it is only logged. */
function leaveUnused(answer: Promise<unknown> | undefined, context: Record<string, unknown>) {
  answer?.catch((error) => logger.warn("unused Postgres lookup beside a cache hit failed", { ...context, error }));
}
