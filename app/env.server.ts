import { z } from "zod";

/**
 * The only reader of `process.env`. Everything the app, the seed and the scripts need is parsed
 * here once, with zod; a missing or malformed variable stops the process with a message naming it.
 */

const booleanString = (fallback: boolean) =>
  z
    .enum(["true", "false", "1", "0", "yes", "no", "on", "off"], {
      error: "must be one of true/false/1/0/yes/no/on/off",
    })
    .optional()
    .transform((v) => (v === undefined ? fallback : ["true", "1", "yes", "on"].includes(v)));

// The schema-level message is for values that are not numbers at all; a number out of range or
// with a fraction gets its own message (a schema-level string would replace those too).
const number = () =>
  z.coerce.number({ error: (issue) => (issue.code === "invalid_type" ? "must be a number" : undefined) });
const port = number().int("must be a whole number").min(1, "must be between 1 and 65535").max(65535, "must be between 1 and 65535");
const nonNegativeInt = number().int("must be a whole number").min(0, "must be 0 or more");
const positiveInt = number().int("must be a whole number").min(1, "must be 1 or more");
const url = (protocols: string[]) =>
  z.string().refine(
    (v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    },
    { message: `must be a URL starting with ${protocols.map((p) => `${p}//`).join(" or ")}` },
  );
const hostPortList = z
  .string()
  .transform((v) => v.split(",").map((s) => s.trim()).filter(Boolean))
  .pipe(
    z
      .array(z.string().regex(/^[^:\s]+:\d{1,5}$/, "must be a comma-separated list of host:port"))
      .min(1, "must name at least one host:port"),
  );

const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess((v) => (v === "" ? undefined : v), schema.optional());

const otlpProtocol = z.enum(["http/protobuf", "http/json"], { error: "must be http/protobuf or http/json (grpc is not supported)" });
const TRACE_SAMPLERS = [
  "always_on",
  "always_off",
  "traceidratio",
  "parentbased_always_on",
  "parentbased_always_off",
  "parentbased_traceidratio",
] as const;
export type TraceSampler = (typeof TRACE_SAMPLERS)[number];

const EnvSchema = z.object({
  NODE_ENV: z.enum(["development", "production", "test"]).default("development"),
  PORT: optional(port).transform((v) => v ?? 3000),
  /** Worker processes of the server (node:cluster); the default depends on NODE_ENV: see webConcurrency(). */
  WEB_CONCURRENCY: optional(positiveInt.max(256, "must be at most 256")),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error", "silent"]).default("info"),

  DATABASE_URL: url(["postgresql:", "postgres:"]),
  DATABASE_READ_REPLICA_URL: optional(url(["postgresql:", "postgres:"])),
  /** Client-side bound on a replica query (and connect): a hung replica fails over to the primary after it. */
  DATABASE_READ_REPLICA_QUERY_TIMEOUT_MS: optional(positiveInt).transform((v) => v ?? 1_000),
  DATABASE_POOL_SIZE: optional(positiveInt).transform((v) => v ?? 10),

  REDIS_URL: optional(url(["redis:", "rediss:"])),
  REDIS_HOST: optional(z.string()),
  REDIS_PORT: optional(port),
  REDIS_USERNAME: optional(z.string()),
  REDIS_PASSWORD: optional(z.string()),
  REDIS_TLS: booleanString(false),
  REDIS_CLUSTER_NODES: optional(hostPortList),
  /** Prefix of every key Hotpath writes; tests give each file its own. */
  REDIS_KEY_PREFIX: z.string().min(1).default("tr:"),

  TASK_META_CACHE_REDIS_URL: optional(url(["redis:", "rediss:"])),
  TASK_META_CACHE_REDIS_HOST: optional(z.string()),
  TASK_META_CACHE_REDIS_PORT: optional(port),
  TASK_META_CACHE_REDIS_USERNAME: optional(z.string()),
  TASK_META_CACHE_REDIS_PASSWORD: optional(z.string()),
  TASK_META_CACHE_REDIS_TLS: optional(z.enum(["true", "false", "1", "0"])),
  TASK_META_CACHE_REDIS_CLUSTER_NODES: optional(hostPortList),
  TASK_META_CACHE_CURRENT_ENV_TTL_SECONDS: optional(nonNegativeInt).transform((v) => v ?? 86_400),
  TASK_META_CACHE_BY_WORKER_TTL_SECONDS: optional(nonNegativeInt).transform((v) => v ?? 2_592_000),
  TASK_META_CACHE_COMMAND_TIMEOUT_MS: optional(positiveInt).transform((v) => v ?? 100),
  TASK_META_CACHE_BREAKER_FAILURES: optional(positiveInt).transform((v) => v ?? 5),
  TASK_META_CACHE_BREAKER_COOLDOWN_MS: optional(positiveInt).transform((v) => v ?? 2_000),
  /** Kill switch: cache reads always miss (every trigger asks Postgres); replaces still write Redis. */
  TASK_META_CACHE_DISABLED: booleanString(false),
  TASK_META_CACHE_L1_ENABLED: booleanString(true),
  TASK_META_CACHE_L1_TTL_MS: optional(positiveInt).transform((v) => v ?? 2_000),
  TASK_META_CACHE_L1_MAX_ENTRIES: optional(positiveInt).transform((v) => v ?? 10_000),
  /**
   * Pub/sub channel of cross-instance invalidation; default `${REDIS_KEY_PREFIX}task-meta:invalidate`.
   * Every instance serving the same environments must use the same one (docs/operations.md).
   */
  TASK_META_CACHE_INVALIDATION_CHANNEL: optional(z.string().min(1)),
  /** How often one instance compares every current hash's owner with Postgres and rebuilds strays (0: never). */
  TASK_META_CACHE_RECONCILE_INTERVAL_MS: optional(nonNegativeInt).transform((v) => v ?? 60_000),
  /**
   * Whether the sweep rebuilds a current hash whose contents drift from Postgres (a field with
   * another queue, TTL or kind). Off: drift is only recorded and shown (docs/operations.md).
   */
  TASK_META_CACHE_REPAIR_DRIFT: booleanString(true),
  TASK_META_CACHE_RECONCILE_ENVS_PER_SECOND: optional(positiveInt).transform((v) => v ?? 20),

  /**
   * In-process tier of the API-key cache (apiKeyL1.server.ts): a warm trigger authenticates from
   * memory. Revocations reach every instance on API_KEY_REVOCATION_CHANNEL; the TTL bounds a
   * revocation message lost without the subscriber noticing (docs/decisions/0040-api-keys-in-the-in-process-tier.md).
   */
  API_KEY_CACHE_L1_ENABLED: booleanString(true),
  API_KEY_CACHE_L1_TTL_MS: optional(positiveInt).transform((v) => v ?? 5_000),
  API_KEY_CACHE_L1_MAX_ENTRIES: optional(positiveInt).transform((v) => v ?? 10_000),
  /** Pub/sub channel of API-key revocations; default `${REDIS_KEY_PREFIX}api-key:revoke`. The same for every instance. */
  API_KEY_REVOCATION_CHANNEL: optional(z.string().min(1)),

  /** How often one instance moves due runs: DELAYED → QUEUED, → EXPIRED, PENDING_VERSION → QUEUED (0: never). */
  RUN_LIFECYCLE_INTERVAL_MS: optional(nonNegativeInt).transform((v) => v ?? 1_000),
  /** Runs per statement of the run lifecycle. */
  RUN_LIFECYCLE_BATCH_SIZE: optional(positiveInt).transform((v) => v ?? 1_000),

  /**
   * The trigger buffer (docs/operations.md, "Postgres outage"): while the run insert cannot be done,
   * triggers whose task metadata is cached go to Redis Streams in the general Redis and are drained
   * into Postgres once it answers.
   */
  TRIGGER_BUFFER_ENABLED: booleanString(true),
  /** Entries per buffer stream (one stream per shard); beyond it a trigger is a 503 with Retry-After. */
  TRIGGER_BUFFER_MAX: optional(positiveInt).transform((v) => v ?? 100_000),
  /** Streams the environments are spread over (hash-tagged, so each can live on its own Cluster node). */
  TRIGGER_BUFFER_SHARDS: optional(positiveInt).transform((v) => v ?? 4),
  /** Runs per drain transaction. */
  TRIGGER_BUFFER_DRAIN_CHUNK: optional(positiveInt).transform((v) => v ?? 200),
  /** How often an idle drainer looks for work (0: no drainer in this process). */
  TRIGGER_BUFFER_DRAIN_INTERVAL_MS: optional(nonNegativeInt).transform((v) => v ?? 250),
  /** Pending entries idle this long belong to a dead consumer and are claimed (XAUTOCLAIM). */
  TRIGGER_BUFFER_CLAIM_IDLE_MS: optional(positiveInt).transform((v) => v ?? 10_000),
  /** Bound on one buffer command; Redis slower than this makes the trigger a 503. */
  TRIGGER_BUFFER_COMMAND_TIMEOUT_MS: optional(positiveInt).transform((v) => v ?? 500),
  /** Consecutive failed run inserts after which triggers go straight to the buffer for the cooldown. */
  TRIGGER_BUFFER_BREAKER_FAILURES: optional(positiveInt).transform((v) => v ?? 3),
  TRIGGER_BUFFER_BREAKER_COOLDOWN_MS: optional(positiveInt).transform((v) => v ?? 1_000),
  /** Retry-After (seconds) of the "buffer full" 503. */
  TRIGGER_BUFFER_RETRY_AFTER_SECONDS: optional(positiveInt).transform((v) => v ?? 5),

  TRIGGER_MAX_TTL_SECONDS: optional(positiveInt).transform((v) => v ?? 14 * 86_400),
  /** How long a run pinned to an external deployment id waits for that id's deploy before it expires. */
  TRIGGER_SKEW_DEADLINE_SECONDS: optional(positiveInt).transform((v) => v ?? 3_600),
  API_BODY_LIMIT_BYTES: optional(positiveInt).transform((v) => v ?? 1_048_576),
  /** Items of one batch at most (`runCount` above it is a 400 at creation). */
  BATCH_MAX_ITEMS: optional(positiveInt).transform((v) => v ?? 1_000),
  /** One NDJSON line of a batch's item stream at most (bytes). */
  BATCH_ITEM_LINE_LIMIT_BYTES: optional(positiveInt).transform((v) => v ?? 1_048_576),
  /** A whole item stream at most (bytes). */
  BATCH_STREAM_LIMIT_BYTES: optional(positiveInt).transform((v) => v ?? 104_857_600),
  /** Per client address: distinct API keys that may miss the key cache (and so reach Postgres) per window; then 429. */
  API_KEY_LOOKUP_BUDGET: optional(positiveInt).transform((v) => v ?? 60),
  API_KEY_LOOKUP_WINDOW_SECONDS: optional(positiveInt).transform((v) => v ?? 60),
  /** Every page route (login, logout, admin actions): a larger body is a 413 before Remix reads it. */
  PAGE_BODY_LIMIT_BYTES: optional(positiveInt).transform((v) => v ?? 65_536),

  /** Migration switch: also accept the deploy webhook's v1 signatures (method and path unsigned). */
  WEBHOOK_ACCEPT_V1: booleanString(false),

  SESSION_SECRET: z.string({ error: "is required" }).min(16, "must be at least 16 characters"),
  /** Proxies in front of the server whose X-Forwarded-For is trusted for the client's address (login throttle); 0: the connection's address. */
  TRUST_PROXY_HOPS: optional(nonNegativeInt).transform((v) => v ?? 0),
  SESSION_COOKIE_SECURE: optional(z.enum(["true", "false", "auto"])).transform((v) => v ?? "auto"),
  METRICS_TOKEN: optional(z.string().min(8, "must be at least 8 characters")),
  METRICS_FLUSH_INTERVAL_MS: optional(nonNegativeInt.min(100, "must be at least 100")).transform((v) => v ?? 5_000),

  /**
   * Tracing (docs/operations.md, "Traces"): the standard OpenTelemetry variables, parsed here and
   * handed to the SDK explicitly (docs/decisions/0065-tracing-configured-from-env-server.md).
   * Off unless an OTLP endpoint is set.
   */
  OTEL_SDK_DISABLED: booleanString(false),
  OTEL_TRACES_EXPORTER: optional(z.enum(["otlp", "none"], { error: "must be otlp or none" })).transform((v) => v ?? "otlp"),
  OTEL_EXPORTER_OTLP_ENDPOINT: optional(url(["http:", "https:"])),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: optional(url(["http:", "https:"])),
  OTEL_EXPORTER_OTLP_PROTOCOL: optional(otlpProtocol),
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: optional(otlpProtocol),
  OTEL_SERVICE_NAME: z.string().min(1).default("hotpath"),
  OTEL_TRACES_SAMPLER: optional(
    z.enum(TRACE_SAMPLERS, { error: `must be one of ${TRACE_SAMPLERS.join(", ")}` }),
  ).transform((v) => v ?? "parentbased_always_on"),
  OTEL_TRACES_SAMPLER_ARG: optional(number().min(0, "must be between 0 and 1").max(1, "must be between 0 and 1")),

  ADMIN_EMAIL: optional(z.email({ error: "must be an email address" })),
  ADMIN_PASSWORD: optional(z.string().min(8, "must be at least 8 characters")),
  /** The seed's demo VIEWER user (viewer@hotpath.local); random and printed when unset. */
  SEED_VIEWER_PASSWORD: optional(z.string().min(8, "must be at least 8 characters")),
  SEED_DEV_API_KEY: optional(z.string().regex(/^tr_dev_[A-Za-z0-9]{16,}$/, "must look like tr_dev_<16+ letters/digits>")),
  SEED_STAGING_API_KEY: optional(z.string().regex(/^tr_stg_[A-Za-z0-9]{16,}$/, "must look like tr_stg_<16+ letters/digits>")),
  SEED_PROD_API_KEY: optional(z.string().regex(/^tr_prod_[A-Za-z0-9]{16,}$/, "must look like tr_prod_<16+ letters/digits>")),
  SEED_WEBHOOK_SECRET: optional(z.string().min(16, "must be at least 16 characters")),
});

type ParsedEnv = z.output<typeof EnvSchema>;

export interface RedisConnectionConfig {
  url?: string;
  host: string;
  port: number;
  username?: string;
  password?: string;
  tls: boolean;
  /** When set, connect with ioredis `Cluster` to these seed nodes. */
  clusterNodes?: { host: string; port: number }[];
}

/** Where and how spans are exported; null when tracing is off (no endpoint, disabled, or exporter none). */
export interface TracingConfig {
  /** The full traces URL: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as given, or OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces. */
  url: string;
  protocol: "http/protobuf" | "http/json";
  serviceName: string;
  sampler: TraceSampler;
  /** The ratio of the *traceidratio samplers (1 when unset). */
  ratio: number;
}

export type Env = ParsedEnv & {
  /** The general-purpose Redis (sessions, metrics, replay protection). */
  redis: RedisConnectionConfig;
  /** The task metadata cache's Redis: `TASK_META_CACHE_REDIS_*`, each falling back to `REDIS_*`. */
  taskMetaCacheRedis: RedisConnectionConfig;
  tracing: TracingConfig | null;
};

export class EnvError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid environment configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "EnvError";
  }
}

function splitNodes(nodes: string[] | undefined) {
  return nodes?.map((n) => {
    const i = n.lastIndexOf(":");
    return { host: n.slice(0, i), port: Number(n.slice(i + 1)) };
  });
}

/** Pure: parses a variables map (normally `process.env`). Throws {@link EnvError} naming each bad variable. */
export function parseEnv(source: Record<string, string | undefined>): Env {
  const result = EnvSchema.safeParse(source);
  if (!result.success) {
    throw new EnvError(
      result.error.issues.map((issue) => {
        const name = issue.path.join(".") || "(environment)";
        const value = source[name];
        const message = value === undefined && issue.code === "invalid_type" ? "is required" : issue.message;
        return `${name} ${message}`;
      }),
    );
  }
  const e = result.data;
  const redis: RedisConnectionConfig = {
    url: e.REDIS_URL,
    host: e.REDIS_HOST ?? "127.0.0.1",
    port: e.REDIS_PORT ?? 6379,
    username: e.REDIS_USERNAME,
    password: e.REDIS_PASSWORD,
    tls: e.REDIS_TLS,
    clusterNodes: splitNodes(e.REDIS_CLUSTER_NODES),
  };
  const ownCacheConnection =
    e.TASK_META_CACHE_REDIS_URL !== undefined || e.TASK_META_CACHE_REDIS_HOST !== undefined;
  const taskMetaCacheRedis: RedisConnectionConfig = {
    // A cache-specific URL or host replaces the general URL; other fields fall back one by one.
    url: e.TASK_META_CACHE_REDIS_URL ?? (ownCacheConnection ? undefined : redis.url),
    host: e.TASK_META_CACHE_REDIS_HOST ?? redis.host,
    port: e.TASK_META_CACHE_REDIS_PORT ?? redis.port,
    username: e.TASK_META_CACHE_REDIS_USERNAME ?? redis.username,
    password: e.TASK_META_CACHE_REDIS_PASSWORD ?? redis.password,
    tls:
      e.TASK_META_CACHE_REDIS_TLS === undefined
        ? redis.tls
        : e.TASK_META_CACHE_REDIS_TLS === "true" || e.TASK_META_CACHE_REDIS_TLS === "1",
    clusterNodes: splitNodes(e.TASK_META_CACHE_REDIS_CLUSTER_NODES) ?? redis.clusterNodes,
  };
  return { ...e, redis, taskMetaCacheRedis, tracing: tracingConfig(e) };
}

function tracingConfig(e: ParsedEnv): TracingConfig | null {
  if (e.OTEL_SDK_DISABLED || e.OTEL_TRACES_EXPORTER === "none") return null;
  const base = e.OTEL_EXPORTER_OTLP_ENDPOINT;
  const url = e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? (base === undefined ? undefined : `${base.replace(/\/+$/, "")}/v1/traces`);
  if (url === undefined) return null;
  return {
    url,
    protocol: e.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL ?? e.OTEL_EXPORTER_OTLP_PROTOCOL ?? "http/protobuf",
    serviceName: e.OTEL_SERVICE_NAME,
    sampler: e.OTEL_TRACES_SAMPLER,
    ratio: e.OTEL_TRACES_SAMPLER_ARG ?? 1,
  };
}

let cached: Env | undefined;

/**
 * The parsed environment of this process, parsed on first use. A bad configuration prints which
 * variables are wrong and exits: a server must not start half-configured.
 */
export function getEnv(): Env {
  if (cached) return cached;
  try {
    cached = parseEnv(process.env);
    return cached;
  } catch (error) {
    if (error instanceof EnvError) {
      console.error(`❌ ${error.message}`);
      process.exit(1);
    }
    throw error;
  }
}

/** Tests only: forget the parsed environment so the next `getEnv()` reads `process.env` again. */
export function resetEnvForTests() {
  cached = undefined;
}
