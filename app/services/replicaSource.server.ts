import { CircuitBreaker } from "~/domain/circuitBreaker";
import type { TaskEntry } from "~/domain/taskMetadataEntry";
import { logger } from "~/services/logger.server";
import type { LockedLookup, TaskMetadataSource } from "~/services/taskMetadataSource.server";

/**
 * Miss-path lookups on a read replica, with the primary as the authority for anything the replica
 * says does not exist (docs/decisions/0021-replica-not-found-is-rechecked-on-the-primary.md).
 *
 * A replica lags its primary. An answer that shows a row is at worst as stale as the cache itself
 * may be (an older current worker for a moment after a promotion). An answer that says "not
 * found" would be worse: a worker registered a moment ago is a 422 for a locked trigger, and a
 * task of a freshly promoted worker would start a run PENDING_VERSION. So every "not found"
 * is asked again on the primary, whose answer is returned. Those are the rare paths; a warm
 * miss path sends nothing to the primary.
 *
 * The replica is an optimisation, never a dependency: when it fails (down, restarting, a query
 * cancelled by a recovery conflict) the primary answers, and a breaker stops paying the replica's
 * connect timeout on every miss while it stays down.
 */

export interface ReplicaFirstSourceOptions {
  replica: TaskMetadataSource;
  primary: TaskMetadataSource;
  breaker?: CircuitBreaker;
}

/** The current worker is unknown, or the task is not on it: both may be the replica lagging. */
export function currentNeedsPrimary(answer: { workerId: string | null; entry: TaskEntry }): boolean {
  return answer.workerId === null || !answer.entry.found;
}

/** No such worker, no such task on it, or the override's queue is not associated with it. */
export function lockedNeedsPrimary(answer: LockedLookup | null, overrideQueueName: string | undefined): boolean {
  return answer === null || !answer.entry.found || (overrideQueueName !== undefined && !answer.overrideQueueId);
}

export function replicaFirstSource(options: ReplicaFirstSourceOptions): TaskMetadataSource {
  const { replica, primary } = options;
  const breaker = options.breaker ?? new CircuitBreaker({ failureThreshold: 3, cooldownMs: 5_000 });

  async function read<T>(
    operation: string,
    context: Record<string, unknown>,
    onReplica: () => Promise<T>,
    onPrimary: () => Promise<T>,
    needsPrimary: (answer: T) => boolean,
  ): Promise<T> {
    if (breaker.tryAcquire()) {
      let answer: T;
      try {
        answer = await onReplica();
        breaker.recordSuccess();
      } catch (error) {
        const opened = breaker.recordFailure();
        logger.warn(opened ? "read replica failing; the primary answers misses until it recovers" : "read replica lookup failed; asking the primary", {
          operation,
          error,
          ...context,
        });
        return onPrimary();
      }
      if (!needsPrimary(answer)) return answer;
      const confirmed = await onPrimary();
      if (JSON.stringify(confirmed) !== JSON.stringify(answer)) {
        // Evidence of replica lag on a path where it would have changed the answer.
        logger.info("read replica was behind the primary; answered from the primary", { operation, ...context });
      }
      return confirmed;
    }
    return onPrimary();
  }

  return {
    findCurrentTask: (environment, slug) =>
      read(
        "findCurrentTask",
        { environmentId: environment.id, slug },
        () => replica.findCurrentTask(environment, slug),
        () => primary.findCurrentTask(environment, slug),
        currentNeedsPrimary,
      ),
    findLockedTask: (environmentId, worker, slug, overrideQueueName) =>
      read(
        "findLockedTask",
        { environmentId, worker, slug, overrideQueueName },
        () => replica.findLockedTask(environmentId, worker, slug, overrideQueueName),
        () => primary.findLockedTask(environmentId, worker, slug, overrideQueueName),
        (answer) => lockedNeedsPrimary(answer, overrideQueueName),
      ),
  };
}
