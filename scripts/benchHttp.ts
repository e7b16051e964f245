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
 *
 * Every load is measured twice: on an otherwise idle Postgres, then with a concurrent write load
 * on it (scripts/bench/writeLoad.ts). For each load: req/s and latency, the Postgres statements the
 * server sent and the CPU time of the Postgres backends serving it, per 1,000 triggers
 * (scripts/bench/postgresCost.ts).
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
import { backendTicks, cpuBetween, statementsSent, withApplicationName } from "./bench/postgresCost";
import { inProcessTier } from "./bench/scenarios";
import { formatCount, formatCountRange, formatRatioLine, label, pairedRatio, spread, type Spread, type Target } from "./bench/stats";
import { positiveIntFlag } from "./bench/flags";
import { cpuDelta, treeCpuMs } from "./bench/processCpu";
import { startOtlpSink, tracingVariables, type OtlpSink } from "./bench/tracingTargets";

const USAGE =
  "usage: npm run bench:http -- [--duration seconds] [--connections N] [--reps N] [--warmup seconds] [--write-load N] [--keep-db] [--tracing [--before DIR]] [--profile DIR]";

const positiveInt = positiveIntFlag(USAGE);

const { values: flags } = parseArgs({
  options: {
    duration: { type: "string", default: "10" },
    connections: { type: "string", default: "50" },
    reps: { type: "string", default: "3" },
    warmup: { type: "string", default: "3" },
    "write-load": { type: "string", default: "4" },
    "keep-db": { type: "boolean", default: false },
    tracing: { type: "boolean", default: false },
    before: { type: "string" },
    profile: { type: "string" },
    workers: { type: "boolean", default: false },
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
  writeLoad: positiveInt("write-load", flags["write-load"]),
};

const METRICS_TOKEN = "bench-http-metrics-token";
const PHASES = ["idle Postgres", "Postgres under write load"] as const;
type Phase = (typeof PHASES)[number];

const TRIGGER_BODY = JSON.stringify({
  payload: { orderId: 1234, customer: "bench", items: [{ sku: "A-1", quantity: 2 }] },
  options: { queue: BENCH_QUEUE, ttl: "5m" },
});

type TargetName =
  | "node:http + INSERT floor"
  | "route, warm cache"
  | "route, redis only (L1 off)"
  | "route, no-op cache"
  | "route, before tracing"
  | "route, tracing off"
  | "route, tracing 0.01"
  | "route, tracing 1.0"
  | "route, 1 worker"
  | "route, every core";

interface HttpTarget {
  name: TargetName;
  /** The server's Postgres `application_name`: how its backends are found. */
  applicationName: string;
  script: string;
  /** Where the server runs (the project, or a `--before` checkout). */
  cwd?: string;
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
  phase: Phase;
  rep: number;
  /** Statements the server sent and CPU ms of its Postgres backends, per 1,000 triggers it served; CPU null when /proc cannot see Postgres. */
  statementsPer1k: number;
  postgresCpuMsPer1k: number | null;
  vanishedBackends: number;
  /** CPU ms per 1,000 triggers of the server's processes (a cluster's primary and each worker, summed) and of this load generator; null without /proc. */
  serverCpuMsPer1k: number | null;
  serverProcesses: number;
  loadGeneratorCpuMsPer1k: number;
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
  // --profile DIR: each server writes a CPU profile into DIR/<application name> when it exits.
  const profile = flags.profile ? ["--cpu-prof", `--cpu-prof-dir=${path.resolve(flags.profile, target.applicationName)}`] : [];
  const child = spawn(process.execPath, ["--import", "tsx", ...profile, target.script, ...args], {
    cwd: target.cwd ?? projectRoot,
    env: {
      ...process.env,
      ...benchVariables(databaseUrl),
      DATABASE_URL: withApplicationName(databaseUrl, target.applicationName),
      PORT: String(target.port),
      ...target.env,
    },
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

const IN_FLIGHT_SETTLE_MS = 300;

/** One timed load of one server, with what it cost Postgres. */
async function measuredLoad(target: HttpTarget, phase: Phase, rep: number): Promise<LoadResult> {
  const base = `http://127.0.0.1:${target.port}`;
  const kind = target.name === "node:http + INSERT floor" ? "floor" : "route";
  const statementsBefore = await statementsSent(base, kind, METRICS_TOKEN);
  const ticksBefore = await backendTicks(target.applicationName);
  const serverBefore = target.child?.pid ? treeCpuMs(target.child.pid) : null;
  const generatorBefore = process.cpuUsage();
  const r = await load(target, options.duration);
  // The requests still in flight when autocannon stopped counting finish on the server: let them
  // land, and count them (requests sent, not answers received, is what the server served).
  await new Promise((resolve) => setTimeout(resolve, IN_FLIGHT_SETTLE_MS));
  const ticksAfter = await backendTicks(target.applicationName);
  const statements = (await statementsSent(base, kind, METRICS_TOKEN)) - statementsBefore;
  const cpu = ticksBefore && ticksAfter ? cpuBetween(ticksBefore, ticksAfter) : null;
  const generator = process.cpuUsage(generatorBefore);
  const server = cpuDelta(serverBefore, target.child?.pid ? treeCpuMs(target.child.pid) : null);
  const answered = Math.max(1, r.requests.sent - r.non2xx - r.errors - r.timeouts);
  return {
    target: target.name,
    phase,
    rep,
    requestsPerSecond: r.requests.total / r.duration,
    requests: r.requests.total,
    p50Ms: r.latency.p50,
    p99Ms: r.latency.p99,
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    statusCodes: Object.fromEntries(Object.entries(r.statusCodeStats).map(([code, s]) => [code, s.count])),
    statementsPer1k: (statements * 1000) / answered,
    postgresCpuMsPer1k: cpu ? (cpu.ms * 1000) / answered : null,
    vanishedBackends: cpu?.vanished ?? 0,
    serverCpuMsPer1k: server ? ([...server.values()].reduce((a, b) => a + b, 0) * 1000) / answered : null,
    serverProcesses: server?.size ?? 0,
    loadGeneratorCpuMsPer1k: ((generator.user + generator.system) / 1000) * (1000 / answered),
  };
}

/** The concurrent write load of the second phase, as a child process; resolves to its statement count once stopped. */
function startWriteLoad(databaseUrl: string) {
  const child = spawn(process.execPath, ["--import", "tsx", "scripts/bench/writeLoad.ts", "--connections", String(options.writeLoad)], {
    cwd: projectRoot,
    env: { ...process.env, ...benchVariables(databaseUrl) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d: Buffer) => (out += d));
  child.stderr!.on("data", (d: Buffer) => (out += d));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    stop: async (): Promise<number | null> => {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
      const match = /\{"statements":(\d+)\}/.exec(out);
      if (!match) log(`write load ended without its count:\n${out.slice(-2_000)}`);
      return match ? Number(match[1]) : null;
    },
  };
}

/** `--tracing`: the route with tracing off, at 1 % and at 100 % (and the `--before` checkout), nothing else. */
function tracingTargets(data: Awaited<ReturnType<typeof seedBenchData>>, sink: OtlpSink): HttpTarget[] {
  const route = (name: TargetName, applicationName: string, env: Record<string, string>, cwd?: string): HttpTarget => ({
    name,
    applicationName,
    script: "server.ts",
    cwd,
    args: [],
    env: { METRICS_TOKEN, ...env },
    path: ROUTE_PATH,
    headers: { authorization: `Bearer ${data.apiKey}`, "content-type": "application/json" },
    port: 0,
    output: "",
  });
  return [
    ...(flags.before ? [route("route, before tracing", "hotpath-bench-route-before", {}, path.resolve(flags.before))] : []),
    route("route, tracing off", "hotpath-bench-route-off", {}),
    route("route, tracing 0.01", "hotpath-bench-route-t001", tracingVariables(sink.url, 0.01)),
    route("route, tracing 1.0", "hotpath-bench-route-t1", tracingVariables(sink.url, 1)),
  ];
}

function tracingRatios(results: LoadResult[]): Ratio[] {
  const perRep = (name: TargetName, phase: Phase) =>
    results.filter((r) => r.target === name && r.phase === phase).sort((a, b) => a.rep - b.rep).map((r) => r.requestsPerSecond);
  return PHASES.flatMap((phase) => {
    const suffix = phase === PHASES[0] ? "" : `, ${phase}`;
    const base: TargetName = flags.before ? "route, before tracing" : "route, tracing off";
    const ratios: Ratio[] = [
      { name: `tracing 0.01 / ${base.slice(7)}, req/s${suffix}`, ratio: pairedRatio(perRep("route, tracing 0.01", phase), perRep(base, phase)) },
      { name: `tracing 1.0 / ${base.slice(7)}, req/s${suffix}`, ratio: pairedRatio(perRep("route, tracing 1.0", phase), perRep(base, phase)), target: { kind: "min", value: 0.85 } },
    ];
    if (flags.before) {
      ratios.unshift({ name: `tracing off / before, req/s${suffix}`, ratio: pairedRatio(perRep("route, tracing off", phase), perRep(base, phase)), target: { kind: "min", value: 0.98 } });
    }
    return ratios;
  });
}

/** `--workers`: the route as one process (WEB_CONCURRENCY=1) and as one worker per core. */
function workerTargets(data: Awaited<ReturnType<typeof seedBenchData>>): HttpTarget[] {
  const route = (name: TargetName, applicationName: string, workers: number): HttpTarget => ({
    name,
    applicationName,
    script: "server.ts",
    args: [],
    env: { METRICS_TOKEN, WEB_CONCURRENCY: String(workers), NODE_ENV: "production" },
    path: ROUTE_PATH,
    headers: { authorization: `Bearer ${data.apiKey}`, "content-type": "application/json" },
    port: 0,
    output: "",
  });
  return [route("route, 1 worker", "hotpath-bench-route-w1", 1), route("route, every core", "hotpath-bench-route-wn", os.availableParallelism())];
}

function workerRatios(results: LoadResult[]): Ratio[] {
  const perRep = (name: TargetName, phase: Phase) =>
    results.filter((r) => r.target === name && r.phase === phase).sort((a, b) => a.rep - b.rep).map((r) => r.requestsPerSecond);
  return PHASES.map((phase) => ({
    name: `every core (${os.availableParallelism()}) / 1 worker, req/s${phase === PHASES[0] ? "" : `, ${phase}`}`,
    ratio: pairedRatio(perRep("route, every core", phase), perRep("route, 1 worker", phase)),
    target: { kind: "min", value: 1.25 },
  }));
}

/** Where the CPU went, per 1,000 triggers (medians): the server's processes, its Postgres backends, the load generator. */
function printCpu(results: LoadResult[]) {
  console.log(`
cpu per 1,000 triggers (medians): server processes / postgres backends / load generator (autocannon, this process)`);
  for (const phase of PHASES) {
    for (const name of ["route, 1 worker", "route, every core"] as const) {
      const runs = results.filter((r) => r.target === name && r.phase === phase);
      const median = (values: (number | null)[]) => (values.every((v) => v !== null) ? spread(values as number[]).median.toFixed(0) : "n/a");
      console.log(
        `${label(`${name}, ${phase}`, 50)}  server=${median(runs.map((r) => r.serverCpuMsPer1k))}ms (${runs[0]?.serverProcesses ?? 0} processes)  postgres=${median(runs.map((r) => r.postgresCpuMsPer1k))}ms  generator=${median(runs.map((r) => r.loadGeneratorCpuMsPer1k))}ms`,
      );
    }
  }
}

function buildTargets(data: Awaited<ReturnType<typeof seedBenchData>>): { targets: HttpTarget[]; hasL1: boolean } {
  const routeHeaders = { authorization: `Bearer ${data.apiKey}`, "content-type": "application/json" };
  const route = (name: TargetName, applicationName: string, env: Record<string, string>): HttpTarget => ({
    name,
    applicationName,
    script: "server.ts",
    args: [],
    env: { METRICS_TOKEN, ...env },
    path: ROUTE_PATH,
    headers: routeHeaders,
    port: 0,
    output: "",
  });
  const targets: HttpTarget[] = [
    {
      name: "node:http + INSERT floor",
      applicationName: "hotpath-bench-floor",
      script: "scripts/bench/floorServer.ts",
      args: ["--environment", data.environment.id],
      env: {},
      path: "/trigger",
      headers: { "content-type": "application/json" },
      port: 0,
      output: "",
    },
    route("route, warm cache", "hotpath-bench-route-warm", {}),
  ];
  // With the in-process tiers the default route serves from them; this one shows the Redis tiers alone.
  const hasL1 = inProcessTier() !== null;
  if (hasL1) {
    targets.push(route("route, redis only (L1 off)", "hotpath-bench-route-redis", { TASK_META_CACHE_L1_ENABLED: "false", API_KEY_CACHE_L1_ENABLED: "false" }));
  }
  targets.push(route("route, no-op cache", "hotpath-bench-route-noop", { TASK_META_CACHE_DISABLED: "true" }));
  return { targets, hasL1 };
}

interface Summary {
  target: TargetName;
  phase: Phase;
  requestsPerSecond: Spread;
  p50Ms: number;
  p99Ms: number;
  non2xx: number;
  errors: number;
  statementsPer1k: number;
  postgresCpuMsPer1k: Spread | null;
}

function summarize(results: LoadResult[], targets: HttpTarget[]): Summary[] {
  return PHASES.flatMap((phase) =>
    targets.map((t) => {
      const runs = results.filter((r) => r.target === t.name && r.phase === phase);
      const cpu = runs.map((r) => r.postgresCpuMsPer1k);
      return {
        target: t.name,
        phase,
        requestsPerSecond: spread(runs.map((r) => r.requestsPerSecond)),
        p50Ms: spread(runs.map((r) => r.p50Ms)).median,
        p99Ms: spread(runs.map((r) => r.p99Ms)).median,
        non2xx: runs.reduce((sum, r) => sum + r.non2xx, 0),
        errors: runs.reduce((sum, r) => sum + r.errors + r.timeouts, 0),
        statementsPer1k: spread(runs.map((r) => r.statementsPer1k)).median,
        postgresCpuMsPer1k: cpu.every((c) => c !== null) ? spread(cpu as number[]) : null,
      };
    }),
  );
}

function printSummaries(summaries: Summary[], width: number) {
  for (const phase of PHASES) {
    console.log(`\n${phase}`);
    for (const s of summaries.filter((x) => x.phase === phase)) {
      const cpu = s.postgresCpuMsPer1k ? `pg cpu/1k=${s.postgresCpuMsPer1k.median.toFixed(0)}ms (${s.postgresCpuMsPer1k.min.toFixed(0)}–${s.postgresCpuMsPer1k.max.toFixed(0)})` : "pg cpu/1k=n/a";
      console.log(
        `${formatLoadLine(s.target, width, { requestsPerSecond: s.requestsPerSecond.median, p50Ms: s.p50Ms, p99Ms: s.p99Ms, non2xx: s.non2xx })}  statements/1k=${s.statementsPer1k.toFixed(0)}  ${cpu}  (req/s ${formatCountRange(s.requestsPerSecond)})`,
      );
    }
  }
}

type Ratio = { name: string; ratio: Spread; target?: Target };

function ratiosOf(results: LoadResult[], hasL1: boolean): Ratio[] {
  const runsOf = (name: TargetName, phase: Phase) =>
    results.filter((r) => r.target === name && r.phase === phase).sort((a, b) => a.rep - b.rep);
  const perRep = (name: TargetName, phase: Phase) => runsOf(name, phase).map((r) => r.requestsPerSecond);
  const ratios: Ratio[] = [];
  for (const phase of PHASES) {
    const suffix = phase === PHASES[0] ? "" : `, ${phase}`;
    ratios.push(
      { name: `route / floor, req/s${suffix}`, ratio: pairedRatio(perRep("route, warm cache", phase), perRep("node:http + INSERT floor", phase)), target: { kind: "min", value: 0.9 } },
      { name: `warm / no-op, req/s${suffix}`, ratio: pairedRatio(perRep("route, warm cache", phase), perRep("route, no-op cache", phase)) },
    );
    const cpuWarm = runsOf("route, warm cache", phase).map((r) => r.postgresCpuMsPer1k);
    const cpuNoop = runsOf("route, no-op cache", phase).map((r) => r.postgresCpuMsPer1k);
    if (cpuWarm.every((c) => c !== null) && cpuNoop.every((c) => c !== null)) {
      ratios.push({ name: `no-op / warm, pg cpu per trigger${suffix}`, ratio: pairedRatio(cpuNoop as number[], cpuWarm as number[]) });
    }
    if (hasL1) {
      ratios.push({ name: `redis only / floor, req/s${suffix}`, ratio: pairedRatio(perRep("route, redis only (L1 off)", phase), perRep("node:http + INSERT floor", phase)) });
    }
  }
  return ratios;
}

const ROUTE_PATH = `/api/v1/tasks/${BENCH_TASK}/trigger`;

async function run(serverUrl: string) {
  const buildIndex = path.join(projectRoot, "build", "index.js");
  if (!fs.existsSync(buildIndex)) throw new Error("build/index.js is missing: run `npm run bench:http` (it builds) or `npx remix build`");
  log(`database ${BENCH_DATABASE}: drop, create, prisma migrate deploy`);
  const databaseUrl = await recreateBenchDatabase(serverUrl);
  useBenchConfiguration(databaseUrl);
  let targets: HttpTarget[] = [];
  let writeLoad: ReturnType<typeof startWriteLoad> | undefined;
  const sink = flags.tracing ? await startOtlpSink() : undefined;
  try {
    const stale = await deletePrefixedKeys();
    if (stale) log(`deleted ${stale} keys left under ${BENCH_PREFIX} by an earlier run`);
    const data = await seedBenchData();
    const machine = await machineInfo();
    const built = sink ? { targets: tracingTargets(data, sink), hasL1: false } : flags.workers ? { targets: workerTargets(data), hasL1: false } : buildTargets(data);
    targets = built.targets;

    for (const target of targets) target.port = await freePort();
    log(`starting ${targets.length} servers: ${targets.map((t) => `${t.name} :${t.port}`).join(", ")}`);
    for (const target of targets) start(target, databaseUrl);
    await Promise.all(targets.map((t) => waitHealthy(t, 90_000)));
    for (const target of targets) await checkTarget(target);

    const loadBefore = os.loadavg();
    const results: LoadResult[] = [];
    let writeLoadStatements: number | null = null;
    for (const phase of PHASES) {
      if (phase === "Postgres under write load") {
        writeLoad = startWriteLoad(databaseUrl);
        log(`write load: ${options.writeLoad} connections inserting into bench_write_load`);
      }
      log(`${phase}: warm-up, ${options.warmup} s of load per server`);
      for (const target of targets) await load(target, options.warmup);
      for (let rep = 1; rep <= options.reps; rep++) {
        // One repetition of every server, then the next: a change of machine load lands on all alike.
        for (const target of targets) results.push(await measuredLoad(target, phase, rep));
        log(`${phase}: repetition ${rep}/${options.reps} done (load ${formatLoad(os.loadavg())})`);
      }
      if (writeLoad) {
        writeLoadStatements = await writeLoad.stop();
        writeLoad = undefined;
      }
    }
    const loadAfter = os.loadavg();

    const width = Math.max(...targets.map((t) => t.name.length));
    console.log(`\nHotpath trigger route under load — ${options.reps} repetitions × ${options.duration} s, ${options.connections} connections; medians (range over repetitions)`);
    console.log(`machine   ${describeMachine(machine)}`);
    console.log(`load      1/5/15-min load average ${formatLoad(loadBefore)} at the start, ${formatLoad(loadAfter)} at the end`);
    console.log(`request   POST ${ROUTE_PATH}  ${TRIGGER_BODY}`);
    console.log(`servers   the route: server.ts (lean /api lane), NODE_ENV=production; the floor: scripts/bench/floorServer.ts`);
    console.log(`postgres  statements: each server's own count; cpu: /proc of the backends with the server's application_name; per 1,000 triggers served (requests sent, in-flight ones included)`);
    console.log(
      `write     ${options.writeLoad} connections of 20-row INSERTs (1 kB rows) during the second phase${writeLoadStatements === null ? "" : `: ${formatCount(writeLoadStatements)} statements`}`,
    );
    const summaries = summarize(results, targets);
    printSummaries(summaries, width);

    const ratios = sink ? tracingRatios(results) : flags.workers ? workerRatios(results) : ratiosOf(results, built.hasL1);
    if (flags.workers) printCpu(results);
    if (sink) console.log(`\notlp sink  ${sink.stats().requests} export requests, ${formatCount(sink.stats().bytes / 1024)} kB`);
    const ratioWidth = Math.max(...ratios.map((r) => r.name.length));
    console.log(`\nratios — median of the per-repetition ratios [min–max]`);
    for (const r of ratios) console.log(formatRatioLine(r.name, ratioWidth, r.ratio, r.target));
    for (const s of summaries.filter((x) => x.non2xx || x.errors)) {
      console.log(`warning   ${s.target}, ${s.phase}: ${s.non2xx} non-2xx answers, ${s.errors} errors/timeouts`);
    }
    const vanished = results.reduce((sum, r) => sum + r.vanishedBackends, 0);
    if (vanished) console.log(`note      ${vanished} backends ended inside a timed load; their last CPU share is not counted`);

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
          request: { path: ROUTE_PATH, body: JSON.parse(TRIGGER_BODY) },
          writeLoadStatements,
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
    await writeLoad?.stop().catch(() => null);
    await sink?.close();
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
