import { spawn } from "node:child_process";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prisma } from "~/db.server";
import { hashApiKey } from "~/domain/apiKeys";
import { resetEnvForTests } from "~/env.server";
import { verifyLogin } from "~/models/user.server";
import { keyPrefix, redis } from "~/redis.server";
import { authenticateApiKey, disconnectApiKeyCache } from "~/services/apiKeyAuth.server";
import { disconnectTaskMetadataCache } from "~/services/taskMetadata/index.server";
import { seed, type SeedResult } from "../../prisma/seed";

const SEED_VARIABLES = [
  "ADMIN_EMAIL",
  "ADMIN_PASSWORD",
  "SEED_VIEWER_PASSWORD",
  "SEED_DEV_API_KEY",
  "SEED_STAGING_API_KEY",
  "SEED_PROD_API_KEY",
  "SEED_WEBHOOK_SECRET",
];

/** Runs with exactly these seed variables (none of the developer's), re-parsing the environment. */
function useSeedVariables(values: Record<string, string>) {
  for (const name of SEED_VARIABLES) delete process.env[name];
  Object.assign(process.env, values);
  resetEnvForTests();
}

const quiet = () => {};

/** Every row the seed writes, with the columns that must not change on a re-run. */
async function snapshot() {
  const db = prisma();
  const byId = { orderBy: { id: "asc" as const } };
  return {
    users: await db.user.findMany({ select: { id: true, email: true, role: true, passwordHash: true }, ...byId }),
    organizations: await db.organization.findMany({ select: { id: true, slug: true }, ...byId }),
    projects: await db.project.findMany({ select: { id: true, slug: true, webhookSecret: true }, ...byId }),
    environments: await db.runtimeEnvironment.findMany({ select: { id: true, slug: true, type: true }, ...byId }),
    apiKeys: await db.environmentApiKey.findMany({ select: { id: true, keyHash: true, revokedAt: true }, ...byId }),
    workers: await db.backgroundWorker.findMany({ select: { id: true, version: true, contentHash: true }, ...byId }),
    queues: await db.taskQueue.findMany({ select: { id: true, name: true, concurrencyLimit: true }, ...byId }),
    tasks: await db.backgroundWorkerTask.findMany({ select: { id: true, slug: true, ttl: true, triggerSource: true, queueId: true }, ...byId }),
    deployments: await db.workerDeployment.findMany({ select: { id: true, workerId: true }, ...byId }),
    promotions: await db.workerDeploymentPromotion.findMany({ select: { id: true, deploymentId: true, workerId: true }, ...byId }),
    runs: await db.taskRun.findMany({ select: { id: true, friendlyId: true, status: true, taskIdentifier: true }, ...byId }),
  };
}

let first: SeedResult;
let second: SeedResult;
let afterFirst: Awaited<ReturnType<typeof snapshot>>;
let afterSecond: Awaited<ReturnType<typeof snapshot>>;

beforeAll(async () => {
  useSeedVariables({});
  first = await seed({ log: quiet });
  afterFirst = await snapshot();
  second = await seed({ log: quiet });
  afterSecond = await snapshot();
});

afterAll(async () => {
  useSeedVariables({});
  await disconnectApiKeyCache();
  await disconnectTaskMetadataCache();
});

describe("seed without fixed credentials", () => {
  it("running it twice gives the same rows with the same ids", () => {
    expect(afterFirst.organizations).toHaveLength(1);
    expect(afterFirst.environments.map((e) => e.slug).sort()).toEqual(["dev", "prod", "staging"]);
    expect(afterSecond).toEqual(afterFirst);
  });

  it("prints each generated secret once: the second run cannot show keys or passwords it only stored hashed", () => {
    for (const slug of ["dev", "staging", "prod"]) {
      expect(first.environments[slug].apiKey).toMatch(/^tr_(dev|stg|prod)_[A-Za-z0-9]{32}$/);
      expect(second.environments[slug].apiKey).toBeNull();
    }
    expect(first.users.map((u) => u.password)).toEqual([expect.any(String), expect.any(String)]);
    expect(second.users.map((u) => u.password)).toEqual([null, null]);
    expect(second.webhookSecret).toBe(first.webhookSecret);
  });

  it("stores only hashes, and each printed key authenticates its own environment", async () => {
    for (const slug of ["dev", "staging", "prod"]) {
      const key = first.environments[slug].apiKey!;
      expect(afterFirst.apiKeys.map((k) => k.keyHash)).toContain(hashApiKey(key));
      expect(afterFirst.apiKeys.map((k) => k.keyHash)).not.toContain(key);
      const row = await prisma().environmentApiKey.findUnique({ where: { keyHash: hashApiKey(key) }, select: { environmentId: true } });
      expect(row?.environmentId).toBe(first.environments[slug].id);
      const environment = await authenticateApiKey(key);
      expect(environment).toMatchObject({ id: first.environments[slug].id, slug });
    }
  });

  it("printed passwords log in with the right roles", async () => {
    const [admin, viewer] = first.users;
    expect(await verifyLogin(admin.email, admin.password!)).toMatchObject({ email: "admin@hotpath.local", role: "ADMIN" });
    expect(await verifyLogin(viewer.email, viewer.password!)).toMatchObject({ email: "viewer@hotpath.local", role: "VIEWER" });
  });

  it("promotes a prod worker with 20+ tasks over 4+ queues and every trigger source, and writes it to the cache", async () => {
    const prodId = first.environments.prod.id;
    const promotion = await prisma().workerDeploymentPromotion.findUniqueOrThrow({
      where: { environmentId_label: { environmentId: prodId, label: "current" } },
      select: { worker: { select: { version: true, tasks: { select: { slug: true, triggerSource: true, ttl: true, queue: { select: { name: true } } } } } } },
    });
    const tasks = promotion.worker.tasks;
    expect(tasks.length).toBeGreaterThanOrEqual(20);
    expect(new Set(tasks.map((t) => t.queue?.name).filter(Boolean)).size).toBeGreaterThanOrEqual(4);
    expect(new Set(tasks.map((t) => t.triggerSource))).toEqual(new Set(["STANDARD", "SCHEDULED", "AGENT"]));
    expect(tasks.some((t) => t.ttl !== null)).toBe(true);

    const current = await redis().hgetall(`${keyPrefix()}task-meta:{${prodId}}:current`);
    for (const task of tasks) expect(Object.keys(current)).toContain(task.slug);

    // An older prod version stays deployed (roll-back demo); staging and dev have workers too.
    const versions = await prisma().backgroundWorker.findMany({ where: { environmentId: prodId }, select: { version: true } });
    expect(versions.length).toBeGreaterThanOrEqual(2);
    for (const slug of ["staging", "dev"]) {
      expect(await prisma().backgroundWorker.count({ where: { environmentId: first.environments[slug].id } })).toBeGreaterThan(0);
    }
  });

  it("creates runs with run_ ids, mixed statuses and task kinds", () => {
    expect(afterFirst.runs.length).toBeGreaterThanOrEqual(10);
    for (const run of afterFirst.runs) expect(run.friendlyId).toMatch(/^run_[a-z0-9]+$/);
    expect(new Set(afterFirst.runs.map((r) => r.status)).size).toBeGreaterThanOrEqual(4);
  });
});

describe("seed with fixed credentials", () => {
  const fixed = {
    ADMIN_PASSWORD: "fixed-admin-password",
    SEED_VIEWER_PASSWORD: "fixed-viewer-password",
    SEED_PROD_API_KEY: "tr_prod_FixedKeyForTheSeedTest0001",
    SEED_WEBHOOK_SECRET: "whsec_fixed_secret_for_the_seed_test",
  };

  it("uses ADMIN_PASSWORD, SEED_PROD_API_KEY and SEED_WEBHOOK_SECRET, and stays idempotent", async () => {
    useSeedVariables(fixed);
    const result = await seed({ log: quiet });
    expect(result.environments.prod.apiKey).toBe(fixed.SEED_PROD_API_KEY);
    expect(result.webhookSecret).toBe(fixed.SEED_WEBHOOK_SECRET);
    expect(await verifyLogin("admin@hotpath.local", fixed.ADMIN_PASSWORD)).toMatchObject({ role: "ADMIN" });
    expect(await verifyLogin("viewer@hotpath.local", fixed.SEED_VIEWER_PASSWORD)).toMatchObject({ role: "VIEWER" });
    expect(await authenticateApiKey(fixed.SEED_PROD_API_KEY)).toMatchObject({ slug: "prod" });

    const before = await snapshot();
    await seed({ log: quiet });
    expect(await snapshot()).toEqual(before);
  });
});

describe("npm run db:seed", () => {
  it("prints the credentials and exits by itself (no connection left open)", async () => {
    const root = path.resolve(import.meta.dirname, "../..");
    const child = spawn(process.execPath, ["--import", "tsx", "prisma/seed.ts"], {
      cwd: root,
      env: { ...process.env, LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d) => (output += d));
    child.stderr.on("data", (d) => (output += d));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        child.kill("SIGKILL");
        resolve(null);
      }, 50_000);
      child.once("exit", (exitCode) => {
        clearTimeout(timer);
        resolve(exitCode);
      });
    });
    expect({ code, output }).toMatchObject({ code: 0 });
    expect(output).toContain("API keys");
    expect(output).toContain("webhook secret");
  }, 60_000);
});
