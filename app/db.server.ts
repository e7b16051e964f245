import { PrismaPg } from "@prisma/adapter-pg";
import pg from "pg";
import { getEnv } from "~/env.server";
import { PrismaClient } from "~/generated/prisma/client.ts";
import { logger } from "~/services/logger.server";

/**
 * Lazy Postgres access. Importing this module opens nothing; the first call to `prisma()` or
 * `pgPool()` creates one pool per database URL, shared by Prisma (through the pg adapter) and the
 * few raw-SQL statements of the hot path. Every statement sent through a pool is counted, so tests
 * and the benchmark can assert how many Postgres queries a code path costs.
 */

export type Database = "primary" | "replica";

interface Connection {
  pool: pg.Pool;
  prisma: PrismaClient;
}

const connections = new Map<Database, Connection>();
const queryCounts: Record<Database, number> = { primary: 0, replica: 0 };

function countQueries(pool: pg.Pool, database: Database) {
  pool.on("connect", (client) => {
    const query = client.query;
    client.query = function countedQuery(this: pg.PoolClient, ...args: unknown[]) {
      queryCounts[database] += 1;
      return (query as (...a: unknown[]) => unknown).apply(this, args);
    } as typeof client.query;
  });
}

function connect(database: Database): Connection {
  const existing = connections.get(database);
  if (existing) return existing;
  const env = getEnv();
  const url = database === "replica" ? env.DATABASE_READ_REPLICA_URL ?? env.DATABASE_URL : env.DATABASE_URL;
  // A replica is an optimisation: a hung one must fail its queries quickly so that the miss path
  // asks the primary (and its breaker opens), not wait for TCP to notice. The primary has no such
  // bound: there is nothing to fail over to, and a run insert must not be cut short.
  const replicaTimeoutMs = database === "replica" ? env.DATABASE_READ_REPLICA_QUERY_TIMEOUT_MS : undefined;
  const pool = new pg.Pool({
    connectionString: url,
    max: env.DATABASE_POOL_SIZE,
    // Fail fast when Postgres is down instead of queueing requests behind a dead connect.
    connectionTimeoutMillis: Math.min(3_000, replicaTimeoutMs ?? 3_000),
    query_timeout: replicaTimeoutMs,
    allowExitOnIdle: true,
  });
  // An idle client losing its connection (Postgres restarted) must not crash the process.
  pool.on("error", (error) => logger.error("postgres pool error", { database, error }));
  countQueries(pool, database);
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  const connection = { pool, prisma };
  connections.set(database, connection);
  return connection;
}

/** The primary's Prisma client: all writes and anything that must see them. */
export function prisma(): PrismaClient {
  return connect("primary").prisma;
}

/** The primary's pg pool, for the hot path's raw statements. */
export function pgPool(): pg.Pool {
  return connect("primary").pool;
}

/** Reads that tolerate replica lag (cache-miss lookups, admin read models); the primary when no replica is set. */
export function readPrisma(): PrismaClient {
  return getEnv().DATABASE_READ_REPLICA_URL ? connect("replica").prisma : prisma();
}

/**
 * A read on the replica whose "not found" (null) is asked again on the primary before anyone acts
 * on it: replica lag must never turn something that exists into a 404 or a 422
 * (docs/decisions/0021-replica-not-found-is-rechecked-on-the-primary.md). Without a replica it is
 * one read on the primary.
 */
export async function readOrPrimary<T>(read: (db: PrismaClient) => Promise<T | null>): Promise<T | null> {
  const answer = await read(readPrisma());
  if (answer !== null || !getEnv().DATABASE_READ_REPLICA_URL) return answer;
  return read(prisma());
}

/** Statements sent so far by this process, per database. */
export function dbQueryCount(database: Database = "primary"): number {
  return queryCounts[database];
}

export async function disconnectDb() {
  const all = [...connections.values()];
  connections.clear();
  await Promise.all(all.map(async ({ prisma: client, pool }) => {
    await client.$disconnect().catch(() => {});
    await pool.end().catch(() => {});
  }));
}

export type { PrismaClient };
