import { configure, deployments, idempotencyKeys, runs, tasks } from "@trigger.dev/sdk";
import { ApiClient } from "@trigger.dev/core/v3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server";
import { startAppServer, type AppServer } from "../support/appServer";
import { createTestProject, registerAndPromote, type TestProject } from "../support/fixtures";

/**
 * The built server driven by `@trigger.dev/sdk` 4.8.3 itself, for every call of issue 13: the SDK
 * validates each response with its own zod schemas and throws on a mismatch, so every call that
 * returns is a schema the SDK accepted. What Postgres holds is checked beside it. Run by
 * sdk.contract.test.ts (in-process tier off) and sdk.contract.inProcessTier.test.ts (on).
 */

export function sdkContractSuite(serverEnv: Record<string, string>) {
  let server: AppServer;
  let project: TestProject;
  let other: TestProject;
  let client: ApiClient;

  const row = (friendlyId: string) => prisma().taskRun.findUniqueOrThrow({ where: { friendlyId } });

  beforeAll(async () => {
    project = await createTestProject();
    other = await createTestProject();
    await registerAndPromote({ environmentId: project.prod.id, version: "20261207.1", tasks: [{ slug: "send-welcome-email", queue: { name: "emails" }, ttl: "1h" }] });
    await registerAndPromote({ environmentId: project.prod.id, version: "20261207.2", tasks: [{ slug: "send-welcome-email", queue: { name: "emails" }, ttl: "1h" }] });
    server = await startAppServer(serverEnv);
    configure({ baseURL: server.url, accessToken: project.prod.apiKey });
    client = new ApiClient(server.url, project.prod.apiKey);
  });

  afterAll(async () => {
    await server?.stop();
  });

  describe("tasks.trigger", () => {
    it("stores every option the SDK sends", async () => {
      const handle = await tasks.trigger(
        "send-welcome-email",
        { to: "ada@example.com" },
        {
          queue: "emails",
          concurrencyKey: "user-1",
          idempotencyKey: "welcome-ada",
          idempotencyKeyTTL: "1h",
          delay: "10m",
          ttl: "30m",
          tags: ["user_1", "welcome"],
          metadata: { plan: "pro" },
          maxAttempts: 4,
          maxDuration: 120,
          machine: "small-2x",
          priority: 10,
          region: "eu-central-1",
          version: "20261207.1",
        },
      );
      expect(handle.id).toMatch(/^run_/);
      expect(await row(handle.id)).toMatchObject({
        status: "DELAYED",
        queue: "emails",
        concurrencyKey: "user-1",
        ttl: "30m",
        tags: ["user_1", "welcome"],
        metadata: { plan: "pro" },
        maxAttempts: 4,
        maxDurationInSeconds: 120,
        machinePreset: "small-2x",
        priorityMs: 10_000,
        region: "eu-central-1",
        payloadType: "application/super+json", // the SDK's default packet
        sdkVersion: "4.8.3",
      });
      const stored = await row(handle.id);
      expect(stored.idempotencyKey).toMatch(/[0-9a-f]{64}/); // the SDK hashes the key
      expect(stored.idempotencyKeyExpiresAt!.getTime() - stored.createdAt.getTime()).toBe(3_600_000);

      const again = await tasks.trigger("send-welcome-email", { to: "ada@example.com" }, { idempotencyKey: "welcome-ada" });
      expect(again.id).toBe(handle.id);
    });

    it("an invalid option is an error naming the field, not retried", async () => {
      const started = Date.now();
      await expect(tasks.trigger("send-welcome-email", {}, { machine: "huge" as never })).rejects.toMatchObject({ status: 400, message: expect.stringContaining("options.machine") });
      expect(Date.now() - started).toBeLessThan(1_000);
    });
  });

  describe("runs", () => {
    it("retrieve: every field of RetrieveRunResponse; another environment's run is a 404", async () => {
      const { id } = await tasks.trigger("send-welcome-email", { to: "bob@example.com" }, { tags: "retrieve" });
      const run = await runs.retrieve(id);
      expect(run).toMatchObject({
        id,
        status: "QUEUED",
        taskIdentifier: "send-welcome-email",
        payload: { to: "bob@example.com" },
        isQueued: true,
        isCompleted: false,
        isCancelled: false,
        tags: ["retrieve"],
        attemptCount: 0,
        costInCents: 0,
        relatedRuns: {},
        ttl: "1h",
      });
      configure({ baseURL: server.url, accessToken: other.prod.apiKey });
      try {
        await expect(runs.retrieve(id)).rejects.toMatchObject({ status: 404 });
      } finally {
        configure({ baseURL: server.url, accessToken: project.prod.apiKey });
      }
    });

    it("list: each filter, and two keyset pages", async () => {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push((await tasks.trigger("send-welcome-email", { i }, { tags: ["listed"] })).id);
      const first = await runs.list({ tag: "listed", limit: 3 });
      expect(first.data.map((r) => r.id)).toEqual(ids.slice(2).reverse());
      expect(first.hasNextPage()).toBe(true);
      const second = await first.getNextPage();
      expect(second.data.map((r) => r.id)).toEqual(ids.slice(0, 2).reverse());
      expect(second.data[0].env).toEqual({ id: project.prod.id, name: "prod" });
      const back = await second.getPreviousPage();
      expect(back.data.map((r) => r.id)).toEqual(ids.slice(2).reverse());

      expect((await runs.list({ status: ["QUEUED"], tag: "listed" })).data).toHaveLength(5);
      expect((await runs.list({ status: "CANCELED", tag: "listed" })).data).toHaveLength(0);
      expect((await runs.list({ taskIdentifier: "send-welcome-email", tag: "listed" })).data).toHaveLength(5);
      expect((await runs.list({ taskIdentifier: "other-task" })).data).toHaveLength(0);
      expect((await runs.list({ version: "20261207.1" })).data.every((r) => r.version === "20261207.1")).toBe(true);
      expect((await runs.list({ isTest: true, tag: "listed" })).data).toHaveLength(0);
      expect((await runs.list({ period: "1h", tag: "listed" })).data).toHaveLength(5);
      expect((await runs.list({ from: new Date(Date.now() + 60_000), tag: "listed" })).data).toHaveLength(0);
      expect((await runs.list({ to: new Date(Date.now() - 3_600_000), tag: "listed" })).data).toHaveLength(0);
    });

    it("cancel, reschedule (DELAYED only), replay", async () => {
      const delayed = await tasks.trigger("send-welcome-email", { n: 1 }, { delay: "1h", tags: ["replayed"], maxAttempts: 2 });
      const rescheduled = await runs.reschedule(delayed.id, { delay: "2h" });
      expect(rescheduled.status).toBe("DELAYED");
      expect(rescheduled.delayedUntil!.getTime()).toBeGreaterThan(Date.now() + 3_600_000);

      const replay = await runs.replay(delayed.id);
      expect(replay.id).not.toBe(delayed.id);
      expect(await row(replay.id)).toMatchObject({ payload: (await row(delayed.id)).payload, tags: ["replayed"], maxAttempts: 2, status: "QUEUED" });

      await runs.cancel(delayed.id);
      expect((await row(delayed.id)).status).toBe("CANCELED");
      expect((await runs.retrieve(delayed.id)).isCancelled).toBe(true);
      await expect(runs.reschedule(delayed.id, { delay: "1h" })).rejects.toMatchObject({ status: 400 });
    });

    it("the server's lifecycle expires a run at its TTL; retrieve then carries expiredAt and finishedAt", async () => {
      const { id } = await tasks.trigger("send-welcome-email", {}, { ttl: 1 });
      const deadline = Date.now() + 10_000;
      let run = await runs.retrieve(id);
      while (run.status !== "EXPIRED" && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 200));
        run = await runs.retrieve(id);
      }
      expect(run).toMatchObject({ status: "EXPIRED", isCompleted: true, isFailed: true, isQueued: false });
      expect(run.expiredAt).toBeInstanceOf(Date);
      expect(run.finishedAt).toEqual(run.expiredAt);
    });

    it("tags and metadata through the SDK's API client", async () => {
      const { id } = await tasks.trigger("send-welcome-email", {}, { tags: ["a"], metadata: { count: 1 } });
      expect(await client.addTags(id, { tags: ["b", "c"] })).toMatchObject({ message: expect.any(String) });
      const updated = await client.updateRunMetadata(id, { operations: [{ type: "increment", key: "count", value: 2 }, { type: "set", key: "$.progress.step", value: "sent" }] });
      expect(updated.metadata).toEqual({ count: 3, progress: { step: "sent" } });
      expect(await row(id)).toMatchObject({ tags: ["a", "b", "c"], metadata: { count: 3, progress: { step: "sent" } } });
    });
  });

  it("idempotencyKeys.reset releases the key: the next trigger starts a new run", async () => {
    const key = await idempotencyKeys.create("reset-me");
    const first = await tasks.trigger("send-welcome-email", {}, { idempotencyKey: key });
    await idempotencyKeys.reset("send-welcome-email", key);
    const second = await tasks.trigger("send-welcome-email", {}, { idempotencyKey: key });
    expect(second.id).not.toBe(first.id);
    expect((await row(first.id)).idempotencyKey).toBeNull();
  });

  it("deployments: list (paged) and current", async () => {
    const page = await deployments.list({ limit: 1 });
    expect(page.data[0].version).toBe("20261207.2");
    const next = await page.getNextPage();
    expect(next.data[0].version).toBe("20261207.1");
    expect(await deployments.retrieveCurrent()).toMatchObject({ version: "20261207.2", status: "DEPLOYED" });
  });
}
