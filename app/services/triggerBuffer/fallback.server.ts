import { isDatabaseUnavailable } from "~/domain/databaseOutage";
import { CircuitBreaker } from "~/domain/circuitBreaker";
import { getEnv } from "~/env.server";
import { logger } from "~/services/logger.server";
import type { CreatedRun, NewRun } from "~/services/runs.server";
import { bufferRun, claimedRunId, isBuffering, rejectNotCached } from "~/services/triggerBuffer/buffer.server";

/**
 * Where a trigger's run goes: the one Postgres insert, or — when Postgres cannot take it and the
 * task metadata came from the cache — the trigger buffer. With Postgres up this adds two in-memory
 * breaker calls and nothing else; no Redis command.
 */

let breaker: CircuitBreaker | undefined;

/**
 * Opens after consecutive failed inserts, so that while Postgres is down (or hangs until the
 * pool's connect timeout) triggers go to the buffer at once instead of each waiting to fail.
 */
function insertBreaker(): CircuitBreaker {
  const env = getEnv();
  breaker ??= new CircuitBreaker({ failureThreshold: env.TRIGGER_BUFFER_BREAKER_FAILURES, cooldownMs: env.TRIGGER_BUFFER_BREAKER_COOLDOWN_MS });
  return breaker;
}

/** The resolver's answer; with the buffer on, a Postgres outage it could not hide is a 503 that says why. */
export async function resolveOrExplain<T>(resolve: () => Promise<T>, context: { environmentId: string; task: string }): Promise<T> {
  try {
    return await resolve();
  } catch (error) {
    if (getEnv().TRIGGER_BUFFER_ENABLED && isDatabaseUnavailable(error)) {
      logger.warn("task metadata lookup failed: postgres unavailable", { ...context, error });
      rejectNotCached(context);
    }
    throw error;
  }
}

type FinalRun = NewRun & { id: string; friendlyId: string };

export async function writeRun(
  run: FinalRun,
  source: "cache" | "database",
  insert: (run: NewRun) => Promise<CreatedRun>,
): Promise<CreatedRun & { buffered?: true }> {
  if (!getEnv().TRIGGER_BUFFER_ENABLED) return insert(run);
  const gate = insertBreaker();
  if (!gate.tryAcquire()) return buffered(run, source);
  // While a buffer is being drained, a keyed repeat must find the buffered run, not insert a second one.
  if (run.idempotencyKey !== null && isBuffering()) {
    const claimed = await claimedRunId(run).catch((error) => {
      logger.warn("idempotency claim lookup failed; inserting", { environmentId: run.environmentId, error });
      return null;
    });
    if (claimed) {
      gate.recordSuccess();
      return { id: claimed, isCached: true };
    }
  }
  try {
    const created = await insert(run);
    gate.recordSuccess();
    return created;
  } catch (error) {
    if (!isDatabaseUnavailable(error)) throw error;
    if (gate.recordFailure()) logger.warn("run insert breaker opened: triggers go to the buffer", { error });
    else logger.warn("run insert failed: postgres unavailable, buffering", { environmentId: run.environmentId, error });
    return buffered(run, source);
  }
}

async function buffered(run: FinalRun, source: "cache" | "database"): Promise<CreatedRun & { buffered?: true }> {
  if (source !== "cache") rejectNotCached({ environmentId: run.environmentId, task: run.taskIdentifier });
  const result = await bufferRun(run);
  return result.isCached ? result : { ...result, buffered: true };
}
