import { performance } from "node:perf_hooks";
import { MissStreaks, type LookupPlan, type MissStreakOptions } from "~/domain/missStreaks";
import { SPAN } from "~/domain/traceAttributes";
import { logger } from "~/services/logger.server";
import { backfillWritten } from "~/services/taskMetadata/spans.server";
import { inLinkedSpan } from "~/services/tracing.server";

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

/** A cache miss that still knew something (a worker id, say): `hint` narrows the Postgres lookup that follows. */
export class CacheMiss<Hint> {
  constructor(readonly hint: Hint) {}
}

/**
 * One kind of lookup through the cache, built once and given each call's arguments (`Args`): a
 * warm read then allocates no closure (under tsx/esbuild's keepNames each one costs a
 * defineProperty, a measurable share of an in-process hit).
 */
export interface Lookup<Args, Cached, Found, Hint = never> {
  /** Everything the answer depends on: the key of its miss streak. */
  key(args: Args): string;
  /** The cache's answer: null or a {@link CacheMiss} on a miss. */
  fromCache(args: Args): Promise<Cached | null | CacheMiss<Hint>>;
  /** Postgres' answer. `hint` is undefined when the lookup runs beside the cache or without it. */
  fromSource(args: Args, hint: Hint | undefined): Promise<Found>;
  /** The back-fill of what Postgres found (resolves true when written); null when there is nothing to write. */
  backfill(args: Args, found: Found, hint: Hint | undefined): (() => Promise<boolean>) | null;
  /** Logged with a failure of a Postgres lookup whose answer went unused. */
  context(args: Args): Record<string, unknown>;
}

export type ReadThroughResult<Cached, Found> = { fromDatabase: false; value: Cached } | { fromDatabase: true; value: Found };

/** A key that keeps missing goes to Postgres, asking the cache beside it (and back-filling) 4 times a second. */
const MISS_STREAKS: MissStreakOptions = { probeIntervalMs: 250, maxKeys: 10_000 };

const BACKFILL_SPAN = { onResult: backfillWritten };

function runInBackground(backfill: () => Promise<unknown>) {
  inLinkedSpan(SPAN.backfill, BACKFILL_SPAN, backfill).catch((error) => logger.warn("task metadata back-fill failed", { error }));
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

  async read<Args, Cached, Found, Hint>(lookup: Lookup<Args, Cached, Found, Hint>, args: Args): Promise<ReadThroughResult<Cached, Found>> {
    const key = lookup.key(args);
    const plan = this.plan(key);
    if (plan === "database-only") return { fromDatabase: true, value: await lookup.fromSource(args, undefined) };

    const beside = plan === "probe" ? lookupBeside(lookup, args) : undefined;
    const cached = await lookup.fromCache(args);
    const miss = cached instanceof CacheMiss ? (cached as CacheMiss<Hint>) : undefined;
    if (cached !== null && !miss) {
      this.streaks?.hit(key);
      if (beside) leaveUnused(beside, lookup.context(args));
      return { fromDatabase: false, value: cached as Cached };
    }
    const hint = miss?.hint;
    const backfills = this.streaks?.missed(key, plan, this.now()) ?? true;
    const found = await (beside ?? lookup.fromSource(args, hint));
    if (backfills) {
      const work = lookup.backfill(args, found, hint);
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
function lookupBeside<Args, Found>(lookup: Lookup<Args, unknown, Found, unknown>, args: Args): Promise<Found> {
  const answer = lookup.fromSource(args, undefined);
  answer.catch(() => undefined);
  return answer;
}

/** The cache answered first: the Postgres answer goes unused, and a failure of it is only logged. */
function leaveUnused(answer: Promise<unknown>, context: Record<string, unknown>) {
  answer.catch((error) => logger.warn("unused Postgres lookup beside a cache hit failed", { ...context, error }));
}
