import { decodeDriftRecord, type DriftRecord } from "~/domain/driftRecord";
import { keyPrefix } from "~/redis.server";
import type { TaskMetadataCacheAdmin } from "~/services/taskMetadata/admin.server";

/**
 * Where the sweep keeps what it last found per environment: one Redis hash, environment id →
 * JSON record (app/domain/driftRecord.ts), on the admin connection. One key, so one round trip for
 * a page of environments (also on a cluster); it expires when no sweep has written it for a week.
 */

const RECORDS_TTL_SECONDS = 7 * 24 * 3_600;

export function driftRecordsKey(prefix: string): string {
  return `${prefix}task-meta:drift`;
}

function recordsKey(): string {
  return driftRecordsKey(keyPrefix());
}

/** The records of `environmentIds` (null where none), in one HMGET. */
export async function readDriftRecords(admin: TaskMetadataCacheAdmin, environmentIds: string[]): Promise<(DriftRecord | null)[]> {
  if (environmentIds.length === 0) return [];
  const raw = await admin.client.hmget(recordsKey(), ...environmentIds);
  return raw.map((value) => decodeDriftRecord(value));
}

export async function writeDriftRecord(admin: TaskMetadataCacheAdmin, environmentId: string, record: DriftRecord): Promise<void> {
  const key = recordsKey();
  await admin.client.pipeline().hset(key, environmentId, JSON.stringify(record)).expire(key, RECORDS_TTL_SECONDS).exec();
}
