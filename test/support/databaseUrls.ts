/**
 * The Postgres server the tests use: `DATABASE_URL` as the bootstrap (scripts/bootstrap.mjs) set
 * it, else this machine's default. Test databases are created on that server next to it.
 */
export function testServerDatabaseUrl(): string {
  return process.env.HOTPATH_TEST_SERVER_URL ?? process.env.DATABASE_URL ?? "postgresql://postgres@127.0.0.1:5432/test";
}

export function databaseUrlFor(database: string): string {
  const url = new URL(testServerDatabaseUrl());
  url.pathname = `/${database}`;
  return url.toString();
}

export function testRedisUrl(): string {
  return process.env.REDIS_URL ?? "redis://127.0.0.1:6379";
}
