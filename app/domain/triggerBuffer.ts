import { z } from "zod";
import { PACKET_TYPES } from "~/domain/triggerOptions";

/**
 * The trigger buffer's pure parts (docs/decisions/0060-trigger-buffer.md): which stream an
 * environment's buffered runs go to, the keys around it, and the entry codec. No Redis, no Prisma.
 *
 * Every key of one shard carries the same hash tag, so the buffer's Lua scripts (which touch the
 * stream and its id index together) work on Redis Cluster.
 */

/** 32-bit FNV-1a: stable across processes and versions, so every instance picks the same shard. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash;
}

export function bufferShard(environmentId: string, shards: number): number {
  return fnv1a(environmentId) % shards;
}

export interface ShardKeys {
  /** The stream of buffered runs. */
  stream: string;
  /** friendlyId → stream entry id, so a buffered run can be read back by its id. */
  index: string;
  /** Entries this version could not decode: kept for an operator, never inserted half-right. */
  dead: string;
}

export function shardKeys(prefix: string, shard: number): ShardKeys {
  const tag = `{trigger-buffer:${shard}}`;
  return { stream: `${prefix}${tag}:runs`, index: `${prefix}${tag}:ids`, dead: `${prefix}${tag}:dead` };
}

/** The idempotency claim of (environment, task, key): its value is the buffered run's friendlyId. */
export function idempotencyClaimKey(prefix: string, environmentId: string, taskIdentifier: string, key: string): string {
  return `${prefix}trigger-buffer:claim:{${environmentId}}:${taskIdentifier.length}:${taskIdentifier}:${key}`;
}

export const CONSUMER_GROUP = "drainers";

/** A stream entry id's first part is the append time in ms: the oldest entry's age needs no extra field. */
export function entryAgeMs(entryId: string, now: number): number {
  const ms = Number(entryId.split("-")[0]);
  return Number.isFinite(ms) ? Math.max(0, now - ms) : 0;
}

const isoDate = z.iso.datetime().transform((v) => new Date(v));
const nullableDate = isoDate.nullable();

/**
 * What a buffered run carries: every column the insert would have written, with the ids already
 * chosen, so the drain writes exactly the row the trigger would have.
 */
export const BufferedRunSchema = z.object({
  id: z.string(),
  friendlyId: z.string(),
  environmentId: z.string(),
  taskIdentifier: z.string(),
  // Absent (undefined) is dropped by JSON; the insert writes SQL NULL for both.
  payload: z.unknown().optional(),
  metadata: z.unknown().optional(),
  queue: z.string(),
  lockedQueueId: z.string().nullable(),
  lockedToVersionId: z.string().nullable(),
  ttl: z.string().nullable(),
  expiresAt: nullableDate,
  taskKind: z.enum(["STANDARD", "SCHEDULED", "AGENT"]),
  tags: z.array(z.string()),
  delayUntil: nullableDate,
  status: z.enum(["QUEUED", "DELAYED", "PENDING_VERSION"]),
  idempotencyKey: z.string().nullable(),
  idempotencyKeyExpiresAt: nullableDate.optional(),
  createdAt: isoDate,
  concurrencyKey: z.string().nullable().optional(),
  maxAttempts: z.number().nullable().optional(),
  maxDurationInSeconds: z.number().nullable().optional(),
  machinePreset: z.string().nullable().optional(),
  priorityMs: z.number().optional(),
  region: z.string().nullable().optional(),
  isTest: z.boolean().optional(),
  payloadType: z.enum(PACKET_TYPES).optional(),
  metadataType: z.enum(PACKET_TYPES).optional(),
  traceparent: z.string().nullable().optional(),
  tracestate: z.string().nullable().optional(),
  sdkVersion: z.string().nullable().optional(),
  triggerClient: z.string().nullable().optional(),
  externalDeploymentId: z.string().nullable().optional(),
  versionDeadlineAt: nullableDate.optional(),
  metadataSource: z.enum(["cache", "database"]).nullable().optional(),
});

export type BufferedRun = z.output<typeof BufferedRunSchema>;

/** JSON with dates as ISO strings (JSON.stringify's own Date handling). */
export function encodeBufferedRun(run: z.input<typeof BufferedRunSchema> | BufferedRun): string {
  return JSON.stringify(run);
}

/** Validated, never cast: an entry this version cannot read is reported, not inserted half-right. */
export function decodeBufferedRun(text: string): BufferedRun | null {
  try {
    const parsed = BufferedRunSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** Seconds an idempotency claim lives: until the key expires, at least one second. */
export function claimTtlSeconds(expiresAt: Date, now: Date): number {
  return Math.max(1, Math.ceil((expiresAt.getTime() - now.getTime()) / 1000));
}

/** The drained-count key of one minute (counted by every drainer, read by the admin overview). */
export function drainedCountKey(prefix: string, minute: number): string {
  return `${prefix}trigger-buffer:drained:${minute}`;
}

/** Runs drained per second over the previous whole minute and the current part-minute. */
export function drainRatePerSecond(previousMinute: number, currentMinute: number, msIntoMinute: number): number {
  const seconds = 60 + msIntoMinute / 1000;
  return (previousMinute + currentMinute) / seconds;
}
