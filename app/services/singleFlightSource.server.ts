import { SingleFlight } from "~/domain/singleFlight";
import type { TaskMetadataSource } from "~/services/taskMetadataSource.server";

/**
 * Per-process single-flight in front of the miss-path lookups: when a hot task's cache entry is
 * missing (cold start, expiry, a replace that dropped a negative entry), every concurrent trigger
 * of it in this process waits for one Postgres statement instead of sending its own. The key is
 * everything the statement depends on, so two callers only share an answer they would both have
 * got. Callers must treat the shared answer as read-only (the resolver does).
 */
export function singleFlightSource(source: TaskMetadataSource, flights = new SingleFlight()): TaskMetadataSource {
  return {
    findCurrentTask: (environment, slug) =>
      flights.run(JSON.stringify(["current", environment.id, slug]), () => source.findCurrentTask(environment, slug)),
    findLockedTask: (environmentId, worker, slug, overrideQueueName) =>
      flights.run(
        JSON.stringify([
          "locked",
          environmentId,
          "version" in worker ? ["version", worker.version] : ["id", worker.id],
          slug,
          overrideQueueName ?? null,
        ]),
        () => source.findLockedTask(environmentId, worker, slug, overrideQueueName),
      ),
  };
}
