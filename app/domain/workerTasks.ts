import { createHash } from "node:crypto";
import { formatDuration, parseDuration } from "~/domain/durations";
import { BadRequestError } from "~/domain/errors";
import { sanitizeQueueName } from "~/domain/queueNames";
import { taskIdProblem } from "~/domain/triggerInput";
import type { TaskMetadata, WorkerMetadataSnapshot } from "~/domain/taskMetadataEntry";

/**
 * A registration's task list, before anything is written: validated and spelled canonically, its
 * content identity (what makes two registrations of a version "the same"), and the cache snapshot
 * of what a registration created.
 */

export interface RegisterWorkerTask {
  slug: string;
  queue?: { name: string; concurrencyLimit?: number | null } | null;
  ttl?: string | number | null;
  triggerSource?: "STANDARD" | "SCHEDULED" | "AGENT";
}

export interface NormalisedTask {
  slug: string;
  queueName: string | null;
  concurrencyLimit: number | null | undefined;
  ttl: string | null;
  triggerSource: "STANDARD" | "SCHEDULED" | "AGENT";
}

/** Validates and normalises the task list (ttl spelled canonically, queue names sanitised). */
export function normaliseTasks(tasks: RegisterWorkerTask[]): NormalisedTask[] {
  const seen = new Set<string>();
  return tasks.map((task, i) => {
    // The rule triggers apply to task ids: one rule for blank, control-character and over-long slugs.
    const slugProblem = typeof task.slug === "string" ? taskIdProblem(task.slug) : "must be a non-empty string";
    if (slugProblem) throw new BadRequestError(`tasks[${i}].slug ${slugProblem}`, { field: `tasks[${i}].slug` });
    if (seen.has(task.slug)) {
      throw new BadRequestError(`tasks[${i}].slug '${task.slug}' appears more than once`, { field: `tasks[${i}].slug` });
    }
    seen.add(task.slug);
    const limit = task.queue?.concurrencyLimit;
    if (limit !== undefined && limit !== null && !(Number.isInteger(limit) && limit >= 0)) {
      throw new BadRequestError(`tasks[${i}].queue.concurrencyLimit must be a whole number of at least 0`, {
        field: `tasks[${i}].queue.concurrencyLimit`,
      });
    }
    const seconds = task.ttl === undefined || task.ttl === null ? 0 : parseDuration(task.ttl, `tasks[${i}].ttl`);
    return {
      slug: task.slug,
      queueName: task.queue ? sanitizeQueueName(task.queue.name, task.slug) : null,
      concurrencyLimit: task.queue ? limit : undefined,
      ttl: seconds === 0 ? null : formatDuration(seconds),
      triggerSource: task.triggerSource ?? "STANDARD",
    };
  });
}

/**
 * What makes two registrations of one version "the same": the client's contentHash when given,
 * else a hash of the normalised task list (order-independent). Stored in `contentHash`.
 */
export function contentIdentity(contentHash: string | null | undefined, tasks: NormalisedTask[]): string {
  if (contentHash) return contentHash;
  const canonical = [...tasks]
    .sort((a, b) => (a.slug < b.slug ? -1 : a.slug > b.slug ? 1 : 0))
    .map((t) => [t.slug, t.queueName, t.concurrencyLimit ?? null, t.ttl, t.triggerSource]);
  return `tasks-sha256:${createHash("sha256").update(JSON.stringify(canonical)).digest("hex")}`;
}

/** The cache snapshot of a newly registered worker: each task's entry and the queues they use. */
export function workerSnapshot(workerId: string, version: string, tasks: NormalisedTask[], queueIds: Map<string, string>): WorkerMetadataSnapshot {
  const used = new Map<string, string>();
  const entries = tasks.map((task) => {
    const queueId = task.queueName ? queueIds.get(task.queueName) ?? null : null;
    if (task.queueName && queueId) used.set(task.queueName, queueId);
    const entry: TaskMetadata = {
      found: true,
      kind: task.triggerSource,
      ttl: task.ttl,
      queueId,
      queueName: queueId ? task.queueName : null,
    };
    return { slug: task.slug, entry };
  });
  return { workerId, version, tasks: entries, queues: [...used].map(([name, id]) => ({ name, id })) };
}
