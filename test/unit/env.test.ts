import { spawnSync } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { EnvError, parseEnv } from "~/env.server";

/** app/env.server.ts: one zod parse of the whole environment; a bad variable is named. */

const BASE = {
  DATABASE_URL: "postgresql://postgres@127.0.0.1:5432/hotpath",
  SESSION_SECRET: "a-session-secret-of-32-characters",
};

function problemsOf(vars: Record<string, string | undefined>): string[] {
  try {
    parseEnv(vars);
  } catch (error) {
    expect(error).toBeInstanceOf(EnvError);
    return (error as EnvError).problems;
  }
  throw new Error("expected parseEnv to throw");
}

describe("parseEnv: valid configurations", () => {
  it("applies the defaults when only the required variables are set", () => {
    const env = parseEnv(BASE);
    expect(env).toMatchObject({
      NODE_ENV: "development",
      PORT: 3000,
      LOG_LEVEL: "info",
      DATABASE_POOL_SIZE: 10,
      REDIS_KEY_PREFIX: "tr:",
      TASK_META_CACHE_CURRENT_ENV_TTL_SECONDS: 86_400,
      TASK_META_CACHE_BY_WORKER_TTL_SECONDS: 2_592_000,
      TASK_META_CACHE_L1_ENABLED: true,
      API_KEY_CACHE_L1_ENABLED: true,
      API_KEY_CACHE_L1_TTL_MS: 5_000,
      API_KEY_CACHE_L1_MAX_ENTRIES: 10_000,
      SESSION_COOKIE_SECURE: "auto",
    });
    expect(env.redis).toEqual({
      url: undefined,
      host: "127.0.0.1",
      port: 6379,
      username: undefined,
      password: undefined,
      tls: false,
      clusterNodes: undefined,
    });
    expect(env.taskMetaCacheRedis).toEqual(env.redis);
  });

  it("treats an empty variable as unset", () => {
    expect(parseEnv({ ...BASE, PORT: "", REDIS_URL: "" }).PORT).toBe(3000);
  });

  it("coerces numbers and booleans, and accepts 0 (no expiry) for the cache TTLs", () => {
    const env = parseEnv({
      ...BASE,
      PORT: "8080",
      TASK_META_CACHE_L1_ENABLED: "off",
      REDIS_TLS: "yes",
      TASK_META_CACHE_CURRENT_ENV_TTL_SECONDS: "0",
    });
    expect(env.PORT).toBe(8080);
    expect(env.TASK_META_CACHE_L1_ENABLED).toBe(false);
    expect(env.REDIS_TLS).toBe(true);
    expect(env.TASK_META_CACHE_CURRENT_ENV_TTL_SECONDS).toBe(0);
  });

  it("TASK_META_CACHE_REDIS_* fall back to REDIS_* field by field", () => {
    const env = parseEnv({
      ...BASE,
      REDIS_HOST: "redis.internal",
      REDIS_PORT: "6380",
      REDIS_USERNAME: "hotpath",
      REDIS_PASSWORD: "general-password",
      REDIS_TLS: "true",
      TASK_META_CACHE_REDIS_PORT: "7000",
      TASK_META_CACHE_REDIS_PASSWORD: "cache-password",
    });
    expect(env.taskMetaCacheRedis).toEqual({
      url: undefined,
      host: "redis.internal",
      port: 7000,
      username: "hotpath",
      password: "cache-password",
      tls: true,
      clusterNodes: undefined,
    });
    expect(env.redis.port).toBe(6380);
  });

  it("the cache inherits REDIS_URL unless it has its own URL or host", () => {
    const inherited = parseEnv({ ...BASE, REDIS_URL: "redis://general:6379" });
    expect(inherited.taskMetaCacheRedis.url).toBe("redis://general:6379");

    const ownUrl = parseEnv({ ...BASE, REDIS_URL: "redis://general:6379", TASK_META_CACHE_REDIS_URL: "rediss://cache:6380" });
    expect(ownUrl.taskMetaCacheRedis.url).toBe("rediss://cache:6380");
    expect(ownUrl.redis.url).toBe("redis://general:6379");

    const ownHost = parseEnv({ ...BASE, REDIS_URL: "redis://general:6379", TASK_META_CACHE_REDIS_HOST: "cache-host" });
    expect(ownHost.taskMetaCacheRedis.url).toBeUndefined();
    expect(ownHost.taskMetaCacheRedis.host).toBe("cache-host");
  });

  it("TASK_META_CACHE_REDIS_TLS overrides REDIS_TLS either way", () => {
    expect(parseEnv({ ...BASE, REDIS_TLS: "true", TASK_META_CACHE_REDIS_TLS: "false" }).taskMetaCacheRedis.tls).toBe(false);
    expect(parseEnv({ ...BASE, TASK_META_CACHE_REDIS_TLS: "1" }).taskMetaCacheRedis.tls).toBe(true);
  });

  it("parses cluster node lists into host/port pairs, the cache's falling back to REDIS_CLUSTER_NODES", () => {
    const own = parseEnv({ ...BASE, TASK_META_CACHE_REDIS_CLUSTER_NODES: "10.0.0.1:7000, 10.0.0.2:7001,redis-3:7002" });
    expect(own.taskMetaCacheRedis.clusterNodes).toEqual([
      { host: "10.0.0.1", port: 7000 },
      { host: "10.0.0.2", port: 7001 },
      { host: "redis-3", port: 7002 },
    ]);
    expect(own.redis.clusterNodes).toBeUndefined();

    const inherited = parseEnv({ ...BASE, REDIS_CLUSTER_NODES: "a:7000,b:7001" });
    expect(inherited.taskMetaCacheRedis.clusterNodes).toEqual([
      { host: "a", port: 7000 },
      { host: "b", port: 7001 },
    ]);
  });
});

describe("parseEnv: each kind of invalid value is named", () => {
  it.each([
    ["missing DATABASE_URL", { SESSION_SECRET: BASE.SESSION_SECRET }, /^DATABASE_URL is required$/],
    ["missing SESSION_SECRET", { DATABASE_URL: BASE.DATABASE_URL }, /^SESSION_SECRET is required$/],
    ["DATABASE_URL with a mysql:// scheme", { ...BASE, DATABASE_URL: "mysql://root@db/hotpath" }, /^DATABASE_URL must be a URL starting with postgresql:\/\//],
    ["DATABASE_URL that is not a URL", { ...BASE, DATABASE_URL: "not a url" }, /^DATABASE_URL must be a URL/],
    ["REDIS_URL with an http:// scheme", { ...BASE, REDIS_URL: "http://127.0.0.1:6379" }, /^REDIS_URL must be a URL starting with redis:\/\//],
    ["non-numeric PORT", { ...BASE, PORT: "three thousand" }, /^PORT must be a number$/],
    ["PORT above 65535", { ...BASE, PORT: "70000" }, /^PORT must be between 1 and 65535$/],
    ["PORT 0", { ...BASE, PORT: "0" }, /^PORT must be between 1 and 65535$/],
    ["fractional REDIS_PORT", { ...BASE, REDIS_PORT: "6379.5" }, /^REDIS_PORT must be a whole number$/],
    ["negative cache TTL", { ...BASE, TASK_META_CACHE_BY_WORKER_TTL_SECONDS: "-1" }, /^TASK_META_CACHE_BY_WORKER_TTL_SECONDS must be 0 or more$/],
    ["zero pool size", { ...BASE, DATABASE_POOL_SIZE: "0" }, /^DATABASE_POOL_SIZE must be 1 or more$/],
    ["short SESSION_SECRET", { ...BASE, SESSION_SECRET: "too-short" }, /^SESSION_SECRET must be at least 16 characters$/],
    ["bad boolean", { ...BASE, TASK_META_CACHE_L1_ENABLED: "maybe" }, /^TASK_META_CACHE_L1_ENABLED must be one of true\/false/],
    ["cluster node without a port", { ...BASE, TASK_META_CACHE_REDIS_CLUSTER_NODES: "10.0.0.1:7000,10.0.0.2" }, /^TASK_META_CACHE_REDIS_CLUSTER_NODES.* must be a comma-separated list of host:port$/],
    ["cluster node list with no nodes", { ...BASE, REDIS_CLUSTER_NODES: " , " }, /^REDIS_CLUSTER_NODES must name at least one host:port$/],
    ["unknown LOG_LEVEL", { ...BASE, LOG_LEVEL: "verbose" }, /^LOG_LEVEL /],
    ["malformed seed API key", { ...BASE, SEED_PROD_API_KEY: "tr_dev_abc" }, /^SEED_PROD_API_KEY must look like tr_prod_/],
  ])("%s", (_name, vars, message) => {
    const problems = problemsOf(vars);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(message);
  });

  it("names every bad variable at once, in one message", () => {
    try {
      parseEnv({ PORT: "x", SESSION_SECRET: "short" });
      expect.unreachable();
    } catch (error) {
      const message = (error as Error).message;
      expect(message).toMatch(/^Invalid environment configuration:/);
      for (const name of ["DATABASE_URL", "PORT", "SESSION_SECRET"]) expect(message).toContain(`  - ${name} `);
    }
  });
});

describe("getEnv at start-up", () => {
  const root = path.resolve(import.meta.dirname, "../..");
  const tsx = path.join(root, "node_modules/.bin/tsx");
  const script = "import('./app/env.server.ts').then((m) => console.log('PORT=' + m.getEnv().PORT))";
  // Only what node needs to run, so nothing from this test process's environment leaks in.
  const processEnv = { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: "test" as const };

  it("stops the process with exit code 1 and a message naming each bad variable", () => {
    const result = spawnSync(tsx, ["-e", script], {
      cwd: root,
      env: { ...processEnv, SESSION_SECRET: BASE.SESSION_SECRET, PORT: "not-a-port" },
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain("DATABASE_URL is required");
    expect(result.stderr).toContain("PORT must be a number");
    expect(result.stdout).not.toContain("PORT=");
  });

  it("starts with a valid environment", () => {
    const result = spawnSync(tsx, ["-e", script], {
      cwd: root,
      env: { ...processEnv, ...BASE, PORT: "4123" },
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toBe("PORT=4123");
  });
});
