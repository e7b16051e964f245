import { PrismaPg } from "@prisma/adapter-pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dbQueryCount, disconnectDb, prisma, readPrisma } from "~/db.server";
import { CircuitBreaker } from "~/domain/circuitBreaker";
import { ValidationError } from "~/domain/errors";
import { environmentKeys } from "~/domain/cacheKeys";
import { getEnv, resetEnvForTests } from "~/env.server";
import { PrismaClient } from "~/generated/prisma/client.ts";
import { environmentCachePage, workerHashPage } from "~/presenters/environmentCache.server";
import { parseRunFilters, runsPage } from "~/presenters/runs.server";
import { keyPrefix } from "~/redis.server";
import { type ResolveInput, resolveTask } from "~/services/taskMetadata/index.server";
import { taskMetadataSource } from "~/services/taskMetadata/instance.server";
import { QueueResolver } from "~/services/taskMetadata/resolver.server";
import { postgresTaskMetadataSource, replicaFirstSource } from "~/services/taskMetadata/sources.server";
import { NoopTaskMetadataStore } from "~/services/taskMetadata/store.server";
import { WorkerService } from "~/services/workers.server";
import { closedPort, testRedis } from "../support/cacheTesting";
import { startFaultProxy } from "../support/faultProxy";
import { createTestProject, type TestProject } from "../support/fixtures";
import { startPostgresPrimary, type PostgresPrimary } from "../support/postgresPrimary";
import { startPostgresReplica, type PostgresReplica } from "../support/postgresReplica";

/**
 * DATABASE_READ_REPLICA_URL (issue 7, docs/decisions/0021-replica-not-found-is-rechecked-on-the-primary.md):
 * miss-path lookups read a real streaming replica, and whatever the replica says does not exist is
 * asked again on the primary, so a lagging replica never turns a valid trigger into a 422.
 *
 * The replicated pair is the file's own (a throw-away primary from initdb, and its replica), so the
 * machine's Postgres needs no replication set-up; the last block uses the file's usual database.
 */

// A cache that always misses: every resolve below reaches the miss-path source.
const noCache = new NoopTaskMetadataStore();
const workers = new WorkerService();

function counts() {
  return { primary: dbQueryCount("primary"), replica: dbQueryCount("replica") };
}
function since(before: { primary: number; replica: number }) {
  const now = counts();
  return { primary: now.primary - before.primary, replica: now.replica - before.replica };
}

describe("with a streaming replica (pg_basebackup -R, a second server)", () => {
  const fileDatabaseUrl = process.env.DATABASE_URL;
  let primary: PostgresPrimary;
  let replica: PostgresReplica;
  let project: TestProject;
  let resolver: QueueResolver;

  beforeAll(async () => {
    primary = await startPostgresPrimary("hotpath");
    replica = await startPostgresReplica(primary.url("postgres"), primary.bin);
    const { initdbMs, startMs, migrateMs, totalMs } = primary.timings;
    console.log(
      `Postgres primary + replica ready in ${totalMs + replica.startupMs} ms: primary ${totalMs} ms (initdb ${initdbMs}, start ${startMs}, ` +
        `migrate ${migrateMs}), replica ${replica.startupMs} ms (pg_basebackup ${replica.basebackupMs})`,
    );
    // The app reads its URLs on first use and opens pools lazily: drop any pool and the cached env,
    // so everything from here on connects to this pair.
    await disconnectDb();
    process.env.DATABASE_URL = primary.url("hotpath");
    process.env.DATABASE_READ_REPLICA_URL = replica.url("hotpath");
    resetEnvForTests();
    resolver = new QueueResolver({ cache: noCache, source: taskMetadataSource(), scheduleBackfill: () => {} });
    project = await createTestProject();
  }, 180_000);

  afterAll(async () => {
    await replica?.resumeReplay().catch(() => {});
    process.env.DATABASE_URL = fileDatabaseUrl;
    delete process.env.DATABASE_READ_REPLICA_URL;
    resetEnvForTests();
    // Close the pools before the servers they point at go away.
    await disconnectDb();
    await replica?.stop();
    await primary?.stop();
  });

  const prod = () => ({ id: project.prod.id, type: "PRODUCTION" as const });
  const dev = () => ({ id: project.dev.id, type: "DEVELOPMENT" as const });

  it("readPrisma() is the replica: a hot standby in recovery, holding the primary's database", async () => {
    expect(getEnv().DATABASE_URL).toContain(`:${primary.port}/`);
    expect(getEnv().DATABASE_READ_REPLICA_URL).toContain(`:${replica.port}/`);
    const [onReplica] = await readPrisma().$queryRaw<{ recovery: boolean }[]>`SELECT pg_is_in_recovery() AS recovery`;
    const [onPrimary] = await prisma().$queryRaw<{ recovery: boolean }[]>`SELECT pg_is_in_recovery() AS recovery`;
    expect(onReplica.recovery).toBe(true);
    expect(onPrimary.recovery).toBe(false);
  });

  it("miss-path lookups land on the replica: one statement there, none on the primary (locked and unlocked)", async () => {
    const v1 = await workers.registerWorker({
      environmentId: project.prod.id,
      version: "1.0.0",
      tasks: [{ slug: "send-email", queue: { name: "emails" }, ttl: "1h" }],
    });
    await workers.promoteVersion({ environmentId: project.prod.id, version: "1.0.0" });
    await replica.waitForCatchUp();

    // Through the production entry point: its cache emptied for this environment, its source wired from the env.
    const redis = testRedis();
    const keys = environmentKeys(keyPrefix(), project.prod.id);
    await redis.del(keys.current, keys.owner, keys.locked("1.0.0"));
    await redis.quit();
    let before = counts();
    expect(await resolveTask({ environment: prod(), taskSlug: "send-email" })).toMatchObject({ queueName: "emails", ttl: "1h", source: "database" });
    expect(since(before)).toEqual({ primary: 0, replica: 1 });

    before = counts();
    expect(await resolver.resolve({ environment: prod(), taskSlug: "send-email", lockToVersion: "1.0.0", queue: "emails" })).toMatchObject({
      queueName: "emails",
      lockedWorkerId: v1.workerId,
    });
    expect(since(before)).toEqual({ primary: 0, replica: 1 });
  });

  it("a worker registered while replay is paused resolves locked at once, and unlocked once promoted: the primary re-checks every not-found", async () => {
    await replica.waitForCatchUp();
    await replica.pauseReplay();
    try {
      const v2 = await workers.registerWorker({
        environmentId: project.prod.id,
        version: "2.0.0",
        tasks: [
          { slug: "send-email", queue: { name: "emails-v2" } },
          { slug: "fresh-task", queue: { name: "fresh" }, ttl: "2m" },
        ],
      });
      // The replica really lags: it has not seen 2.0.0.
      expect(await readPrisma().backgroundWorker.findFirst({ where: { environmentId: project.prod.id, version: "2.0.0" } })).toBeNull();
      const locked: ResolveInput = { environment: prod(), taskSlug: "fresh-task", lockToVersion: "2.0.0" };

      // Without the re-check the lagging replica's answer is a 422 for a valid trigger.
      const replicaOnly = new QueueResolver({ cache: noCache, source: postgresTaskMetadataSource(readPrisma()), scheduleBackfill: () => {} });
      await expect(replicaOnly.resolve(locked)).rejects.toBeInstanceOf(ValidationError);

      let before = counts();
      expect(await resolver.resolve(locked)).toMatchObject({ queueName: "fresh", ttl: "2m", lockedWorkerId: v2.workerId, taskFound: true });
      expect(since(before)).toEqual({ primary: 1, replica: 1 });

      // Unlocked, before the promotion: both say 1.0.0 is current and has no such task.
      expect(await resolver.resolve({ environment: prod(), taskSlug: "fresh-task" })).toMatchObject({ queueName: "task/fresh-task", taskFound: false });

      await workers.promoteVersion({ environmentId: project.prod.id, version: "2.0.0" });
      before = counts();
      expect(await resolver.resolve({ environment: prod(), taskSlug: "fresh-task" })).toMatchObject({ queueName: "fresh", ttl: "2m", taskFound: true });
      expect(since(before)).toEqual({ primary: 1, replica: 1 });

      // Admin read models: what the replica has not replayed yet is found through the primary, not a 404.
      const fresh = await createTestProject();
      expect(await readPrisma().runtimeEnvironment.findUnique({ where: { id: fresh.prod.id } })).toBeNull();
      expect(await environmentCachePage(fresh.prod.id)).toMatchObject({ environment: { id: fresh.prod.id }, currentWorker: null });
      const filters = parseRunFilters(new URLSearchParams());
      if (!filters.ok) throw new Error(filters.error);
      expect(await runsPage(fresh.prod.id, filters.filters)).toMatchObject({ environment: { id: fresh.prod.id }, runs: [] });
      expect((await environmentCachePage(project.prod.id))?.currentWorker).toMatchObject({ id: v2.workerId, version: "2.0.0", taskCount: 2 });
      expect((await workerHashPage(project.prod.id, v2.workerId))?.worker).toMatchObject({ id: v2.workerId, isCurrent: true, taskCount: 2 });

      // A found answer is the replica's even while it lags (staleness bounded by the lag, as with the cache).
      before = counts();
      expect(await resolver.resolve({ environment: prod(), taskSlug: "send-email" })).toMatchObject({ queueName: "emails" });
      expect(since(before)).toEqual({ primary: 0, replica: 1 });

      // DEVELOPMENT: the replica knows no worker at all yet.
      const devWorker = await workers.registerWorker({ environmentId: project.dev.id, version: "dev-1", tasks: [{ slug: "send-email", queue: { name: "dev-emails" } }] });
      expect(await resolver.resolve({ environment: dev(), taskSlug: "send-email" })).toMatchObject({ queueName: "dev-emails", taskFound: true });
      expect(await resolver.resolve({ environment: dev(), taskSlug: "send-email", lockToVersion: "dev-1" })).toMatchObject({ lockedWorkerId: devWorker.workerId });

      // A version that exists nowhere is still a 422, confirmed by the primary.
      before = counts();
      await expect(resolver.resolve({ environment: prod(), taskSlug: "fresh-task", lockToVersion: "9.9.9" })).rejects.toThrow(
        "Task locked to version '9.9.9', but no worker found with that version.",
      );
      expect(since(before)).toEqual({ primary: 1, replica: 1 });
    } finally {
      await replica.resumeReplay();
    }

    // Caught up, the replica answers alone.
    await replica.waitForCatchUp();
    const before = counts();
    expect(await resolver.resolve({ environment: prod(), taskSlug: "fresh-task", lockToVersion: "2.0.0" })).toMatchObject({ queueName: "fresh" });
    expect(since(before)).toEqual({ primary: 0, replica: 1 });
  });
});

describe("a replica that is down", () => {
  let project: TestProject;
  beforeAll(async () => {
    project = await createTestProject();
    await workers.registerWorker({ environmentId: project.prod.id, version: "1.0.0", tasks: [{ slug: "send-email", queue: { name: "emails" } }] });
    await workers.promoteVersion({ environmentId: project.prod.id, version: "1.0.0" });
  });

  it("refusing connections: the primary answers every miss, and the breaker stops trying the replica", async () => {
    const dead = new PrismaClient({
      adapter: new PrismaPg({ connectionString: `postgresql://postgres@127.0.0.1:${await closedPort()}/nowhere`, connectionTimeoutMillis: 1_000 }),
    });
    const breaker = new CircuitBreaker({ failureThreshold: 2, cooldownMs: 60_000 });
    const source = replicaFirstSource({ replica: postgresTaskMetadataSource(dead), primary: postgresTaskMetadataSource(prisma()), breaker });
    const resolver = new QueueResolver({ cache: noCache, source, scheduleBackfill: () => {} });
    const inputs: ResolveInput[] = [
      { environment: { id: project.prod.id, type: "PRODUCTION" }, taskSlug: "send-email" },
      { environment: { id: project.prod.id, type: "PRODUCTION" }, taskSlug: "send-email", lockToVersion: "1.0.0" },
    ];
    for (let round = 0; round < 3; round++) {
      for (const input of inputs) {
        const started = performance.now();
        expect(await resolver.resolve(input)).toMatchObject({ queueName: "emails", taskFound: true });
        expect(performance.now() - started).toBeLessThan(1_500);
      }
    }
    expect(breaker.state).toBe("open");
    await dead.$disconnect();
  });

  it("frozen mid-connection (DATABASE_READ_REPLICA_QUERY_TIMEOUT_MS): a miss waits one timeout, then the primary answers and the breaker skips the replica", async () => {
    const fileUrl = new URL(process.env.DATABASE_URL!);
    const proxy = await startFaultProxy({ host: fileUrl.hostname, port: Number(fileUrl.port || 5432) });
    const replicaUrl = new URL(fileUrl);
    replicaUrl.port = String(proxy.port);
    // The replica pool goes through the proxy (to the same database); the primary pool does not.
    await disconnectDb();
    process.env.DATABASE_READ_REPLICA_URL = replicaUrl.toString();
    process.env.DATABASE_READ_REPLICA_QUERY_TIMEOUT_MS = "400";
    resetEnvForTests();
    try {
      const breaker = new CircuitBreaker({ failureThreshold: 2, cooldownMs: 60_000 });
      const source = replicaFirstSource({ replica: postgresTaskMetadataSource(readPrisma()), primary: postgresTaskMetadataSource(prisma()), breaker });
      const resolver = new QueueResolver({ cache: noCache, source, scheduleBackfill: () => {} });
      const input: ResolveInput = { environment: { id: project.prod.id, type: "PRODUCTION" }, taskSlug: "send-email" };
      // Forwarding: the replica answers, over pooled connections that stay open.
      const before = counts();
      expect(await resolver.resolve(input)).toMatchObject({ queueName: "emails" });
      expect(since(before)).toEqual({ primary: 0, replica: 1 });

      await proxy.setMode("stall");
      const waits: number[] = [];
      for (let i = 0; i < 4; i++) {
        const started = performance.now();
        expect(await resolver.resolve(input)).toMatchObject({ queueName: "emails", taskFound: true });
        waits.push(performance.now() - started);
      }
      // The first two pay the timeout (and open the breaker); the next ones do not ask the replica.
      expect(waits.slice(0, 2).every((ms) => ms >= 350 && ms < 3_000)).toBe(true);
      expect(waits.slice(2).every((ms) => ms < 350)).toBe(true);
      expect(breaker.state).toBe("open");
    } finally {
      await disconnectDb();
      delete process.env.DATABASE_READ_REPLICA_URL;
      delete process.env.DATABASE_READ_REPLICA_QUERY_TIMEOUT_MS;
      resetEnvForTests();
      await proxy.close();
    }
  }, 30_000);
});
