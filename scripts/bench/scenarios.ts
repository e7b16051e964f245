import { InProcessTaskMetadataStore } from "~/services/taskMetadata/inProcessStore.server";
import { type ResolvedTask, type ResolveInput, setCacheEventSink, taskMetadataCache, type TaskMetadataStore } from "~/services/taskMetadata/index.server";
import { cacheEvents, createCacheRedisClient } from "~/services/taskMetadata/instance.server";
import { RedisTaskMetadataStore } from "~/services/taskMetadata/redisStore.server";
import { QueueResolver, type QueueResolverDeps } from "~/services/taskMetadata/resolver.server";
import { NoopTaskMetadataStore } from "~/services/taskMetadata/store.server";
import type { CacheEvent, CacheEventSink, Keyspace } from "~/domain/cacheEvents";
import { CircuitBreaker } from "~/domain/circuitBreaker";
import { getEnv } from "~/env.server";
import type { RedisClient } from "~/redis.server";
import { environmentKeys } from "~/domain/cacheKeys";
import { ColdTaskMetadataCache } from "./coldCache";
import { bentocachePeer, cachifiedPeer, peerKey, type Peer, type PeerAnswer } from "./peers";
import { BENCH_QUEUE, BENCH_TASK, LOCKED_VERSION, PINNED_EXTERNAL_ID, type BenchData } from "./environment";
import { BackfillTracker } from "./timing";

/**
 * What `npm run bench` times: the scenarios (which store sits behind the resolver) and the caller
 * configurations (which branch of the resolver a trigger takes).
 */

export const SCENARIO_NAMES = [
  "raw HGET floor",
  "noop cache (baseline)",
  "redis cache, cold",
  "redis cache, first miss",
  "redis cache, warm",
  "l1 cache, warm",
  "bentocache, cold",
  "bentocache, redis only",
  "bentocache, warm",
  "cachified, cold",
  "cachified, redis only",
  "cachified, warm",
] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

/** Width of the bracketed label: the longest scenario name. */
export const LABEL_WIDTH = Math.max(...SCENARIO_NAMES.map((n) => n.length));

export interface CallerConfig {
  /** Stable id used in the JSON results. */
  id: string;
  locked: boolean;
  /** Pinned to the locked worker's external deployment id instead of its version (issue 20). */
  pinned?: boolean;
  queueOverride: boolean;
  ttl: boolean;
}

/**
 * The headline first: `{ taskId, queue: "bench-queue", ttl: "5m" }`; then the other seven; then
 * the four pinned ones (`externalDeploymentId`), which reach the locked worker by its external id.
 */
export const CALLER_CONFIGS: CallerConfig[] = (["unlocked", "locked", "pinned"] as const).flatMap((kind) =>
  [true, false].flatMap((queueOverride) =>
    [true, false].map((ttl) => ({
      id: `${kind}-${queueOverride ? "queue" : "no-queue"}-${ttl ? "ttl" : "no-ttl"}`,
      locked: kind === "locked",
      ...(kind === "pinned" ? { pinned: true } : {}),
      queueOverride,
      ttl,
    })),
  ),
);
export const HEADLINE = CALLER_CONFIGS[0];

export function describeConfig(config: CallerConfig): string {
  return [
    config.locked ? `locked to ${LOCKED_VERSION}` : config.pinned ? `pinned to ${PINNED_EXTERNAL_ID}` : "not locked",
    config.queueOverride ? "queue override" : "no queue override",
    config.ttl ? "ttl" : "no ttl",
  ].join(" · ");
}

/** The request shape, as a caller would write it. */
export function describeRequest(config: CallerConfig): string {
  const fields = ["taskId"];
  if (config.queueOverride) fields.push(`queue: "${BENCH_QUEUE}"`);
  if (config.ttl) fields.push(`ttl: "5m"`);
  if (config.locked) fields.push(`lockToVersion: "${LOCKED_VERSION}"`);
  if (config.pinned) fields.push(`externalDeploymentId: "${PINNED_EXTERNAL_ID}"`);
  return `{ ${fields.join(", ")} }`;
}

export function resolveInput(config: CallerConfig, data: BenchData): ResolveInput {
  return {
    environment: data.environment,
    taskSlug: BENCH_TASK,
    queue: config.queueOverride ? BENCH_QUEUE : undefined,
    ttl: config.ttl ? "5m" : undefined,
    lockToVersion: config.locked ? LOCKED_VERSION : undefined,
    externalDeploymentId: config.pinned ? PINNED_EXTERNAL_ID : undefined,
  };
}

/**
 * `--only "redis cache, warm"` (a whole name, commas and all) or `--only warm,floor` (scenarios
 * whose name contains any of the comma-separated words); case-insensitive; all when none given.
 */
export function selectScenarios(names: readonly ScenarioName[], only: readonly string[]): ScenarioName[] {
  if (only.length === 0) return [...names];
  const exact = new Set<string>();
  const words: string[] = [];
  for (const value of only) {
    const v = value.trim().toLowerCase();
    if (names.some((n) => n.toLowerCase() === v)) exact.add(v);
    else words.push(...v.split(",").map((w) => w.trim()).filter(Boolean));
  }
  return names.filter((name) => exact.has(name.toLowerCase()) || words.some((w) => name.toLowerCase().includes(w)));
}

export interface Scenario {
  name: ScenarioName;
  /** False for the floor: one HGET, whatever the caller configuration. */
  perConfig: boolean;
  /** Where every resolve of the scenario must get its metadata (checked on every timed call). */
  expectedSource?: ResolvedTask["source"];
  /** The call to time for one configuration; `onSource` sees each resolve's metadata source. */
  call(config: CallerConfig, onSource: (source: ResolvedTask["source"]) => void): () => Promise<unknown>;
  /** One untimed resolve, to check that every store answers like Postgres does. */
  resolveOnce?(config: CallerConfig): Promise<ResolvedTask>;
  /** Waits for background work (back-fills) started by timed calls. */
  settle(): Promise<void>;
  /** The tier that must answer the warm calls; its hits are counted during the timed calls. */
  servedBy?: Keyspace;
  /** Its warm calls never leave the process: timed with `--par-memory` parallel calls instead of `--par`. */
  inMemory?: boolean;
}

/**
 * Counts cache hits per keyspace (the production server installs its metrics recorder the same
 * way, so the hot path pays for a sink in both). Tells whether the in-process tier really answered.
 */
export class HitCounter implements CacheEventSink {
  private readonly hits: Record<Keyspace, number> = { current: 0, worker: 0, version: 0, l1: 0 };
  record(event: CacheEvent, keyspace: Keyspace, count = 1) {
    if (event === "hit" || event === "negative_hit") this.hits[keyspace] += count;
  }
  observeResolve() {}
  count(keyspace: Keyspace): number {
    return this.hits[keyspace];
  }
}
export const hitCounter = new HitCounter();

/** The Redis tier alone, wired like the instance module does (its own client, breaker and timeouts). */
function redisOnlyStore(client: RedisClient): RedisTaskMetadataStore {
  const env = getEnv();
  return new RedisTaskMetadataStore({
    client,
    prefix: env.REDIS_KEY_PREFIX,
    currentTtlSeconds: env.TASK_META_CACHE_CURRENT_ENV_TTL_SECONDS,
    workerTtlSeconds: env.TASK_META_CACHE_BY_WORKER_TTL_SECONDS,
    commandTimeoutMs: env.TASK_META_CACHE_COMMAND_TIMEOUT_MS,
    breaker: new CircuitBreaker({
      failureThreshold: env.TASK_META_CACHE_BREAKER_FAILURES,
      cooldownMs: env.TASK_META_CACHE_BREAKER_COOLDOWN_MS,
    }),
    events: cacheEvents,
  });
}

/**
 * The in-process tier: the env-wired store with TASK_META_CACHE_L1_ENABLED=true (useBenchConfiguration
 * sets it), as production serves it — including its invalidation subscriber. Null when the
 * configuration turns it off; the `l1 cache, warm` scenario is then skipped with a note.
 */
export function inProcessTier(): TaskMetadataStore | null {
  const store = taskMetadataCache();
  return store instanceof InProcessTaskMetadataStore ? store : null;
}

function resolverScenario(
  name: ScenarioName,
  store: TaskMetadataStore,
  expectedSource: ResolvedTask["source"],
  data: BenchData,
  missStreaks?: QueueResolverDeps["missStreaks"],
): Scenario {
  const backfills = new BackfillTracker();
  const resolver = new QueueResolver({ cache: store, scheduleBackfill: backfills.schedule, missStreaks });
  const inputs = new Map(CALLER_CONFIGS.map((c) => [c.id, resolveInput(c, data)]));
  return {
    name,
    perConfig: true,
    expectedSource,
    call(config, onSource) {
      const input = inputs.get(config.id)!;
      return async () => onSource((await resolver.resolve(input)).source);
    },
    resolveOnce: (config) => resolver.resolve(inputs.get(config.id)!),
    settle: () => backfills.settled(),
  };
}

/**
 * A peer library caching the same lookup (peers.ts). Warm: one key per caller configuration, filled
 * by the agreement check and the warm-up. Cold: a key no call has used before, every call — the
 * library's memory and Redis both miss, Postgres answers, and the library stores what it got.
 */
function peerScenario(
  name: ScenarioName,
  get: (key: string, input: ResolveInput) => Promise<PeerAnswer>,
  data: BenchData,
  cold: boolean,
): Scenario {
  const inputs = new Map(CALLER_CONFIGS.map((c) => [c.id, resolveInput(c, data)]));
  let calls = 0;
  const keyOf = (input: ResolveInput) => (cold ? `${peerKey(input)}|cold-${++calls}` : peerKey(input));
  return {
    name,
    perConfig: true,
    expectedSource: cold ? "database" : "cache",
    call(config, onSource) {
      const input = inputs.get(config.id)!;
      return async () => onSource((await get(keyOf(input), input)).fromDatabase ? "database" : "cache");
    },
    resolveOnce: async (config) => {
      const input = inputs.get(config.id)!;
      return (await get(keyOf(input), input)).task;
    },
    settle: async () => {},
  };
}

function peerScenarios(wanted: readonly ScenarioName[], data: BenchData): { scenarios: Scenario[]; peers: Peer[] } {
  const truth = new QueueResolver({ cache: new NoopTaskMetadataStore(), scheduleBackfill: () => {} });
  const lookup = (input: ResolveInput) => truth.resolve(input);
  const scenarios: Scenario[] = [];
  const peers: Peer[] = [];
  for (const [library, create] of [
    ["bentocache", bentocachePeer],
    ["cachified", cachifiedPeer],
  ] as const) {
    const names = wanted.filter((n) => n.startsWith(`${library},`));
    if (names.length === 0) continue;
    const peer = create(lookup);
    peers.push(peer);
    for (const name of names) {
      if (name.endsWith("cold")) scenarios.push(peerScenario(name, peer.tiered, data, true));
      else if (name.endsWith("redis only")) scenarios.push(peerScenario(name, peer.redisOnly, data, false));
      else scenarios.push({ ...peerScenario(name, peer.tiered, data, false), inMemory: true });
    }
  }
  return { scenarios, peers };
}

export interface ScenarioSet {
  scenarios: Scenario[];
  /** Why a scenario is not in the set (the in-process tier does not exist yet). */
  skipped: { name: ScenarioName; reason: string }[];
  close(): Promise<void>;
}

/**
 * The in-process tier starts bypassed until its invalidation channel is subscribed; wait (with a
 * deadline) until it answers a resolve by itself.
 */
async function waitForTier(scenario: Scenario, deadlineMs = 10_000) {
  const resolveOnce = scenario.resolveOnce!;
  const deadline = Date.now() + deadlineMs;
  while (Date.now() < deadline) {
    const before = hitCounter.count("l1");
    await resolveOnce(HEADLINE);
    if (hitCounter.count("l1") > before) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`the in-process tier never answered within ${deadlineMs} ms (is its invalidation channel subscribed?)`);
}

export async function buildScenarios(data: BenchData, wanted: readonly ScenarioName[]): Promise<ScenarioSet> {
  setCacheEventSink(hitCounter);
  const floorClient = createCacheRedisClient("bench-floor");
  const storeClient = createCacheRedisClient("bench-task-meta-cache");
  await Promise.all([floorClient.connect(), storeClient.connect()]);
  const redisStore = redisOnlyStore(storeClient);
  const currentKey = environmentKeys(getEnv().REDIS_KEY_PREFIX, data.environment.id).current;
  const raw = await floorClient.hget(currentKey, BENCH_TASK);
  if (raw === null) throw new Error(`the floor's field ${currentKey} ${BENCH_TASK} is missing: the promotion did not write the cache`);

  const scenarios: Scenario[] = [];
  const skipped: ScenarioSet["skipped"] = [];
  for (const name of wanted) {
    switch (name) {
      case "raw HGET floor":
        scenarios.push({
          name,
          perConfig: false,
          call: () => async () => JSON.parse((await floorClient.hget(currentKey, BENCH_TASK)) as string),
          settle: async () => {},
        });
        break;
      case "noop cache (baseline)":
        scenarios.push(resolverScenario(name, new NoopTaskMetadataStore(), "database", data));
        break;
      case "redis cache, cold":
        scenarios.push(resolverScenario(name, new ColdTaskMetadataCache(redisStore), "database", data));
        break;
      case "redis cache, first miss":
        // Cold too, but every call is treated as a key's first miss: Redis, then Postgres, then a back-fill.
        scenarios.push(resolverScenario(name, new ColdTaskMetadataCache(redisStore), "database", data, false));
        break;
      case "redis cache, warm":
        scenarios.push(resolverScenario(name, redisStore, "cache", data));
        break;
      case "l1 cache, warm": {
        const tier = inProcessTier();
        if (!tier) {
          skipped.push({ name, reason: "the in-process tier is off (TASK_META_CACHE_L1_ENABLED=false)" });
          break;
        }
        const scenario = { ...resolverScenario(name, tier, "cache", data), servedBy: "l1" as const, inMemory: true };
        await waitForTier(scenario);
        scenarios.push(scenario);
        break;
      }
    }
  }
  const peers = peerScenarios(wanted, data);
  scenarios.push(...peers.scenarios);
  return {
    scenarios,
    skipped,
    close: async () => {
      await Promise.all(scenarios.map((s) => s.settle()));
      await Promise.all(peers.peers.map((p) => p.close()));
      floorClient.disconnect();
      storeClient.disconnect();
    },
  };
}
