#!/usr/bin/env node
/**
 * Finds or starts the PostgreSQL and Redis that Hotpath needs (used by scripts/bootstrap.mjs).
 *
 * Plain Node ESM with no npm dependency at import: the bootstrap loads this before `npm install`.
 * The one package it uses, `pg`, is loaded from the project's node_modules on first use, after the
 * bootstrap has installed dependencies.
 *
 * Order, for each service (see docs/decisions/0010-bootstrap-services.md):
 *   1. the configured URL (DATABASE_URL / REDIS_URL from the environment or .env) when reachable;
 *   2. with nothing configured, this machine's defaults (postgres or root @127.0.0.1:5432, redis 6379);
 *   3. a project-local instance in .data/ (re-used, or restarted, if an earlier run made one);
 *   4. a new project-local instance from installed binaries, on a free port;
 *   5. as root on Debian: apt-get install postgresql / redis-server, then 4;
 *   6. else stop with the exact install command.
 *
 * Also a small CLI: `node scripts/services.mjs status|stop` for the project-local instances.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { fileURLToPath } from "node:url";

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

const DEFAULT_POSTGRES_URLS = [
  "postgresql://postgres@127.0.0.1:5432/postgres",
  "postgresql://root@127.0.0.1:5432/postgres",
];
const DEFAULT_REDIS_URL = "redis://127.0.0.1:6379";
const APP_DATABASE = "hotpath";

const log = (message) => console.log(`[hotpath] ${message}`);
const warn = (message) => console.log(`[hotpath] ⚠ ${message}`);

export class ServiceError extends Error {}

/* ───────────────────────────── reachability ───────────────────────────── */

/** Resolves true when something accepts TCP connections on host:port within the timeout. */
function tcpOpen(host, port, timeoutMs = 1_000) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (open) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

function loadPg(root) {
  const require = createRequire(path.join(root, "package.json"));
  return require("pg");
}

/**
 * A real check, not just a port: connects and runs `SELECT 1`. Returns
 * `{ ok: true }`, or `{ ok: false, reason: "unreachable" | "no-database" | "auth" | "error", message }`.
 */
export async function checkPostgres(url, root = projectRoot) {
  const u = new URL(url);
  if (!(await tcpOpen(u.hostname, Number(u.port || 5432)))) {
    return { ok: false, reason: "unreachable", message: `nothing listens on ${u.hostname}:${u.port || 5432}` };
  }
  const pg = loadPg(root);
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query("SELECT 1");
    return { ok: true };
  } catch (error) {
    const reason =
      error.code === "3D000" ? "no-database"
      : error.code === "28000" || error.code === "28P01" ? "auth"
      : error.code === "ECONNREFUSED" || error.code === "ETIMEDOUT" ? "unreachable"
      : "error";
    return { ok: false, reason, message: error.message };
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Sends RESP commands and resolves with the first `expectedLines` reply lines (one per simple
 * reply; an array reply spans several). Enough for PING, AUTH and CONFIG GET without a client.
 */
function redisCommands(url, commands, expectedLines = commands.length, timeoutMs = 2_000) {
  const u = new URL(url);
  const options = { host: u.hostname || "127.0.0.1", port: Number(u.port || 6379) };
  return new Promise((resolve, reject) => {
    const socket =
      u.protocol === "rediss:" ? tls.connect({ ...options, servername: options.host }) : net.connect(options);
    const replies = [];
    let buffer = "";
    let settled = false;
    const finish = (error) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (error) reject(error);
      else resolve(replies);
    };
    socket.setTimeout(timeoutMs, () => finish(Object.assign(new Error("timed out"), { code: "ETIMEDOUT" })));
    socket.once("error", finish);
    socket.once("close", () => finish(Object.assign(new Error("connection closed"), { code: "ECONNRESET" })));
    socket.on("data", (chunk) => {
      buffer += chunk.toString("utf8");
      let end;
      while ((end = buffer.indexOf("\r\n")) !== -1) {
        replies.push(buffer.slice(0, end));
        buffer = buffer.slice(end + 2);
        if (replies.length === expectedLines) return finish();
      }
    });
    socket.once(u.protocol === "rediss:" ? "secureConnect" : "connect", () => {
      for (const args of commands) {
        socket.write(`*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`);
      }
    });
  });
}

/** PING (after AUTH when the URL has credentials). Same result shape as {@link checkPostgres}. */
export async function checkRedis(url) {
  const u = new URL(url);
  const commands = [];
  if (u.password) {
    commands.push(u.username
      ? ["AUTH", decodeURIComponent(u.username), decodeURIComponent(u.password)]
      : ["AUTH", decodeURIComponent(u.password)]);
  }
  commands.push(["PING"]);
  try {
    const replies = await redisCommands(url, commands);
    const last = replies.at(-1) ?? "";
    if (last === "+PONG") return { ok: true };
    const reason = /NOAUTH|WRONGPASS|invalid password/i.test(replies.join(" ")) ? "auth" : "error";
    return { ok: false, reason, message: replies.join(" ") };
  } catch (error) {
    return { ok: false, reason: "unreachable", message: error.message };
  }
}

/** Creates the URL's database on its server when it does not exist yet. */
export async function ensureDatabase(url, root = projectRoot) {
  const check = await checkPostgres(url, root);
  if (check.ok) return false;
  if (check.reason !== "no-database") throw new ServiceError(`cannot use ${redact(url)}: ${check.message}`);
  const database = decodeURIComponent(new URL(url).pathname.slice(1));
  const pg = loadPg(root);
  let lastError;
  for (const maintenance of ["postgres", "template1"]) {
    const admin = new URL(url);
    admin.pathname = `/${maintenance}`;
    const client = new pg.Client({ connectionString: admin.toString(), connectionTimeoutMillis: 5_000 });
    client.on("error", () => {});
    try {
      await client.connect();
      await client.query(`CREATE DATABASE "${database.replaceAll('"', '""')}"`);
      return true;
    } catch (error) {
      if (error.code === "42P04") return false; // created meanwhile by a concurrent run
      lastError = error;
    } finally {
      await client.end().catch(() => {});
    }
  }
  throw new ServiceError(`cannot create database "${database}" on ${redact(url)}: ${lastError.message}`);
}

/** The URL without its password, for messages. */
export function redact(url) {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return url;
  }
}

function withDatabase(url, database) {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

/* ───────────────────────────── local instances ───────────────────────────── */

const isRoot = () => typeof process.getuid === "function" && process.getuid() === 0;

function isExecutable(file) {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function which(command) {
  return (process.env.PATH ?? "").split(path.delimiter).map((dir) => path.join(dir, command)).find(isExecutable);
}

/** The bin folder holding initdb and pg_ctl: Debian's newest /usr/lib/postgresql/<major>/bin, else PATH. */
export function findPostgresBin() {
  const base = "/usr/lib/postgresql";
  if (fs.existsSync(base)) {
    const majors = fs
      .readdirSync(base)
      .filter((d) => isExecutable(path.join(base, d, "bin", "pg_ctl")) && isExecutable(path.join(base, d, "bin", "initdb")))
      .sort((a, b) => Number(b) - Number(a));
    if (majors.length) return path.join(base, majors[0], "bin");
  }
  const pgCtl = which("pg_ctl");
  return pgCtl && which("initdb") ? path.dirname(pgCtl) : undefined;
}

export function findRedisServer() {
  return which("redis-server") ?? ["/usr/bin/redis-server", "/usr/sbin/redis-server"].find(isExecutable);
}

function statePath(root) {
  return path.join(root, ".data", "services.json");
}

export function readState(root = projectRoot) {
  try {
    return JSON.parse(fs.readFileSync(statePath(root), "utf8"));
  } catch {
    return {};
  }
}

function writeState(root, state) {
  fs.mkdirSync(path.dirname(statePath(root)), { recursive: true });
  fs.writeFileSync(statePath(root), `${JSON.stringify(state, null, 2)}\n`);
}

function portFree(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () => server.close(() => resolve(true)));
  });
}

async function freePort(preferred, from) {
  if (preferred && (await portFree(preferred))) return preferred;
  for (let port = from; port < from + 200; port++) if (await portFree(port)) return port;
  throw new ServiceError(`no free port between ${from} and ${from + 199}`);
}

/**
 * PostgreSQL refuses to run as root. As root, initdb/pg_ctl run as the `postgres` system user (or
 * `nobody` when there is none) through runuser; otherwise as the current user.
 */
function postgresRunner() {
  if (!isRoot()) return { user: os.userInfo().username, wrap: (cmd, args) => [cmd, args] };
  const hasPostgresUser = spawnSync("id", ["-u", "postgres"], { stdio: "ignore" }).status === 0;
  const user = hasPostgresUser ? "postgres" : "nobody";
  return { user, wrap: (cmd, args) => ["runuser", ["-u", user, "--", cmd, ...args]] };
}

function run(runner, cmd, args, options = {}) {
  const [command, argv] = runner.wrap(cmd, args);
  const result = spawnSync(command, argv, { encoding: "utf8", ...options });
  if (result.status !== 0) {
    const output = `${result.stdout ?? ""}${result.stderr ?? ""}`.trim();
    throw new ServiceError(`${path.basename(cmd)} ${args[0] ?? ""} failed (exit ${result.status}):\n${output}`);
  }
  return result.stdout ?? "";
}

/**
 * The folder for the local Postgres: .data/postgres, owned by the user Postgres runs as. When that
 * user cannot reach it (e.g. the project lives under a 0700 home), a folder under the system temp
 * dir keyed by the project path is used instead.
 */
function postgresHome(root, runner) {
  const candidates = [
    path.join(root, ".data", "postgres"),
    path.join(os.tmpdir(), `hotpath-${createHash("sha1").update(root).digest("hex").slice(0, 10)}`, "postgres"),
  ];
  for (const dir of candidates) {
    fs.mkdirSync(dir, { recursive: true });
    if (isRoot()) execFileSync("chown", ["-R", `${runner.user}:`, dir]);
    const [command, argv] = runner.wrap("test", ["-w", dir, "-a", "-x", dir]);
    if (spawnSync(command, argv).status === 0) return dir;
  }
  throw new ServiceError(`user ${runner.user} cannot write to ${candidates.join(" or ")}`);
}

async function startLocalPostgres(root, state) {
  const bin = findPostgresBin();
  if (!bin) return undefined;
  const runner = postgresRunner();
  const home = state.postgres?.home && fs.existsSync(state.postgres.home) ? state.postgres.home : postgresHome(root, runner);
  const dataDir = path.join(home, "data");
  const logFile = path.join(home, "postgres.log");

  if (!fs.existsSync(path.join(dataDir, "PG_VERSION"))) {
    log(`initialising a project-local PostgreSQL in ${dataDir} (${bin})`);
    run(runner, path.join(bin, "initdb"), [
      "-D", dataDir, "-U", "postgres", "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync",
    ]);
    // TCP only (no socket file to collide with the system's), and durability traded for speed:
    // this instance holds throw-away development and test data.
    fs.appendFileSync(
      path.join(dataDir, "postgresql.conf"),
      [
        "",
        "# Added by scripts/services.mjs (project-local development instance)",
        "listen_addresses = '127.0.0.1'",
        "unix_socket_directories = ''",
        "max_connections = 200",
        "fsync = off",
        "synchronous_commit = off",
        "full_page_writes = off",
        "",
      ].join("\n"),
    );
  }

  const port = await freePort(state.postgres?.port, 5433);
  log(`starting the project-local PostgreSQL on 127.0.0.1:${port} (as ${runner.user})`);
  run(runner, path.join(bin, "pg_ctl"), ["start", "-D", dataDir, "-l", logFile, "-o", `-p ${port}`, "-w", "-t", "60"], {
    cwd: home,
  });
  state.postgres = { port, home, bin, user: runner.user };
  writeState(root, state);
  const url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
  const check = await checkPostgres(url, root);
  if (!check.ok) throw new ServiceError(`the local PostgreSQL started but does not answer: ${check.message} (log: ${logFile})`);
  return url;
}

async function waitFor(check, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await check();
    if (result.ok || Date.now() > deadline) return result;
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function startLocalRedis(root, state) {
  const server = findRedisServer();
  if (!server) return undefined;
  fs.mkdirSync(path.join(root, ".data", "redis"), { recursive: true });
  // Real path: Redis reports its dir resolved, and recordedLocal compares against it.
  const dir = fs.realpathSync(path.join(root, ".data", "redis"));
  const port = await freePort(state.redis?.port, 6380);
  log(`starting a project-local Redis on 127.0.0.1:${port} (${server}, data in ${dir})`);
  const result = spawnSync(server, [
    // An append-only file fsynced every second: the trigger buffer (docs/operations.md, "Postgres
    // outage") keeps triggers accepted during a Postgres outage here, and they must survive a
    // Redis restart. At most the last second is lost if Redis itself dies.
    "--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "yes", "--appendfsync", "everysec",
    "--daemonize", "yes", "--pidfile", path.join(dir, "redis.pid"), "--logfile", path.join(dir, "redis.log"),
  ], { encoding: "utf8" });
  if (result.status !== 0) throw new ServiceError(`redis-server failed: ${result.error?.message ?? `${result.stderr}${result.stdout}`.trim()}`);
  const url = `redis://127.0.0.1:${port}`;
  const check = await waitFor(() => checkRedis(url), 10_000);
  if (!check.ok) throw new ServiceError(`the local Redis does not answer: ${check.message} (log: ${dir}/redis.log)`);
  state.redis = { port, dir, bin: server };
  writeState(root, state);
  return url;
}

/* ───────────────────────────── installing ───────────────────────────── */

const INSTALL_PACKAGES = { postgres: "postgresql", redis: "redis-server" };

let aptUpdated = false;

/** `apt-get update` (once per process) and `apt-get install -y <packages>`, output streamed. */
export function aptInstall(packages) {
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  if (!aptUpdated) {
    log("apt-get update");
    if (spawnSync("apt-get", ["update"], { stdio: "inherit", env }).status !== 0) throw new ServiceError("apt-get update failed");
    aptUpdated = true;
  }
  log(`apt-get install -y ${packages.join(" ")}`);
  const result = spawnSync("apt-get", ["install", "-y", ...packages], { stdio: "inherit", env });
  if (result.status !== 0) throw new ServiceError(`apt-get install ${packages.join(" ")} failed`);
}

export const canAptInstall = () => isRoot() && Boolean(which("apt-get"));

function installHint(packages) {
  if (which("apt-get")) return `sudo apt-get update && sudo apt-get install -y ${packages.join(" ")}`;
  if (which("brew")) return `brew install ${packages.map((p) => (p === "redis-server" ? "redis" : p)).join(" ")}`;
  return `install ${packages.join(" and ")} with your system's package manager`;
}

/* ───────────────────────────── choosing ───────────────────────────── */

/** A Redis URL from REDIS_URL, else REDIS_HOST/PORT/USERNAME/PASSWORD/TLS; undefined when none is set. */
export function configuredRedisUrl(env) {
  if (env.REDIS_URL) return env.REDIS_URL;
  if (!env.REDIS_HOST && !env.REDIS_PORT) return undefined;
  const u = new URL(`${["true", "1", "yes", "on"].includes(env.REDIS_TLS ?? "") ? "rediss" : "redis"}://127.0.0.1`);
  u.hostname = env.REDIS_HOST ?? "127.0.0.1";
  u.port = String(env.REDIS_PORT ?? 6379);
  if (env.REDIS_USERNAME) u.username = encodeURIComponent(env.REDIS_USERNAME);
  if (env.REDIS_PASSWORD) u.password = encodeURIComponent(env.REDIS_PASSWORD);
  return u.toString();
}

/**
 * The project-local instance recorded by an earlier run, when it is up. Checked by identity (its
 * data folder), not only by port: after a reboot another server may have taken that port.
 */
async function recordedLocal(kind, root, state) {
  const port = state[kind]?.port;
  if (!port) return undefined;
  if (kind === "postgres") {
    const url = `postgresql://postgres@127.0.0.1:${port}/postgres`;
    if (!(await checkPostgres(url, root)).ok) return undefined;
    const dataDir = await postgresSetting(url, "data_directory", root);
    return dataDir === path.join(state.postgres.home, "data") ? url : undefined;
  }
  const url = `redis://127.0.0.1:${port}`;
  try {
    // Reply lines: *2, $3, dir, $<n>, <dir>.
    const replies = await redisCommands(url, [["CONFIG", "GET", "dir"]], 5);
    return replies[4] === state.redis.dir ? url : undefined;
  } catch {
    return undefined;
  }
}

async function postgresSetting(url, name, root) {
  const pg = loadPg(root);
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  client.on("error", () => {});
  try {
    await client.connect();
    const { rows } = await client.query("SELECT current_setting($1) AS value", [name]);
    return rows[0]?.value;
  } catch {
    return undefined;
  } finally {
    await client.end().catch(() => {});
  }
}

/** True when `url` points at the project-local instance of an earlier run (e.g. the URL in .env). */
function isRecordedLocal(url, recorded) {
  if (!recorded?.port) return false;
  const u = new URL(url);
  return ["127.0.0.1", "localhost"].includes(u.hostname) && Number(u.port) === recorded.port;
}

/**
 * Picks the Postgres server. Returns `{ url, source }` where url names the app database
 * (the configured one, else `hotpath`) and source says how it was found.
 */
async function choosePostgres(configured, root, state, missing) {
  if (configured) {
    const check = await checkPostgres(configured, root);
    if (check.ok || check.reason === "no-database") return { url: configured, source: "configured" };
    if (check.reason === "auth" || check.reason === "error") {
      throw new ServiceError(`DATABASE_URL ${redact(configured)} answers but refuses us: ${check.message}`);
    }
    if (isRecordedLocal(configured, state.postgres)) log("the project-local PostgreSQL is not running; starting it");
    else warn(`DATABASE_URL ${redact(configured)} is not reachable (${check.message}); using a project-local PostgreSQL`);
  } else {
    for (const url of DEFAULT_POSTGRES_URLS) {
      const check = await checkPostgres(url, root);
      if (check.ok) return { url: withDatabase(url, APP_DATABASE), source: "default" };
    }
  }
  const database = configured ? new URL(configured).pathname.slice(1) || APP_DATABASE : APP_DATABASE;
  const running = await recordedLocal("postgres", root, state);
  if (running) return { url: withDatabase(running, database), source: "local (already running)" };
  const started = await startLocalPostgres(root, state);
  if (started) return { url: withDatabase(started, database), source: "local (started)" };
  missing.push(INSTALL_PACKAGES.postgres);
  return { pending: database };
}

async function chooseRedis(configured, root, state, missing) {
  if (configured) {
    const check = await checkRedis(configured);
    if (check.ok) return { url: configured, source: "configured" };
    if (check.reason === "auth") throw new ServiceError(`Redis at ${redact(configured)} refuses us: ${check.message}`);
    if (isRecordedLocal(configured, state.redis)) log("the project-local Redis is not running; starting it");
    else warn(`Redis ${redact(configured)} is not reachable (${check.message}); using a project-local Redis`);
  } else if ((await checkRedis(DEFAULT_REDIS_URL)).ok) {
    return { url: DEFAULT_REDIS_URL, source: "default" };
  }
  const running = await recordedLocal("redis", root, state);
  if (running) {
    // One started by an earlier version of this script ran without an AOF; the trigger buffer needs it.
    await redisCommands(running, [["CONFIG", "SET", "appendonly", "yes"], ["CONFIG", "SET", "appendfsync", "everysec"]]).catch((error) =>
      warn(`could not turn on the local Redis' append-only file: ${error.message}`),
    );
    return { url: running, source: "local (already running)" };
  }
  const started = await startLocalRedis(root, state);
  if (started) return { url: started, source: "local (started)" };
  missing.push(INSTALL_PACKAGES.redis);
  return { pending: true };
}

function noServiceMessage(packages) {
  const names = packages.map((p) => (p === INSTALL_PACKAGES.postgres ? "PostgreSQL" : "Redis"));
  const variables = packages.map((p) => (p === INSTALL_PACKAGES.postgres ? "DATABASE_URL" : "REDIS_URL"));
  return [
    `No ${names.join(" or ")} is reachable, and none is installed here to start one.`,
    `Either point ${variables.join(" / ")} at a running server, or install and run this again:`,
    "",
    `    ${installHint(packages)}`,
    "",
  ].join("\n");
}

/**
 * Ensures a reachable Postgres and Redis. `env` is the merged configuration (real environment over
 * .env). Returns `{ databaseUrl, redisUrl, postgres: source, redis: source }`.
 */
export async function ensureServices(env, root = projectRoot) {
  const state = readState(root);
  const missing = [];
  let postgres = await choosePostgres(env.DATABASE_URL, root, state, missing);
  let redis = await chooseRedis(configuredRedisUrl(env), root, state, missing);
  if (missing.length) {
    if (!canAptInstall()) throw new ServiceError(noServiceMessage(missing));
    aptInstall(missing);
    if (postgres.pending) {
      const url = await startLocalPostgres(root, state);
      if (!url) throw new ServiceError(`PostgreSQL was installed but no initdb/pg_ctl was found`);
      postgres = { url: withDatabase(url, postgres.pending), source: "local (installed with apt-get)" };
    }
    if (redis.pending) {
      const url = await startLocalRedis(root, state);
      if (!url) throw new ServiceError(`redis-server was installed but not found on PATH`);
      redis = { url, source: "local (installed with apt-get)" };
    }
  }
  log(`PostgreSQL: ${redact(postgres.url)}  [${postgres.source}]`);
  log(`Redis:      ${redact(redis.url)}  [${redis.source}]`);
  return { databaseUrl: postgres.url, redisUrl: redis.url, postgres: postgres.source, redis: redis.source };
}

/* ───────────────────────────── CLI ───────────────────────────── */

/** Stops the project-local instances recorded in .data/services.json (never a system service). */
export async function stopLocalServices(root = projectRoot) {
  const state = readState(root);
  if (state.postgres?.home) {
    const dataDir = path.join(state.postgres.home, "data");
    const runner = postgresRunner();
    const pgCtl = (...args) => {
      const [command, argv] = runner.wrap(path.join(state.postgres.bin, "pg_ctl"), [...args, "-D", dataDir]);
      return spawnSync(command, argv, { encoding: "utf8", cwd: state.postgres.home });
    };
    if (pgCtl("status").status !== 0) log("the local PostgreSQL is not running");
    else {
      const result = pgCtl("stop", "-m", "fast", "-w");
      log(result.status === 0 ? `stopped the local PostgreSQL (port ${state.postgres.port})` : `local PostgreSQL: ${(result.stderr || result.stdout).trim()}`);
    }
  }
  if (state.redis?.port && !(await recordedLocal("redis", root, state))) log("the local Redis is not running");
  else if (state.redis?.port) {
    try {
      await redisCommands(`redis://127.0.0.1:${state.redis.port}`, [["SHUTDOWN", "NOSAVE"]], 1);
    } catch {
      // SHUTDOWN closes the connection without a reply: that is success.
    }
    const stillUp = (await checkRedis(`redis://127.0.0.1:${state.redis.port}`)).ok;
    log(stillUp ? `the local Redis on port ${state.redis.port} did not stop` : `stopped the local Redis (port ${state.redis.port})`);
  }
  if (!state.postgres && !state.redis) log("no project-local services recorded in .data/services.json");
}

async function status(root = projectRoot) {
  const state = readState(root);
  if (!state.postgres && !state.redis) return log("no project-local services recorded in .data/services.json");
  if (state.postgres) {
    const ok = (await checkPostgres(`postgresql://postgres@127.0.0.1:${state.postgres.port}/postgres`, root)).ok;
    log(`local PostgreSQL: port ${state.postgres.port}, data ${state.postgres.home}/data — ${ok ? "running" : "stopped"}`);
  }
  if (state.redis) {
    const ok = (await checkRedis(`redis://127.0.0.1:${state.redis.port}`)).ok;
    log(`local Redis: port ${state.redis.port}, dir ${state.redis.dir} — ${ok ? "running" : "stopped"}`);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const command = process.argv[2];
  if (command === "stop") await stopLocalServices();
  else if (command === "status") await status();
  else {
    console.error("usage: node scripts/services.mjs status|stop   (project-local PostgreSQL/Redis in .data/)");
    process.exit(2);
  }
}
