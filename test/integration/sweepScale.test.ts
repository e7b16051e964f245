import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dbQueryCount, prisma } from "~/db.server";
import { environmentKeys } from "~/domain/cacheKeys";
import { keyPrefix } from "~/redis.server";
import { TaskMetadataCacheAdmin } from "~/services/taskMetadata/admin.server";
import { disconnectTaskMetadataCache, disconnectTaskMetadataCacheAdmin, loadWorkerSnapshot, reconcileCurrentHashes } from "~/services/taskMetadata/index.server";
import { RedisTaskMetadataStore } from "~/services/taskMetadata/redisStore.server";
import { insertEnvironments } from "../../scripts/scale/fleet";
import { testRedis } from "../support/cacheTesting";
import { createTestProject, registerAndPromote } from "../support/fixtures";
import { startPrivateRedis, type PrivateRedis } from "../support/privateRedis";
import { RedisCommandCounter } from "../support/redisCommandCount";

/**
 * The sweep at scale (decision 0075): its cost per interval does not grow with the fleet, a hash
 * made stale by a promotion is repaired within two passes, and any other stale hash by the
 * rolling pass within ⌈N ÷ budget⌉ passes.
 */

const execute = (sql: string, ...params: unknown[]) => prisma().$executeRawUnsafe(sql, ...params);
const INTERVAL_MS = 60_000;
const RATE = 20; // environments per second: a budget of 1,200 per interval
const BUDGET = (RATE * INTERVAL_MS) / 1000;

let privateRedis: PrivateRedis;
let counter: RedisCommandCounter;
let countedAdmin: TaskMetadataCacheAdmin;
const redis = testRedis();

beforeAll(async () => {
  privateRedis = await startPrivateRedis();
  counter = new RedisCommandCounter(privateRedis.url);
  countedAdmin = new TaskMetadataCacheAdmin({ client: new Redis(privateRedis.url), prefix: "scale:" });
}, 30_000);
afterAll(async () => {
  await countedAdmin.client.quit();
  await counter.close();
  await privateRedis.stop();
  await disconnectTaskMetadataCacheAdmin();
  await disconnectTaskMetadataCache();
  await redis.quit();
});

/** Statements and Redis commands of one steady-state pass (its state written by a pass before). */
async function passCost() {
  const sweep = () => reconcileCurrentHashes({ admin: countedAdmin, intervalMs: INTERVAL_MS, envsPerSecond: RATE });
  await sweep();
  const statementsBefore = dbQueryCount();
  let report!: Awaited<ReturnType<typeof sweep>>;
  const commands = await counter.during(async () => (report = await sweep()));
  return {
    statements: dbQueryCount() - statementsBefore,
    commands: Object.values(commands).reduce((a, b) => a + b, 0),
    checked: report.checked,
  };
}

describe("the sweep's cost per interval", () => {
  it("is within 1.5 × at 10,000 environments of its cost at 1,000, and grows with changes only", async () => {
    await insertEnvironments(execute, "sweepcost", 1, 1_000);
    const small = await passCost();
    await insertEnvironments(execute, "sweepcost", 1_001, 10_000);
    const large = await passCost();
    expect(small.checked).toBeGreaterThanOrEqual(1_000);
    expect(large.checked).toBe(BUDGET);
    expect(large.commands).toBeLessThanOrEqual(1.5 * small.commands);
    expect(large.statements).toBeLessThanOrEqual(1.5 * small.statements);
    // Every command accounted for: the state's read and write, one GET per checked environment.
    expect(large.commands).toBe(BUDGET + 2);

    // Three promotions since the last pass: three more environments checked, not the fleet.
    for (let i = 0; i < 3; i++) {
      const project = await createTestProject();
      await registerAndPromote({ environmentId: project.prod.id, version: "1", tasks: [{ slug: "t" }] });
    }
    const changed = await reconcileCurrentHashes({ admin: countedAdmin, intervalMs: INTERVAL_MS, envsPerSecond: RATE });
    expect(changed.changed).toBe(3);
    expect(changed.checked).toBe(BUDGET + 3);
  }, 120_000);
});

describe("the repair bound", () => {
  const v1Tasks = [{ slug: "send-email", queue: { name: "emails-v1" } }];
  const v2Tasks = [{ slug: "send-email", queue: { name: "emails-v2" } }];
  const sweep = () => reconcileCurrentHashes({ intervalMs: INTERVAL_MS, envsPerSecond: RATE });

  /** A promoted v1 → v2 environment whose current hash is left written for v1, as a promotion whose cache write failed leaves it. */
  async function staleEnvironment() {
    const project = await createTestProject();
    const old = await registerAndPromote({ environmentId: project.prod.id, version: "1", tasks: v1Tasks });
    await registerAndPromote({ environmentId: project.prod.id, version: "2", tasks: v2Tasks });
    const store = new RedisTaskMetadataStore({ client: redis, prefix: keyPrefix(), currentTtlSeconds: 3_600, workerTtlSeconds: 3_600, commandTimeoutMs: 2_000 });
    await store.replaceCurrent(project.prod.id, (await loadWorkerSnapshot(prisma(), old.workerId))!);
    return { environmentId: project.prod.id, ownerKey: environmentKeys(keyPrefix(), project.prod.id).owner, oldWorkerId: old.workerId };
  }

  it("a promotion's stale hash is repaired by the next pass among 10,000 environments, one committed just before the previous pass by the one after", async () => {
    await sweep(); // the previous pass: its start is the next one's change window
    const promoted = await staleEnvironment();
    const report = await sweep();
    expect(report.repaired).toEqual([promoted.environmentId]);
    // The changes of the last interval (this one, the first test's three promotions) and the rolling slice.
    expect(report.changed).toBeLessThanOrEqual(4);
    expect(report.checked).toBe(report.changed + BUDGET);

    // A promotion stamped before the previous pass began (committed late, or by a clock a little
    // behind) but seen by neither: the next pass still checks it — its window overlaps one interval.
    const before = Date.now();
    await sweep();
    const late = await staleEnvironment();
    await prisma().$executeRawUnsafe(
      `UPDATE "WorkerDeploymentPromotion" SET "updatedAt" = $2::timestamp WHERE "environmentId" = $1`,
      late.environmentId,
      new Date(before - INTERVAL_MS / 2).toISOString(),
    );
    await prisma().$executeRawUnsafe(`UPDATE "BackgroundWorker" SET "createdAt" = $2::timestamp WHERE "environmentId" = $1`, late.environmentId, new Date(before - INTERVAL_MS / 2).toISOString());
    expect((await sweep()).repaired).toEqual([late.environmentId]);
  }, 60_000);

  it("a stale hash nothing changed (a hand edit, an old snapshot) is repaired by the rolling pass within ⌈N ÷ budget⌉ passes", async () => {
    const edited = await staleEnvironment();
    // Changed long ago: only the rolling pass can find it.
    const longAgo = new Date(Date.now() - 24 * 3_600_000).toISOString();
    await prisma().$executeRawUnsafe(`UPDATE "WorkerDeploymentPromotion" SET "updatedAt" = $2::timestamp WHERE "environmentId" = $1`, edited.environmentId, longAgo);
    await prisma().$executeRawUnsafe(`UPDATE "BackgroundWorker" SET "createdAt" = $2::timestamp WHERE "environmentId" = $1`, edited.environmentId, longAgo);
    const fleet = await prisma().runtimeEnvironment.count();
    expect(fleet).toBeGreaterThan(10_000);
    const bound = Math.ceil(fleet / BUDGET);
    let passes = 0;
    while ((await redis.get(edited.ownerKey)) === edited.oldWorkerId) {
      expect(++passes).toBeLessThanOrEqual(bound);
      await sweep();
    }
    expect(passes).toBeGreaterThan(0);
  }, 120_000);
});
