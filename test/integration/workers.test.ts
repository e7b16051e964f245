import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { prisma } from "~/db.server";
import { environmentKeys } from "~/domain/cacheKeys";
import { CircuitBreaker } from "~/domain/circuitBreaker";
import { BadRequestError, ConflictError, NotFoundError, ValidationError } from "~/domain/errors";
import { decodeTaskEntry } from "~/domain/taskMetadataEntry";
import { keyPrefix } from "~/redis.server";
import { RedisTaskMetadataStore } from "~/services/taskMetadata/redisStore.server";
import { QueueResolver } from "~/services/taskMetadata/resolver.server";
import { WorkerService, type RegisterWorkerTask } from "~/services/workers.server";
import { closedPort, eventually, RecordingSink, testRedis } from "../support/cacheTesting";
import { testRedisUrl } from "../support/databaseUrls";
import { createTestProject, type TestProject } from "../support/fixtures";

const prefix = keyPrefix();
const admin = testRedis();
const client = new Redis(testRedisUrl(), { enableOfflineQueue: false, maxRetriesPerRequest: 0, lazyConnect: true });
let events: RecordingSink;
let cache: RedisTaskMetadataStore;
let workers: WorkerService;
let project: TestProject;

const TASKS: RegisterWorkerTask[] = [
  { slug: "send-email", queue: { name: "emails", concurrencyLimit: 5 }, ttl: 300 },
  { slug: "resize", queue: { name: "media queue!" }, ttl: "1h30m", triggerSource: "AGENT" },
  { slug: "plain" },
];

function newCache(overrides: Partial<ConstructorParameters<typeof RedisTaskMetadataStore>[0]> = {}) {
  return new RedisTaskMetadataStore({
    client,
    prefix,
    currentTtlSeconds: 86_400,
    workerTtlSeconds: 30 * 86_400,
    commandTimeoutMs: 1_000,
    events,
    ...overrides,
  });
}

beforeEach(async () => {
  events = new RecordingSink();
  cache = newCache();
  workers = new WorkerService({ cache });
  project = await createTestProject();
});

afterAll(async () => {
  client.disconnect();
  await admin.quit();
});

describe("registerWorker", () => {
  it("writes worker, queues (sanitised, upserted by name), tasks and a deployment in one go", async () => {
    const registered = await workers.registerWorker({ environmentId: project.prod.id, version: "1.0.0", tasks: TASKS });
    expect(registered).toMatchObject({ version: "1.0.0", created: true });
    expect(registered.deploymentId).not.toBeNull();
    expect(registered.tasks.map((t) => [t.slug, t.queueName])).toEqual([
      ["send-email", "emails"],
      ["resize", "mediaqueue"],
      ["plain", null],
    ]);
    const rows = await prisma().backgroundWorkerTask.findMany({
      where: { workerId: registered.workerId },
      select: { slug: true, ttl: true, triggerSource: true, queue: { select: { name: true, concurrencyLimit: true } } },
      orderBy: { slug: "asc" },
    });
    expect(rows).toEqual([
      { slug: "plain", ttl: null, triggerSource: "STANDARD", queue: null },
      { slug: "resize", ttl: "1h30m", triggerSource: "AGENT", queue: { name: "mediaqueue", concurrencyLimit: null } },
      { slug: "send-email", ttl: "5m", triggerSource: "STANDARD", queue: { name: "emails", concurrencyLimit: 5 } },
    ]);

    // A second worker shares the queues by name; the newest registration sets the limit.
    const second = await workers.registerWorker({
      environmentId: project.prod.id,
      version: "2.0.0",
      tasks: [{ slug: "send-email", queue: { name: "emails", concurrencyLimit: 9 } }],
    });
    const queues = await prisma().taskQueue.findMany({ where: { environmentId: project.prod.id }, orderBy: { name: "asc" } });
    expect(queues.map((q) => [q.name, q.concurrencyLimit])).toEqual([["emails", 9], ["mediaqueue", null]]);
    const secondTask = await prisma().backgroundWorkerTask.findFirstOrThrow({ where: { workerId: second.workerId } });
    expect(secondTask.queueId).toBe(queues[0].id);
  });

  it("DEVELOPMENT has no deployments", async () => {
    const registered = await workers.registerWorker({ environmentId: project.dev.id, version: "dev-1", tasks: TASKS });
    expect(registered.deploymentId).toBeNull();
    expect(await prisma().workerDeployment.count({ where: { environmentId: project.dev.id } })).toBe(0);
  });

  it("re-sending the same version and content is idempotent: same ids, created false", async () => {
    const first = await workers.registerWorker({ environmentId: project.prod.id, version: "1.0.0", tasks: TASKS });
    const again = await workers.registerWorker({ environmentId: project.prod.id, version: "1.0.0", tasks: TASKS });
    expect(again).toEqual({ ...first, created: false });
    // The canonical content ignores task order and spelling of equal TTLs.
    const reordered = [
      { ...TASKS[2] },
      { ...TASKS[0], ttl: "5m" },
      { ...TASKS[1], ttl: 5_400 },
    ];
    const third = await workers.registerWorker({ environmentId: project.prod.id, version: "1.0.0", tasks: reordered });
    expect(third.workerId).toBe(first.workerId);
    expect(third.created).toBe(false);
    expect(await prisma().backgroundWorker.count({ where: { environmentId: project.prod.id } })).toBe(1);
  });

  it("the same version with other content is a 409", async () => {
    await workers.registerWorker({ environmentId: project.prod.id, version: "1.0.0", tasks: TASKS });
    const error = await workers
      .registerWorker({ environmentId: project.prod.id, version: "1.0.0", tasks: [...TASKS, { slug: "extra" }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConflictError);
    expect((error as ConflictError).status).toBe(409);
    expect((error as ConflictError).message).toBe("Version '1.0.0' is already registered in this environment with different content.");
  });

  it("a client contentHash is the identity when given", async () => {
    const first = await workers.registerWorker({ environmentId: project.prod.id, version: "1.0.0", contentHash: "abc", tasks: TASKS });
    const same = await workers.registerWorker({ environmentId: project.prod.id, version: "1.0.0", contentHash: "abc", tasks: TASKS });
    expect(same.workerId).toBe(first.workerId);
    await expect(
      workers.registerWorker({ environmentId: project.prod.id, version: "1.0.0", contentHash: "def", tasks: TASKS }),
    ).rejects.toBeInstanceOf(ConflictError);
  });

  it("concurrent registrations of one version create one worker", async () => {
    const [a, b] = await Promise.all([
      workers.registerWorker({ environmentId: project.prod.id, version: "1.0.0", tasks: TASKS }),
      workers.registerWorker({ environmentId: project.prod.id, version: "1.0.0", tasks: TASKS }),
    ]);
    expect(a.workerId).toBe(b.workerId);
    expect([a.created, b.created].sort()).toEqual([false, true]);
    expect(await prisma().backgroundWorker.count({ where: { environmentId: project.prod.id } })).toBe(1);
  });

  it("a malformed task ttl is a 400 naming tasks[i].ttl, and nothing is written", async () => {
    const error = await workers
      .registerWorker({ environmentId: project.prod.id, version: "1.0.0", tasks: [TASKS[0], { slug: "bad", ttl: "soon" }] })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BadRequestError);
    expect((error as BadRequestError).message).toContain("tasks[1].ttl");
    expect((error as BadRequestError).details).toEqual({ field: "tasks[1].ttl" });
    expect(await prisma().backgroundWorker.count({ where: { environmentId: project.prod.id } })).toBe(0);
  });

  it("duplicate slugs and empty versions are 400s", async () => {
    await expect(
      workers.registerWorker({ environmentId: project.prod.id, version: "1", tasks: [{ slug: "a" }, { slug: "a" }] }),
    ).rejects.toThrow(/tasks\[1\]\.slug 'a' appears more than once/);
    await expect(workers.registerWorker({ environmentId: project.prod.id, version: " ", tasks: [] })).rejects.toBeInstanceOf(
      BadRequestError,
    );
  });

  it("a non-dev registration writes that version's locked hash only; a dev registration replaces current", async () => {
    const prodKeys = environmentKeys(prefix, project.prod.id);
    const prod = await workers.registerWorker({ environmentId: project.prod.id, version: "1.0.0", tasks: TASKS });
    expect(await admin.hget(prodKeys.locked("1.0.0"), "w")).toBe(prod.workerId);
    expect((await admin.hkeys(prodKeys.locked("1.0.0"))).filter((f) => f.startsWith("t:"))).toHaveLength(3);
    expect(await admin.exists(prodKeys.current, prodKeys.owner)).toBe(0);

    const devKeys = environmentKeys(prefix, project.dev.id);
    const dev = await workers.registerWorker({ environmentId: project.dev.id, version: "dev-1", tasks: TASKS });
    expect(await admin.get(devKeys.owner)).toBe(dev.workerId);
    expect(await admin.hlen(devKeys.current)).toBe(3);
    expect(decodeTaskEntry((await admin.hget(devKeys.current, "resize"))!)).toMatchObject({
      ok: true,
      value: { kind: "AGENT", ttl: "1h30m", queueName: "mediaqueue" },
    });
  });

  it("a failed worker-hash write needs no repair: the next locked read back-fills it from Postgres", async () => {
    const dead = new Redis({ host: "127.0.0.1", port: await closedPort(), lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0 });
    dead.on("error", () => {});
    const offline = new WorkerService({ cache: newCache({ client: dead, commandTimeoutMs: 200, writeTimeoutMs: 300 }) });
    const registered = await offline.registerWorker({ environmentId: project.prod.id, version: "1.0.0", tasks: TASKS });
    dead.disconnect();
    const keys = environmentKeys(prefix, project.prod.id);
    expect(await admin.exists(keys.locked("1.0.0"))).toBe(0);

    const resolver = new QueueResolver({ cache, events });
    const environment = { id: project.prod.id, type: "PRODUCTION" as const };
    expect(await resolver.resolve({ environment, taskSlug: "send-email", lockToVersion: "1.0.0" })).toMatchObject({
      queueName: "emails",
      source: "database",
    });
    await eventually(() => admin.hexists(keys.locked("1.0.0"), "t:send-email"));
    expect(await admin.hget(keys.locked("1.0.0"), "w")).toBe(registered.workerId);
    expect(await resolver.resolve({ environment, taskSlug: "send-email", lockToVersion: "1.0.0" })).toMatchObject({
      queueName: "emails",
      lockedWorkerId: registered.workerId,
      source: "cache",
    });
  });
});

describe("promoteVersion", () => {
  it("makes the version current, reports the previous one, and rolls back by promoting an older version", async () => {
    const v1 = await workers.registerWorker({ environmentId: project.prod.id, version: "1.0.0", tasks: TASKS });
    const v2 = await workers.registerWorker({ environmentId: project.prod.id, version: "2.0.0", tasks: [{ slug: "send-email" }] });
    expect(await workers.promoteVersion({ environmentId: project.prod.id, version: "1.0.0" })).toEqual({
      workerId: v1.workerId,
      deploymentId: v1.deploymentId,
      version: "1.0.0",
      previousVersion: null,
    });
    expect(await workers.promoteVersion({ environmentId: project.prod.id, version: "2.0.0" })).toMatchObject({
      workerId: v2.workerId,
      previousVersion: "1.0.0",
    });
    const keys = environmentKeys(prefix, project.prod.id);
    expect(await admin.get(keys.owner)).toBe(v2.workerId);
    expect(await admin.hkeys(keys.current)).toEqual(["send-email"]);

    expect(await workers.promoteVersion({ environmentId: project.prod.id, version: "1.0.0" })).toMatchObject({ previousVersion: "2.0.0" });
    expect(await admin.get(keys.owner)).toBe(v1.workerId);
    expect(await admin.hlen(keys.current)).toBe(3);
    const promotions = await prisma().workerDeploymentPromotion.findMany({ where: { environmentId: project.prod.id } });
    expect(promotions).toHaveLength(1);
    expect(promotions[0].workerId).toBe(v1.workerId);
  });

  it("promoting the version that is already current succeeds and re-writes the cache", async () => {
    const v1 = await workers.registerWorker({ environmentId: project.prod.id, version: "1.0.0", tasks: TASKS });
    await workers.promoteVersion({ environmentId: project.prod.id, version: "1.0.0" });
    const keys = environmentKeys(prefix, project.prod.id);
    await admin.del(keys.current, keys.owner, keys.locked("1.0.0"));
    expect(await workers.promoteVersion({ environmentId: project.prod.id, version: "1.0.0" })).toMatchObject({ previousVersion: "1.0.0" });
    expect(await admin.get(keys.owner)).toBe(v1.workerId);
    expect(await admin.hlen(keys.current)).toBe(3);
    expect(await admin.hget(keys.locked("1.0.0"), "w")).toBe(v1.workerId);
  });

  it("an unknown version is a 404", async () => {
    const error = await workers.promoteVersion({ environmentId: project.prod.id, version: "9.9.9" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NotFoundError);
    expect((error as NotFoundError).message).toBe("No deployment found with version '9.9.9'.");
  });

  it("a DEVELOPMENT environment is a 422: it has no deployments", async () => {
    await workers.registerWorker({ environmentId: project.dev.id, version: "dev-1", tasks: TASKS });
    const error = await workers.promoteVersion({ environmentId: project.dev.id, version: "dev-1" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).message).toMatch(/'dev' is a DEVELOPMENT environment/);
  });

  it("concurrent promotions converge on the one Postgres committed last", async () => {
    await workers.registerWorker({ environmentId: project.prod.id, version: "1.0.0", tasks: TASKS });
    await workers.registerWorker({ environmentId: project.prod.id, version: "2.0.0", tasks: [{ slug: "only-v2" }] });
    const other = new WorkerService({ cache: newCache() });
    for (let i = 0; i < 5; i++) {
      await Promise.all([
        workers.promoteVersion({ environmentId: project.prod.id, version: "1.0.0" }),
        other.promoteVersion({ environmentId: project.prod.id, version: "2.0.0" }),
      ]);
      const current = await prisma().workerDeploymentPromotion.findFirstOrThrow({ where: { environmentId: project.prod.id } });
      expect(await admin.get(environmentKeys(prefix, project.prod.id).owner)).toBe(current.workerId);
    }
  });
});

describe("a promotion whose cache write fails is repaired", () => {
  let server: ChildProcess | undefined;
  let dir: string | undefined;

  async function startRedis(port: number) {
    dir ??= mkdtempSync(path.join(tmpdir(), "hotpath-redis-"));
    // Append-only with fsync on every write: a restart brings back exactly what was there, stale data included.
    server = spawn(
      "redis-server",
      ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always"],
      { stdio: "ignore" },
    );
    const probe = new Redis({ port, host: "127.0.0.1", lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on("error", () => {});
    await eventually(async () => {
      try {
        if (probe.status !== "ready") await probe.connect();
        return (await probe.ping()) === "PONG";
      } catch {
        probe.disconnect();
        return false;
      }
    });
    probe.disconnect();
  }

  async function stopRedis() {
    const child = server;
    server = undefined;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  }

  afterAll(async () => {
    await stopRedis();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("Redis down during a promotion: the promotion succeeds, and once Redis is back the stale current hash is replaced", async () => {
    const port = await closedPort();
    await startRedis(port);
    const own = new Redis({ host: "127.0.0.1", port, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => 50 });
    own.on("error", () => {});
    await eventually(() => own.status === "ready");
    const breaker = new CircuitBreaker({ failureThreshold: 2, cooldownMs: 100 });
    const flaky = newCache({ client: own, commandTimeoutMs: 200, writeTimeoutMs: 500, breaker });
    const service = new WorkerService({ cache: flaky, repairDelaysMs: [50, 100, 200] });

    const v1 = await service.registerWorker({ environmentId: project.prod.id, version: "1.0.0", tasks: TASKS });
    await service.promoteVersion({ environmentId: project.prod.id, version: "1.0.0" });
    const v2 = await service.registerWorker({ environmentId: project.prod.id, version: "2.0.0", tasks: [{ slug: "only-v2", queue: { name: "v2" } }] });
    const keys = environmentKeys(prefix, project.prod.id);
    const inspect = () => new Redis({ host: "127.0.0.1", port, maxRetriesPerRequest: 1 });
    let reader = inspect();
    expect(await reader.get(keys.owner)).toBe(v1.workerId);
    reader.disconnect();

    await stopRedis();
    const promoted = await service.promoteVersion({ environmentId: project.prod.id, version: "2.0.0" });
    expect(promoted.workerId).toBe(v2.workerId);
    expect(events.count("redis_error")).toBeGreaterThan(0);

    // Redis comes back with its old contents: the current hash still says 1.0.0 until the repair lands.
    await startRedis(port);
    reader = inspect();
    await eventually(async () => (await reader.get(keys.owner)) === v2.workerId, { timeoutMs: 10_000 });
    expect(await reader.hkeys(keys.current)).toEqual(["only-v2"]);
    reader.disconnect();
    await service.repairsSettled();
    own.disconnect();
  });
});
