import { tryParseDuration } from "~/domain/durations";
import type { TaskKind } from "~/domain/environments";

/**
 * What a promotion (or roll-back) changes for triggers: the tasks the target version adds and
 * removes against the current one, and those whose queue, TTL or kind differ. Pure; the preview
 * service (app/services/promotionPreview.server.ts) feeds it from Postgres.
 */

export interface DiffTask {
  slug: string;
  queueName: string | null;
  ttl: string | null;
  kind: TaskKind;
}

export type ChangedField = "queue" | "ttl" | "kind";

export interface TaskChange {
  slug: string;
  changes: { field: ChangedField; from: string | null; to: string | null }[];
}

export interface TaskDiff {
  added: DiffTask[];
  removed: DiffTask[];
  changed: TaskChange[];
  unchanged: number;
}

function sameTtl(a: string | null, b: string | null): boolean {
  if (a === null || b === null) return a === b;
  const seconds = tryParseDuration(a);
  return seconds !== null ? seconds === tryParseDuration(b) : a === b;
}

function changesOf(from: DiffTask, to: DiffTask): TaskChange["changes"] {
  const changes: TaskChange["changes"] = [];
  if (from.queueName !== to.queueName) changes.push({ field: "queue", from: from.queueName, to: to.queueName });
  if (!sameTtl(from.ttl, to.ttl)) changes.push({ field: "ttl", from: from.ttl, to: to.ttl });
  if (from.kind !== to.kind) changes.push({ field: "kind", from: from.kind, to: to.kind });
  return changes;
}

const bySlug = (a: { slug: string }, b: { slug: string }) => a.slug.localeCompare(b.slug);

/** `from` is the current version's tasks (empty when nothing is current), `to` the target's. */
export function diffTasks(from: readonly DiffTask[], to: readonly DiffTask[]): TaskDiff {
  const before = new Map(from.map((t) => [t.slug, t]));
  const after = new Map(to.map((t) => [t.slug, t]));
  const diff: TaskDiff = { added: [], removed: [], changed: [], unchanged: 0 };
  for (const task of to) {
    const previous = before.get(task.slug);
    if (!previous) {
      diff.added.push(task);
      continue;
    }
    const changes = changesOf(previous, task);
    if (changes.length) diff.changed.push({ slug: task.slug, changes });
    else diff.unchanged++;
  }
  for (const task of from) if (!after.has(task.slug)) diff.removed.push(task);
  diff.added.sort(bySlug);
  diff.removed.sort(bySlug);
  diff.changed.sort(bySlug);
  return diff;
}
