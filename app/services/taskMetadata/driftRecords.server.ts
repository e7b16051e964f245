import { RECENT_DRIFT_MS, type DriftRecord, decodeDriftRecord } from "~/domain/driftRecord";
import { keyPrefix } from "~/redis.server";
import type { TaskMetadataCacheAdmin } from "~/services/taskMetadata/admin.server";

/**
 * Where the sweep keeps what it last found per environment, on the admin connection:
 * - `<prefix>task-meta:drift`: environment id → JSON record (app/domain/driftRecord.ts), one HMGET
 *   for a page of environments;
 * - `<prefix>task-meta:drift-seen`: environment ids scored by when drift was last seen, so the
 *   overview reads the few recent ones without walking every environment's record;
 * - `<prefix>task-meta:drift-checked`: when the sweep last checked any environment.
 * They expire when no sweep has written them for a week.
 */

const RECORDS_TTL_SECONDS = 7 * 24 * 3_600;

export function driftRecordsKey(prefix: string): string {
  return `${prefix}task-meta:drift`;
}

const seenKey = () => `${keyPrefix()}task-meta:drift-seen`;
const checkedKey = () => `${keyPrefix()}task-meta:drift-checked`;

/** The records of `environmentIds` (null where none), in one HMGET. */
export async function readDriftRecords(admin: TaskMetadataCacheAdmin, environmentIds: string[]): Promise<(DriftRecord | null)[]> {
  if (environmentIds.length === 0) return [];
  const raw = await admin.client.hmget(driftRecordsKey(keyPrefix()), ...environmentIds);
  return raw.map((value) => decodeDriftRecord(value));
}

export async function writeDriftRecord(admin: TaskMetadataCacheAdmin, environmentId: string, record: DriftRecord): Promise<void> {
  const key = driftRecordsKey(keyPrefix());
  const pipeline = admin.client.pipeline().hset(key, environmentId, JSON.stringify(record)).expire(key, RECORDS_TTL_SECONDS);
  pipeline.set(checkedKey(), record.checkedAt, "EX", RECORDS_TTL_SECONDS);
  if (record.seenAt === record.checkedAt) {
    const at = Date.parse(record.checkedAt);
    pipeline.zadd(seenKey(), at, environmentId).zremrangebyscore(seenKey(), "-inf", at - RECENT_DRIFT_MS).expire(seenKey(), RECORDS_TTL_SECONDS);
  }
  const replies = await pipeline.exec();
  const failed = replies?.find(([error]) => error);
  if (failed) throw failed[0];
}

/** Environments whose drift was seen since `sinceMs`, the records' count, and the last check time: three commands, one round trip each. */
export async function recentDrift(admin: TaskMetadataCacheAdmin, sinceMs: number): Promise<{ environmentIds: string[]; checked: number; lastCheckedAt: string | null }> {
  const [environmentIds, checked, lastCheckedAt] = await Promise.all([
    admin.client.zrangebyscore(seenKey(), sinceMs, "+inf"),
    admin.client.hlen(driftRecordsKey(keyPrefix())),
    admin.client.get(checkedKey()),
  ]);
  return { environmentIds, checked, lastCheckedAt };
}
