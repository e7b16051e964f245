import { batch, configure, runs, tasks } from "@trigger.dev/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server";
import { bearer, overHttp } from "../support/apiClient";
import { startAppServer, type AppServer } from "../support/appServer";
import { createTestProject, registerAndPromote, type TestProject } from "../support/fixtures";

/**
 * `@trigger.dev/sdk` 4.8.3 driving version skew against the built server (docs/api.md "Version
 * skew"): the SDK attaches `externalDeploymentId` itself (from TRIGGER_EXTERNAL_DEPLOYMENT_ID, or
 * per call), runs wait for that deploy and are released by it, a batch's items are pinned too,
 * an id that never arrives expires with an error the SDK shows, and a version lock together with
 * an id is a 400 the SDK does not retry. The server's deadline is 2 s here so the expiry is seen.
 */

let server: AppServer;
let project: TestProject;

const row = (friendlyId: string) => prisma().taskRun.findUniqueOrThrow({ where: { friendlyId } });

async function deploy(version: string, externalDeploymentId: string): Promise<string> {
  const result = await overHttp(server.url, {
    path: "/api/v1/deployments",
    headers: bearer(project.prod.apiKey),
    body: { version, externalDeploymentId, tasks: [{ slug: "send-welcome-email", queue: { name: `emails-${version}` } }] },
  });
  expect(result.status, JSON.stringify(result.body)).toBe(200);
  return (result.body as { workerId: string }).workerId;
}

async function retrieveUntil(id: string, status: string) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const run = await runs.retrieve(id);
    if (run.status === status) return run;
    if (Date.now() > deadline) throw new Error(`${id} is still ${run.status}, not ${status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  project = await createTestProject();
  await registerAndPromote({ environmentId: project.prod.id, version: "current", tasks: [{ slug: "send-welcome-email", queue: { name: "emails" } }] });
  server = await startAppServer({ TRIGGER_SKEW_DEADLINE_SECONDS: "2", RUN_LIFECYCLE_INTERVAL_MS: "200" });
  configure({ baseURL: server.url, accessToken: project.prod.apiKey });
});

afterAll(async () => {
  delete process.env.TRIGGER_EXTERNAL_DEPLOYMENT_ID;
  await server?.stop();
});

describe("the SDK pins triggers to an external deployment id", () => {
  it("from TRIGGER_EXTERNAL_DEPLOYMENT_ID: the run waits for that deploy, which releases it onto its worker", async () => {
    process.env.TRIGGER_EXTERNAL_DEPLOYMENT_ID = "sha-env";
    try {
      const { id } = await tasks.trigger("send-welcome-email", { to: "ada@example.com" });
      expect(await row(id)).toMatchObject({ status: "PENDING_VERSION", externalDeploymentId: "sha-env" });
      expect((await runs.retrieve(id)).status).toBe("PENDING_VERSION");
      const workerId = await deploy("env-1", "sha-env");
      await retrieveUntil(id, "QUEUED");
      expect(await row(id)).toMatchObject({ lockedToVersionId: workerId, queue: "emails-env-1" });
    } finally {
      delete process.env.TRIGGER_EXTERNAL_DEPLOYMENT_ID;
    }
  });

  it("per call and per batch item: resolved at once on the worker with that id", async () => {
    const workerId = await deploy("call-1", "sha-call");
    const { id } = await tasks.trigger("send-welcome-email", {}, { externalDeploymentId: "sha-call" });
    expect(await row(id)).toMatchObject({ status: "QUEUED", lockedToVersionId: workerId });
    const retrieved = await runs.retrieve(id);
    expect(retrieved).toMatchObject({ status: "QUEUED", version: "call-1" });

    const handle = await batch.trigger([
      { id: "send-welcome-email", payload: {}, options: { externalDeploymentId: "sha-call" } },
      { id: "send-welcome-email", payload: {}, options: { externalDeploymentId: "sha-call" } },
    ]);
    const items = await prisma().taskRun.findMany({ where: { batch: { friendlyId: handle.batchId } } });
    expect(items.map((r) => [r.status, r.lockedToVersionId])).toEqual([
      ["QUEUED", workerId],
      ["QUEUED", workerId],
    ]);
  });

  it("an id that never arrives: EXPIRED past the deadline, the SDK shows the error naming the id", async () => {
    const { id } = await tasks.trigger("send-welcome-email", {}, { externalDeploymentId: "sha-never" });
    const run = await retrieveUntil(id, "EXPIRED");
    expect(run.error?.message).toBe("No deployment with external id 'sha-never' was registered before the run's deadline.");
    expect(run.isFailed).toBe(true);
  });

  it("a version lock with an id is a 400, not retried", async () => {
    const started = Date.now();
    await expect(tasks.trigger("send-welcome-email", {}, { version: "current", externalDeploymentId: "sha-call" })).rejects.toMatchObject({
      status: 400,
      message: expect.stringContaining("cannot be used together"),
    });
    expect(Date.now() - started).toBeLessThan(1_000);
  });
});
