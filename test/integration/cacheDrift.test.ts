import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server";
import { environmentKeys } from "~/domain/cacheKeys";
import { decodeTaskEntry, encodeTaskEntry, ABSENT_TASK } from "~/domain/taskMetadataEntry";
import { resetEnvForTests } from "~/env.server";
import { keyPrefix } from "~/redis.server";
import { environmentsPage } from "~/presenters/environments.server";
import { overviewDrift } from "~/presenters/drift.server";
import { compareCurrentContents } from "~/services/taskMetadata/contentDrift.server";
import { readDriftRecords } from "~/services/taskMetadata/driftRecords.server";
import {
  disconnectTaskMetadataCache,
  disconnectTaskMetadataCacheAdmin,
  loadWorkerSnapshot,
  reconcileCurrentHashes,
  taskMetadataCacheAdmin,
} from "~/services/taskMetadata/index.server";
import { testRedis } from "../support/cacheTesting";
import { createTestProject, registerAndPromote, type TestProject } from "../support/fixtures";

/**
 * Contents drift: a current hash with the right owner but a field that disagrees with Postgres
 * (a hand edit) is found by the sweep's digest comparison, counted per environment with when it
 * was seen, shown by the pages' read models, and repaired by policy (TASK_META_CACHE_REPAIR_DRIFT).
 */

const redis = testRedis();
const tasks = [
  { slug: "send-email", queue: { name: "emails" }, ttl: "5m" },
  { slug: "resize-image", queue: { name: "images" }, triggerSource: "AGENT" as const },
  { slug: "nightly-report", queue: { name: "reports" }, triggerSource: "SCHEDULED" as const },
];

let project: TestProject;
let workerId: string;

beforeAll(async () => {
  project = await createTestProject();
  workerId = (await registerAndPromote({ environmentId: project.prod.id, version: "1.0.0", tasks })).workerId;
});
afterEach(() => {
  delete process.env.TASK_META_CACHE_REPAIR_DRIFT;
  resetEnvForTests();
});
afterAll(async () => {
  await disconnectTaskMetadataCacheAdmin();
  await disconnectTaskMetadataCache();
  await redis.quit();
});

const keys = () => environmentKeys(keyPrefix(), project.prod.id);

async function cachedQueue(slug: string) {
  const raw = await redis.hget(keys().current, slug);
  const decoded = raw ? decodeTaskEntry(raw) : null;
  return decoded?.ok && decoded.value.found ? decoded.value.queueName : null;
}

/** A hand edit: the field keeps its owner but serves another queue and TTL. */
async function plantDrift() {
  await redis.hset(keys().current, "send-email", encodeTaskEntry({ found: true, kind: "STANDARD", ttl: "1h", queueId: "q_wrong", queueName: "wrong-queue" }));
  // And a negative entry for a task that exists: triggers of it would wait for a deploy.
  await redis.hset(keys().current, "nightly-report", encodeTaskEntry(ABSENT_TASK));
}

describe("the digest", () => {
  it("computed in Redis equals the one computed from Postgres for a freshly promoted hash, negative entries for other slugs included", async () => {
    await redis.hset(keys().current, "not-a-task", encodeTaskEntry(ABSENT_TASK));
    const snapshot = await loadWorkerSnapshot(prisma(), workerId);
    const comparison = await compareCurrentContents(taskMetadataCacheAdmin(), keys().current, snapshot);
    expect(comparison).toEqual({ digestMatched: true, drift: [] });
  });

  it("differs after a hand edit, and the field comparison names exactly the drifting fields", async () => {
    await plantDrift();
    const snapshot = await loadWorkerSnapshot(prisma(), workerId);
    const comparison = await compareCurrentContents(taskMetadataCacheAdmin(), keys().current, snapshot);
    expect(comparison.digestMatched).toBe(false);
    expect(comparison.drift.map((d) => d.field)).toEqual(["nightly-report", "send-email"]);
    expect(comparison.drift[1].differences.join(" ")).toMatch(/queue name: Redis 'wrong-queue', Postgres 'emails'/);
  });
});

describe("the sweep", () => {
  it("finds hand-written drift, records it per environment, repairs it and audits the repair (policy on, the default)", async () => {
    await plantDrift();
    const report = await reconcileCurrentHashes();
    expect(report.drift).toEqual([{ environmentId: project.prod.id, fields: 2 }]);
    expect(report.repaired).toContain(project.prod.id);
    expect(await cachedQueue("send-email")).toBe("emails");
    expect(await cachedQueue("nightly-report")).toBe("reports");

    const [record] = await readDriftRecords(taskMetadataCacheAdmin(), [project.prod.id]);
    expect(record).toMatchObject({ fields: 2, ownerMismatch: false, repaired: true, seenFields: 2 });
    expect(record!.seenAt).toBe(record!.checkedAt);
    const audit = await prisma().auditEvent.findFirstOrThrow({ where: { action: "cache.sweep_repair" }, orderBy: { createdAt: "desc" } });
    expect(audit.details).toMatchObject({ environmentId: project.prod.id, fields: 2, actor: { kind: "sweep" } });

    // The pages read it: the overview lists the environment as repaired, Environments shows the cell.
    const overview = await overviewDrift();
    expect(overview.environments?.find((e) => e.id === project.prod.id)?.cell.state).toBe("repaired");
    const environments = await environmentsPage();
    expect(environments.environments.find((e) => e.id === project.prod.id)?.drift?.state).toBe("repaired");

    // The next sweep finds it in sync and keeps when drift was last seen.
    const again = await reconcileCurrentHashes();
    expect(again.drift).toEqual([]);
    const [after] = await readDriftRecords(taskMetadataCacheAdmin(), [project.prod.id]);
    expect(after).toMatchObject({ fields: 0, repaired: false, seenAt: record!.seenAt, seenFields: 2 });
    // Still shown as repaired for a day after it was last seen, so that a repair is not lost between two page loads.
    expect((await environmentsPage()).environments.find((e) => e.id === project.prod.id)?.drift?.state).toBe("repaired");
  });

  it("with TASK_META_CACHE_REPAIR_DRIFT=false records the drift and leaves the hash as it is", async () => {
    process.env.TASK_META_CACHE_REPAIR_DRIFT = "false";
    resetEnvForTests();
    await plantDrift();
    const report = await reconcileCurrentHashes();
    expect(report.drift).toEqual([{ environmentId: project.prod.id, fields: 2 }]);
    expect(report.repaired).not.toContain(project.prod.id);
    expect(await cachedQueue("send-email")).toBe("wrong-queue");
    const overview = await overviewDrift();
    expect(overview.environments?.find((e) => e.id === project.prod.id)?.cell).toMatchObject({ state: "drift", record: { fields: 2 } });
  });
});
