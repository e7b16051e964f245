import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import pg from "pg";
import type { TestProject } from "vitest/node";
import { databaseUrlFor, testServerDatabaseUrl } from "./databaseUrls";

declare module "vitest" {
  export interface ProvidedContext {
    templateDatabase: string;
  }
}

/**
 * Once per run: a template database with every migration applied. Each test file then copies it
 * (CREATE DATABASE … TEMPLATE, ~100 ms) so files can run in parallel on their own data. The name
 * is unique per run so that two runs on one machine never drop each other's template.
 */
export default async function setup(project: TestProject) {
  const template = `hotpath_tpl_${randomBytes(4).toString("hex")}`;
  const admin = new pg.Client({ connectionString: testServerDatabaseUrl() });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${template}"`);
  await admin.end();
  execFileSync("npx", ["prisma", "migrate", "deploy"], {
    env: { ...process.env, DATABASE_URL: databaseUrlFor(template) },
    stdio: ["ignore", "ignore", "inherit"],
  });
  project.provide("templateDatabase", template);

  return async () => {
    const client = new pg.Client({ connectionString: testServerDatabaseUrl() });
    await client.connect();
    await client.query(`DROP DATABASE IF EXISTS "${template}" WITH (FORCE)`);
    await client.end();
  };
}
