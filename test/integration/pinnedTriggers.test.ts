import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { pgPool, prisma } from "~/db.server";
import { runLifecycleTick } from "~/services/runLifecycle.server";
import { bearer, inProcess, type ApiResult } from "../support/apiClient";
import { createTestProject, registerAndPromote, type TestProject } from "../support/fixtures";

/**
 * Version skew (docs/api.md "Version skew"): deploys idempotent by their external id, triggers
 * pinned to it (single and batch items), runs that wait for an id's deploy and are released by
 * the run lifecycle through the same resolver, or expire past their deadline naming the id.
 */

process.env.TASK_META_CACHE_COMMAND_TIMEOUT_MS = "2000";
process.env.RUN_LIFECYCLE_INTERVAL_MS = "0";

let project: TestProject;
let current: { workerId: string };

beforeAll(async () => {
  project = await createTestProject();
  // The promoted worker: a pinned run must never land here unless its id names it.
  current = await registerAndPromote({ environmentId: project.prod.id, version: "current", tasks: [{ slug: "email", queue: { name: "current-q" } }] });
});

afterAll(() => undefined);

const deploy = (body: Record<string, unknown>, key = project.prod.apiKey) =>
  inProcess({ path: "/api/v1/deployments", headers: bearer(key), body });

const emailTasks = (queue: string) => [{ slug: "email", queue: { name: queue } }];

async function trigger(options: Record<string, unknown>, slug = "email"): Promise<ApiResult> {
  return inProcess({ path: `/api/v1/tasks/${slug}/trigger`, headers: bearer(project.prod.apiKey), body: { payload: {}, options } });
}

async function triggered(options: Record<string, unknown>, slug = "email"): Promise<string> {
  const result = await trigger(options, slug);
  expect(result.status, JSON.stringify(result.body)).toBe(200);
  return (result.body as { id: string }).id;
}

const run = (friendlyId: string) => prisma().taskRun.findUniqueOrThrow({ where: { friendlyId } });

describe("deploys are idempotent by external id", () => {
  it("the same id and content is a 200 with the same ids; other content a 409; force moves the id", async () => {
    const body = { version: "idem-1", tasks: emailTasks("idem-q"), externalDeploymentId: "sha-idem" };
    const first = await deploy(body);
    expect(first.status, JSON.stringify(first.body)).toBe(200);
    const again = await deploy(body);
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);

    const other = await deploy({ ...body, version: "idem-2" });
    expect(other.status).toBe(409);
    expect((other.body as { error: string }).error).toContain("External deployment id 'sha-idem' is already registered with other content");
    expect(other.headers["x-should-retry"]).toBe("false");

    const forced = await deploy({ ...body, version: "idem-2", force: true });
    expect(forced.status, JSON.stringify(forced.body)).toBe(200);
    const forcedId = (forced.body as { workerId: string }).workerId;
    expect(forcedId).not.toBe((first.body as { workerId: string }).workerId);
    const holders = await prisma().backgroundWorker.findMany({ where: { environmentId: project.prod.id, externalDeploymentId: "sha-idem" } });
    expect(holders.map((w) => [w.id, w.externalIdGeneration])).toEqual([[forcedId, 2]]);
    // A pinned trigger now resolves to the forced worker.
    const id = await triggered({ externalDeploymentId: "sha-idem" });
    expect((await run(id)).lockedToVersionId).toBe(forcedId);
  });

  it("a deploy of an id still in progress is a 409 with Retry-After", async () => {
    const client = await pgPool().connect();
    try {
      await client.query("BEGIN");
      await client.query("SELECT pg_advisory_xact_lock(hashtextextended($1 || '/' || $2, 0))", [project.prod.id, "sha-busy"]);
      const busy = await deploy({ version: "busy-1", tasks: emailTasks("busy-q"), externalDeploymentId: "sha-busy" });
      expect(busy.status).toBe(409);
      expect(busy.headers["retry-after"]).toBe("2");
      expect((busy.body as { error: string }).error).toContain("'sha-busy' is in progress");
    } finally {
      await client.query("ROLLBACK");
      client.release();
    }
    expect((await deploy({ version: "busy-1", tasks: emailTasks("busy-q"), externalDeploymentId: "sha-busy" })).status).toBe(200);
  });
});

describe("triggers pinned to an external id", () => {
  it("resolve against the worker with that id, promoted or not", async () => {
    const deployed = await deploy({ version: "pin-1", tasks: emailTasks("pin-q"), externalDeploymentId: "sha-pin" });
    const workerId = (deployed.body as { workerId: string }).workerId;
    const id = await triggered({ externalDeploymentId: "sha-pin" });
    expect(await run(id)).toMatchObject({ status: "QUEUED", lockedToVersionId: workerId, queue: "pin-q", externalDeploymentId: "sha-pin", versionDeadlineAt: null });
    const retrieved = await inProcess({ path: `/api/v3/runs/${id}`, headers: bearer(project.prod.apiKey) });
    expect(retrieved.body).toMatchObject({ externalDeploymentId: "sha-pin", version: "pin-1" });
    const v1 = await inProcess({ path: `/api/v1/runs/${id}`, headers: bearer(project.prod.apiKey) });
    expect(v1.body).toMatchObject({ externalDeploymentId: "sha-pin", lockedToVersion: "pin-1" });
  });

  it("lockToVersion with externalDeploymentId is a 400", async () => {
    const result = await trigger({ lockToVersion: "current", externalDeploymentId: "sha-pin" });
    expect(result.status).toBe(400);
    expect((result.body as { error: string }).error).toContain("cannot be used together");
  });

  it("a task absent from the pinned worker is a 422 naming the id", async () => {
    const result = await trigger({ externalDeploymentId: "sha-pin" }, "not-there");
    expect(result.status).toBe(422);
    expect((result.body as { error: string }).error).toBe("Task 'not-there' not found on the deployment with external id 'sha-pin'.");
  });

  it("an id not deployed yet waits as PENDING_VERSION and the deploy that registers it releases the run", async () => {
    const before = Date.now();
    const id = await triggered({ externalDeploymentId: "sha-later" });
    const waiting = await run(id);
    expect(waiting).toMatchObject({ status: "PENDING_VERSION", lockedToVersionId: null, queue: "task/email" });
    expect(waiting.versionDeadlineAt!.getTime()).toBeGreaterThanOrEqual(before + 3_600_000 - 1_000);
    // Nothing changes while no worker has the id, even though the task exists on the current worker.
    await runLifecycleTick();
    expect((await run(id)).status).toBe("PENDING_VERSION");

    const deployed = await deploy({ version: "later-1", tasks: emailTasks("later-q"), externalDeploymentId: "sha-later" });
    await runLifecycleTick();
    expect(await run(id)).toMatchObject({ status: "QUEUED", lockedToVersionId: (deployed.body as { workerId: string }).workerId, queue: "later-q" });
  });

  it("a replay of a waiting pinned run waits for the same id; of a released one, runs on its worker", async () => {
    const waiting = await triggered({ externalDeploymentId: "sha-replay" });
    const replay = await inProcess({ path: `/api/v1/runs/${waiting}/replay`, headers: bearer(project.prod.apiKey), body: {} });
    expect(replay.status, JSON.stringify(replay.body)).toBe(200);
    expect(await run((replay.body as { id: string }).id)).toMatchObject({ status: "PENDING_VERSION", externalDeploymentId: "sha-replay" });

    const released = await triggered({ externalDeploymentId: "sha-pin" });
    const again = await inProcess({ path: `/api/v1/runs/${released}/replay`, headers: bearer(project.prod.apiKey), body: {} });
    expect(await run((again.body as { id: string }).id)).toMatchObject({ status: "QUEUED", lockedToVersionId: (await run(released)).lockedToVersionId });
  });

  it("past the deadline a waiting run is EXPIRED with an error naming the id", async () => {
    const id = await triggered({ externalDeploymentId: "sha-never" });
    await runLifecycleTick({ now: new Date(Date.now() + 3_601_000) });
    const expired = await run(id);
    expect(expired).toMatchObject({ status: "EXPIRED", error: "No deployment with external id 'sha-never' was registered before the run's deadline." });
    const retrieved = await inProcess({ path: `/api/v3/runs/${id}`, headers: bearer(project.prod.apiKey) });
    expect(retrieved.body).toMatchObject({ status: "EXPIRED", externalDeploymentId: "sha-never", error: { message: expect.stringContaining("'sha-never'") } });
  });

  it("a batch item pinned to an id resolves like a single trigger, and waits like one", async () => {
    const deployed = await deploy({ version: "batch-1", tasks: emailTasks("batch-q"), externalDeploymentId: "sha-batch" });
    const result = await inProcess({
      path: "/api/v2/tasks/batch",
      headers: bearer(project.prod.apiKey),
      body: {
        items: [
          { task: "email", payload: {}, options: { externalDeploymentId: "sha-batch" } },
          { task: "email", payload: {}, options: { externalDeploymentId: "sha-batch-later" } },
          { task: "email", payload: {}, options: {} },
        ],
      },
    });
    expect(result.status, JSON.stringify(result.body)).toBe(200);
    const runs = await prisma().taskRun.findMany({ where: { environmentId: project.prod.id, batchId: { not: null } }, orderBy: { batchIndex: "asc" } });
    expect(runs.map((r) => [r.status, r.lockedToVersionId, r.externalDeploymentId])).toEqual([
      ["QUEUED", (deployed.body as { workerId: string }).workerId, "sha-batch"],
      ["PENDING_VERSION", null, "sha-batch-later"],
      ["QUEUED", null, null],
    ]);
  });

  it("the runs list filters by external id", async () => {
    const list = await inProcess({ path: "/api/v1/runs?filter[externalDeploymentId]=sha-later", headers: bearer(project.prod.apiKey) });
    expect(list.status).toBe(200);
    const data = (list.body as { data: { externalDeploymentId?: string }[] }).data;
    expect(data.length).toBe(1);
    expect(data[0]).toMatchObject({ externalDeploymentId: "sha-later" });
  });
});

describe("never stuck, never doubled", () => {
  it("a trigger racing the deploy that commits its id ends QUEUED on that worker", async () => {
    for (let round = 0; round < 5; round++) {
      const externalDeploymentId = `sha-race-${round}`;
      const triggers = Array.from({ length: 20 }, () => triggered({ externalDeploymentId }));
      const deployed = deploy({ version: `race-${round}`, tasks: emailTasks(`race-${round}`), externalDeploymentId });
      const [ids, answer] = await Promise.all([Promise.all(triggers), deployed]);
      const workerId = (answer.body as { workerId: string }).workerId;
      await runLifecycleTick();
      const runs = await prisma().taskRun.findMany({ where: { friendlyId: { in: ids } } });
      expect(runs.map((r) => [r.status, r.lockedToVersionId])).toEqual(ids.map(() => ["QUEUED", workerId]));
    }
  });

  it("1,000 pinned triggers for an id that arrives half-way: every run QUEUED on the right worker, none EXPIRED, none doubled", async () => {
    const externalDeploymentId = "sha-thousand";
    const ids: string[] = [];
    let workerId = "";
    const started = Date.now();
    for (let wave = 0; wave < 10; wave++) {
      if (wave === 5) {
        const deployed = await deploy({ version: "thousand-1", tasks: emailTasks("thousand-q"), externalDeploymentId });
        workerId = (deployed.body as { workerId: string }).workerId;
      }
      ids.push(...(await Promise.all(Array.from({ length: 100 }, (_, i) => triggered({ externalDeploymentId, idempotencyKey: `k-${wave}-${i}` })))));
      if (wave === 2) await runLifecycleTick(); // ticks while the id is missing change nothing
    }
    const waited = await prisma().taskRun.groupBy({ by: ["status"], where: { externalDeploymentId }, _count: true });
    // The first half waited for the id; the second half resolved on the spot (the deploy's pin replaced the negative entry).
    expect(Object.fromEntries(waited.map((g) => [g.status, g._count]))).toEqual({ PENDING_VERSION: 500, QUEUED: 500 });
    await runLifecycleTick();
    console.log(`1,000 pinned triggers, id deployed after 500, released in ${Date.now() - started} ms`);
    expect(new Set(ids).size).toBe(1_000);
    const runs = await prisma().taskRun.findMany({ where: { environmentId: project.prod.id, externalDeploymentId } });
    expect(runs.length).toBe(1_000);
    expect([...new Set(runs.map((r) => `${r.status} ${r.lockedToVersionId} ${r.queue}`))]).toEqual([`QUEUED ${workerId} thousand-q`]);
    expect(runs.every((r) => r.lockedToVersionId !== current.workerId)).toBe(true);
  });
});
