import { prisma, readPrisma, type PrismaClient } from "~/db.server";
import { getEnv } from "~/env.server";
import { replicaFirstSource } from "~/services/replicaSource.server";
import { singleFlightSource } from "~/services/singleFlightSource.server";
import { findCurrentTask, findLockedTask, type TaskMetadataSource } from "~/services/taskMetadataSource.server";

/**
 * The process's miss-path source, wired from the environment on first use: single-flight in front
 * of the read replica (DATABASE_READ_REPLICA_URL) with its primary re-check, or of the primary
 * alone. Single-flight is outermost, so concurrent misses also share a re-check on the primary.
 */

/** Looks the client up on every call, so a reconnect after disconnectDb() is picked up. */
function onDatabase(db: () => PrismaClient): TaskMetadataSource {
  return {
    findCurrentTask: (environment, slug) => findCurrentTask(db(), environment, slug),
    findLockedTask: (environmentId, worker, slug, overrideQueueName) =>
      findLockedTask(db(), environmentId, worker, slug, overrideQueueName),
  };
}

let source: TaskMetadataSource | undefined;

export function taskMetadataSource(): TaskMetadataSource {
  if (!source) {
    const primary = onDatabase(prisma);
    source = singleFlightSource(
      getEnv().DATABASE_READ_REPLICA_URL ? replicaFirstSource({ replica: onDatabase(readPrisma), primary }) : primary,
    );
  }
  return source;
}
