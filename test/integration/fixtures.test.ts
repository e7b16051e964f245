import { describe, expect, it } from "vitest";
import { prisma } from "~/db.server";
import { hashApiKey } from "~/domain/apiKeys";
import { createTestProject, registerAndPromote } from "../support/fixtures";

describe("test fixtures", () => {
  it("creates an organization, project, dev and prod environments with working API keys", async () => {
    const project = await createTestProject();
    expect(project.dev.type).toBe("DEVELOPMENT");
    expect(project.prod.type).toBe("PRODUCTION");
    const key = await prisma().environmentApiKey.findUnique({ where: { keyHash: hashApiKey(project.prod.apiKey) } });
    expect(key?.environmentId).toBe(project.prod.id);
  });

  it("registers and promotes a worker with N tasks in a non-dev environment", async () => {
    const project = await createTestProject();
    const worker = await registerAndPromote({ environmentId: project.prod.id, tasks: 3 });
    expect(worker.tasks.map((t) => t.slug)).toEqual(["task-0", "task-1", "task-2"]);
    const promotion = await prisma().workerDeploymentPromotion.findUnique({
      where: { environmentId_label: { environmentId: project.prod.id, label: "current" } },
    });
    expect(promotion?.workerId).toBe(worker.workerId);
  });
});
