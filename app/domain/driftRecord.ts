import { z } from "zod";

/**
 * What the sweep last found in one environment's current hash (docs/decisions/0080-drift-by-digest.md),
 * as stored in Redis and shown on the overview, Environments and the cache page. Pure: the codec
 * and what a page says about it.
 */

export const DriftRecordSchema = z.object({
  /** When the sweep last compared this environment (ISO). */
  checkedAt: z.string(),
  /** Fields that disagreed with Postgres at that check (before any repair). */
  fields: z.number().int().min(0),
  /** The hash was written for another worker than Postgres' current one. */
  ownerMismatch: z.boolean(),
  /** The sweep rebuilt the hash at that check (policy TASK_META_CACHE_REPAIR_DRIFT). */
  repaired: z.boolean(),
  /** The last check that found drift (ISO), kept while later checks find none; null if never. */
  seenAt: z.string().nullable(),
  /** Drifting fields at `seenAt`, and whether the owner was wrong then. */
  seenFields: z.number().int().min(0),
  seenOwnerMismatch: z.boolean().default(false),
  /** A few of the differences found at `seenAt`, for a human ("send-email: queue name: Redis 'a', Postgres 'b'"). */
  sample: z.array(z.string()).max(10),
});
export type DriftRecord = z.infer<typeof DriftRecordSchema>;

export function decodeDriftRecord(raw: string | null | undefined): DriftRecord | null {
  if (!raw) return null;
  try {
    const parsed = DriftRecordSchema.safeParse(JSON.parse(raw));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

export interface CheckOutcome {
  at: Date;
  fields: number;
  ownerMismatch: boolean;
  repaired: boolean;
  sample: string[];
}

/** The record after a check, keeping when drift was last seen from the previous record. */
export function nextDriftRecord(previous: DriftRecord | null, outcome: CheckOutcome): DriftRecord {
  const found = outcome.fields > 0 || outcome.ownerMismatch;
  return {
    checkedAt: outcome.at.toISOString(),
    fields: outcome.fields,
    ownerMismatch: outcome.ownerMismatch,
    repaired: outcome.repaired,
    seenAt: found ? outcome.at.toISOString() : (previous?.seenAt ?? null),
    seenFields: found ? outcome.fields : (previous?.seenFields ?? 0),
    seenOwnerMismatch: found ? outcome.ownerMismatch : (previous?.seenOwnerMismatch ?? false),
    sample: found ? outcome.sample.slice(0, 10) : (previous?.sample ?? []),
  };
}

export type DriftState = "drift" | "repaired" | "in-sync" | "unchecked";

/** How long a repaired drift stays on the pages after it was last seen. */
export const RECENT_DRIFT_MS = 24 * 3_600_000;

/**
 * Drifting now (found at the last check and left as is); repaired (drift seen within the last
 * day, gone now or rebuilt by that check); in sync; or never checked.
 */
export function driftState(record: DriftRecord | null, nowMs: number): DriftState {
  if (!record) return "unchecked";
  const found = record.fields > 0 || record.ownerMismatch;
  if (found && !record.repaired) return "drift";
  if (record.seenAt && nowMs - Date.parse(record.seenAt) <= RECENT_DRIFT_MS) return "repaired";
  return "in-sync";
}

/** "3 fields drift", "owner and 2 fields drift", … for badges and banners. */
export function describeDrift(record: Pick<DriftRecord, "fields" | "ownerMismatch">): string {
  const fields = `${record.fields} field${record.fields === 1 ? "" : "s"}`;
  if (record.ownerMismatch) return record.fields ? `owner and ${fields}` : "owner (another worker's hash)";
  return fields;
}
