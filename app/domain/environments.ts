import { EnvironmentType, TaskTriggerSource } from "~/generated/prisma/enums.ts";

/**
 * Environments, task kinds and "the current worker": the words the trigger path, the write
 * services and the admin pages share, defined once. The enums come from Prisma's generated
 * enums module, which is plain constants (it loads no Prisma client), so the schema stays their
 * only source.
 */

export { EnvironmentType };
/** Every environment type, for validating stored or sent values (`z.enum(ENVIRONMENT_TYPES)`). */
export const ENVIRONMENT_TYPES = Object.values(EnvironmentType) as [EnvironmentType, ...EnvironmentType[]];

/** What the resolver and the write services need to know of an environment. */
export interface EnvironmentRef {
  id: string;
  type: EnvironmentType;
}

/** A task's kind, as its trigger source is stored. */
export type TaskKind = TaskTriggerSource;
/** Every trigger source, for validating input (`z.enum(TRIGGER_SOURCES)`). */
export const TRIGGER_SOURCES = Object.values(TaskTriggerSource) as [TaskKind, ...TaskKind[]];

/** The label of a non-dev environment's promotion that makes a worker current. */
export const CURRENT_LABEL = "current";

/**
 * The current worker of an environment, from rows a query already loaded: in DEVELOPMENT the
 * latest registered worker (newest `createdAt`, then highest id: {@link LATEST_WORKER_FIRST}),
 * elsewhere the worker of the promotion labelled {@link CURRENT_LABEL}; a DEVELOPMENT environment
 * is never promoted. Null when the environment has none. The SQL of the same rule is
 * `currentWorkerIdSql` (services/taskMetadata/sources.server.ts).
 */
export function currentWorkerOf<W>(
  environment: { type: EnvironmentType },
  rows: { latest: W | null | undefined; promoted: W | null | undefined },
): W | null {
  return (environment.type === EnvironmentType.DEVELOPMENT ? rows.latest : rows.promoted) ?? null;
}

/** The order that puts an environment's latest registered worker first (Prisma `orderBy`). */
export const LATEST_WORKER_FIRST = [{ createdAt: "desc" }, { id: "desc" }] as const satisfies readonly Record<string, "desc">[];

/**
 * Whether `value` can be an environment id: ids are hash-tagged into cache keys (so no braces)
 * and travel as pub/sub messages (so no whitespace, and bounded).
 */
export function isEnvironmentId(value: string): boolean {
  return /^[^\s{}]{1,128}$/.test(value);
}
