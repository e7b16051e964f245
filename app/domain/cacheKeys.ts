/**
 * Redis keys of the task metadata cache (docs/decisions/0012-task-metadata-key-layout.md). Every key of
 * one environment carries the hash tag `{<envId>}`, so all of them live in one Cluster slot and a
 * script may touch several. The owner is a key of its own, never a field of the current hash, so no
 * task slug can collide with it; the same goes for each worker's queue associations.
 *
 * `${prefix}task-meta:{<envId>}:current`            slug → entry (current worker)
 * `${prefix}task-meta:{<envId>}:owner`              id of the worker the current hash belongs to
 * `${prefix}task-meta:{<envId>}:locked:<version>`   one worker, addressed by its version: `w` → worker id,
 *                                                   `t:<slug>` → entry, `q:<queue>` → queue ref
 *                                                   (docs/decisions/0055-locked-hash-by-version.md)
 * `${prefix}task-meta:{<envId>}:pinned:<extId>`     the worker registered with that external deployment id:
 *                                                   the locked hash's fields plus `v` → version, `s` →
 *                                                   generation; or `w` = "-" for ~20 s when no worker
 *                                                   has the id yet (docs/decisions/0070-pinned-hash-by-external-id.md)
 * `${prefix}task-meta:{<envId>}:staging:<token>`    a replace being assembled; renamed into place
 *
 * The layout before 0055, never written nor read any more (left to expire; admin pages still list
 * and delete them): `versions` (version → worker id), `worker:<workerId>`, `queues:<workerId>`.
 */

import { isEnvironmentId } from "~/domain/environments";

export const NO_CURRENT_WORKER = "-";

export type TaskMetaKeyKind = "current" | "owner" | "locked" | "pinned" | "versions" | "worker" | "queues" | "staging";

/** Fields of a locked hash. The prefixes keep a slug and a queue name from ever colliding. */
export const LOCKED_WORKER_FIELD = "w";
export const lockedTaskField = (slug: string) => `t:${slug}`;
export const lockedQueueField = (queueName: string) => `q:${queueName}`;
/** Fields a pinned hash has beyond the locked hash's: the version and the generation that wrote it. */
export const PINNED_VERSION_FIELD = "v";
export const PINNED_GENERATION_FIELD = "s";
/** `w` of a pinned hash while no worker has the external id (a short negative entry). */
export const NOT_DEPLOYED = "-";

export interface EnvironmentKeys {
  current: string;
  owner: string;
  /** The hash of the worker registered as `version` (0055). */
  locked(version: string): string;
  /** The hash of the worker registered with external deployment id `externalId` (0070). */
  pinned(externalId: string): string;
  /** Old layout (before 0055): no longer written or read. */
  versions: string;
  worker(workerId: string): string;
  queues(workerId: string): string;
  staging(token: string): string;
  /** `SCAN MATCH` pattern for every key of this environment. */
  pattern: string;
}

function assertTaggable(what: string, value: string) {
  // A brace would move or break the hash tag and scatter one environment over several slots.
  if (value === "" || value.includes("{") || value.includes("}")) {
    throw new Error(`${what} must be non-empty and contain no braces, got ${JSON.stringify(value)}`);
  }
}

function assertPrefix(prefix: string) {
  // Redis hashes the first {...} of a key: a brace in the prefix would become every key's tag.
  if (prefix.includes("{") || prefix.includes("}")) {
    throw new Error(`Redis key prefix must contain no braces, got ${JSON.stringify(prefix)}`);
  }
}

export function environmentKeys(prefix: string, environmentId: string): EnvironmentKeys {
  assertPrefix(prefix);
  if (!isEnvironmentId(environmentId)) {
    throw new Error(`environment id must be non-empty, without braces or whitespace, got ${JSON.stringify(environmentId)}`);
  }
  const base = `${prefix}task-meta:{${environmentId}}:`;
  return {
    current: `${base}current`,
    owner: `${base}owner`,
    locked: (version) => {
      // Only the first {…} of a key is its hash tag, the environment's: a version may hold braces.
      if (version === "") throw new Error("version must be non-empty");
      return `${base}locked:${version}`;
    },
    pinned: (externalId) => {
      // After the tag, like a version: braces in an external id cannot move the slot.
      if (externalId === "") throw new Error("external deployment id must be non-empty");
      return `${base}pinned:${externalId}`;
    },
    versions: `${base}versions`,
    worker: (workerId) => {
      assertTaggable("worker id", workerId);
      return `${base}worker:${workerId}`;
    },
    queues: (workerId) => {
      assertTaggable("worker id", workerId);
      return `${base}queues:${workerId}`;
    },
    staging: (token) => `${base}staging:${token}`,
    pattern: `${escapeGlob(base)}*`,
  };
}

/** The current-hash sweep's lock: whoever sets it sweeps for one interval (reconciler.server.ts). */
export function reconcileLockKey(prefix: string): string {
  assertPrefix(prefix);
  return `${prefix}task-meta:reconcile-lock`;
}

/** Where the sweep keeps its place between passes: `since` (ms) and the rolling pass's `cursor` (decision 0075). */
export function reconcileStateKey(prefix: string): string {
  assertPrefix(prefix);
  return `${prefix}task-meta:reconcile-state`;
}

export interface ParsedTaskMetaKey {
  environmentId: string;
  kind: TaskMetaKeyKind;
  /** Worker id for `worker`/`queues`, version for `locked`, external id for `pinned`, staging token for `staging`. */
  id?: string;
}

/** Classifies a key found by SCAN (admin pages); null when it is not one of ours. */
export function parseTaskMetaKey(prefix: string, key: string): ParsedTaskMetaKey | null {
  const head = `${prefix}task-meta:{`;
  if (!key.startsWith(head)) return null;
  const close = key.indexOf("}:", head.length);
  if (close < 0) return null;
  const environmentId = key.slice(head.length, close);
  const rest = key.slice(close + 2);
  if (rest === "current" || rest === "owner" || rest === "versions") return { environmentId, kind: rest };
  const colon = rest.indexOf(":");
  if (colon < 0) return null;
  const kind = rest.slice(0, colon);
  const id = rest.slice(colon + 1);
  if ((kind === "locked" || kind === "pinned" || kind === "worker" || kind === "queues" || kind === "staging") && id !== "") return { environmentId, kind, id };
  return null;
}

function escapeGlob(text: string): string {
  return text.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
