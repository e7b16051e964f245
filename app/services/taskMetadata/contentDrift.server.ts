import { prisma } from "~/db.server";
import { nextDriftRecord } from "~/domain/driftRecord";
import type { EnvironmentType } from "~/domain/environments";
import { DIGEST_SCRIPT, expectedDigest, NEGATIVE_ENTRY, type HashDigest } from "~/domain/hashDigest";
import { compareTaskField } from "~/domain/taskMetadataDrift";
import type { TaskEntry, WorkerMetadataSnapshot } from "~/domain/taskMetadataEntry";
import { getEnv } from "~/env.server";
import { recordAudit } from "~/services/audit.server";
import { logger } from "~/services/logger.server";
import type { TaskMetadataCacheAdmin } from "~/services/taskMetadata/admin.server";
import { readDriftRecords, writeDriftRecord } from "~/services/taskMetadata/driftRecords.server";
import { loadWorkerSnapshot } from "~/services/taskMetadata/sources.server";
import { rebuildCurrentCache } from "~/services/workers.server";

/**
 * Contents drift of a current hash whose owner is right: a field with another queue, TTL or kind
 * than Postgres (a hand edit, a restored snapshot, a bug). First a digest computed inside Redis
 * against one computed from Postgres (app/domain/hashDigest.ts): one round trip, no contents on
 * the wire. Only when they differ is the hash read and compared field by field, with the same
 * comparison as the cache page (app/domain/taskMetadataDrift.ts).
 */

export interface DriftField {
  field: string;
  differences: string[];
  /** The stored value, and its decoded form (null when it does not decode). */
  value: string;
  cached: TaskEntry | null;
}

export interface ContentComparison {
  digestMatched: boolean;
  /** Fields that disagree with Postgres (a missing field is "not cached yet", not drift). */
  drift: DriftField[];
}

async function redisDigest(admin: TaskMetadataCacheAdmin, key: string): Promise<HashDigest> {
  const [checksum, entries] = (await admin.client.eval(DIGEST_SCRIPT, 1, key, NEGATIVE_ENTRY)) as [string, number];
  return { checksum, entries: Number(entries) };
}

/** Compares the current hash at `key` with the tasks of `snapshot` (null: no current worker). */
export async function compareCurrentContents(
  admin: TaskMetadataCacheAdmin,
  key: string,
  snapshot: Pick<WorkerMetadataSnapshot, "tasks"> | null,
): Promise<ContentComparison> {
  const tasks = snapshot?.tasks ?? [];
  const expected = expectedDigest(tasks);
  const cached = await redisDigest(admin, key);
  if (cached.checksum === expected.checksum && cached.entries === expected.entries) return { digestMatched: true, drift: [] };

  const entries = new Map(tasks.map((t) => [t.slug, t.entry]));
  const fields = await admin.client.hgetall(key);
  const drift: DriftField[] = [];
  for (const [field, value] of Object.entries(fields)) {
    const comparison = compareTaskField(value, entries.get(field) ?? null);
    if (comparison.state === "drift") drift.push({ field, differences: comparison.differences, value, cached: comparison.cached });
  }
  drift.sort((a, b) => a.field.localeCompare(b.field));
  return { digestMatched: false, drift };
}

export interface SweptEnvironment {
  id: string;
  type: EnvironmentType;
  /** Postgres' current worker. */
  workerId: string | null;
}

export interface SweepCheck {
  /** Drifting fields found (before repair). */
  fields: number;
  ownerMismatch: boolean;
  repaired: boolean;
  /** The repair was due but failed (Redis down, say). */
  failed: boolean;
}

/**
 * The sweep's check of one environment whose owner key is present: compares contents when the
 * owner is right (an owner mismatch is the caller's finding, passed in with `ownerMismatch`),
 * repairs by policy, and records what it found for the pages. The sweep rebuilds an owner
 * mismatch itself, so `repairedOwner` says how that went.
 */
export async function checkSweptEnvironment(
  admin: TaskMetadataCacheAdmin,
  environment: SweptEnvironment,
  owner: { mismatch: false } | { mismatch: true; repaired: boolean },
): Promise<SweepCheck> {
  const key = admin.keys(environment.id).current;
  let fields = 0;
  let sample: string[] = [];
  let repaired = owner.mismatch && owner.repaired;
  let failed = owner.mismatch && !owner.repaired;
  if (!owner.mismatch) {
    const snapshot = environment.workerId ? await loadWorkerSnapshot(prisma(), environment.workerId) : null;
    const { drift } = await compareCurrentContents(admin, key, snapshot);
    fields = drift.length;
    sample = drift.slice(0, 10).map((d) => `${d.field}: ${d.differences.join("; ")}`);
    if (fields > 0 && getEnv().TASK_META_CACHE_REPAIR_DRIFT) {
      logger.warn("current hash fields drift from Postgres; rebuilding it", { environmentId: environment.id, fields, sample: sample.slice(0, 3) });
      // The same rebuild as a promotion's: it reads Postgres again, so a promotion landing meanwhile wins.
      repaired = await rebuildCurrentCache({ id: environment.id, type: environment.type });
      failed = !repaired;
    } else if (fields > 0) {
      logger.warn("current hash fields drift from Postgres; left as is (TASK_META_CACHE_REPAIR_DRIFT=false)", { environmentId: environment.id, fields });
    }
  }
  const [previous] = await readDriftRecords(admin, [environment.id]);
  const outcome = { at: new Date(), fields, ownerMismatch: owner.mismatch, repaired, sample };
  await writeDriftRecord(admin, environment.id, nextDriftRecord(previous, outcome));
  if (repaired) {
    await recordAudit({
      userId: null,
      action: "cache.sweep_repair",
      target: key,
      details: { environmentId: environment.id, fields, ownerMismatch: owner.mismatch, sample, actor: { kind: "sweep" } },
    });
  }
  return { fields, ownerMismatch: owner.mismatch, repaired, failed };
}
