import { execFile } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import pg from "pg";
import { freePort } from "./appServer";

/**
 * A throw-away Postgres server of the test's own (initdb into a temporary folder, a free port),
 * configured to serve streaming replicas, with one database migrated like the test template. The
 * replica tests replicate this server instead of the machine's, so they need no change to the
 * machine's pg_hba.conf or postgresql.conf, and copy a ~30 MB cluster instead of the whole shared server.
 *
 * PostgreSQL refuses to run as root: as root the folder is given to the `postgres` user (`nobody`
 * when there is none, like scripts/services.mjs) and every binary runs through `runuser -u <user> --`.
 */

const run = promisify(execFile);
const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** What a replica harness needs beside initdb: the same major's server and base backup tool. */
const REQUIRED_BINARIES = ["initdb", "pg_ctl", "postgres", "pg_basebackup"];

export interface PostgresBinaries {
  /** The folder holding them, e.g. /usr/lib/postgresql/15/bin. */
  bin: string;
  /** Runs one of them, as the `postgres` user when this process is root. */
  exec(command: string, args: string[]): Promise<{ stdout: string; stderr: string }>;
  /** Gives a file or folder this process created to the user the binaries run as. */
  own(file: string): Promise<void>;
}

/**
 * The server binaries, as the bootstrap finds them (the newest /usr/lib/postgresql/<major>/bin,
 * else PATH) unless `bin` names the folder; fails naming what is missing.
 */
export async function postgresBinaries(bin?: string): Promise<PostgresBinaries> {
  if (!bin) {
    const { findPostgresBin } = await import("../../scripts/services.mjs");
    bin = findPostgresBin() as string | undefined;
    if (!bin) {
      throw new Error(
        "Postgres test servers: no PostgreSQL server binaries (initdb, pg_ctl) in /usr/lib/postgresql/<major>/bin or on PATH; " +
          "the read-replica tests start a primary and a replica of their own (apt-get install postgresql)",
      );
    }
  }
  const folder = bin;
  const missing: string[] = [];
  for (const name of REQUIRED_BINARIES) {
    await fs.access(path.join(folder, name), fs.constants.X_OK).catch(() => missing.push(name));
  }
  if (missing.length) {
    throw new Error(
      `Postgres test servers: ${missing.join(", ")} missing from ${folder}; the read-replica tests start a primary and a replica ` +
        `of their own with ${REQUIRED_BINARIES.join(", ")} (apt-get install postgresql)`,
    );
  }

  if (process.getuid?.() !== 0) {
    return { bin: folder, exec: (command, args) => run(path.join(folder, command), args), own: async () => {} };
  }
  const user = await run("id", ["-u", "postgres"]).then(() => "postgres", () => "nobody");
  const uid = Number((await run("id", ["-u", user])).stdout.trim());
  const gid = Number((await run("id", ["-g", user])).stdout.trim());
  return {
    bin: folder,
    exec: (command, args) => run("runuser", ["-u", user, "--", path.join(folder, command), ...args]),
    own: (file) => fs.chown(file, uid, gid),
  };
}

/** The last lines of a server log, for failure messages. */
export async function logTail(file: string, label: string): Promise<string> {
  const tail = await fs.readFile(file, "utf8").then((t) => t.trim().split("\n").slice(-15).join("\n"), () => "");
  return tail ? `\n--- ${label} log ---\n${tail}` : "";
}

async function withClient<T>(connectionString: string, use: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString });
  await client.connect();
  try {
    return await use(client);
  } finally {
    await client.end();
  }
}

/**
 * The SQL of every migration in prisma/migrations, in order, each in its own transaction: what
 * `prisma migrate deploy` runs, without its bookkeeping table (nothing here reads it) and without
 * the CLI's start-up (3–4 s here, more than all the rest of the migration step).
 */
async function applyMigrations(client: pg.Client): Promise<void> {
  const folder = path.join(projectRoot, "prisma", "migrations");
  const migrations = (await fs.readdir(folder, { withFileTypes: true })).filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort();
  for (const migration of migrations) {
    const sql = await fs.readFile(path.join(folder, migration, "migration.sql"), "utf8");
    try {
      await client.query(`BEGIN;\n${sql}\nCOMMIT;`);
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {});
      throw new Error(`migration ${migration}: ${(error as Error).message}`);
    }
  }
}

export interface PostgresPrimary {
  port: number;
  /** The server binaries' folder, for a replica of the same major version. */
  bin: string;
  /** Superuser `postgres`, no password (trust on 127.0.0.1 only). */
  url(database: string): string;
  /** Milliseconds per step, and in all until the migrated database was ready. */
  timings: { initdbMs: number; startMs: number; migrateMs: number; totalMs: number };
  /** Stops the server (immediate: nothing on it is kept) and removes its folder. */
  stop(): Promise<void>;
}

/** Starts the server and creates `database` with every migration applied. */
export async function startPostgresPrimary(database: string): Promise<PostgresPrimary> {
  const started = performance.now();
  const { bin, exec, own } = await postgresBinaries();
  const home = await fs.mkdtemp(path.join(os.tmpdir(), "hotpath-pg-primary-"));
  await own(home);
  const data = path.join(home, "data");
  const log = path.join(home, "postgres.log");
  let serverStarted = false;
  const stop = async () => {
    if (serverStarted) await exec("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]).catch(() => {});
    serverStarted = false;
    await fs.rm(home, { recursive: true, force: true });
  };

  const port = await freePort();
  const url = (name: string) => `postgresql://postgres@127.0.0.1:${port}/${name}`;
  const timings = { initdbMs: 0, startMs: 0, migrateMs: 0, totalMs: 0 };
  let step = "initdb";
  try {
    const initdbStarted = performance.now();
    await exec("initdb", ["-D", data, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions"]);
    timings.initdbMs = Math.round(performance.now() - initdbStarted);

    // Appended, so these win over initdb's defaults. wal_level and max_wal_senders are PostgreSQL's
    // defaults, spelled out because the replica depends on them. Disposable: no fsync. Commits stay
    // synchronous: the replica's waitForCatchUp() waits for pg_current_wal_lsn(), which an
    // asynchronous commit may not have reached yet.
    await fs.appendFile(
      path.join(data, "postgresql.conf"),
      [
        "",
        `port = ${port}`,
        `listen_addresses = '127.0.0.1'`,
        `unix_socket_directories = '${home}'`,
        `wal_level = replica`,
        `max_wal_senders = 5`,
        `fsync = off`,
        `ssl = off`,
        "",
      ].join("\n"),
    );
    // "all" in the database column does not cover replication connections: they get their own lines.
    await fs.writeFile(
      path.join(data, "pg_hba.conf"),
      [
        "local all all trust",
        "host all all 127.0.0.1/32 trust",
        "local replication all trust",
        "host replication all 127.0.0.1/32 trust",
        "",
      ].join("\n"),
    );
    step = "starting the server";
    const startStarted = performance.now();
    await exec("pg_ctl", ["-D", data, "-l", log, "-w", "-t", "60", "start"]);
    serverStarted = true;
    timings.startMs = Math.round(performance.now() - startStarted);

    step = `creating database "${database}"`;
    const migrateStarted = performance.now();
    await withClient(url("postgres"), (client) => client.query(`CREATE DATABASE "${database}"`));
    step = `migrating database "${database}"`;
    await withClient(url(database), applyMigrations);
    timings.migrateMs = Math.round(performance.now() - migrateStarted);
  } catch (error) {
    const tail = await logTail(log, "primary");
    await stop();
    const detail = (error as { stderr?: string }).stderr?.trim() || (error as Error).message;
    throw new Error(`Postgres test primary (${bin}): ${step} failed: ${detail}${tail}`);
  }
  timings.totalMs = Math.round(performance.now() - started);
  return { port, bin, url, timings, stop };
}
