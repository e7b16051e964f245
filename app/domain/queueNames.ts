/**
 * Queue names as stored and used by runs: only `[A-Za-z0-9_\-/]`, at most 128 characters. Other
 * characters are dropped rather than replaced so that `"my queue"` and `"myqueue"` are the same
 * queue, as the reference implementation behaves; a name left empty falls back to the task's
 * default queue.
 */

export const MAX_QUEUE_NAME_LENGTH = 128;
const DISALLOWED = /[^A-Za-z0-9_\-/]/g;

function clean(name: string): string {
  return name.replace(DISALLOWED, "").slice(0, MAX_QUEUE_NAME_LENGTH);
}

/** The queue a task runs on when neither the caller nor the task names one: `task/<slug>`. */
export function defaultQueueName(taskSlug: string): string {
  return clean(`task/${taskSlug}`);
}

/** `name` sanitised; the task's default queue when nothing valid is left. */
export function sanitizeQueueName(name: string, taskSlug: string): string {
  const cleaned = clean(name);
  return cleaned === "" ? defaultQueueName(taskSlug) : cleaned;
}
