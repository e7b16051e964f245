/**
 * `npm run bench:batch`: 1,000 single triggers at concurrency 50 against one batch of 1,000 items
 * and 10 batches of 100 (sent at once), on the production server (server.ts over the Remix build).
 * Reports items/s, the Postgres statements (the server's /metrics counter) and Redis commands
 * (`INFO commandstats` of a redis-server of the benchmark's own, so no other client is counted)
 * per batch, and the ratio batch items/s ÷ single-trigger req/s per repetition, with its spread.
 * Method and a real run: docs/benchmarks.md, "Batches".
 *
 *   npm run bench:batch -- [--reps 3] [--keep-db] [--profile DIR]
 *
 * `--profile DIR` starts the server with `--cpu-prof`: DIR receives its .cpuprofile at the end.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { disconnectDb } from "~/db.server";
import { disconnectRedis } from "~/redis.server";
import { disconnectApiKeyCache } from "~/services/apiKeyAuth.server";
import { disconnectTaskMetadataCache } from "~/services/taskMetadata/index.server";
import { startPrivateRedis } from "../test/support/privateRedis";
import { RedisCommandCounter } from "../test/support/redisCommandCount";
import { freePort } from "../test/support/appServer";
import {
  BENCH_DATABASE,
  benchTasks,
  benchVariables,
  dropBenchDatabase,
  log,
  projectRoot,
  recreateBenchDatabase,
  runBenchmark,
  seedBenchData,
  useBenchConfiguration,
} from "./bench/environment";
import { positiveIntFlag } from "./bench/flags";
import { statementsSent } from "./bench/postgresCost";
import { pairedRatio, spread, type Spread } from "./bench/stats";

const USAGE = "usage: npm run bench:batch -- [--reps N] [--keep-db] [--profile DIR]";
const { values: flags } = parseArgs({
  options: {
    reps: { type: "string", default: "3" },
    "keep-db": { type: "boolean", default: false },
    profile: { type: "string" },
    help: { type: "boolean", default: false },
  },
  strict: true,
});
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}
const REPS = positiveIntFlag(USAGE)("reps", flags.reps);
const METRICS_TOKEN = "bench-batch-metrics-token";
const ITEMS = 1000;
const CONCURRENCY = 50;
/** Ten current tasks, as in the counted test. */
const TASKS = benchTasks().slice(0, 10).map((t) => t.slug);

interface Cost {
  ms: number;
  statements: number;
  redisCommands: Record<string, number>;
}

function startServer(env: Record<string, string>, port: number): { child: ChildProcess; output: () => string } {
  let output = "";
  const profile = flags.profile ? ["--cpu-prof", `--cpu-prof-dir=${path.resolve(flags.profile)}`] : [];
  const child = spawn(process.execPath, ["--import", "tsx", ...profile, "server.ts"], {
    cwd: projectRoot,
    env: { ...process.env, ...env, PORT: String(port), METRICS_TOKEN },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-8_000));
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  return { child, output: () => output };
}

async function waitHealthy(base: string, output: () => string) {
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    if (await fetch(`${base}/healthz`).then((r) => r.ok, () => false)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the server did not become healthy:\n${output()}`);
}

function lines(count: number, offset = 0): string {
  return Array.from({ length: count }, (_, index) => JSON.stringify({ index, task: TASKS[(index + offset) % TASKS.length], payload: { index } })).join("\n");
}

async function post(url: string, apiKey: string, body: string, contentType = "application/json") {
  const response = await fetch(url, { method: "POST", headers: { authorization: `Bearer ${apiKey}`, "content-type": contentType }, body });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`${url}: ${response.status} ${text}`);
  return JSON.parse(text);
}

/** One batch: create, then its items as one NDJSON stream. */
async function oneBatch(base: string, apiKey: string, count: number, offset: number) {
  const { id } = await post(`${base}/api/v3/batches`, apiKey, JSON.stringify({ runCount: count }));
  const answer = await post(`${base}/api/v3/batches/${id}/items`, apiKey, lines(count, offset), "application/x-ndjson");
  if (!answer.sealed || answer.itemsAccepted !== count) throw new Error(`batch ${id} not sealed: ${JSON.stringify(answer)}`);
}

async function singles(base: string, apiKey: string) {
  let next = 0;
  const worker = async () => {
    while (next < ITEMS) {
      const i = next++;
      await post(`${base}/api/v1/tasks/${TASKS[i % TASKS.length]}/trigger`, apiKey, JSON.stringify({ payload: { i } }));
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

async function measure(base: string, counter: RedisCommandCounter, work: () => Promise<unknown>): Promise<Cost> {
  const statementsBefore = await statementsSent(base, "route", METRICS_TOKEN);
  let ms = 0;
  const redisCommands = await counter.during(async () => {
    const started = performance.now();
    await work();
    ms = performance.now() - started;
  });
  return { ms, statements: (await statementsSent(base, "route", METRICS_TOKEN)) - statementsBefore, redisCommands };
}

const perSecond = (count: number, ms: number) => (count * 1000) / ms;
const total = (commands: Record<string, number>) => Object.values(commands).reduce((a, b) => a + b, 0);
const fmt = (s: Spread, digits = 0) => `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;

runBenchmark("bench:batch", async (serverUrl) => {
  const redis = await startPrivateRedis();
  const databaseUrl = await recreateBenchDatabase(serverUrl, BENCH_DATABASE);
  useBenchConfiguration(databaseUrl);
  process.env.REDIS_URL = redis.url;
  const data = await seedBenchData();
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const server = startServer({ ...benchVariables(databaseUrl), REDIS_URL: redis.url }, port);
  const counter = new RedisCommandCounter(redis.url);
  try {
    await waitHealthy(base, server.output);
    // Warm-up: the API key and every task cached, the connections open.
    await singles(base, data.apiKey);
    await oneBatch(base, data.apiKey, 100, 0);
    const reps: { single: Cost; batch1000: Cost; batches100: Cost }[] = [];
    for (let rep = 1; rep <= REPS; rep++) {
      const single = await measure(base, counter, () => singles(base, data.apiKey));
      const batch1000 = await measure(base, counter, () => oneBatch(base, data.apiKey, ITEMS, rep));
      const batches100 = await measure(base, counter, () => Promise.all(Array.from({ length: 10 }, (_, i) => oneBatch(base, data.apiKey, 100, i))));
      reps.push({ single, batch1000, batches100 });
      log(`rep ${rep}: singles ${perSecond(ITEMS, single.ms).toFixed(0)} req/s · 1×1000 ${perSecond(ITEMS, batch1000.ms).toFixed(0)} items/s · 10×100 ${perSecond(ITEMS, batches100.ms).toFixed(0)} items/s`);
    }
    report(reps);
  } finally {
    await counter.close();
    const exited = new Promise((resolve) => server.child.once("exit", resolve));
    server.child.kill("SIGTERM");
    // The profile is written when the server exits.
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 15_000).unref())]);
    await Promise.all([disconnectDb(), disconnectRedis(), disconnectApiKeyCache(), disconnectTaskMetadataCache()].map((p) => p.catch(() => undefined)));
    if (!flags["keep-db"]) await dropBenchDatabase(serverUrl);
    await redis.stop();
  }
});

function report(reps: { single: Cost; batch1000: Cost; batches100: Cost }[]) {
  const singleRate = reps.map((r) => perSecond(ITEMS, r.single.ms));
  const batchRate = reps.map((r) => perSecond(ITEMS, r.batch1000.ms));
  const batches100Rate = reps.map((r) => perSecond(ITEMS, r.batches100.ms));
  const summary = {
    reps: reps.length,
    singleRequestsPerSecond: spread(singleRate),
    batch1000ItemsPerSecond: spread(batchRate),
    batches100ItemsPerSecond: spread(batches100Rate),
    ratioBatch1000: pairedRatio(batchRate, singleRate),
    ratioBatches100: pairedRatio(batches100Rate, singleRate),
    /** Per batch of 1,000: the create request and the item stream together. */
    statementsPerBatch1000: spread(reps.map((r) => r.batch1000.statements)),
    redisCommandsPerBatch1000: spread(reps.map((r) => total(r.batch1000.redisCommands))),
    statementsPerBatch100: spread(reps.map((r) => r.batches100.statements / 10)),
    redisCommandsPerBatch100: spread(reps.map((r) => total(r.batches100.redisCommands) / 10)),
    statementsPerSingleTrigger: spread(reps.map((r) => r.single.statements / ITEMS)),
    redisCommandsBatch1000: reps.map((r) => r.batch1000.redisCommands),
  };
  console.log(`
  1,000 single triggers (concurrency ${CONCURRENCY})   ${fmt(summary.singleRequestsPerSecond)} req/s   ${fmt(summary.statementsPerSingleTrigger, 2)} statements/trigger
  one batch of 1,000                       ${fmt(summary.batch1000ItemsPerSecond)} items/s   ${fmt(summary.statementsPerBatch1000)} statements, ${fmt(summary.redisCommandsPerBatch1000)} Redis commands per batch
  10 batches of 100 (at once)              ${fmt(summary.batches100ItemsPerSecond)} items/s   ${fmt(summary.statementsPerBatch100, 1)} statements, ${fmt(summary.redisCommandsPerBatch100, 1)} Redis commands per batch
  ratio 1×1000 items/s ÷ single req/s      ${fmt(summary.ratioBatch1000, 1)}  (target ≥ 10)
  ratio 10×100 items/s ÷ single req/s      ${fmt(summary.ratioBatches100, 1)}
  (median (min–max) over ${reps.length} repetitions; Redis commands of the whole server, API-key reads included)`);
  const dir = path.join(projectRoot, "bench-results");
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `batch-${new Date().toISOString().replaceAll(":", "-")}.json`);
  fs.writeFileSync(file, JSON.stringify({ summary, reps }, null, 2));
  log(`results: ${path.relative(projectRoot, file)}`);
}
