import { z } from "zod";
import { BadRequestError } from "~/domain/errors";
import { isJsonObject, taskIdProblem } from "~/domain/triggerInput";

/**
 * The trigger request as `@trigger.dev/sdk` 4.8.3 sends it (its `TriggerTaskRequestBody`), with
 * Hotpath's limits. Shared by the single trigger, replay and (next) batch items, so every path
 * accepts and stores the same options. Unknown options are stripped, as the SDK's own schema does;
 * known ones are never dropped. Each issue names its field (`options.machine`, …).
 */

export const MAX_TAGS = 10;
export const MAX_TAG_LENGTH = 128;
export const MAX_IDEMPOTENCY_KEY_LENGTH = 2048;
/** `priority` is seconds; stored as whole milliseconds in a 32-bit column. */
export const MAX_PRIORITY_SECONDS = 2_000_000;
export const MAX_ATTEMPTS = 1_000;
export const MAX_DURATION_SECONDS = 2_000_000;
export const MACHINE_PRESETS = ["micro", "small-1x", "small-2x", "medium-1x", "medium-2x", "large-1x", "large-2x"] as const;
/** Payload and metadata encodings stored as sent; the SDK decodes them on read. */
export const PACKET_TYPES = ["application/json", "application/super+json"] as const;
export type PacketType = (typeof PACKET_TYPES)[number];

const packetType = (field: string) =>
  z
    .string()
    .refine((value): value is PacketType => (PACKET_TYPES as readonly string[]).includes(value), {
      message: `${field} must be one of ${PACKET_TYPES.join(", ")}`,
    })
    .transform((value) => value as PacketType);

const QueueName = z.string().min(1, "must not be empty").max(512);

/** `queue` as a name, `{ name }`, or (older SDKs) `{ name: { name } }`. */
const Queue = z
  .union([QueueName, z.object({ name: QueueName }), z.object({ name: z.object({ name: QueueName }) })])
  .transform((queue) => (typeof queue === "string" ? queue : typeof queue.name === "string" ? queue.name : queue.name.name));

export const Tags = z
  .union([z.string(), z.array(z.string())])
  .transform((tags) => (typeof tags === "string" ? [tags] : tags))
  .pipe(
    z
      .array(z.string().min(1, "must not be empty").max(MAX_TAG_LENGTH, `must be at most ${MAX_TAG_LENGTH} characters`))
      .max(MAX_TAGS, `at most ${MAX_TAGS} tags`),
  );

export const IdempotencyKey = z.string().min(1, "must not be empty").max(MAX_IDEMPOTENCY_KEY_LENGTH, `must be at most ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`);
const Duration = z.union([z.string().max(64), z.number()]);
/** `delay`: a duration or a date (the SDK serialises a Date as an ISO string). */
export const Delay = z.union([z.string().max(64), z.number()]);
// Kept as sent: z.record would drop a `__proto__` key that the payload keeps.
export const Metadata = z.custom<Record<string, unknown>>(isJsonObject, { message: "must be an object" });

export const TriggerOptions = z.object({
  queue: Queue.optional(),
  concurrencyKey: z
    .union([z.string(), z.number().finite()])
    .transform(String)
    .pipe(z.string().max(512, "must be at most 512 characters"))
    .optional(),
  idempotencyKey: IdempotencyKey.optional(),
  idempotencyKeyTTL: z.string().max(64).optional(),
  delay: Delay.nullish(),
  ttl: Duration.nullish(),
  tags: Tags.optional(),
  metadata: Metadata.optional(),
  metadataType: packetType("metadataType").optional(),
  maxAttempts: z.number().int().min(1).max(MAX_ATTEMPTS).optional(),
  maxDuration: z.number().finite().min(0).max(MAX_DURATION_SECONDS).optional(),
  machine: z.enum(MACHINE_PRESETS).optional(),
  priority: z.number().finite().min(0).max(MAX_PRIORITY_SECONDS).optional(),
  region: z.string().min(1).max(64).optional(),
  test: z.boolean().optional(),
  lockToVersion: z.string().min(1).max(128).optional(),
  /**
   * Pins the run to the worker deployed with this id (docs/api.md "Version skew"). Trimmed; blank or
   * null is absent, as the SDK's own schema treats it (null is its opt-out).
   */
  externalDeploymentId: z
    .string()
    .max(128, "must be at most 128 characters")
    .nullish()
    .transform((id) => id?.trim() || undefined)
    .optional(),
  payloadType: packetType("payloadType").optional(),
});
export type TriggerOptions = z.output<typeof TriggerOptions>;

export const TriggerBody = z.object({
  payload: z.unknown().optional(),
  options: TriggerOptions.optional(),
});
export type TriggerBody = z.output<typeof TriggerBody>;

// The rule deploy applies to slugs: a run for an id no deploy can register would wait forever.
export const TaskSlug = z.string().superRefine((id, ctx) => {
  const problem = taskIdProblem(id);
  if (problem) ctx.addIssue({ code: "custom", message: problem });
});

/** The request headers kept with a run (for tracing and support). */
export interface TriggerHeaders {
  idempotencyKey?: string;
  idempotencyKeyTTL?: string;
  sdkVersion?: string;
  triggerClient?: string;
  traceparent?: string;
  tracestate?: string;
}

const MAX_HEADER_LENGTH = 512;

/** A stored header value: trimmed, bounded; absent when empty. */
export function headerValue(value: string | undefined, limit = MAX_HEADER_LENGTH): string | undefined {
  const trimmed = value?.trim();
  return trimmed ? trimmed.slice(0, limit) : undefined;
}

/**
 * The run's idempotency key: the `idempotency-key` header or `options.idempotencyKey` (the same
 * value when both are sent), and its TTL likewise from `idempotency-key-ttl` or the option.
 */
export function chooseIdempotency(headers: TriggerHeaders, options: TriggerOptions): { key: string | null; ttl: string | undefined } {
  const header = headers.idempotencyKey;
  if (header !== undefined && header.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
    throw new BadRequestError(`Idempotency-Key header must be at most ${MAX_IDEMPOTENCY_KEY_LENGTH} characters`, { field: "idempotency-key" });
  }
  if (header !== undefined && options.idempotencyKey !== undefined && header !== options.idempotencyKey) {
    throw new BadRequestError("The Idempotency-Key header and options.idempotencyKey differ; send one of them", { field: "idempotency-key" });
  }
  const key = header ?? options.idempotencyKey ?? null;
  return { key, ttl: options.idempotencyKeyTTL ?? headers.idempotencyKeyTTL };
}

/** `POST /api/v1/runs/:id/replay` (the SDK's strict `ReplayRunRequestBody`): overrides of the original run's options. */
export const ReplayBody = TriggerOptions.pick({
  payloadType: true,
  metadata: true,
  tags: true,
  queue: true,
  concurrencyKey: true,
  machine: true,
  region: true,
  delay: true,
  ttl: true,
  idempotencyKey: true,
  idempotencyKeyTTL: true,
  maxAttempts: true,
  maxDuration: true,
  priority: true,
})
  .extend({ payload: z.unknown().optional(), version: z.string().min(1).max(128).optional() })
  .strict();
