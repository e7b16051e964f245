/**
 * `npm run bench:scale`: what grows with the fleet (issue 18). For each N of 1,000, 10,000 and
 * `--environments` (100,000 by default) it builds a fleet in a throwaway database
 * (hotpath_bench_scale) with bulk SQL (scripts/scale/fleet.ts) and uses a redis-server of its own
 * (so INFO memory and commandstats count only this bench; removed afterwards), then measures:
 * Redis memory per task entry and environment, the sweep's cost per pass, metrics writes per
 * minute with every environment active and the overview's server time per window, the
 * environments and environment cache pages' server time, and promotion latency by worker size
 * while triggers resolve, with a reader checking no read sees a half-promoted hash.
 *
 *   npm run bench:scale -- [--environments N] [--promotions-per-second R] [--keep-db]
 *
 * "Server time" is the page's read model (presenter) measured in this process: what a loader
 * spends before rendering. Prints a table; writes JSON to bench-results/.
 */
import fs from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import { dbQueryCount, disconnectDb } from "~/db.server";
import { disconnectRedis } from "~/redis.server";
import { disconnectApiKeyCache } from "~/services/apiKeyAuth.server";
import { disconnectTaskMetadataCache, disconnectTaskMetadataCacheAdmin } from "~/services/taskMetadata/index.server";
import { dropBenchDatabase, log, machineInfo, projectRoot, recreateBenchDatabase, runBenchmark, useBenchConfiguration } from "./bench/environment";
import { positiveIntFlag } from "./bench/flags";
import { startPrivateRedisServer } from "./scale/privateRedisServer";
import { measureScale, type ScaleResult } from "./scale/measure";

const USAGE = "usage: npm run bench:scale -- [--environments N] [--promotions-per-second R] [--keep-db]";
const positiveInt = positiveIntFlag(USAGE);
const { values: flags } = parseArgs({
  options: {
    environments: { type: "string", default: "100000" },
    "promotions-per-second": { type: "string", default: "4" },
    "keep-db": { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
  strict: true,
});
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}
const largest = positiveInt("environments", flags.environments);
const promotionsPerSecond = positiveInt("promotions-per-second", flags["promotions-per-second"]);
const sizes = [...new Set([1_000, 10_000, largest])].filter((n) => n <= largest).sort((a, b) => a - b);
const DATABASE = "hotpath_bench_scale";
const PREFIX = "bench-scale:";

function printTable(results: ScaleResult[]) {
  const rows: [string, (r: ScaleResult) => string][] = [
    ["redis bytes / task entry (20-task hash)", (r) => r.redis.bytesPerTaskEntry.toFixed(0)],
    ["redis bytes / environment (20 tasks)", (r) => r.redis.bytesPerEnvironment.toFixed(0)],
    ["redis MB, fleet's current hashes (est.)", (r) => (r.redis.fleetBytesEstimate / 1e6).toFixed(1)],
    ["sweep pass ms", (r) => r.sweep.ms.toFixed(0)],
    ["sweep statements / pass", (r) => String(r.sweep.statements)],
    ["sweep redis commands / pass", (r) => String(r.sweep.redisCommands)],
    ["metrics script calls / flush (all active)", (r) => String(r.metrics.scriptCallsPerFlush)],
    ["metrics fields written / minute", (r) => r.metrics.fieldsWrittenPerMinute.toLocaleString("en")],
    ["metrics keys", (r) => String(r.metrics.keys)],
    ["overview ms, 5 min", (r) => r.pages.overviewMs["5m"].toFixed(0)],
    ["overview ms, 1 h", (r) => r.pages.overviewMs["1h"].toFixed(0)],
    ["overview ms, 24 h", (r) => r.pages.overviewMs["24h"].toFixed(0)],
    ["environments page ms (first / deep)", (r) => `${r.pages.environmentsMs.toFixed(0)} / ${r.pages.environmentsDeepMs.toFixed(0)}`],
    ["environment cache page ms (20 / 10,000 tasks)", (r) => `${r.pages.environmentCacheMs.toFixed(0)} / ${r.pages.environmentCacheLargeMs.toFixed(0)}`],
    ...(["20", "1000", "10000"] as const).map(
      (size) => [`promotion p50 / p99 ms, ${size} tasks`, (r: ScaleResult) => `${r.promotions[size].p50.toFixed(0)} / ${r.promotions[size].p99.toFixed(0)}`] as [string, (r: ScaleResult) => string],
    ),
    ["partial reads seen / reads (field not yet back-filled)", (r) => `${r.promotions.partialReads} / ${r.promotions.reads} (${r.promotions.absentReads})`],
    ["resolves during churn", (r) => r.promotions.resolves.toLocaleString("en")],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  console.log(`\n${"".padEnd(width)}  ${results.map((r) => `N=${r.environments.toLocaleString("en")}`.padStart(14)).join("")}`);
  for (const [name, cell] of rows) console.log(`${name.padEnd(width)}  ${results.map((r) => cell(r).padStart(14)).join("")}`);
}

async function run(serverUrl: string) {
  const redisServer = await startPrivateRedisServer();
  log(`redis-server of this bench on :${redisServer.port}`);
  const results: ScaleResult[] = [];
  const started = Date.now();
  // Read once the app's clients point at the bench's database and Redis (never before: the
  // singletons would keep the configuration they were opened with).
  let machine: Awaited<ReturnType<typeof machineInfo>> | undefined;
  try {
    for (const n of sizes) {
      log(`N=${n.toLocaleString("en")}: database ${DATABASE}: drop, create, migrate`);
      const databaseUrl = await recreateBenchDatabase(serverUrl, DATABASE);
      useBenchConfiguration(databaseUrl, PREFIX);
      process.env.REDIS_URL = redisServer.url;
      process.env.METRICS_FLUSH_INTERVAL_MS = "5000";
      const admin = new Redis(redisServer.url);
      try {
        await admin.flushall(); // the bench's own server: nothing else lives in it
        machine ??= await machineInfo();
        results.push(await measureScale({ environments: n, prefix: PREFIX, redis: admin, promotionsPerSecond, statements: () => dbQueryCount("primary") }));
      } finally {
        admin.disconnect();
        await disconnectTaskMetadataCache().catch(() => {});
        await disconnectTaskMetadataCacheAdmin().catch(() => {});
        await disconnectApiKeyCache().catch(() => {});
        await disconnectRedis().catch(() => {});
        await disconnectDb().catch(() => {});
      }
      if (!flags["keep-db"]) await dropBenchDatabase(serverUrl, DATABASE);
    }
  } finally {
    await redisServer.stop();
    if (!flags["keep-db"]) await dropBenchDatabase(serverUrl, DATABASE).catch(() => {});
  }
  console.log(`\nHotpath at scale — fleet built with bulk SQL; one redis-server of its own; ${promotionsPerSecond} promotions/s under resolve load; ${((Date.now() - started) / 1000).toFixed(0)} s`);
  printTable(results);
  const dir = path.join(projectRoot, "bench-results");
  fs.mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `bench-scale-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
  fs.writeFileSync(file, `${JSON.stringify({ kind: "scale", finishedAt: new Date().toISOString(), machine, promotionsPerSecond, results }, null, 2)}\n`);
  console.log(`\nresults   ${path.relative(projectRoot, file)}`);
}

runBenchmark("bench:scale", run);
