import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server";
import { environmentKeys, NO_CURRENT_WORKER } from "~/domain/cacheKeys";
import { decodeTaskEntry } from "~/domain/taskMetadataEntry";
import { keyPrefix } from "~/redis.server";
import { disconnectTaskMetadataCache, disconnectTaskMetadataCacheAdmin, loadWorkerSnapshot, reconcileCurrentHashes } from "~/services/taskMetadata/index.server";
import { RedisTaskMetadataStore } from "~/services/taskMetadata/redisStore.server";
import { startAppServer } from "../support/appServer";
import { eventually, testRedis } from "../support/cacheTesting";
import { bearer, overHttp } from "../support/apiClient";
import { createTestProject, registerAndPromote, type TestProject } from "../support/fixtures";

/**
 * The current-hash sweep: a hash written for another worker than Postgres' current one (left by a
 * process that died before its repair) is rebuilt; hashes in line, or absent, are left alone.
 */

const redis = testRedis();
const v1Tasks = [{ slug: "send-email", queue: { name: "emails-v1" } }];
const v2Tasks = [{ slug: "send-email", queue: { name: "emails-v2" } }];

let planted: RedisTaskMetadataStore;

beforeAll(() => {
  planted = new RedisTaskMetadataStore({ client: redis, prefix: keyPrefix(), currentTtlSeconds: 3_600, workerTtlSeconds: 3_600, commandTimeoutMs: 2_000 });
});
afterAll(async () => {
  await disconnectTaskMetadataCacheAdmin();
  await disconnectTaskMetadataCache();
  await redis.quit();
});

/** The current hash as a crashed promotion leaves it: written for `workerId`, whatever Postgres says. */
async function plantCurrent(environmentId: string, workerId: string) {
  const snapshot = await loadWorkerSnapshot(prisma(), workerId);
  if (!snapshot) throw new Error(`no worker ${workerId}`);
  await planted.replaceCurrent(environmentId, snapshot);
}

async function currentQueue(environmentId: string) {
  const keys = environmentKeys(keyPrefix(), environmentId);
  const raw = await redis.hget(keys.current, "send-email");
  const decoded = raw ? decodeTaskEntry(raw) : null;
  return { owner: await redis.get(keys.owner), queue: decoded?.ok && decoded.value.found ? decoded.value.queueName : null };
}

describe("reconcileCurrentHashes", () => {
  let project: TestProject;
  let v1: string;
  let v2: string;

  beforeAll(async () => {
    project = await createTestProject();
    v1 = (await registerAndPromote({ environmentId: project.prod.id, version: "1", tasks: v1Tasks })).workerId;
    v2 = (await registerAndPromote({ environmentId: project.prod.id, version: "2", tasks: v2Tasks })).workerId;
  });

  it("rebuilds a current hash written for an older worker, and leaves the rest alone", async () => {
    await plantCurrent(project.prod.id, v1);
    expect(await currentQueue(project.prod.id)).toEqual({ owner: v1, queue: "emails-v1" });
    // In line: a second project promoted normally. Absent: the first project's dev environment.
    const other = await createTestProject();
    await registerAndPromote({ environmentId: other.prod.id, version: "1", tasks: v2Tasks });
    const otherBefore = await redis.pttl(environmentKeys(keyPrefix(), other.prod.id).current);

    const report = await reconcileCurrentHashes();
    expect(report).toMatchObject({ skipped: false, repaired: [project.prod.id], failed: [] });
    expect(report.checked).toBeGreaterThanOrEqual(4);
    expect(await currentQueue(project.prod.id)).toEqual({ owner: v2, queue: "emails-v2" });
    // Not rewritten: a rewrite would have reset its TTL.
    expect(await redis.pttl(environmentKeys(keyPrefix(), other.prod.id).current)).toBeLessThanOrEqual(otherBefore);
    expect(await redis.exists(environmentKeys(keyPrefix(), project.dev.id).owner)).toBe(0);

    // A second sweep finds nothing to do.
    expect((await reconcileCurrentHashes()).repaired).toEqual([]);
  });

  it("rebuilds a hash whose environment has no current worker any more, and a DEVELOPMENT hash behind the latest worker", async () => {
    const fresh = await createTestProject();
    // Written for a worker that was registered but never promoted: nothing is current here.
    const lone = await registerAndPromote({ environmentId: fresh.prod.id, version: "p1", tasks: v1Tasks, promote: false });
    await plantCurrent(fresh.prod.id, lone.workerId);
    // DEVELOPMENT: the latest registered worker is current; the hash still names the first.
    const d1 = await registerAndPromote({ environmentId: fresh.dev.id, version: "d1", tasks: v1Tasks });
    const d2 = await registerAndPromote({ environmentId: fresh.dev.id, version: "d2", tasks: v2Tasks });
    await plantCurrent(fresh.dev.id, d1.workerId);

    const report = await reconcileCurrentHashes();
    expect(report.repaired.sort()).toEqual([fresh.dev.id, fresh.prod.id].sort());
    expect(await currentQueue(fresh.prod.id)).toEqual({ owner: NO_CURRENT_WORKER, queue: null });
    expect(await currentQueue(fresh.dev.id)).toEqual({ owner: d2.workerId, queue: "emails-v2" });
  });

  it("with a lock, one sweep per interval whichever instance asks", async () => {
    const [a, b] = await Promise.all([reconcileCurrentHashes({ lockMs: 60_000 }), reconcileCurrentHashes({ lockMs: 60_000 })]);
    expect([a.skipped, b.skipped].sort()).toEqual([false, true]);
    expect((await reconcileCurrentHashes({ lockMs: 60_000 })).skipped).toBe(true);
    await redis.del(`${keyPrefix()}task-meta:reconcile-lock`);
  });
});

describe("the server's sweep (TASK_META_CACHE_RECONCILE_INTERVAL_MS)", () => {
  it("repairs a stale current hash by itself, and triggers get the current worker's queue", async () => {
    const project = await createTestProject();
    const old = await registerAndPromote({ environmentId: project.prod.id, version: "1", tasks: v1Tasks });
    await registerAndPromote({ environmentId: project.prod.id, version: "2", tasks: v2Tasks });
    const server = await startAppServer({ TASK_META_CACHE_RECONCILE_INTERVAL_MS: "300", TASK_META_CACHE_L1_ENABLED: "false", LOG_LEVEL: "warn" });
    try {
      await plantCurrent(project.prod.id, old.workerId);
      const trigger = () =>
        overHttp(server.url, {
          path: "/api/v1/tasks/send-email/trigger",
          headers: bearer(project.prod.apiKey),
          body: { payload: {} },
        });
      await eventually(async () => (await currentQueue(project.prod.id)).queue === "emails-v2", { timeoutMs: 15_000, intervalMs: 100 });
      const response = await trigger();
      expect(response.status).toBe(200);
      const run = await prisma().taskRun.findUniqueOrThrow({ where: { friendlyId: response.body.id }, select: { queue: true } });
      expect(run.queue).toBe("emails-v2");
      // A sweep that read the owner just before the plant sees the old contents as drift instead: repaired either way.
      expect(server.output()).toMatch(/current hash (written for another worker than Postgres' current|fields drift from Postgres); rebuilding it/);
    } finally {
      await server.stop();
    }
  }, 90_000);
});
