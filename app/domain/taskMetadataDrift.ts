import { tryParseDuration } from "~/domain/durations";
import { decodeTaskEntry, type TaskEntry, type TaskMetadata } from "~/domain/taskMetadataEntry";

/**
 * Drift between one cached field and Postgres, for the environment cache page. "Expected" is the
 * entry the write path would store for the task today (null: the worker has no such task). A field
 * missing from Redis is "not cached yet" — the back-fill writes it on the first trigger — and is
 * not drift; a negative entry for a task the worker really lacks is correct.
 */

export type FieldState = "in-sync" | "negative" | "drift" | "not-cached";

export interface FieldComparison {
  state: FieldState;
  /** The decoded Redis value; null when the field is missing or does not decode. */
  cached: TaskEntry | null;
  /** Why the field is drift, one line per disagreement, naming both sides. */
  differences: string[];
}

function show(value: string | null): string {
  return value === null ? "none" : `'${value}'`;
}

function sameTtl(a: string | null, b: string | null): boolean {
  if (a === null || b === null) return a === b;
  // "300" and "5m" are the same TTL; compare the durations, not their spelling.
  const seconds = [tryParseDuration(a), tryParseDuration(b)];
  return seconds[0] !== null ? seconds[0] === seconds[1] : a === b;
}

export function compareTaskField(raw: string | null | undefined, expected: TaskMetadata | null): FieldComparison {
  if (raw === null || raw === undefined) {
    return expected
      ? { state: "not-cached", cached: null, differences: [] }
      : { state: "in-sync", cached: null, differences: [] };
  }
  const decoded = decodeTaskEntry(raw);
  if (!decoded.ok) {
    return { state: "drift", cached: null, differences: [`the cached value does not decode (${decoded.error})`] };
  }
  const cached = decoded.value;
  if (!cached.found) {
    return expected
      ? { state: "drift", cached, differences: ["cached as absent, but the worker has this task in Postgres"] }
      : { state: "negative", cached, differences: [] };
  }
  if (!expected) {
    return { state: "drift", cached, differences: ["cached, but the worker has no such task in Postgres"] };
  }
  const differences: string[] = [];
  if (cached.kind !== expected.kind) differences.push(`kind: Redis ${cached.kind}, Postgres ${expected.kind}`);
  if (!sameTtl(cached.ttl, expected.ttl)) differences.push(`ttl: Redis ${show(cached.ttl)}, Postgres ${show(expected.ttl)}`);
  if (cached.queueId !== expected.queueId) differences.push(`queue id: Redis ${show(cached.queueId)}, Postgres ${show(expected.queueId)}`);
  if (cached.queueName !== expected.queueName) {
    differences.push(`queue name: Redis ${show(cached.queueName)}, Postgres ${show(expected.queueName)}`);
  }
  return { state: differences.length ? "drift" : "in-sync", cached, differences };
}
