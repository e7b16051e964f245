import { z } from "zod";
import { TRIGGER_SOURCES, type TaskKind } from "~/domain/environments";

/**
 * What the cache stores per task, per queue association and per version (docs/decisions/0012-task-metadata-key-layout.md). Values are
 * compact JSON carrying a schema version and are decoded with zod, never cast: a value written by
 * another version of the code, truncated, or edited by hand decodes as an error, which the cache
 * treats as a miss and the back-fill overwrites.
 *
 *   task entry        {"v":1,"k":"AGENT","t":"5m","q":"<queueId>","n":"<queueName>"}  (t/q/n omitted when none)
 *   negative entry    {"v":1,"a":1}   the task is absent from that worker
 *   queue association {"v":1,"q":"<queueId>"}
 */

export const TASK_METADATA_SCHEMA_VERSION = 1;


export interface TaskMetadata {
  found: true;
  kind: TaskKind;
  /** The task's registered TTL (normalised duration) or null. */
  ttl: string | null;
  queueId: string | null;
  queueName: string | null;
}

/** The task is known to be absent from the worker. */
export interface AbsentTask {
  found: false;
}

export type TaskEntry = TaskMetadata | AbsentTask;

export const ABSENT_TASK: AbsentTask = Object.freeze({ found: false });

const id = z.string().min(1).max(128).regex(/^[^\s{}]+$/);

const PresentWire = z.object({
  v: z.literal(TASK_METADATA_SCHEMA_VERSION),
  k: z.enum(TRIGGER_SOURCES),
  t: z.string().min(1).max(64).optional(),
  q: id.optional(),
  n: z.string().min(1).max(256).optional(),
});
const AbsentWire = z.object({ v: z.literal(TASK_METADATA_SCHEMA_VERSION), a: z.literal(1) });
const QueueRefWire = z.object({ v: z.literal(TASK_METADATA_SCHEMA_VERSION), q: id });

export type Decoded<T> = { ok: true; value: T } | { ok: false; error: string };

function parseJson(raw: string): Decoded<unknown> {
  try {
    return { ok: true, value: JSON.parse(raw) };
  } catch {
    return { ok: false, error: "not JSON" };
  }
}

function issues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ");
}

export function encodeTaskEntry(entry: TaskEntry): string {
  if (!entry.found) return JSON.stringify({ v: TASK_METADATA_SCHEMA_VERSION, a: 1 });
  const wire: z.input<typeof PresentWire> = { v: TASK_METADATA_SCHEMA_VERSION, k: entry.kind };
  if (entry.ttl) wire.t = entry.ttl;
  if (entry.queueId) wire.q = entry.queueId;
  if (entry.queueName) wire.n = entry.queueName;
  return JSON.stringify(wire);
}

export function decodeTaskEntry(raw: string): Decoded<TaskEntry> {
  const json = parseJson(raw);
  if (!json.ok) return json;
  // A failed zod parse builds its issue list, several times the cost of a successful one (≈2.5 µs
  // against 0.5 µs, scripts/bench.ts), and present entries are the warm hot path: try the absent
  // schema only for a value that could match it.
  const value = json.value;
  if (typeof value === "object" && value !== null && "a" in value) {
    const absent = AbsentWire.safeParse(value);
    if (absent.success) return { ok: true, value: ABSENT_TASK };
  }
  const present = PresentWire.safeParse(value);
  if (!present.success) return { ok: false, error: issues(present.error) };
  const w = present.data;
  return {
    ok: true,
    value: { found: true, kind: w.k, ttl: w.t ?? null, queueId: w.q ?? null, queueName: w.n ?? null },
  };
}

export function encodeQueueRef(queueId: string): string {
  return JSON.stringify({ v: TASK_METADATA_SCHEMA_VERSION, q: queueId });
}

export function decodeQueueRef(raw: string): Decoded<string> {
  const json = parseJson(raw);
  if (!json.ok) return json;
  const ref = QueueRefWire.safeParse(json.value);
  return ref.success ? { ok: true, value: ref.data.q } : { ok: false, error: issues(ref.error) };
}

/** Worker ids as stored in the versions hash and the owner key. */
export function decodeWorkerId(raw: string): Decoded<string> {
  const parsed = id.safeParse(raw);
  return parsed.success ? { ok: true, value: parsed.data } : { ok: false, error: issues(parsed.error) };
}

/** Everything a replace writes for one worker: its task entries and the queues they use. */
export interface WorkerMetadataSnapshot {
  workerId: string;
  version: string;
  tasks: { slug: string; entry: TaskMetadata }[];
  /** Queue name → id, for the queues the worker's tasks run on (the locked-override check). */
  queues: { name: string; id: string }[];
  /** The external deployment id the worker was registered with, and its generation (set-if-newer). */
  external?: { id: string; generation: number } | null;
}
