import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import pg from "pg";
import { freePort } from "./appServer";
import { logTail, postgresBinaries } from "./postgresPrimary";

/**
 * A real streaming replica of a Postgres server, for one test file: `pg_basebackup -R -X stream`
 * of the primary (every database on it comes along and keeps replicating) into a temporary folder,
 * then a second server from the same major version's binaries on a free port. `stop()` stops it
 * and removes the folder. No replication slot is created, so a crashed run leaves nothing on the
 * primary that retains WAL. The tests replicate a primary of their own (./postgresPrimary.ts).
 *
 * PostgreSQL refuses to run as root: as root the folder is given to the `postgres` user and every
 * binary runs through `runuser -u postgres --` (postgresBinaries).
 */

export interface PostgresReplica {
  port: number;
  /** The replica's URL for `database` (same user as the primary's URL). */
  url(database: string): string;
  /** Milliseconds spent in pg_basebackup, and from the start to a streaming, queryable replica. */
  basebackupMs: number;
  startupMs: number;
  /** Stops applying WAL (it is still received): the replica then lags behind every new commit. */
  pauseReplay(): Promise<void>;
  resumeReplay(): Promise<void>;
  /** Waits until the replica has applied everything the primary had committed when called. */
  waitForCatchUp(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`Postgres replica harness: ${what} not reached within ${timeoutMs} ms${last ? ` (${String(last)})` : ""}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * Fails with what to change when the primary cannot serve a replica: the replication
 * connection is tried first, because that is what a stock pg_hba.conf refuses ("all" in the
 * database column does not match replication connections).
 */
async function checkPrimaryAllowsReplication(primaryUrl: string): Promise<void> {
  const [settings] = await query<{ wal_level: string; max_wal_senders: string; replicator: boolean }>(
    primaryUrl,
    `SELECT current_setting('wal_level') AS wal_level, current_setting('max_wal_senders') AS max_wal_senders,
            (SELECT rolreplication OR rolsuper FROM pg_roles WHERE rolname = current_user) AS replicator`,
  );
  // Superusers only; the message names the file when we may read it.
  const hbaFile = await query<{ f: string }>(primaryUrl, "SELECT current_setting('hba_file') AS f").then((rows) => rows[0]?.f, () => undefined);
  const url = new URL(primaryUrl);
  const where = `${url.hostname}:${url.port || 5432}`;
  const user = decodeURIComponent(url.username) || "postgres";
  const problems: string[] = [];
  if (settings.wal_level === "minimal") problems.push(`wal_level is 'minimal': set wal_level = replica in postgresql.conf and restart the server`);
  if (Number(settings.max_wal_senders) < 3) problems.push(`max_wal_senders is ${settings.max_wal_senders}: set it to 3 or more and restart the server`);
  if (!settings.replicator) problems.push(`role '${user}' may not replicate: ALTER ROLE "${user}" REPLICATION`);
  if (problems.length === 0) {
    const probe = new pg.Client({ connectionString: primaryUrl, replication: "true" } as pg.ClientConfig);
    try {
      await probe.connect();
      await probe.query("IDENTIFY_SYSTEM");
    } catch (error) {
      const hba = hbaFile ?? "pg_hba.conf (SHOW hba_file)";
      problems.push(
        `the server refuses replication connections: ${(error as Error).message}\n` +
          `    add this line to ${hba} (before any reject rule) and reload with SELECT pg_reload_conf():\n` +
          `      host  replication  ${user}  ${url.hostname === "localhost" ? "127.0.0.1" : url.hostname}/32  trust\n` +
          `    (or your existing method instead of trust; "all" in the database column does not cover replication)`,
      );
    } finally {
      await probe.end().catch(() => {});
    }
  }
  if (problems.length) {
    throw new Error(
      `Postgres replica harness: the primary at ${where} cannot serve a streaming replica:\n  - ${problems.join("\n  - ")}`,
    );
  }
}

/** `bin`: the server binaries' folder; by default /usr/lib/postgresql/<the primary's major>/bin. */
export async function startPostgresReplica(primaryUrl: string, bin?: string): Promise<PostgresReplica> {
  const started = performance.now();
  await checkPrimaryAllowsReplication(primaryUrl);

  const [{ major, ...limits }] = await query<Record<string, string> & { major: string }>(
    primaryUrl,
    `SELECT (current_setting('server_version_num')::int / 10000)::text AS major,
            current_setting('max_connections') AS max_connections,
            current_setting('max_worker_processes') AS max_worker_processes,
            current_setting('max_wal_senders') AS max_wal_senders,
            current_setting('max_prepared_transactions') AS max_prepared_transactions,
            current_setting('max_locks_per_transaction') AS max_locks_per_transaction`,
  );
  const { exec, own } = await postgresBinaries(bin ?? `/usr/lib/postgresql/${major}/bin`);

  const home = await fs.mkdtemp(path.join(os.tmpdir(), "hotpath-pg-replica-"));
  await own(home);
  const data = path.join(home, "data");
  const log = path.join(home, "postgres.log");
  const primary = new URL(primaryUrl);
  const user = decodeURIComponent(primary.username) || "postgres";
  let serverStarted = false;

  const stop = async () => {
    if (serverStarted) await exec("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]).catch(() => {});
    await fs.rm(home, { recursive: true, force: true });
  };

  let basebackupMs = 0;
  let port = 0;
  try {
    const backupStarted = performance.now();
    await exec("pg_basebackup", [
      "-h", primary.hostname, "-p", primary.port || "5432", "-U", user,
      "-D", data, "-R", "-X", "stream", "--checkpoint=fast", "--no-sync", "--no-manifest",
    ]);
    basebackupMs = Math.round(performance.now() - backupStarted);

    port = await freePort();
    // Debian keeps the configuration outside the data folder, so the copy may have none: write one.
    // A hot standby needs these limits at least as high as its primary's.
    const conf = [
      `port = ${port}`,
      `listen_addresses = '127.0.0.1'`,
      `unix_socket_directories = '${home}'`,
      `hot_standby = on`,
      // Disposable: nothing on it needs to survive a crash.
      `fsync = off`,
      `ssl = off`,
      ...Object.entries(limits).map(([name, value]) => `${name} = ${value}`),
    ].join("\n");
    for (const [file, text] of [
      ["postgresql.conf", `${conf}\n`],
      ["pg_hba.conf", "local all all trust\nhost all all 127.0.0.1/32 trust\n"],
      ["pg_ident.conf", ""],
    ] as const) {
      await fs.writeFile(path.join(data, file), text);
      await own(path.join(data, file));
    }
    await exec("pg_ctl", ["-D", data, "-l", log, "-w", "-t", "60", "start"]);
    serverStarted = true;
  } catch (error) {
    const tail = await logTail(log, "replica");
    await stop();
    const detail = (error as { stderr?: string }).stderr?.trim() || (error as Error).message;
    throw new Error(`Postgres replica harness: starting the replica failed: ${detail}${tail}`);
  }

  const url = (database: string) => `postgresql://${encodeURIComponent(user)}@127.0.0.1:${port}/${database}`;
  const control = url("postgres");
  try {
    await waitFor(
      "a streaming hot standby",
      async () => {
        const [state] = await query<{ recovery: boolean; status: string | null }>(
          control,
          "SELECT pg_is_in_recovery() AS recovery, (SELECT status FROM pg_stat_wal_receiver) AS status",
        );
        return state.recovery && state.status === "streaming";
      },
      30_000,
    );
  } catch (error) {
    await stop();
    throw error;
  }

  const replica: PostgresReplica = {
    port,
    url,
    basebackupMs,
    startupMs: Math.round(performance.now() - started),
    async pauseReplay() {
      await query(control, "SELECT pg_wal_replay_pause()");
      await waitFor("replay paused", async () => (await query<{ s: string }>(control, "SELECT pg_get_wal_replay_pause_state() AS s"))[0].s === "paused", 10_000);
    },
    async resumeReplay() {
      await query(control, "SELECT pg_wal_replay_resume()");
    },
    async waitForCatchUp(timeoutMs = 15_000) {
      const [{ lsn }] = await query<{ lsn: string }>(primaryUrl, "SELECT pg_current_wal_lsn()::text AS lsn");
      await waitFor(
        `replay to reach ${lsn}`,
        async () => (await query<{ ok: boolean }>(control, "SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok", [lsn]))[0].ok,
        timeoutMs,
      );
    },
    stop,
  };
  return replica;
}

