import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server";
import { shardKeys } from "~/domain/triggerBuffer";
import { bearer } from "../support/apiClient";
import { startAppServer, type AppServer } from "../support/appServer";
import { eventually, testRedis } from "../support/cacheTesting";
import { startFaultProxy, type FaultProxy } from "../support/faultProxy";
import { createTestProject, registerAndPromote, type TestProject } from "../support/fixtures";
import { latencyPercentile, runLoad, type CallRecord } from "../support/loadClient";

/**
 * The must-show (issue 16), through the production server with Postgres behind a fault
 * proxy: Postgres is cut in the middle of a trigger load with mixed idempotency keys repeated
 * across the cut; nothing is refused, and after the drain every answered id is one run (or the
 * documented alias of one), each key one run. Then the app is SIGKILLed mid-drain and restarted:
 * the same holds.
 *
 * Sized by TRIGGER_BUFFER_LOAD_TOTAL, TRIGGER_BUFFER_LOAD_CUT_MS and TRIGGER_BUFFER_LOAD_CONCURRENCY;
 * the defaults are the (3000 triggers, a 20 s cut, concurrency 50): this file took 52–59 s
 * alone on a shared 2-core machine (docs/benchmarks.md). For a quick run:
 *   TRIGGER_BUFFER_LOAD_TOTAL=600 TRIGGER_BUFFER_LOAD_CUT_MS=3000 npx vitest run test/integration/reliability.triggerBuffer.test.ts
 */

const TOTAL = Number(process.env.TRIGGER_BUFFER_LOAD_TOTAL ?? 3_000);
const CUT_MS = Number(process.env.TRIGGER_BUFFER_LOAD_CUT_MS ?? 20_000);
const CONCURRENCY = Number(process.env.TRIGGER_BUFFER_LOAD_CONCURRENCY ?? 50);
const PHASE = Math.floor(TOTAL / 3);
const KEYS = Math.max(1, Math.floor(PHASE / 2));
const SHARDS = 2;

let proxy: FaultProxy;
let server: AppServer;
let project: TestProject;
const report: string[] = [];

const serverEnv = () => {
  const url = new URL(process.env.DATABASE_URL!);
  url.hostname = "127.0.0.1";
  url.port = String(proxy.port);
  return {
    DATABASE_URL: url.toString(),
    API_KEY_CACHE_L1_TTL_MS: "600000",
    TRIGGER_BUFFER_SHARDS: String(SHARDS),
    // Small chunks and a short claim idle, so a kill lands mid-drain and the restart reclaims soon.
    TRIGGER_BUFFER_DRAIN_CHUNK: "5",
    TRIGGER_BUFFER_CLAIM_IDLE_MS: "2000",
  };
};

beforeAll(async () => {
  const target = new URL(process.env.DATABASE_URL!);
  proxy = await startFaultProxy({ host: target.hostname, port: Number(target.port || 5432) });
  project = await createTestProject();
  await registerAndPromote({ environmentId: project.prod.id, version: "v1", tasks: [{ slug: "email", queue: { name: "emails" } }] });
  server = await startAppServer(serverEnv());
}, 120_000);

afterAll(async () => {
  console.log(`[reliability] trigger buffer under a Postgres cut (${TOTAL} triggers, concurrency ${CONCURRENCY}, cut ${CUT_MS} ms)\n  ${report.join("\n  ")}`);
  await server?.stop();
  await proxy?.close();
});

/** Every third trigger carries a key; key k is used at global index 3k and 3k + 3·KEYS (across the cut). */
function keyOf(global: number): string | undefined {
  return global % 3 === 0 ? `key-${Math.floor(global / 3) % KEYS}` : undefined;
}

function load(offset: number, total: number, paceMs = 0) {
  return runLoad({
    baseUrl: server.url,
    total,
    concurrency: CONCURRENCY,
    request: (i) => {
      const key = keyOf(offset + i);
      return {
        path: "/api/v1/tasks/email/trigger",
        headers: { ...bearer(project.prod.apiKey), ...(key ? { "idempotency-key": key } : {}) },
        body: JSON.stringify({ payload: { i: offset + i } }),
      };
    },
    onCall: paceMs > 0 ? () => new Promise((r) => setTimeout(r, paceMs)) : undefined,
  });
}

async function bufferDepth(): Promise<number> {
  const redis = testRedis();
  let depth = 0;
  for (let shard = 0; shard < SHARDS; shard++) depth += await redis.xlen(shardKeys(process.env.REDIS_KEY_PREFIX!, shard).stream);
  return depth;
}

interface Answer {
  id: string;
  key: string | undefined;
}

/** Every 200's id is one run or an alias of one; each key one run; no run nobody was answered with. */
async function expectExactlyOnce(answers: Answer[]) {
  const ids = [...new Set(answers.map((a) => a.id))];
  const runs = await prisma().taskRun.findMany({ where: { environmentId: project.prod.id }, select: { friendlyId: true, idempotencyKey: true } });
  const aliases = await prisma().taskRunAlias.findMany({ where: { environmentId: project.prod.id } });
  const runIds = new Set(runs.map((r) => r.friendlyId));
  const aliasOf = new Map(aliases.map((a) => [a.friendlyId, a.runFriendlyId]));
  const resolve = (id: string) => (runIds.has(id) ? id : aliasOf.get(id));
  const missing = ids.filter((id) => resolve(id) === undefined);
  expect(missing, `answered ids with no run`).toEqual([]);
  // Runs are created only for answered ids (the probe-free load: nothing else triggers here).
  const answeredRuns = new Set(ids.filter((id) => runIds.has(id)));
  expect(runs.length).toBe(answeredRuns.size);
  const byKey = new Map<string, Set<string>>();
  for (const answer of answers) {
    if (!answer.key) continue;
    byKey.set(answer.key, (byKey.get(answer.key) ?? new Set()).add(resolve(answer.id)!));
  }
  for (const [key, resolved] of byKey) expect([...resolved], `key ${key}`).toHaveLength(1);
  const keyedRuns = runs.filter((r) => r.idempotencyKey !== null);
  expect(new Set(keyedRuns.map((r) => r.idempotencyKey)).size).toBe(keyedRuns.length);
  return { runs: runs.length, aliases: aliases.length };
}

const answersOf = (calls: CallRecord[], offset: number): Answer[] =>
  calls.map((c) => ({ id: JSON.parse(c.body).id as string, key: keyOf(offset + c.index) }));
const non2xx = (calls: CallRecord[]) => calls.filter((c) => c.status < 200 || c.status > 299);
const p99 = (calls: CallRecord[]) => `${latencyPercentile(calls, 0.99).toFixed(1)} ms`;

describe("a Postgres cut in the middle of a trigger load", () => {
  const answers: Answer[] = [];

  it("0 non-2xx; after the drain every answered id is in Postgres exactly once, each key one run", async () => {
    const before = await load(0, PHASE);
    await proxy.setMode("refuse");
    const cutAt = performance.now();
    // Paced so that the phase spans the cut: each worker waits between its calls.
    const during = await load(PHASE, PHASE, Math.max(0, CUT_MS / Math.ceil(PHASE / CONCURRENCY) - 5));
    const remaining = CUT_MS - (performance.now() - cutAt);
    if (remaining > 0) await new Promise((r) => setTimeout(r, remaining));
    await proxy.setMode("forward");
    const backAt = performance.now();
    const buffered = during.calls.filter((c) => c.status === 200 && JSON.parse(c.body).isCached === false);
    const firstId = JSON.parse(buffered[0].body).id as string;
    const after = await load(2 * PHASE, TOTAL - 2 * PHASE);
    await eventually(async () => (await prisma().taskRun.count({ where: { friendlyId: firstId } })) === 1, { timeoutMs: 10_000, intervalMs: 10 });
    await eventually(async () => (await bufferDepth()) === 0, { timeoutMs: 60_000, intervalMs: 50 });
    const drainMs = performance.now() - backAt;

    for (const [name, phase] of [["before", before], ["during", during], ["after", after]] as const) {
      expect(non2xx(phase.calls), `${name}: ${non2xx(phase.calls)[0]?.body}`).toEqual([]);
    }
    answers.push(...answersOf(before.calls, 0), ...answersOf(during.calls, PHASE), ...answersOf(after.calls, 2 * PHASE));
    const counts = await expectExactlyOnce(answers);
    report.push(
      `p99 before ${p99(before.calls)}, during ${p99(during.calls)}, after (while draining) ${p99(after.calls)}`,
      `buffered during the cut: ${during.calls.filter((c) => c.status === 200).length} answered 200; drained in ${drainMs.toFixed(0)} ms after Postgres came back`,
      `runs ${counts.runs}, aliases ${counts.aliases} (keys that had a run before the cut), ${answers.length} answers, 0 non-2xx`,
    );
  }, 180_000);

  it("Postgres back: the first buffered run is in Postgres within 1 s", async () => {
    await proxy.setMode("refuse");
    const buffered = await load(TOTAL, 20);
    expect(non2xx(buffered.calls)).toEqual([]);
    // A keyed repeat answers an earlier run's id (isCached); the first newly buffered one is timed.
    const firstId = JSON.parse(buffered.calls.find((c) => JSON.parse(c.body).isCached === false)!.body).id as string;
    await proxy.setMode("forward");
    const backAt = performance.now();
    await eventually(async () => (await prisma().taskRun.count({ where: { friendlyId: firstId } })) === 1, { timeoutMs: 10_000, intervalMs: 10 });
    const firstMs = performance.now() - backAt;
    expect(firstMs).toBeLessThan(1_000);
    report.push(`first buffered run in Postgres ${(performance.now() - backAt).toFixed(0)} ms after Postgres came back`);
    await eventually(async () => (await bufferDepth()) === 0, { timeoutMs: 10_000, intervalMs: 50 });
    answers.push(...answersOf(buffered.calls, TOTAL));
  }, 30_000);

  it("the app SIGKILLed mid-drain and restarted: the same counts hold", async () => {
    await proxy.setMode("refuse");
    const offset = TOTAL + 20;
    const buffered = await load(offset, PHASE);
    expect(non2xx(buffered.calls)).toEqual([]);
    const ids = buffered.calls.map((c) => JSON.parse(c.body).id as string);
    await proxy.setMode("forward");
    await eventually(async () => (await prisma().taskRun.count({ where: { friendlyId: { in: ids } } })) > 0, { timeoutMs: 10_000, intervalMs: 5 });
    killHard(server);
    const drainedAtKill = await prisma().taskRun.count({ where: { friendlyId: { in: ids } } });
    const depthAtKill = await bufferDepth();
    server = await startAppServer(serverEnv());
    const restartedAt = performance.now();
    await eventually(async () => (await bufferDepth()) === 0, { timeoutMs: 60_000, intervalMs: 50 });
    report.push(
      `SIGKILL mid-drain: ${drainedAtKill} of ${ids.length} drained at the kill (${depthAtKill} left in the buffer); the restarted app drained the rest in ${(performance.now() - restartedAt).toFixed(0)} ms`,
    );
    expect(depthAtKill).toBeGreaterThan(0);
    answers.push(...answersOf(buffered.calls, offset));
    await expectExactlyOnce(answers);
  }, 120_000);
});

/** SIGKILL the node process tsx started (a SIGKILL to tsx itself would orphan it), by its pid. */
function killHard(app: AppServer) {
  const children = execFileSync("pgrep", ["-P", String(app.process.pid)]).toString().trim().split("\n").filter(Boolean);
  for (const pid of children) process.kill(Number(pid), "SIGKILL");
  app.process.kill("SIGKILL");
}
