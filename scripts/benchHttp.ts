/**
 * `npm run bench:http`: the trigger route under load, beside (a) the same route with cache reads
 * disabled (TASK_META_CACHE_DISABLED=true: every trigger resolves through Postgres) and (b) a floor,
 * a bare node:http server that authenticates nothing and does the same single run INSERT
 * (scripts/bench/floorServer.ts). Method, machine and a real run: docs/benchmarks.md.
 *
 *   npm run bench:http -- [--duration 10] [--connections 50] [--reps 3] [--warmup 3] [--keep-db]
 *
 * Each server is a separate process started here: the production server (server.ts over the
 * Remix build, NODE_ENV=production) and the floor, all on the bench database (hotpath_bench,
 * re-created) and Redis prefix (`bench:`, deleted after). Load comes from autocannon in this
 * process. Results go to bench-results/ as JSON.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import autocannon from "autocannon";
import { disconnectDb } from "~/db.server";
import { disconnectApiKeyCache } from "~/services/apiKeyAuth.server";
import { disconnectRedis } from "~/redis.server";
import { disconnectTaskMetadataCache } from "~/services/taskMetadata/index.server";
import {
  BENCH_DATABASE,
  BENCH_PREFIX,
  BENCH_QUEUE,
  BENCH_TASK,
  benchVariables,
  deletePrefixedKeys,
  describeMachine,
  dropBenchDatabase,
  formatLoad,
  log,
  machineInfo,
  projectRoot,
  recreateBenchDatabase,
  runBenchmark,
  seedBenchData,
  useBenchConfiguration,
} from "./bench/environment";
import { inProcessTier } from "./bench/scenarios";
import { formatCount, formatCountRange, formatRatioLine, label, pairedRatio, spread, type Spread, type Target } from "./bench/stats";
import { positiveIntFlag } from "./bench/flags";

const USAGE = "usage: npm run bench:http -- [--duration seconds] [--connections N] [--reps N] [--warmup seconds] [--keep-db]";

const positiveInt = positiveIntFlag(USAGE);

const { values: flags } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    connections: { type: "string", default: "50" },
    reps: { type: "string", default: "3" },
    warmup: { type: "string", default: "3" },
    "keep-db": { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
  strict: true,
});
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}
const options = {
  duration: positiveInt("duration", flags.duration),
  connections: positiveInt("connections", flags.connections),
  reps: positiveInt("reps", flags.reps),
  warmup: positiveInt("warmup", flags.warmup),
};

const TRIGGER_BODY = JSON.stringify({
  payload: { orderId: 1234, customer: "bench", items: [{ sku: "A-1", quantity: 2 }] },
  options: { queue: BENCH_QUEUE, ttl: "5m" },
});

type TargetName =
  | "node:http + INSERT floor"
  | "route, warm cache"
  | "route, redis only (L1 off)"
  | "route, no-op cache";

interface HttpTarget {
  name: TargetName;
  script: string;
  args: string[];
  env: Record<string, string>;
  /** Path and headers of the load. */
  path: string;
  headers: Record<string, string>;
  port: number;
  child?: ChildProcess;
  output: string;
}

interface LoadResult {
  target: TargetName;
  rep: number;
  requestsPerSecond: number;
  requests: number;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function start(target: HttpTarget, databaseUrl: string) {
  const args = target.script === "server.ts" ? [] : ["--port", String(target.port), ...target.args];
  const child = spawn(process.execPath, ["--import", "tsx", target.script, ...args], {
    cwd: projectRoot,
    env: { ...process.env, ...benchVariables(databaseUrl), PORT: String(target.port), ...target.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const keep = (chunk: Buffer) => {
    // The last few kilobytes are enough to say why a server did not come up.
    target.output = (target.output + chunk.toString()).slice(-8_000);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  target.child = child;
}

async function waitHealthy(target: HttpTarget, deadlineMs: number) {
  const deadline = Date.now() + deadlineMs;
  let last = "no answer";
  while (Date.now() < deadline) {
    if (target.child?.exitCode !== null) break;
    try {
      const response = await fetch(`http://127.0.0.1:${target.port}/healthz`);
      if (response.ok) return;
      last = `status ${response.status}: ${await response.text()}`;
    } catch (error) {
      last = error instanceof Error ? error.message : String(error);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${target.name} (port ${target.port}) did not become healthy: ${last}\n--- its output ---\n${target.output}`);
}

async function stop(target: HttpTarget) {
  const child = target.child;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(timer);
}

/** One request before any load: the route must answer 200 with a run whose queue and TTL are the resolver's. */
async function checkTarget(target: HttpTarget) {
  const url = `http://127.0.0.1:${target.port}${target.path}`;
  const response = await fetch(url, { method: "POST", headers: target.headers, body: TRIGGER_BODY });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`${target.name}: POST ${target.path} answered ${response.status}: ${text}`);
  const { id } = JSON.parse(text) as { id: string };
  if (target.name === "node:http + INSERT floor") return;
  const run = await fetch(`http://127.0.0.1:${target.port}/api/v1/runs/${id}`, { headers: target.headers });
  const view = (await run.json()) as { queue?: string; ttl?: string; taskKind?: string };
  if (view.queue !== BENCH_QUEUE || view.ttl !== "5m" || view.taskKind !== "SCHEDULED") {
    throw new Error(`${target.name}: the run was not resolved as expected: ${JSON.stringify(view)}`);
  }
}

async function load(target: HttpTarget, seconds: number) {
  return autocannon({
    url: `http://127.0.0.1:${target.port}${target.path}`,
    method: "POST",
    headers: target.headers,
    body: TRIGGER_BODY,
    connections: options.connections,
    duration: seconds,
  });
}

function formatLoadLine(name: string, width: number, r: { requestsPerSecond: number; p50Ms: number; p99Ms: number; non2xx: number }) {
  return [
    label(name, width),
    `req/s=${formatCount(r.requestsPerSecond)}`.padEnd(12),
    `p50=${r.p50Ms}ms`.padEnd(10),
    `p99=${r.p99Ms}ms`.padEnd(11),
    `non-2xx=${r.non2xx}`,
  ].join("  ");
}

async function run(serverUrl: string) {
  const buildIndex = path.join(projectRoot, "build", "index.js");
  if (!fs.existsSync(buildIndex)) throw new Error("build/index.js is missing: run `npm run bench:http` (it builds) or `npx remix build`");
  log(`database ${BENCH_DATABASE}: drop, create, prisma migrate deploy`);
  const databaseUrl = await recreateBenchDatabase(serverUrl);
  useBenchConfiguration(databaseUrl);
  const targets: HttpTarget[] = [];
  try {
    const stale = await deletePrefixedKeys();
    if (stale) log(`deleted ${stale} keys left under ${BENCH_PREFIX} by an earlier run`);
    const data = await seedBenchData();
    const machine = await machineInfo();
    const routeHeaders = { authorization: `Bearer ${data.apiKey}`, "content-type": "application/json" };
    const routePath = `/api/v1/tasks/${BENCH_TASK}/trigger`;
    const route = (name: TargetName, env: Record<string, string>): HttpTarget => ({
      name,
      script: "server.ts",
      args: [],
      env,
      path: routePath,
      headers: routeHeaders,
      port: 0,
      output: "",
    });
    targets.push({
      name: "node:http + INSERT floor",
      script: "scripts/bench/floorServer.ts",
      args: ["--environment", data.environment.id],
      env: {},
      path: "/trigger",
      headers: { "content-type": "application/json" },
      port: 0,
      output: "",
    });
    targets.push(route("route, warm cache", {}));
    // With an in-process tier the default route serves from it; this one shows the Redis tier alone.
    const hasL1 = inProcessTier() !== null;
    if (hasL1) targets.push(route("route, redis only (L1 off)", { TASK_META_CACHE_L1_ENABLED: "false" }));
    targets.push(route("route, no-op cache", { TASK_META_CACHE_DISABLED: "true" }));

    for (const target of targets) target.port = await freePort();
    log(`starting ${targets.length} servers: ${targets.map((t) => `${t.name} :${t.port}`).join(", ")}`);
    for (const target of targets) start(target, databaseUrl);
    await Promise.all(targets.map((t) => waitHealthy(t, 90_000)));
    for (const target of targets) await checkTarget(target);
    log(`warm-up: ${options.warmup} s of load per server`);
    for (const target of targets) await load(target, options.warmup);

    const loadBefore = os.loadavg();
    const results: LoadResult[] = [];
    for (let rep = 1; rep <= options.reps; rep++) {
      // One repetition of every server, then the next: a change of machine load lands on all alike.
      for (const target of targets) {
        const r = await load(target, options.duration);
        results.push({
          target: target.name,
          rep,
          requestsPerSecond: r.requests.total / r.duration,
          requests: r.requests.total,
          p50Ms: r.latency.p50,
          p99Ms: r.latency.p99,
          non2xx: r.non2xx,
          errors: r.errors,
          timeouts: r.timeouts,
          statusCodes: Object.fromEntries(Object.entries(r.statusCodeStats).map(([code, s]) => [code, s.count])),
        });
      }
      log(`repetition ${rep}/${options.reps} done (load ${formatLoad(os.loadavg())})`);
    }
    const loadAfter = os.loadavg();

    const width = Math.max(...targets.map((t) => t.name.length));
    console.log(`\nHotpath trigger route under load — ${options.reps} repetitions × ${options.duration} s, ${options.connections} connections; medians (range over repetitions)`);
    console.log(`machine   ${describeMachine(machine)}`);
    console.log(`load      1/5/15-min load average ${formatLoad(loadBefore)} at the start, ${formatLoad(loadAfter)} at the end`);
    console.log(`request   POST ${routePath}  ${TRIGGER_BODY}`);
    console.log(`servers   the route: server.ts (lean /api lane), NODE_ENV=production; the floor: scripts/bench/floorServer.ts`);
    const summaries = targets.map((t) => {
      const runs = results.filter((r) => r.target === t.name);
      const rps = spread(runs.map((r) => r.requestsPerSecond));
      return {
        target: t.name,
        requestsPerSecond: rps,
        p50Ms: spread(runs.map((r) => r.p50Ms)).median,
        p99Ms: spread(runs.map((r) => r.p99Ms)).median,
        non2xx: runs.reduce((sum, r) => sum + r.non2xx, 0),
        errors: runs.reduce((sum, r) => sum + r.errors + r.timeouts, 0),
      };
    });
    console.log("");
    for (const s of summaries) {
      console.log(
        `${formatLoadLine(s.target, width, { requestsPerSecond: s.requestsPerSecond.median, p50Ms: s.p50Ms, p99Ms: s.p99Ms, non2xx: s.non2xx })}  (req/s ${formatCountRange(s.requestsPerSecond)})`,
      );
    }

    const perRep = (name: TargetName) => results.filter((r) => r.target === name).sort((a, b) => a.rep - b.rep).map((r) => r.requestsPerSecond);
    const ratios: { name: string; ratio: Spread; target?: Target }[] = [
      { name: "route / floor, req/s", ratio: pairedRatio(perRep("route, warm cache"), perRep("node:http + INSERT floor")), target: { kind: "min", value: 0.6 } },
      { name: "warm / no-op, req/s", ratio: pairedRatio(perRep("route, warm cache"), perRep("route, no-op cache")) },
    ];
    if (hasL1) {
      ratios.push({ name: "redis only / floor, req/s", ratio: pairedRatio(perRep("route, redis only (L1 off)"), perRep("node:http + INSERT floor")) });
    }
    const ratioWidth = Math.max(...ratios.map((r) => r.name.length));
    console.log(`\nratios — median of the per-repetition ratios [min–max]`);
    for (const r of ratios) console.log(formatRatioLine(r.name, ratioWidth, r.ratio, r.target));
    const failures = summaries.filter((s) => s.non2xx || s.errors);
    for (const s of failures) console.log(`warning   ${s.target}: ${s.non2xx} non-2xx answers, ${s.errors} errors/timeouts`);

    const dir = path.join(projectRoot, "bench-results");
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `bench-http-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
    fs.writeFileSync(
      file,
      `${JSON.stringify(
        {
          kind: "http",
          finishedAt: new Date().toISOString(),
          options,
          machine,
          loadAverage: { start: loadBefore, end: loadAfter },
          request: { path: routePath, body: JSON.parse(TRIGGER_BODY) },
          summaries,
          ratios,
          results,
        },
        null,
        2,
      )}\n`,
    );
    console.log(`\nresults   ${path.relative(projectRoot, file)}`);
  } finally {
    await Promise.all(targets.map(stop));
    await disconnectTaskMetadataCache().catch(() => {});
    await disconnectApiKeyCache().catch(() => {});
    await deletePrefixedKeys().catch((error) => log(`could not delete the ${BENCH_PREFIX} keys: ${error.message}`));
    await disconnectRedis().catch(() => {});
    await disconnectDb().catch(() => {});
    if (flags["keep-db"]) log(`kept database ${BENCH_DATABASE} (--keep-db)`);
    else await dropBenchDatabase(serverUrl).catch((error) => log(`could not drop ${BENCH_DATABASE}: ${error.message}`));
  }
}

runBenchmark("bench:http", run);
