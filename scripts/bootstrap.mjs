#!/usr/bin/env node
/**
 * The README's commands: `npm run quickstart`, `npm test`, `npm run bench`, `npm run bench:http`.
 *
 *   node scripts/bootstrap.mjs quickstart        install → services → .env → database → migrate → seed → build → serve
 *   node scripts/bootstrap.mjs test [vitest args] install → services → generate → typecheck → build → vitest run
 *   node scripts/bootstrap.mjs bench|bench:http|bench:batch|bench:scale  install → services → database → migrate → build → scripts/bench*.ts
 *
 * Plain Node ESM without npm dependencies: it runs before `npm install`. Every child process gets
 * the merged configuration (real environment over .env) plus the chosen DATABASE_URL / REDIS_URL.
 * Why it works this way: docs/decisions/0010-bootstrap-services.md.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import {
  ServiceError,
  aptInstall,
  canAptInstall,
  ensureDatabase,
  ensureServices,
  projectRoot as root,
  redact,
} from "./services.mjs";

const MODES = ["quickstart", "test", "bench", "bench:http", "bench:batch", "bench:scale"];
const [mode, ...extraArgs] = process.argv.slice(2);
const bin = (name) => path.join(root, "node_modules", ".bin", name);
const log = (message) => console.log(`[hotpath] ${message}`);
const started = Date.now();

/** The running child, so a Ctrl-C or SIGTERM to the bootstrap reaches it. */
let current;
for (const signal of ["SIGINT", "SIGTERM"]) {
  process.on(signal, () => {
    // Ctrl-C in a terminal already reached the child (same process group); a signal sent to the
    // bootstrap alone has not. SIGTERM makes server.ts close gracefully either way.
    if (current && current.exitCode === null) current.kill("SIGTERM");
    else process.exit(130);
  });
}

function fail(message) {
  console.error(`\n[hotpath] ✖ ${message}`);
  process.exit(1);
}

function elapsed(since) {
  return `${((Date.now() - since) / 1000).toFixed(1)} s`;
}

/** Runs a command with streamed output; resolves with its exit code. */
function exec(command, args, env, options = {}) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, env, stdio: "inherit", ...options });
    current = child;
    child.once("error", (error) => {
      console.error(`[hotpath] cannot run ${command}: ${error.message}`);
      resolve(127);
    });
    child.once("exit", (code, signal) => {
      current = undefined;
      resolve(code ?? 128 + (os.constants.signals[signal] ?? 0));
    });
  });
}

/** One named step: runs, times, and stops the bootstrap on failure. */
async function step(title, command, args, env) {
  log(`▸ ${title}`);
  const since = Date.now();
  const code = await exec(command, args, env);
  if (code !== 0) fail(`${title} failed (exit ${code})`);
  log(`  ${title}: done in ${elapsed(since)}`);
}

/**
 * Remix 2's classic compiler loads its Vite plugin's module at start-up, which requires Vite's
 * CommonJS entry and makes Vite print a deprecation notice nobody here can act on (we do not call
 * Vite); VITE_CJS_IGNORE_WARNING is Vite's switch for it (docs/decisions/0045-a-quiet-build.md).
 */
function remixBuild(env) {
  return step("remix build", bin("remix"), ["build"], { ...env, VITE_CJS_IGNORE_WARNING: "true" });
}

/* ───────────────────────────── dependencies ───────────────────────────── */

/**
 * node_modules is stale when npm's own record of it (node_modules/.package-lock.json) is older than
 * package-lock.json AND they disagree on a package version. The content check matters: a checkout
 * or an `npm install` can leave the lock file newer without changing anything, and a needless
 * `npm ci` deletes node_modules under whatever else is running.
 */
function dependenciesState() {
  const modules = path.join(root, "node_modules");
  const hidden = path.join(modules, ".package-lock.json");
  const lock = path.join(root, "package-lock.json");
  if (!fs.existsSync(modules) || !fs.existsSync(hidden)) return "missing";
  if (!fs.existsSync(lock)) return "ok";
  if (fs.statSync(lock).mtimeMs <= fs.statSync(hidden).mtimeMs) return "ok";
  const wanted = JSON.parse(fs.readFileSync(lock, "utf8")).packages ?? {};
  const installed = JSON.parse(fs.readFileSync(hidden, "utf8")).packages ?? {};
  for (const [name, entry] of Object.entries(wanted)) {
    if (name === "" || entry.link) continue;
    const have = installed[name];
    // Optional packages for other platforms (esbuild's, say) are legitimately absent.
    if (!have) {
      if (entry.optional || entry.devOptional) continue;
      return "stale";
    }
    if (have.version !== entry.version) return "stale";
  }
  return "ok";
}

async function ensureDependencies() {
  const state = dependenciesState();
  if (state === "ok") return log("dependencies: node_modules is up to date");
  const hasLock = fs.existsSync(path.join(root, "package-lock.json"));
  const args = hasLock ? ["ci", "--no-audit", "--no-fund"] : ["install", "--no-audit", "--no-fund"];
  log(`dependencies: node_modules is ${state}; npm ${args[0]}`);
  await step(`npm ${args[0]}`, "npm", args, process.env);
}

/* ───────────────────────────── configuration (.env) ───────────────────────────── */

const envFile = path.join(root, ".env");

function parseDotEnv(text) {
  const values = {};
  for (const line of text.split(/\r?\n/)) {
    const match = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!match) continue;
    let value = match[2];
    if (/^(["']).*\1$/.test(value)) value = value.slice(1, -1);
    else value = value.replace(/\s+#.*$/, "");
    values[match[1]] = value;
  }
  return values;
}

/** Sets the given keys in .env, keeping every other line (and comment) as it was. */
function writeDotEnv(updates) {
  const lines = fs.existsSync(envFile) ? fs.readFileSync(envFile, "utf8").replace(/\n$/, "").split("\n") : [
    "# Hotpath local configuration, written by scripts/bootstrap.mjs (git-ignored).",
    "# Variables set in the real environment win over these. See the README's configuration table.",
  ];
  const pending = new Map(Object.entries(updates));
  const out = lines.map((line) => {
    const key = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=/.exec(line)?.[1];
    if (key && pending.has(key)) {
      const value = pending.get(key);
      pending.delete(key);
      return `${key}=${value}`;
    }
    return line;
  });
  for (const [key, value] of pending) out.push(`${key}=${value}`);
  fs.writeFileSync(envFile, `${out.join("\n")}\n`, { mode: 0o600 });
}

const ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
function token(length) {
  return [...randomBytes(length)].map((b) => ALNUM[b % ALNUM.length]).join("");
}

/**
 * Secrets generated on the first run. The seed credentials are pinned here too, so every
 * quickstart can print a login and keys that work (the database only holds hashes).
 */
const GENERATED = {
  SESSION_SECRET: () => randomBytes(32).toString("hex"),
  METRICS_TOKEN: () => token(32),
  ADMIN_EMAIL: () => "admin@hotpath.local",
  ADMIN_PASSWORD: () => token(20),
  SEED_VIEWER_PASSWORD: () => token(20),
  SEED_DEV_API_KEY: () => `tr_dev_${token(32)}`,
  SEED_STAGING_API_KEY: () => `tr_stg_${token(32)}`,
  SEED_PROD_API_KEY: () => `tr_prod_${token(32)}`,
  SEED_WEBHOOK_SECRET: () => `whsec_${token(32)}`,
};

function readConfiguration() {
  const fileValues = fs.existsSync(envFile) ? parseDotEnv(fs.readFileSync(envFile, "utf8")) : {};
  const merged = { ...fileValues };
  for (const [key, value] of Object.entries(process.env)) if (value !== undefined && value !== "") merged[key] = value;
  return { fileValues, merged };
}

/**
 * Writes what is missing from .env: generated secrets (unless the real environment has them) and
 * the service URLs the bootstrap chose. A URL from the real environment does not overwrite the
 * file's, so a one-off override does not stick.
 */
function updateConfiguration(fileValues, services) {
  const updates = {};
  const created = !fs.existsSync(envFile);
  for (const [key, generate] of Object.entries(GENERATED)) {
    if (!fileValues[key] && !process.env[key]) updates[key] = generate();
  }
  for (const [key, value] of [["DATABASE_URL", services.databaseUrl], ["REDIS_URL", services.redisUrl]]) {
    if (fileValues[key] === value) continue;
    if (fileValues[key] && process.env[key] === value) continue;
    updates[key] = value;
  }
  if (Object.keys(updates).length === 0) return;
  writeDotEnv(updates);
  log(`${created ? "wrote" : "updated"} .env: ${Object.keys(updates).join(", ")}`);
}

/* ───────────────────────────── services ───────────────────────────── */

async function prepareServices() {
  const { fileValues, merged } = readConfiguration();
  log("▸ PostgreSQL and Redis");
  const since = Date.now();
  let services;
  try {
    services = await ensureServices(merged, root);
    if (await ensureDatabase(services.databaseUrl, root)) log(`created database ${redact(services.databaseUrl)}`);
  } catch (error) {
    if (error instanceof ServiceError) fail(error.message);
    throw error;
  }
  log(`  services: ready in ${elapsed(since)}`);
  updateConfiguration(fileValues, services);
  const configured = readConfiguration().merged;
  return { services, env: { ...configured, DATABASE_URL: services.databaseUrl, REDIS_URL: services.redisUrl } };
}

/* ───────────────────────────── modes ───────────────────────────── */

function portFree(port) {
  return new Promise((resolve) => {
    const server = net.createServer();
    server.once("error", () => resolve(false));
    server.listen({ port }, () => server.close(() => resolve(true)));
  });
}

async function waitForHttp(url, child, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) return false;
    try {
      await fetch(url, { redirect: "manual" });
      return true;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return false;
}

function banner(env, port, services) {
  const url = `http://localhost:${port}`;
  const rows = [
    ["Open", url],
    ["Admin login", `${env.ADMIN_EMAIL ?? "admin@hotpath.local"} / ${env.ADMIN_PASSWORD ?? "(printed by the seed above)"}`],
    ["Viewer login", `viewer@hotpath.local / ${env.SEED_VIEWER_PASSWORD ?? "(printed by the seed above)"}`],
    ["API key dev", env.SEED_DEV_API_KEY ?? "(printed by the seed above)"],
    ["API key staging", env.SEED_STAGING_API_KEY ?? "(printed by the seed above)"],
    ["API key prod", env.SEED_PROD_API_KEY ?? "(printed by the seed above)"],
    ["Webhook secret", env.SEED_WEBHOOK_SECRET ?? "(printed by the seed above)"],
    ["Metrics token", env.METRICS_TOKEN ?? "(not set: /metrics is disabled)"],
    ["PostgreSQL", `${redact(services.databaseUrl)} [${services.postgres}]`],
    ["Redis", `${redact(services.redisUrl)} [${services.redis}]`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const line = "─".repeat(72);
  console.log(`\n${line}\n  Hotpath is running (started in ${elapsed(started)})\n`);
  for (const [k, v] of rows) console.log(`  ${k.padEnd(width)}  ${v}`);
  console.log(`\n  Try:  curl -X POST ${url}/api/v1/tasks/send-welcome-email/trigger \\`);
  console.log(`          -H "Authorization: Bearer ${env.SEED_PROD_API_KEY ?? "<prod key>"}" -H "Content-Type: application/json" -d '{"payload":{}}'`);
  console.log(`\n  Ctrl-C stops the server. Local PostgreSQL/Redis (if any) keep running:`);
  console.log(`  \`node scripts/services.mjs stop\` stops them. Credentials live in .env.\n${line}\n`);
}

async function quickstart() {
  const { services, env } = await prepareServices();
  const port = Number(env.PORT ?? 3000);
  if (!(await portFree(port))) fail(`port ${port} is already in use; run with another, e.g. PORT=3001 npm run quickstart`);
  await step("prisma generate", bin("prisma"), ["generate"], env);
  await step("prisma migrate deploy", bin("prisma"), ["migrate", "deploy"], env);
  await step("seed", process.execPath, ["--import", "tsx", "prisma/seed.ts"], env);
  await remixBuild(env);

  log(`▸ starting the server on port ${port}`);
  const server = spawn(process.execPath, ["--import", "tsx", "server.ts"], {
    cwd: root,
    // Production mode, as `npm start`: the README says what development mode would change.
    env: { ...env, NODE_ENV: "production", PORT: String(port) },
    stdio: "inherit",
  });
  current = server;
  const exited = new Promise((resolve) => server.once("exit", (code) => resolve(code ?? 0)));
  if (await waitForHttp(`http://127.0.0.1:${port}/login`, server, 60_000)) banner(env, port, services);
  else if (server.exitCode === null) log(`the server did not answer on port ${port} within 60 s; still waiting`);
  const code = await exited;
  process.exit(code);
}

function hasBrowserTests() {
  const dir = path.join(root, "test", "e2e");
  return fs.existsSync(dir) && fs.readdirSync(dir, { recursive: true }).some((f) => String(f).endsWith(".test.ts"));
}

/** Browser tests drive Debian's Chromium; install it when it is missing and we can. */
function ensureChromium() {
  if (!hasBrowserTests() || fs.existsSync("/usr/bin/chromium")) return;
  if (!canAptInstall()) {
    log("⚠ browser tests need /usr/bin/chromium: sudo apt-get install -y chromium");
    return;
  }
  try {
    aptInstall(["chromium"]);
  } catch (error) {
    fail(error.message);
  }
}

async function test() {
  const { services } = await prepareServices();
  ensureChromium();
  // Tests get the real environment plus the service URLs, not the developer's .env: their
  // outcome must not depend on local credentials. The harness makes a database per test file on
  // this server (test/support/perFile.ts).
  const env = { ...process.env, DATABASE_URL: services.databaseUrl, REDIS_URL: services.redisUrl };
  await step("prisma generate", bin("prisma"), ["generate"], env);
  await step("typecheck (tsc --noEmit)", bin("tsc"), ["--noEmit"], env);
  await remixBuild(env);
  log("▸ vitest run");
  const since = Date.now();
  const code = await exec(bin("vitest"), ["run", ...extraArgs], env);
  log(`vitest: exit ${code} after ${elapsed(since)}; npm test total ${elapsed(started)}`);
  process.exit(code);
}

async function bench(script) {
  if (!fs.existsSync(path.join(root, script))) fail(`${script} does not exist yet; nothing to benchmark`);
  const { env } = await prepareServices();
  await step("prisma generate", bin("prisma"), ["generate"], env);
  await step("prisma migrate deploy", bin("prisma"), ["migrate", "deploy"], env);
  await remixBuild(env);
  log(`▸ ${script}`);
  process.exit(await exec(process.execPath, ["--import", "tsx", script, ...extraArgs], env));
}

if (!MODES.includes(mode)) {
  console.error(`usage: node scripts/bootstrap.mjs ${MODES.join("|")} [args]`);
  process.exit(2);
}
const [major, minor] = process.versions.node.split(".").map(Number);
// `node --import tsx` needs module.register (20.6); `npm start`'s --env-file-if-exists needs 20.19.
if (major < 20 || (major === 20 && minor < 6)) fail(`Node.js 20.19 or newer is required (this is ${process.version})`);

await ensureDependencies();
if (mode === "quickstart") await quickstart();
else if (mode === "test") await test();
else await bench({ bench: "scripts/bench.ts", "bench:http": "scripts/benchHttp.ts", "bench:batch": "scripts/benchBatch.ts", "bench:scale": "scripts/benchScale.ts" }[mode]);
