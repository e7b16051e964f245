import { prisma, readPrisma } from "~/db.server";
import { driftState, RECENT_DRIFT_MS, type DriftRecord, type DriftState } from "~/domain/driftRecord";
import type { EnvironmentRef } from "~/domain/environments";
import { compareTaskField } from "~/domain/taskMetadataDrift";
import { logger } from "~/services/logger.server";
import { compareCurrentContents } from "~/services/taskMetadata/contentDrift.server";
import { readDriftRecords, recentDrift } from "~/services/taskMetadata/driftRecords.server";
import { findCurrentWorkerId, loadWorkerSnapshot, taskMetadataCacheAdmin, type TaskMetadataCacheAdmin } from "~/services/taskMetadata/index.server";
import type { FieldRow } from "~/presenters/environmentCache.server";

/**
 * Drift as the pages show it: the sweep's records (app/services/taskMetadata/driftRecords.server.ts)
 * for the overview and Environments, and a live comparison for one environment's cache page (its
 * banner and drift-only filter). Redis trouble gives "unknown" (null), never a failed page.
 */

export interface DriftCell {
  state: DriftState;
  record: DriftRecord | null;
}

/** The sweep's records of `environmentIds`, in order; null when Redis could not be read. */
export async function driftCells(environmentIds: string[], deps: { admin?: TaskMetadataCacheAdmin } = {}): Promise<DriftCell[] | null> {
  try {
    const records = await readDriftRecords(deps.admin ?? taskMetadataCacheAdmin(), environmentIds);
    const now = Date.now();
    return records.map((record) => ({ state: driftState(record, now), record }));
  } catch (error) {
    logger.warn("admin page: drift records unavailable", { error });
    return null;
  }
}

export interface OverviewDrift {
  /** Null when Redis could not be read. */
  environments: { id: string; label: string; cell: DriftCell }[] | null;
  environmentCount: number;
  checked: number;
  /** Latest check time over every environment (ISO). */
  lastCheckedAt: string | null;
}

/**
 * Environments drifting now or repaired in the last day, for the overview's drift panel: the few
 * recent ones from the sweep's index, never a walk over every environment.
 */
export async function overviewDrift(deps: { admin?: TaskMetadataCacheAdmin; now?: number } = {}): Promise<OverviewDrift> {
  const admin = deps.admin ?? taskMetadataCacheAdmin();
  const now = deps.now ?? Date.now();
  const [environmentCount, recent] = await Promise.all([
    readPrisma().runtimeEnvironment.count(),
    recentDrift(admin, now - RECENT_DRIFT_MS).catch((error: unknown) => {
      logger.warn("cache overview: drift records unavailable", { error });
      return null;
    }),
  ]);
  if (!recent) return { environments: null, environmentCount, checked: 0, lastCheckedAt: null };
  const [cells, environments] = await Promise.all([
    driftCells(recent.environmentIds, deps),
    recent.environmentIds.length
      ? readPrisma().runtimeEnvironment.findMany({ where: { id: { in: recent.environmentIds } }, select: { id: true, slug: true, project: { select: { slug: true } } } })
      : Promise.resolve([]),
  ]);
  const labels = new Map(environments.map((e) => [e.id, `${e.project.slug} / ${e.slug}`]));
  return {
    environmentCount,
    checked: recent.checked,
    lastCheckedAt: recent.lastCheckedAt,
    environments: cells
      ? recent.environmentIds
          .map((id, i) => ({ id, label: labels.get(id) ?? id, cell: cells[i] }))
          // Deleted environments drop out; the rest sorted by label, drifting ones first.
          .filter((e) => labels.has(e.id) && (e.cell.state === "drift" || e.cell.state === "repaired"))
          .sort((a, b) => Number(b.cell.state === "drift") - Number(a.cell.state === "drift") || a.label.localeCompare(b.label))
      : null,
  };
}

export interface CacheDrift {
  /** Fields of the current hash that disagree with Postgres now. */
  rows: FieldRow[];
  /** The sweep's record of this environment. */
  record: DriftRecord | null;
}

function pretty(raw: string): string {
  try {
    return JSON.stringify(JSON.parse(raw), null, 2);
  } catch {
    return raw;
  }
}

/** One environment's drifting fields now (digest first, fields only on a mismatch); null when Redis could not be read. */
export async function cacheDrift(environment: EnvironmentRef, deps: { admin?: TaskMetadataCacheAdmin } = {}): Promise<CacheDrift | null> {
  const admin = deps.admin ?? taskMetadataCacheAdmin();
  const workerId = await findCurrentWorkerId(prisma(), environment);
  const snapshot = workerId ? await loadWorkerSnapshot(prisma(), workerId) : null;
  try {
    const [comparison, [record]] = await Promise.all([
      compareCurrentContents(admin, admin.keys(environment.id).current, snapshot),
      readDriftRecords(admin, [environment.id]),
    ]);
    const expected = new Map(snapshot?.tasks.map((t) => [t.slug, t.entry]) ?? []);
    return {
      record,
      rows: comparison.drift.map((d) => ({ field: d.field, ...compareTaskField(d.value, expected.get(d.field) ?? null), rawJson: pretty(d.value) })),
    };
  } catch (error) {
    logger.warn("environment cache page: drift comparison unavailable", { environmentId: environment.id, error });
    return null;
  }
}
