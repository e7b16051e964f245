/**
 * What both benchmarks stand on: a database and a Redis key prefix of their own, and a project
 * with a promoted worker. Nothing here touches the quickstart's database or its `tr:` keys.
 *
 * The app's modules open nothing and read no configuration at import; app/env.server.ts parses
 * the environment once, on first use. So {@link useBenchConfiguration} must run before the first
 * call into app/ (not before the imports).
 */
import "dotenv/config";
import { spawn } from "node:child_process";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { pgPool, prisma } from "~/db.server";
import { displayPrefix, generateApiKey, hashApiKey } from "~/domain/apiKeys";
import { getEnv } from "~/env.server";
import { createRedisClient, redis } from "~/redis.server";
import { promoteVersion, registerWorker } from "~/services/workers.server";

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

export const BENCH_DATABASE = "hotpath_bench";
export const BENCH_PREFIX = "bench:";
/** The task every scenario triggers; its own queue is `bench-queue-07`, its registered TTL 1h. */
export const BENCH_TASK = "bench-task-07";
/** Used by some of the worker's tasks, so a locked trigger may override to it (docs/api.md). */
export const BENCH_QUEUE = "bench-queue";
export const TASK_COUNT = 50;
/** Locked triggers pin the older worker (as a caller pinning a version does); the newer one is current. */
export const LOCKED_VERSION = "bench.1";
/** The external deployment id the locked version is deployed with: pinned callers reach the same worker. */
export const PINNED_EXTERNAL_ID = "bench-sha-1";
export const CURRENT_VERSION = "bench.2";

export function log(message: string) {
  console.log(`[bench] ${message}`);
}

/** The server's URL as configured (npm run bench passes DATABASE_URL; a direct run reads .env). */
export function serverDatabaseUrl(): string {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error("DATABASE_URL is not set: run `npm run bench`, which finds or starts PostgreSQL and sets it");
  return url;
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

function quoteIdent(name: string) {
  return `"${name.replaceAll('"', '""')}"`;
}

async function adminQuery(serverUrl: string, sql: string) {
  let lastError: unknown;
  for (const maintenance of ["postgres", "template1"]) {
    const client = new pg.Client({ connectionString: withDatabase(serverUrl, maintenance), connectionTimeoutMillis: 5_000 });
    client.on("error", () => {});
    try {
      await client.connect();
      await client.query(sql);
      return;
    } catch (error) {
      lastError = error;
      // A statement error is the answer; only a maintenance database we cannot reach is worth another try.
      if ((error as { code?: string }).code && !String((error as { code?: string }).code).startsWith("08")) throw error;
    } finally {
      await client.end().catch(() => {});
    }
  }
  throw lastError;
}

function run(command: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: projectRoot, env, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    child.once("error", (error) => resolve({ code: 127, output: `${output}${error.message}` }));
    child.once("exit", (code) => resolve({ code: code ?? 1, output }));
  });
}

const LOCK_KEY = 0x68_6f_74_70; // "hotp"
const LOCK_WAIT_MS = 30 * 60_000;

/**
 * Holds a server-wide advisory lock for the whole run, released when the returned function is
 * called or the process ends (the lock belongs to the connection). Two benchmarks at once would
 * drop each other's database and prefix, and compete for the same cores: the second one waits.
 */
async function acquireBenchLock(serverUrl: string): Promise<() => Promise<void>> {
  const client = new pg.Client({ connectionString: withDatabase(serverUrl, "postgres"), connectionTimeoutMillis: 5_000 });
  client.on("error", () => {});
  await client.connect();
  const deadline = Date.now() + LOCK_WAIT_MS;
  let announced = false;
  for (;;) {
    const { rows } = await client.query<{ locked: boolean }>("SELECT pg_try_advisory_lock($1) AS locked", [LOCK_KEY]);
    if (rows[0].locked) break;
    if (Date.now() > deadline) {
      await client.end().catch(() => {});
      throw new Error(`another benchmark has held the lock for over ${LOCK_WAIT_MS / 60_000} minutes; giving up`);
    }
    if (!announced) log("another benchmark is running against this PostgreSQL server; waiting for it to finish");
    announced = true;
    await new Promise((r) => setTimeout(r, 2_000));
  }
  return async () => {
    await client.query("SELECT pg_advisory_unlock($1)", [LOCK_KEY]).catch(() => {});
    await client.end().catch(() => {});
  };
}

/**
 * A benchmark command's whole life: under the lock, against the server of DATABASE_URL; a failure
 * is printed with its stack (labelled) and sets the exit code.
 */
export function runBenchmark(label: string, run: (serverUrl: string) => Promise<void>): void {
  const main = async () => {
    const serverUrl = serverDatabaseUrl();
    const releaseLock = await acquireBenchLock(serverUrl);
    try {
      await run(serverUrl);
    } finally {
      await releaseLock();
    }
  };
  main().catch((error) => {
    console.error(`[${label}] ✖ ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
    process.exitCode = 1;
  });
}

/** Drops the benchmark database if it exists, creates it empty and applies the migrations. */
export async function recreateBenchDatabase(serverUrl: string, database = BENCH_DATABASE): Promise<string> {
  const url = withDatabase(serverUrl, database);
  await adminQuery(serverUrl, `DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`);
  await adminQuery(serverUrl, `CREATE DATABASE ${quoteIdent(database)}`);
  const prisma = path.join(projectRoot, "node_modules", ".bin", "prisma");
  const migrated = await run(prisma, ["migrate", "deploy"], { ...process.env, DATABASE_URL: url });
  if (migrated.code !== 0) {
    throw new Error(`prisma migrate deploy on ${database} failed (exit ${migrated.code}):\n${migrated.output}`);
  }
  return url;
}

export async function dropBenchDatabase(serverUrl: string, database = BENCH_DATABASE): Promise<void> {
  await adminQuery(serverUrl, `DROP DATABASE IF EXISTS ${quoteIdent(database)} WITH (FORCE)`);
}

/**
 * The variables every benchmark process gets: the bench database and prefix, production mode,
 * no read replica (the bench database has none), the in-process tier on (where it exists), and the
 * task metadata cache enabled. SESSION_SECRET is required by the app's configuration but unused.
 *
 * The cache's command timeout is raised from 100 ms to 1 s: on a machine busy with other work a
 * Redis answer can take longer than 100 ms, and the fail-open path (breaker, Postgres) would then
 * answer warm calls — the benchmark would time the outage handling instead of the path it names.
 * The timeout's length changes nothing in the cost of a call that meets it.
 */
export function benchVariables(databaseUrl: string, prefix = BENCH_PREFIX): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    REDIS_KEY_PREFIX: prefix,
    NODE_ENV: "production",
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? "warn",
    SESSION_SECRET: process.env.SESSION_SECRET ?? "bench-session-secret-not-used-for-anything",
    TASK_META_CACHE_L1_ENABLED: "true",
    TASK_META_CACHE_DISABLED: "false",
    TASK_META_CACHE_COMMAND_TIMEOUT_MS: "1000",
  };
}

/** Points this process's (not yet loaded) app modules at the bench database and prefix. */
export function useBenchConfiguration(databaseUrl: string, prefix = BENCH_PREFIX): void {
  delete process.env.DATABASE_READ_REPLICA_URL;
  Object.assign(process.env, benchVariables(databaseUrl, prefix));
}

export interface BenchTaskSpec {
  slug: string;
  queue: { name: string };
  ttl: string | null;
  triggerSource: "STANDARD" | "SCHEDULED" | "AGENT";
}

/** 50 tasks; every fifth runs on the shared `bench-queue`, the rest on a queue of their own. */
export function benchTasks(): BenchTaskSpec[] {
  const kinds = ["STANDARD", "SCHEDULED", "AGENT"] as const;
  return Array.from({ length: TASK_COUNT }, (_, i) => {
    const n = String(i).padStart(2, "0");
    return {
      slug: `bench-task-${n}`,
      queue: { name: i % 5 === 0 ? BENCH_QUEUE : `bench-queue-${n}` },
      ttl: i % 3 === 0 ? null : "1h",
      triggerSource: kinds[i % kinds.length],
    };
  });
}

export interface BenchData {
  environment: { id: string; type: "PRODUCTION" };
  apiKey: string;
  lockedWorkerId: string;
  currentWorkerId: string;
}

/**
 * Organization → project → `prod` (PRODUCTION, one API key), and two workers of {@link TASK_COUNT}
 * tasks registered and promoted through the app's own write services, so Redis holds exactly
 * what a deploy would have written.
 */
export async function seedBenchData(): Promise<BenchData> {
  const db = prisma();
  const organization = await db.organization.create({ data: { slug: "bench", name: "Benchmark" }, select: { id: true } });
  const project = await db.project.create({
    data: { organizationId: organization.id, slug: "bench", name: "Benchmark", webhookSecret: `whsec_bench_${Date.now()}` },
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
  const workerIds: string[] = [];
  for (const version of [LOCKED_VERSION, CURRENT_VERSION]) {
    const externalDeploymentId = version === LOCKED_VERSION ? PINNED_EXTERNAL_ID : undefined;
    const registered = await registerWorker({ environmentId: environment.id, version, tasks: benchTasks(), externalDeploymentId });
    await promoteVersion({ environmentId: environment.id, version });
    workerIds.push(registered.workerId);
  }
  return {
    environment: { id: environment.id, type: "PRODUCTION" },
    apiKey,
    lockedWorkerId: workerIds[0],
    currentWorkerId: workerIds[1],
  };
}

/** Deletes every key under the bench prefix (before a run, in case an aborted one left some, and after). */
export async function deletePrefixedKeys(prefix = BENCH_PREFIX): Promise<number> {
  if (!prefix || prefix === "tr:") throw new Error(`refusing to delete keys under ${JSON.stringify(prefix)}`);
  const client = createRedisClient(getEnv().redis, { lazyConnect: true }, "bench-cleanup");
  let deleted = 0;
  try {
    await client.connect();
    const nodes = "nodes" in client ? client.nodes("master") : [client];
    for (const node of nodes) {
      let cursor = "0";
      do {
        const [next, keys] = await node.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
        cursor = next;
        for (const key of keys) deleted += await node.unlink(key);
      } while (cursor !== "0");
    }
  } finally {
    client.disconnect();
  }
  return deleted;
}

export interface MachineInfo {
  cores: number;
  cpuModel: string;
  platform: string;
  node: string;
  postgres: string;
  redis: string;
  loadAverage: number[];
}

export async function machineInfo(): Promise<MachineInfo> {
  const pgVersion = await pgPool().query<{ server_version: string }>("SHOW server_version");
  const info = await redis().info("server");
  const redisVersion = /redis_version:(\S+)/.exec(info)?.[1] ?? "unknown";
  const cpus = os.cpus();
  return {
    cores: cpus.length,
    cpuModel: cpus[0]?.model.trim() ?? "unknown",
    platform: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    postgres: pgVersion.rows[0].server_version,
    redis: redisVersion,
    loadAverage: os.loadavg(),
  };
}

export function describeMachine(m: MachineInfo): string {
  return `${m.cores} cores (${m.cpuModel}), ${m.platform}; node ${m.node}; PostgreSQL ${m.postgres}; Redis ${m.redis}`;
}

export function formatLoad(load: number[]): string {
  return load.map((v) => v.toFixed(2)).join(" / ");
}
