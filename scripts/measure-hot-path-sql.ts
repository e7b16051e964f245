/**
 * In-process timing of the trigger hot path's two Postgres statements, Prisma against raw SQL
 * through the same pg pool: the run insert and the API-key → environment lookup. The numbers
 * behind docs/decisions/0016-prisma-vs-raw-sql-on-the-hot-path.md.
 *
 *   npx tsx scripts/measure-hot-path-sql.ts [iterations=2000] [concurrency=10]
 *
 * Needs a migrated database (DATABASE_URL, or .env from the quickstart). Creates its own
 * organization and removes it (and every row it wrote) at the end.
 */
import "dotenv/config";
import { performance } from "node:perf_hooks";
import { dbQueryCount, disconnectDb, pgPool, prisma } from "~/db.server";
import { displayPrefix, generateApiKey, hashApiKey } from "~/domain/apiKeys";
import { createRun, friendlyRunId, type NewRun } from "~/services/runs.server";

const iterations = Number(process.argv[2] ?? 2000);
const concurrency = Number(process.argv[3] ?? 10);

interface Result {
  name: string;
  queriesPerCall: number;
  meanUs: number;
  p50Us: number;
  p99Us: number;
  perSecond: number;
}

function quantile(sorted: number[], q: number) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function measure(name: string, call: () => Promise<unknown>): Promise<Result> {
  for (let i = 0; i < 200; i++) await call(); // warm-up: JIT, prepared statements, pool connections
  const queriesBefore = dbQueryCount();
  const latencies: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const start = performance.now();
    await call();
    latencies.push((performance.now() - start) * 1000);
  }
  const queriesPerCall = (dbQueryCount() - queriesBefore) / iterations;
  latencies.sort((a, b) => a - b);
  // Throughput with `concurrency` calls in flight, as a loaded server would issue them.
  let remaining = iterations;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (remaining-- > 0) await call();
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return {
    name,
    queriesPerCall,
    meanUs: latencies.reduce((a, b) => a + b, 0) / latencies.length,
    p50Us: quantile(latencies, 0.5),
    p99Us: quantile(latencies, 0.99),
    perSecond: iterations / seconds,
  };
}

const db = prisma();
const suffix = Math.random().toString(36).slice(2, 8);
const organization = await db.organization.create({ data: { slug: `measure-${suffix}`, name: "measure" }, select: { id: true } });
try {
  const project = await db.project.create({
    data: { organizationId: organization.id, slug: "measure", name: "measure", webhookSecret: "measure-secret-0000" },
    select: { id: true },
  });
  const apiKey = generateApiKey("PRODUCTION");
  const environment = await db.runtimeEnvironment.create({
    data: {
      projectId: project.id,
      slug: "prod",
      type: "PRODUCTION",
      apiKeys: { create: { keyHash: hashApiKey(apiKey), keyPrefix: displayPrefix(apiKey) } },
    },
    select: { id: true },
  });
  const keyHash = hashApiKey(apiKey);

  const run = (): NewRun => ({
    environmentId: environment.id,
    taskIdentifier: "measure-task",
    payload: { hello: "world", n: 42 },
    metadata: null,
    queue: "task/measure-task",
    lockedQueueId: null,
    lockedToVersionId: null,
    ttl: "10m",
    expiresAt: new Date(Date.now() + 600_000),
    taskKind: "STANDARD",
    tags: ["a", "b"],
    delayUntil: null,
    status: "QUEUED",
    idempotencyKey: null,
    createdAt: new Date(),
    // Every SDK option set: the measured statement is the full one.
    concurrencyKey: "user-1",
    maxAttempts: 3,
    maxDurationInSeconds: 120,
    machinePreset: "small-1x",
    priorityMs: 1500,
    region: "eu-central-1",
    isTest: false,
    payloadType: "application/json",
    metadataType: "application/json",
    traceparent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    sdkVersion: "4.8.3",
  });

  const results: Result[] = [];
  results.push(await measure("run insert: raw SQL (createRun)", () => createRun(run())));
  results.push(
    await measure("run insert: prisma.taskRun.create", () => {
      const { environmentId, ...data } = run();
      return db.taskRun.create({
        data: { ...data, environmentId, id: crypto.randomUUID(), friendlyId: friendlyRunId(), payload: data.payload as object, metadata: undefined },
        select: { friendlyId: true },
      });
    }),
  );
  results.push(
    await measure("key lookup: raw SQL", () =>
      pgPool().query({
        name: "measure-api-key-environment",
        text: `SELECT e."id", e."type", e."slug", e."projectId"
                 FROM "EnvironmentApiKey" k JOIN "RuntimeEnvironment" e ON e."id" = k."environmentId"
                WHERE k."keyHash" = $1 AND k."revokedAt" IS NULL`,
        values: [keyHash],
      }),
    ),
  );
  results.push(
    await measure("key lookup: prisma findFirst + relation select", () =>
      db.environmentApiKey.findFirst({
        where: { keyHash, revokedAt: null },
        select: { environment: { select: { id: true, type: true, slug: true, projectId: true } } },
      }),
    ),
  );

  console.log(`iterations=${iterations} concurrency=${concurrency} (latency: sequential; throughput: ${concurrency} in flight)`);
  console.log("| statement | queries/call | mean µs | p50 µs | p99 µs | calls/s |");
  console.log("| --- | --- | --- | --- | --- | --- |");
  for (const r of results) {
    console.log(
      `| ${r.name} | ${r.queriesPerCall.toFixed(2)} | ${r.meanUs.toFixed(0)} | ${r.p50Us.toFixed(0)} | ${r.p99Us.toFixed(0)} | ${r.perSecond.toFixed(0)} |`,
    );
  }
} finally {
  await db.organization.delete({ where: { id: organization.id } });
  await disconnectDb();
}
