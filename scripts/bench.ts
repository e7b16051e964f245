/**
 * `npm run bench`: the queue resolver timed in-process against real Postgres and Redis, beside
 * the physical floor (one HGET + JSON.parse) and the Postgres-only baseline (the no-op cache).
 * Method, machine and a real run: docs/benchmarks.md.
 *
 *   npm run bench -- [--seq 500] [--par 2000] [--par-memory 20000] [--concurrency 50] [--reps 3] [--warmup 1000]
 *                    [--block 50] [--par-block 500] [--only <words>] [--configs all|headline] [--keep-db]
 *
 * --only keeps the scenarios whose name contains one of the comma-separated words
 * (`--only warm,floor`). It runs in a database of its own (hotpath_bench, dropped and re-created
 * at the start) and under the Redis prefix `bench:` (deleted before and after), so the
 * quickstart's data is never touched. Results go to bench-results/ as JSON.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { dbQueryCount, disconnectDb } from "~/db.server";
import { disconnectRedis } from "~/redis.server";
import { disconnectTaskMetadataCache, type ResolvedTask } from "~/services/taskMetadata/index.server";
import { QueueResolver } from "~/services/taskMetadata/resolver.server";
import { NoopTaskMetadataStore } from "~/services/taskMetadata/store.server";
import {
  BENCH_DATABASE,
  BENCH_PREFIX,
  BENCH_TASK,
  TASK_COUNT,
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
  type BenchData,
} from "./bench/environment";
import {
  CALLER_CONFIGS,
  HEADLINE,
  LABEL_WIDTH,
  SCENARIO_NAMES,
  buildScenarios,
  describeConfig,
  describeRequest,
  hitCounter,
  resolveInput,
  selectScenarios,
  type CallerConfig,
  type Scenario,
  type ScenarioName,
} from "./bench/scenarios";
import {
  formatCountRange,
  formatLatencyLine,
  formatMsRange,
  formatRatioLine,
  formatThroughputLine,
  medianLatency,
  medianThroughput,
  pairedRatio,
  spread,
  summarizeLatencies,
  summarizeThroughput,
  type LatencySummary,
  type Spread,
  type Target,
  type ThroughputSummary,
} from "./bench/stats";
import { timeParallel, timeSequential } from "./bench/timing";
import { positiveIntFlag } from "./bench/flags";

/** The libraries measured beside Hotpath (scripts/bench/peers.ts). */
const PEERS = ["bentocache", "cachified"] as const;

const USAGE = `usage: npm run bench -- [--seq N] [--par N] [--par-memory N] [--concurrency N] [--reps N] [--warmup N] [--block N] [--par-block N] [--only words] [--configs all|headline] [--keep-db]`;

const positiveInt = positiveIntFlag(USAGE);

const { values: flags } = parseArgs({
  options: {
    seq: { type: "string", default: "500" },
    par: { type: "string", default: "2000" },
    "par-memory": { type: "string", default: "20000" },
    concurrency: { type: "string", default: "50" },
    reps: { type: "string", default: "3" },
    warmup: { type: "string", default: "1000" },
    block: { type: "string", default: "50" },
    "par-block": { type: "string", default: "500" },
    only: { type: "string", multiple: true, default: [] },
    configs: { type: "string", default: "all" },
    "keep-db": { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
  strict: true,
});
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}
if (flags.configs !== "all" && flags.configs !== "headline") {
  console.error(`--configs must be all or headline\n${USAGE}`);
  process.exit(2);
}
const options = {
  seq: positiveInt("seq", flags.seq),
  par: positiveInt("par", flags.par),
  parMemory: positiveInt("par-memory", flags["par-memory"]),
  concurrency: positiveInt("concurrency", flags.concurrency),
  reps: positiveInt("reps", flags.reps),
  warmup: positiveInt("warmup", flags.warmup),
  block: positiveInt("block", flags.block),
  parBlock: positiveInt("par-block", flags["par-block"]),
  only: flags.only,
  configs: flags.configs,
};
const wanted = selectScenarios(SCENARIO_NAMES, options.only);
if (wanted.length === 0) {
  console.error(`--only ${options.only.join(",")} matches no scenario; scenarios: ${SCENARIO_NAMES.join(" | ")}`);
  process.exit(2);
}
const configs = options.configs === "all" ? CALLER_CONFIGS : [HEADLINE];

interface RunResult {
  scenario: ScenarioName;
  config: string;
  rep: number;
  sequential: LatencySummary;
  parallel: ThroughputSummary & { latency: LatencySummary };
  /** Postgres statements sent per call during the timed calls (back-fills send none). */
  pgQueriesPerCall: { sequential: number; parallel: number };
  /**
   * CPU time of this process per call (user + system), timed run only. Less sensitive to a busy
   * machine than wall time: it shows what the code costs even when other processes steal the cores.
   */
  cpuMicrosPerCall: { sequential: number; parallel: number };
  /** Timed resolves whose metadata came from somewhere other than the scenario's expectation. */
  unexpectedSources: number;
  /** Hits of the scenario's serving tier during the timed calls (at least one per call when it answered them all). */
  tierHits?: number;
}

/** How many parallel calls a scenario's repetition times. */
function parallelCalls(scenario: Scenario): number {
  return scenario.inMemory ? options.parMemory : options.par;
}

function cpuMicros(since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since);
  return used.user + used.system;
}

/**
 * One repetition of one caller configuration: every scenario's sequential and parallel runs.
 *
 * Both kinds of run are interleaved in blocks: sequential calls in blocks of `--block` (50),
 * parallel calls in blocks of `--par-block` (500, each at the full concurrency): block 1 of every
 * scenario, then block 2, …, so that each scenario samples the same moments of the machine. On
 * this kind of VM the latency of a lone round trip moves by a factor of two and more from one
 * second to the next (an idle vCPU wakes slowly), other processes come and go, and a fast
 * scenario's whole parallel run lasts 50–100 ms: one scenario's calls in a row followed by the
 * next one's measured that drift more than the code. Throughput is the calls over the summed wall
 * time of the blocks.
 */
async function measureConfig(scenarios: Scenario[], config: CallerConfig, rep: number): Promise<RunResult[]> {
  const state = scenarios.map((scenario) => {
    const counts = { unexpected: 0 };
    const call = scenario.call(config, (source) => {
      if (scenario.expectedSource && source !== scenario.expectedSource) counts.unexpected++;
    });
    return { scenario, call, counts, latencies: [] as number[], queries: 0, cpu: 0, hits: 0 };
  });
  const servedHits = (s: Scenario) => (s.servedBy ? hitCounter.count(s.servedBy) : 0);

  // Warm-up: pool connections, prepared statements and the JIT, both ways of calling. In a fresh
  // process the CPU per call of the floor and of the warm resolver alike settles only after a few
  // thousand calls, hence 1,000 + 1,000 by default.
  for (const s of state) {
    await timeSequential(options.warmup, s.call);
    await timeParallel(options.warmup, options.concurrency, s.call);
    await s.scenario.settle();
    s.counts.unexpected = 0;
  }

  for (let done = 0; done < options.seq; done += options.block) {
    const size = Math.min(options.block, options.seq - done);
    for (const s of state) {
      const queries = dbQueryCount();
      const hits = servedHits(s.scenario);
      const cpu = process.cpuUsage();
      s.latencies.push(...(await timeSequential(size, s.call)));
      s.cpu += cpuMicros(cpu);
      s.queries += dbQueryCount() - queries;
      s.hits += servedHits(s.scenario) - hits;
      await s.scenario.settle();
    }
  }

  // In-memory scenarios run --par-memory calls in as many blocks as the others run --par: a block
  // of 500 calls that never leave the process lasts 1–2 ms, too short to be more than the scheduler.
  const parallel = state.map(() => ({ totalMs: 0, latencies: [] as number[], queries: 0, cpu: 0 }));
  const blocks = Math.ceil(options.par / options.parBlock);
  for (let block = 0; block < blocks; block++) {
    for (const [i, s] of state.entries()) {
      const calls = parallelCalls(s.scenario);
      const size = Math.ceil(calls / blocks);
      if (size * block >= calls) continue;
      const queries = dbQueryCount();
      const hits = servedHits(s.scenario);
      const cpu = process.cpuUsage();
      const run = await timeParallel(Math.min(size, calls - size * block), options.concurrency, s.call);
      parallel[i].cpu += cpuMicros(cpu);
      parallel[i].totalMs += run.totalMs;
      parallel[i].latencies.push(...run.latencies);
      parallel[i].queries += dbQueryCount() - queries;
      s.hits += servedHits(s.scenario) - hits;
      await s.scenario.settle();
    }
  }

  const results: RunResult[] = [];
  for (const [i, s] of state.entries()) {
    const { totalMs, latencies, queries: parallelQueries, cpu: parallelCpu } = parallel[i];
    results.push({
      scenario: s.scenario.name,
      config: config.id,
      rep,
      sequential: summarizeLatencies(s.latencies),
      parallel: {
        ...summarizeThroughput(parallelCalls(s.scenario), options.concurrency, totalMs),
        latency: summarizeLatencies(latencies),
      },
      pgQueriesPerCall: { sequential: s.queries / options.seq, parallel: parallelQueries / parallelCalls(s.scenario) },
      cpuMicrosPerCall: { sequential: s.cpu / options.seq, parallel: parallelCpu / parallelCalls(s.scenario) },
      unexpectedSources: s.counts.unexpected,
      tierHits: s.scenario.servedBy ? s.hits : undefined,
    });
  }
  return results;
}

/** Every store must answer exactly what Postgres answers, for every configuration, before anything is timed. */
async function checkAgreement(scenarios: Scenario[], data: BenchData) {
  const truth = new QueueResolver({ cache: new NoopTaskMetadataStore(), scheduleBackfill: () => {} });
  const comparable = ({ source: _source, ...rest }: ResolvedTask) => JSON.stringify(rest);
  for (const config of configs) {
    const expected = comparable(await truth.resolve(resolveInput(config, data)));
    for (const scenario of scenarios) {
      if (!scenario.resolveOnce) continue;
      const actual = comparable(await scenario.resolveOnce(config));
      if (actual !== expected) {
        throw new Error(`${scenario.name} answers differently from Postgres for ${config.id}:\n  ${actual}\n  expected ${expected}`);
      }
    }
  }
  await Promise.all(scenarios.map((s) => s.settle()));
}

function formatQueries(perCall: number): string {
  return Number.isInteger(perCall) ? String(perCall) : perCall.toFixed(2);
}

interface Aggregate {
  sequential: LatencySummary;
  parallel: ThroughputSummary;
  p50: Spread;
  opsPerSecond: Spread;
  pgQueriesPerCall: number;
  maxPgQueriesPerCall: number;
  /** Median CPU microseconds per call in the parallel runs. */
  cpuMicrosPerCall: number;
  unexpectedSources: number;
}

function aggregate(runs: RunResult[]): Aggregate {
  const queries = runs.flatMap((r) => [r.pgQueriesPerCall.sequential, r.pgQueriesPerCall.parallel]);
  return {
    sequential: medianLatency(runs.map((r) => r.sequential)),
    parallel: medianThroughput(runs.map((r) => r.parallel)),
    p50: spread(runs.map((r) => r.sequential.p50)),
    opsPerSecond: spread(runs.map((r) => r.parallel.opsPerSecond)),
    pgQueriesPerCall: spread(runs.map((r) => r.pgQueriesPerCall.sequential)).median,
    maxPgQueriesPerCall: Math.max(...queries),
    cpuMicrosPerCall: spread(runs.map((r) => r.cpuMicrosPerCall.parallel)).median,
    unexpectedSources: runs.reduce((sum, r) => sum + r.unexpectedSources, 0),
  };
}

interface RatioResult {
  name: string;
  ratio: Spread;
  target?: Target;
}

async function run(serverUrl: string) {
  log(`database ${BENCH_DATABASE}: drop, create, prisma migrate deploy`);
  const databaseUrl = await recreateBenchDatabase(serverUrl);
  useBenchConfiguration(databaseUrl);
  const loadBefore = os.loadavg();
  let closeScenarios: (() => Promise<void>) | undefined;
  try {
    const stale = await deletePrefixedKeys();
    if (stale) log(`deleted ${stale} keys left under ${BENCH_PREFIX} by an earlier run`);
    const data = await seedBenchData();
    const machine = await machineInfo();
    const set = await buildScenarios(data, wanted);
    closeScenarios = set.close;
    await checkAgreement(set.scenarios, data);

    const width = LABEL_WIDTH;
    console.log(`\nHotpath resolver benchmark — ${options.reps} repetitions, medians (range over repetitions)`);
    console.log(`machine   ${describeMachine(machine)}`);
    console.log(`load      1/5/15-min load average ${formatLoad(loadBefore)} at the start`);
    console.log(`data      database ${BENCH_DATABASE}, Redis prefix ${BENCH_PREFIX}; one PRODUCTION environment, two workers × ${TASK_COUNT} tasks; task ${BENCH_TASK}`);
    console.log(
      `calls     ${options.seq} sequential and ${options.par} at concurrency ${options.concurrency} (${options.parMemory} for in-memory scenarios), interleaved across scenarios in blocks of ${options.block} and ${options.parBlock}, after ${options.warmup} + ${options.warmup} warm-up calls`,
    );
    console.log(`cold      reads go to keys nothing writes; back-fills run their real scripts against a sink environment's keys`);
    console.log(`          "cold" is a key that keeps missing (after its first back-fill: Postgres, Redis asked beside it 4×/s); "first miss" treats every call as a key's first`);
    for (const { name, reason } of set.skipped) console.log(`skipped   ${name}: ${reason}`);

    const runs: RunResult[] = [];
    for (let rep = 1; rep <= options.reps; rep++) {
      const started = Date.now();
      // One repetition of everything, then the next: a change of machine load lands on all scenarios alike.
      for (const config of configs) {
        const present = set.scenarios.filter((s) => s.perConfig || config === configs[0]);
        runs.push(...(await measureConfig(present, config, rep)));
      }
      log(`repetition ${rep}/${options.reps} done in ${((Date.now() - started) / 1000).toFixed(1)} s (load ${formatLoad(os.loadavg())})`);
    }
    const loadAfter = os.loadavg();

    const byKey = (scenario: ScenarioName, config: CallerConfig) =>
      runs.filter((r) => r.scenario === scenario && (r.config === config.id || (scenario === "raw HGET floor" && config === configs[0])));

    const aggregates: Record<string, Record<string, Aggregate>> = {};
    const warnings: string[] = [];
    for (const config of configs) {
      aggregates[config.id] = {};
      const present = set.scenarios.filter((s) => s.perConfig || config === configs[0]);
      console.log(`\n── ${describeConfig(config)}   ${describeRequest(config)}${config === HEADLINE ? "   (headline)" : ""}`);
      const rows = present.map((s) => ({ scenario: s, agg: aggregate(byKey(s.name, config)) }));
      for (const { scenario, agg } of rows) aggregates[config.id][scenario.name] = agg;
      console.log(`sequential, ${options.seq} calls`);
      for (const { scenario, agg } of rows) {
        console.log(`${formatLatencyLine(scenario.name, width, agg.sequential)}  pg/call=${formatQueries(agg.pgQueriesPerCall)}  (p50 ${formatMsRange(agg.p50)})`);
      }
      console.log(`parallel, ${options.par} calls at concurrency ${options.concurrency} (${options.parMemory} in memory)`);
      for (const { scenario, agg } of rows) {
        console.log(
          `${formatThroughputLine(scenario.name, width, agg.parallel)}  cpu/call=${agg.cpuMicrosPerCall.toFixed(1)}µs  (ops/s ${formatCountRange(agg.opsPerSecond)})`,
        );
      }
      for (const { scenario, agg } of rows) {
        const served = scenario.servedBy;
        if (served) {
          // Entries of the in-process tier expire (its TTL is the staleness bound): a few calls per
          // run are answered by Redis while it refills. Only a tier that mostly did not answer is a problem.
          const calls = (options.seq + parallelCalls(scenario)) * options.reps;
          const hits = byKey(scenario.name, config).reduce((sum, r) => sum + (r.tierHits ?? 0), 0);
          const share = Math.min(1, hits / calls);
          console.log(`${" ".repeat(width + 4)}the ${served} tier answered ${(share * 100).toFixed(1)}% of the timed calls`);
          if (share < 0.9) warnings.push(`${scenario.name}, ${config.id}: the ${served} tier answered only ${(share * 100).toFixed(1)}% of the timed calls`);
        }
        if (agg.unexpectedSources > 0) {
          warnings.push(`${scenario.name}, ${config.id}: ${agg.unexpectedSources} timed calls did not come from ${scenario.expectedSource} (Redis slow or breaker open?)`);
        }
      }
    }

    const perRep = (scenario: ScenarioName, config: CallerConfig, pick: (r: RunResult) => number) => {
      const values = byKey(scenario, config).sort((a, b) => a.rep - b.rep).map(pick);
      return values.length === options.reps ? values : null;
    };
    const ratio = (
      name: string,
      top: [ScenarioName, (r: RunResult) => number],
      bottom: [ScenarioName, (r: RunResult) => number],
      target?: Target,
      config: CallerConfig = HEADLINE,
    ): RatioResult | null => {
      const a = perRep(top[0], config, top[1]);
      const b = perRep(bottom[0], config, bottom[1]);
      return a && b ? { name, ratio: pairedRatio(a, b), target } : null;
    };
    const p50 = (r: RunResult) => r.sequential.p50;
    const mean = (r: RunResult) => r.sequential.mean;
    const ops = (r: RunResult) => r.parallel.opsPerSecond;
    const ratios = [
      ratio("baseline / warm, sequential p50", ["noop cache (baseline)", p50], ["redis cache, warm", p50]),
      ratio("warm / baseline, parallel ops/s", ["redis cache, warm", ops], ["noop cache (baseline)", ops]),
      ratio("warm / floor, sequential p50", ["redis cache, warm", p50], ["raw HGET floor", p50], { kind: "max", value: 1.25 }),
      ratio("warm / floor, parallel ops/s", ["redis cache, warm", ops], ["raw HGET floor", ops], { kind: "min", value: 0.8 }),
      ratio("cold / baseline, sequential mean", ["redis cache, cold", mean], ["noop cache (baseline)", mean], { kind: "max", value: 1.1 }),
      ratio("first miss / baseline, sequential mean", ["redis cache, first miss", mean], ["noop cache (baseline)", mean]),
      ratio("baseline / l1, sequential p50", ["noop cache (baseline)", p50], ["l1 cache, warm", p50], { kind: "min", value: 200 }),
      ratio("l1 / floor, sequential p50", ["l1 cache, warm", p50], ["raw HGET floor", p50]),
    ].filter((r): r is RatioResult => r !== null);
    const peerRatios = PEERS.flatMap((peer) => [
      ratio(`l1 / ${peer} warm, sequential p50`, ["l1 cache, warm", p50], [`${peer}, warm`, p50]),
      ratio(`l1 / ${peer} warm, parallel ops/s`, ["l1 cache, warm", ops], [`${peer}, warm`, ops], { kind: "min", value: 2 }),
      ratio(`redis warm / ${peer} redis only, sequential p50`, ["redis cache, warm", p50], [`${peer}, redis only`, p50]),
      ratio(`redis warm / ${peer} redis only, parallel ops/s`, ["redis cache, warm", ops], [`${peer}, redis only`, ops], { kind: "min", value: 1.2 }),
      ratio(`cold / ${peer} cold, sequential mean`, ["redis cache, cold", mean], [`${peer}, cold`, mean], { kind: "max", value: 1 }),
      ratio(`first miss / ${peer} cold, sequential mean`, ["redis cache, first miss", mean], [`${peer}, cold`, mean]),
    ]).filter((r): r is RatioResult => r !== null);
    // The floor is measured once (it does not depend on the request): each configuration's warm p50 against it, same repetition.
    const floorP50 = perRep("raw HGET floor", HEADLINE, p50);
    const warmFloor = (c: CallerConfig): RatioResult | null => {
      const warm = perRep("redis cache, warm", c, p50);
      return warm && floorP50 ? { name: `warm / floor p50, ${c.id}`, ratio: pairedRatio(warm, floorP50), target: { kind: "max", value: 1.25 } } : null;
    };
    const perConfigRatios = configs
      .filter((c) => c !== HEADLINE)
      .flatMap((c) => [ratio(`baseline / warm p50, ${c.id}`, ["noop cache (baseline)", p50], ["redis cache, warm", p50], undefined, c), warmFloor(c)])
      .filter((r): r is RatioResult => r !== null);

    const ratioWidth = Math.max(...[...ratios, ...peerRatios, ...perConfigRatios].map((r) => r.name.length), 10);
    if (ratios.length) {
      console.log(`\nratios, headline configuration — median of the per-repetition ratios [min–max]`);
      for (const r of ratios) console.log(formatRatioLine(r.name, ratioWidth, r.ratio, r.target));
    }
    if (peerRatios.length) {
      console.log(`\nHotpath / peers, headline configuration — median of the per-repetition ratios [min–max]`);
      for (const r of peerRatios) console.log(formatRatioLine(r.name, ratioWidth, r.ratio, r.target));
    }
    if (perConfigRatios.length) {
      console.log(`\nbaseline / warm and warm / floor, other configurations`);
      for (const r of perConfigRatios) console.log(formatRatioLine(r.name, ratioWidth, r.ratio, r.target));
    }
    const warmScenarios = (["redis cache, warm", "l1 cache, warm"] as const).filter((name) => set.scenarios.some((s) => s.name === name));
    const warmQueries = warmScenarios.flatMap((name) => configs.map((c) => ({ name, config: c.id, max: aggregates[c.id][name].maxPgQueriesPerCall })));
    if (warmQueries.length) {
      const worst = Math.max(...warmQueries.map((q) => q.max));
      console.log(
        `\npostgres queries per warm call, every configuration (${warmQueries.length} runs × ${options.reps}): max ${formatQueries(worst)}   target 0  ${worst === 0 ? "met" : "MISSED"}`,
      );
    }
    console.log(`load      ${formatLoad(loadAfter)} at the end`);
    for (const w of warnings) console.log(`warning   ${w}`);

    const dir = path.join(projectRoot, "bench-results");
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `bench-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
    fs.writeFileSync(
      file,
      `${JSON.stringify(
        {
          kind: "resolver",
          finishedAt: new Date().toISOString(),
          options,
          machine,
          loadAverage: { start: loadBefore, end: loadAfter },
          configs: configs.map((c) => ({ ...c, request: describeRequest(c) })),
          skipped: set.skipped,
          aggregates,
          ratios,
          peerRatios,
          perConfigRatios,
          warnings,
          runs,
        },
        null,
        2,
      )}\n`,
    );
    console.log(`\nresults   ${path.relative(projectRoot, file)}`);
  } finally {
    await closeScenarios?.().catch(() => {});
    await disconnectTaskMetadataCache().catch(() => {});
    await deletePrefixedKeys().catch((error) => log(`could not delete the ${BENCH_PREFIX} keys: ${error.message}`));
    await disconnectRedis().catch(() => {});
    await disconnectDb().catch(() => {});
    if (flags["keep-db"]) log(`kept database ${BENCH_DATABASE} (--keep-db)`);
    else await dropBenchDatabase(serverUrl).catch((error) => log(`could not drop ${BENCH_DATABASE}: ${error.message}`));
  }
}

runBenchmark("bench", run);
