import { expect, it } from "vitest";
import { dbQueryCount } from "~/db.server";
import { apiKeyRevocationSubscriber } from "~/services/apiKeyL1.server";
import { taskMetadataInvalidationSubscriber } from "~/services/taskMetadata/instance.server";
import { bearer, inProcess } from "../apiClient";
import { eventually } from "../cacheTesting";
import { createTestProject, registerAndPromote } from "../fixtures";
import type { RedisCommandCounter } from "../redisCommandCount";

/**
 * A warm batch of 1,000 items over 10 current tasks, counted: the task-metadata commands Redis
 * executed (HMGET/HGET and back-fill scripts) and every Postgres statement of the item request.
 * Run by batch.counting.test.ts (in-process tier off) and batch.counting.inProcessTier.test.ts (on),
 * each against a redis-server of its own.
 */

const METADATA_COMMANDS = ["hmget", "hget", "evalsha", "eval", "hset"];
const TASKS = Array.from({ length: 10 }, (_, i) => `counted-${i}`);

export function batchCountingSuite(counter: () => RedisCommandCounter, expected: { metadataRoundTrips: number; lockedRoundTrips: number }) {
  it(`a warm batch of 1,000 items: ≤ ${expected.metadataRoundTrips} metadata round trips, ≤ 3 Postgres statements`, async () => {
    const project = await createTestProject();
    await registerAndPromote({ environmentId: project.prod.id, version: "1", tasks: TASKS.map((slug) => ({ slug, queue: { name: `q-${slug}` } })) });
    const line = (index: number) => ({ index, task: TASKS[index % 10], payload: { index } });
    await countWarmBatch(counter(), project.prod.apiKey, line, expected.metadataRoundTrips);
  });

  it(`a warm batch of 1,000 items, current and locked to two versions: ≤ ${expected.lockedRoundTrips} metadata round trips, ≤ 3 Postgres statements`, async () => {
    const project = await createTestProject();
    const tasks = TASKS.map((slug) => ({ slug, queue: { name: `q-${slug}` } }));
    await registerAndPromote({ environmentId: project.prod.id, version: "1", tasks });
    await registerAndPromote({ environmentId: project.prod.id, version: "2", tasks });
    // A third current, a third locked to each version; every fourth item overrides its queue.
    const line = (index: number) => ({
      index,
      task: TASKS[index % 10],
      payload: { index },
      options: { ...(index % 3 ? { lockToVersion: String(index % 3) } : {}), ...(index % 4 === 0 ? { queue: { name: "q-counted-0" } } : {}) },
    });
    await countWarmBatch(counter(), project.prod.apiKey, line, expected.lockedRoundTrips);
  });
}

/** Warms the tiers with two small batches, then counts one batch of 1,000 lines. */
async function countWarmBatch(counter: RedisCommandCounter, apiKey: string, line: (index: number) => object, roundTrips: number) {
  const headers = bearer(apiKey);
  const lines = (n: number) => Array.from({ length: n }, (_, index) => JSON.stringify(line(index))).join("\n");
  async function batchOf(n: number) {
    const created = await inProcess({ path: "/api/v3/batches", headers, body: { runCount: n } });
    expect(created.status).toBe(200);
    return created.body.id as string;
  }
  // Warm-up: the tiers subscribed, the key and every task cached.
  await batchOf(1);
  await eventually(
    () => apiKeyRevocationSubscriber()?.isSubscribed && (roundTrips > 0 || taskMetadataInvalidationSubscriber()?.isSubscribed),
    { timeoutMs: 10_000 },
  );
  for (let i = 0; i < 2; i++) {
    const warm = await batchOf(1000);
    expect((await inProcess({ path: `/api/v3/batches/${warm}/items`, headers, body: lines(1000) })).body).toMatchObject({ sealed: true });
  }

  const id = await batchOf(1000);
  const body = lines(1000);
  let statements = 0;
  let response: Awaited<ReturnType<typeof inProcess>> | undefined;
  const commands = await counter.during(async () => {
    const before = dbQueryCount();
    response = await inProcess({ path: `/api/v3/batches/${id}/items`, headers, body });
    statements = dbQueryCount() - before;
  });
  expect(response!.status).toBe(200);
  expect(response!.body).toEqual({ id, itemsAccepted: 1000, itemsDeduplicated: 0, sealed: true });
  const metadata = METADATA_COMMANDS.reduce((sum, name) => sum + (commands[name] ?? 0), 0);
  console.log(`warm batch of 1,000: Redis commands ${JSON.stringify(commands)}, metadata round trips ${metadata}, Postgres statements ${statements}`);
  expect(metadata).toBeLessThanOrEqual(roundTrips);
  expect(statements).toBeLessThanOrEqual(3);
}
