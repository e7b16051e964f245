import { afterAll, describe, expect, it } from "vitest";
import { dbQueryCount } from "~/db.server";
import { environmentKeys } from "~/domain/cacheKeys";
import { decodeTaskEntry } from "~/domain/taskMetadataEntry";
import { resolveTask } from "~/services/taskMetadata/index.server";
import { createTestProject, registerAndPromote } from "../support/fixtures";
import { testRedis } from "../support/cacheTesting";

// Read on first use of the app's configuration, which no import above triggers.
process.env.TASK_META_CACHE_DISABLED = "true";

const redis = testRedis();
afterAll(() => redis.quit());

describe("TASK_META_CACHE_DISABLED=true", () => {
  it("every resolve asks Postgres, even for a task the cache holds, and none warms the cache for the next", async () => {
    const project = await createTestProject();
    await registerAndPromote({ environmentId: project.prod.id, tasks: 3 });
    const environment = { id: project.prod.id, type: "PRODUCTION" as const };

    for (let i = 0; i < 3; i++) {
      const before = dbQueryCount();
      const resolved = await resolveTask({ environment, taskSlug: "task-1" });
      expect(resolved.source).toBe("database");
      expect(resolved.queueName).toBe("queue-1");
      expect(dbQueryCount() - before).toBeGreaterThan(0);
    }
  });

  it("a promotion still replaces the current hash, so turning the cache back on serves the promoted worker", async () => {
    const project = await createTestProject();
    await registerAndPromote({ environmentId: project.prod.id, tasks: [{ slug: "send", queue: { name: "old-queue" } }] });
    await registerAndPromote({ environmentId: project.prod.id, tasks: [{ slug: "send", queue: { name: "new-queue" } }] });

    const keys = environmentKeys(process.env.REDIS_KEY_PREFIX!, project.prod.id);
    const raw = await redis.hget(keys.current, "send");
    expect(raw).not.toBeNull();
    const decoded = decodeTaskEntry(raw!);
    expect(decoded.ok && decoded.value.found && decoded.value.queueName).toBe("new-queue");
  });
});
