import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import pg from "pg";
import { afterAll, inject } from "vitest";
import { databaseUrlFor, testRedisUrl, testServerDatabaseUrl } from "./databaseUrls";

/**
 * Before each test file: its own database (a copy of the migrated template) and its own Redis key
 * prefix, both removed after the file. App modules read them through app/env.server.ts on first
 * use, so nothing here is imported from app/ before the variables are set.
 */
const id = randomBytes(4).toString("hex");
const database = `hotpath_t_${id}`;
const serverUrl = testServerDatabaseUrl();
process.env.HOTPATH_TEST_SERVER_URL = serverUrl;

async function adminQuery(sql: string) {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

for (let attempt = 1; ; attempt++) {
  try {
    await adminQuery(`CREATE DATABASE "${database}" TEMPLATE "${inject("templateDatabase")}"`);
    break;
  } catch (error) {
    // Two files copying the template at the same instant: Postgres refuses one; try again.
    if (attempt >= 10) throw error;
    await new Promise((r) => setTimeout(r, 100 * attempt));
  }
}

Object.assign(process.env, {
  NODE_ENV: "test",
  DATABASE_URL: databaseUrlFor(database),
  REDIS_URL: testRedisUrl(),
  REDIS_KEY_PREFIX: `t${id}:`,
  SESSION_SECRET: process.env.SESSION_SECRET ?? "test-session-secret-not-for-production",
  LOG_LEVEL: process.env.LOG_LEVEL ?? "silent",
});

afterAll(async () => {
  // Close whatever the file opened through the app's lazy singletons, as the server does on
  // SIGTERM, then drop its data.
  const { shutdown } = await import("~/lifecycle.server");
  await shutdown();
  await adminQuery(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  const redis = new Redis(testRedisUrl(), { lazyConnect: true });
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `t${id}:*`, "COUNT", 1000);
    cursor = next;
    if (keys.length) await redis.unlink(...keys);
  } while (cursor !== "0");
  await redis.quit();
});
