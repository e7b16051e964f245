import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pgPool, prisma } from "~/db.server";
import { runLifecycleLockKey } from "~/domain/runLifecycle";
import { keyPrefix, redis } from "~/redis.server";
import { runLifecycleTick, startRunLifecycle, stopRunLifecycle } from "~/services/runLifecycle.server";
import { bearer, inProcess } from "../support/apiClient";
import { createTestProject, registerAndPromote, type TestProject } from "../support/fixtures";

/**
 * The run lifecycle moves runs with time, each transition within one scheduler tick, one instance
 * at a time; and 10,000 due runs still move in one tick (the time per 1,000 is printed).
 */

const TICK_MS = 250;
process.env.RUN_LIFECYCLE_INTERVAL_MS = String(TICK_MS);
process.env.TASK_META_CACHE_COMMAND_TIMEOUT_MS = "2000";

let project: TestProject;

beforeAll(async () => {
  project = await createTestProject();
  await registerAndPromote({ environmentId: project.prod.id, version: "v1", tasks: [{ slug: "email", queue: { name: "emails" } }] });
});

afterAll(() => stopRunLifecycle());

async function trigger(slug: string, options: Record<string, unknown>): Promise<string> {
  const result = await inProcess({ path: `/api/v1/tasks/${slug}/trigger`, headers: bearer(project.prod.apiKey), body: { options } });
  expect(result.status, JSON.stringify(result.body)).toBe(200);
  return (result.body as { id: string }).id;
}

const run = (friendlyId: string) => prisma().taskRun.findUniqueOrThrow({ where: { friendlyId } });

/** Waits until the run has `status`; returns it. */
async function waitForStatus(friendlyId: string, status: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const row = await run(friendlyId);
    if (row.status === status) return row;
    if (Date.now() > deadline) throw new Error(`${friendlyId} is still ${row.status}, not ${status}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A transition lands within one tick of its due time (plus the tick's own work on a loaded machine). */
const ON_TIME_MS = TICK_MS + 400;

describe("the scheduler", () => {
  beforeAll(() => startRunLifecycle());
  afterAll(() => stopRunLifecycle());

  it("DELAYED → QUEUED at delayUntil", async () => {
    const id = await trigger("email", { delay: new Date(Date.now() + 600).toISOString() });
    expect((await run(id)).status).toBe("DELAYED");
    const queued = await waitForStatus(id, "QUEUED");
    expect(queued.updatedAt.getTime() - queued.delayUntil!.getTime()).toBeLessThanOrEqual(ON_TIME_MS);
  });

  it("QUEUED → EXPIRED at expiresAt", async () => {
    const id = await trigger("email", { ttl: 1 });
    const expired = await waitForStatus(id, "EXPIRED");
    expect(expired.expiredAt!.getTime() - expired.expiresAt!.getTime()).toBeLessThanOrEqual(ON_TIME_MS);
  });

  it("a DELAYED run of an undeployed task waits for a deploy at its time, then is QUEUED on the task's queue once deployed", async () => {
    const id = await trigger("later", { delay: new Date(Date.now() + 300).toISOString() });
    await waitForStatus(id, "PENDING_VERSION");
    await registerAndPromote({ environmentId: project.prod.id, version: "v2", tasks: [{ slug: "email", queue: { name: "emails" } }, { slug: "later", queue: { name: "later-q" } }] });
    const deployedAt = Date.now();
    const queued = await waitForStatus(id, "QUEUED");
    expect(queued.queue).toBe("later-q");
    expect(queued.updatedAt.getTime() - deployedAt).toBeLessThanOrEqual(ON_TIME_MS);
  });

  it("PENDING_VERSION → EXPIRED at expiresAt; a canceled run is never moved", async () => {
    const pending = await trigger("never-deployed", { ttl: 1 });
    expect((await run(pending)).status).toBe("PENDING_VERSION");
    await waitForStatus(pending, "EXPIRED");

    const canceled = await trigger("email", { delay: new Date(Date.now() + 300).toISOString() });
    expect((await inProcess({ path: `/api/v2/runs/${canceled}/cancel`, headers: bearer(project.prod.apiKey), body: {} })).status).toBe(200);
    await new Promise((r) => setTimeout(r, 300 + 2 * TICK_MS));
    expect((await run(canceled)).status).toBe("CANCELED");
  });
});

describe("one instance at a time", () => {
  it("a tick is skipped while another instance holds the lock, and releases its own", async () => {
    const key = runLifecycleLockKey(keyPrefix());
    await redis().set(key, "someone-else", "PX", 5_000);
    expect((await runLifecycleTick({ lock: true })).skipped).toBe(true);
    await redis().del(key);
    expect((await runLifecycleTick({ lock: true })).skipped).toBe(false);
    expect(await redis().exists(key)).toBe(0);
  });
});

describe("under load", () => {
  it("10,000 due runs move in one tick", async () => {
    const pool = pgPool();
    const due = new Date(Date.now() - 1_000).toISOString();
    const insert = (status: string, column: string, tag: string) =>
      pool.query(
        `INSERT INTO "TaskRun" ("id", "friendlyId", "environmentId", "taskIdentifier", "queue", "status", "${column}", "tags")
         SELECT gen_random_uuid()::text, 'run_load' || $4 || g, $1, 'email', 'emails', $2::"TaskRunStatus", $3::timestamp, ARRAY[$4]
           FROM generate_series(1, 5000) g`,
        [project.prod.id, status, due, tag],
      );
    await insert("DELAYED", "delayUntil", "d");
    await insert("QUEUED", "expiresAt", "e");
    const report = await runLifecycleTick({ lock: true });
    expect(report).toMatchObject({ skipped: false, queued: 5_000, expired: 5_000 });
    const perThousandMs = report.durationMs / 10;
    console.log(`run lifecycle: 10,000 transitions in ${report.durationMs.toFixed(0)} ms (${perThousandMs.toFixed(1)} ms per 1,000)`);
    const left = await prisma().taskRun.count({ where: { environmentId: project.prod.id, OR: [{ status: "DELAYED", delayUntil: { lte: new Date(due) } }, { status: "QUEUED", expiresAt: { lte: new Date(due) } }] } });
    expect(left).toBe(0);
  });
});
