/**
 * Demo data so that every page shows something on first start (`npm run db:seed`; quickstart runs
 * it). Idempotent: a second run finds every row it would create and changes nothing, so the ids
 * stay the same. Workers are registered and promoted through the same write services as the
 * deploy webhook, so the task metadata cache is written too.
 *
 * Secrets: API keys are stored as hashes only, so a random key is printed once, when it is
 * created; SEED_*_API_KEY / SEED_WEBHOOK_SECRET / ADMIN_PASSWORD / SEED_VIEWER_PASSWORD pin them
 * (quickstart writes them to .env on its first run and prints them every time).
 */
import { pathToFileURL } from "node:url";
import { disconnectDb, prisma } from "~/db.server";
import { displayPrefix, generateApiKey, hashApiKey, randomToken } from "~/domain/apiKeys";
import type { EnvironmentType } from "~/domain/environments";
import { tryParseDuration } from "~/domain/durations";
import { defaultQueueName } from "~/domain/queueNames";
import { getEnv } from "~/env.server";
import type { TaskRunStatus, TaskTriggerSource, UserRole } from "~/generated/prisma/enums.ts";
import { setUserRole, upsertUser, verifyPassword } from "~/models/user.server";
import { disconnectRedis } from "~/redis.server";
import { disconnectApiKeyCache, forgetCachedApiKeys } from "~/services/apiKeyAuth.server";
import { generateWebhookSecret } from "~/services/credentials.server";
import { friendlyRunId } from "~/services/runs.server";
import { disconnectTaskMetadataCache } from "~/services/taskMetadata/index.server";
import { promoteVersion, registerWorker } from "~/services/workers.server";

type Log = (line: string) => void;

interface TaskSpec {
  slug: string;
  queue?: { name: string; concurrencyLimit?: number };
  ttl?: string;
  triggerSource?: TaskTriggerSource;
}

const ORGANIZATION = { slug: "acme", name: "Acme Inc." };
const PROJECT = { slug: "storefront", name: "Storefront" };
const ENVIRONMENTS: { slug: string; type: EnvironmentType; fixedKey: () => string | undefined }[] = [
  { slug: "dev", type: "DEVELOPMENT", fixedKey: () => getEnv().SEED_DEV_API_KEY },
  { slug: "staging", type: "STAGING", fixedKey: () => getEnv().SEED_STAGING_API_KEY },
  { slug: "prod", type: "PRODUCTION", fixedKey: () => getEnv().SEED_PROD_API_KEY },
];
const VIEWER_EMAIL = "viewer@hotpath.local";
const DEFAULT_ADMIN_EMAIL = "admin@hotpath.local";
/** Tag on the demo runs, so a re-run can tell that they exist. */
const SEED_TAG = "seed";

const email = { name: "email", concurrencyLimit: 20 };
const billing = { name: "billing", concurrencyLimit: 5 };
const webhooks = { name: "webhooks", concurrencyLimit: 50 };
const reports = { name: "reports", concurrencyLimit: 2 };
const agents = { name: "ai-agents", concurrencyLimit: 3 };
const maintenance = { name: "maintenance", concurrencyLimit: 1 };

/** The production worker's tasks: 6 queues, every trigger source, some TTLs, one task without a queue. */
const CURRENT_TASKS: TaskSpec[] = [
  { slug: "send-welcome-email", queue: email, ttl: "1h" },
  { slug: "send-password-reset", queue: email, ttl: "15m" },
  { slug: "send-invoice-email", queue: email },
  { slug: "send-weekly-digest", queue: email, triggerSource: "SCHEDULED" },
  { slug: "charge-invoice", queue: billing, ttl: "10m" },
  { slug: "refund-payment", queue: billing },
  { slug: "sync-stripe-customers", queue: billing, triggerSource: "SCHEDULED" },
  { slug: "retry-failed-charges", queue: billing, ttl: "2h", triggerSource: "SCHEDULED" },
  { slug: "deliver-webhook", queue: webhooks, ttl: "5m" },
  { slug: "verify-webhook-endpoint", queue: webhooks },
  { slug: "replay-webhook-events", queue: webhooks, ttl: "1h30m" },
  { slug: "generate-monthly-report", queue: reports, triggerSource: "SCHEDULED" },
  { slug: "export-orders-csv", queue: reports, ttl: "30m" },
  { slug: "import-contacts-csv", queue: reports },
  { slug: "summarize-support-ticket", queue: agents, ttl: "5m", triggerSource: "AGENT" },
  { slug: "triage-incoming-email", queue: agents, triggerSource: "AGENT" },
  { slug: "draft-customer-reply", queue: agents, ttl: "2m", triggerSource: "AGENT" },
  { slug: "research-account-health", queue: agents, ttl: "1h", triggerSource: "AGENT" },
  { slug: "cleanup-expired-sessions", queue: maintenance, triggerSource: "SCHEDULED" },
  { slug: "purge-soft-deleted-records", queue: maintenance, triggerSource: "SCHEDULED" },
  { slug: "vacuum-analytics-tables", queue: maintenance, ttl: "1h", triggerSource: "SCHEDULED" },
  { slug: "rebuild-search-index", queue: maintenance },
  { slug: "resize-uploaded-image" },
];

/** The previous production version, kept deployed so that a roll-back can be demonstrated. */
const PREVIOUS_TASKS: TaskSpec[] = CURRENT_TASKS.filter(
  (t) => !["draft-customer-reply", "research-account-health", "replay-webhook-events"].includes(t.slug),
).map((t) => (t.slug === "send-welcome-email" ? { ...t, ttl: "30m" } : t));

/** Staging runs the next version: the current tasks plus one new agent. */
const STAGING_TASKS: TaskSpec[] = [...CURRENT_TASKS, { slug: "score-inbound-lead", queue: agents, ttl: "10m", triggerSource: "AGENT" }];

const DEV_TASKS: TaskSpec[] = [...STAGING_TASKS, { slug: "experimental-churn-predictor", triggerSource: "AGENT" }];

const WORKERS: { environment: string; version: string; tasks: TaskSpec[]; promote: boolean }[] = [
  { environment: "prod", version: "20261120.1", tasks: PREVIOUS_TASKS, promote: false },
  { environment: "prod", version: "20261127.2", tasks: CURRENT_TASKS, promote: true },
  { environment: "staging", version: "20261128.1", tasks: STAGING_TASKS, promote: true },
  { environment: "dev", version: "20261128.dev.4", tasks: DEV_TASKS, promote: false },
];

export interface SeedResult {
  organizationId: string;
  projectId: string;
  webhookSecret: string;
  environments: Record<string, { id: string; type: EnvironmentType; apiKey: string | null }>;
  users: { email: string; role: UserRole; password: string | null }[];
  workers: { environment: string; version: string; workerId: string; tasks: number }[];
}

async function seedUser(address: string, role: UserRole, fixedPassword: string | undefined, variable: string, log: Log) {
  const existing = await prisma().user.findUnique({ where: { email: address }, select: { id: true, role: true, passwordHash: true } });
  if (existing && !fixedPassword) {
    if (existing.role !== role) await setUserRole(existing.id, role);
    log(`  ${role.padEnd(6)} ${address} — exists; password unchanged (printed when created; set ${variable} to reset it)`);
    return { email: address, role, password: null };
  }
  if (existing && fixedPassword && existing.role === role && (await verifyPassword(fixedPassword, existing.passwordHash))) {
    log(`  ${role.padEnd(6)} ${address} / ${fixedPassword}`);
    return { email: address, role, password: fixedPassword };
  }
  const password = fixedPassword ?? randomToken(16);
  await upsertUser({ email: address, password, role });
  log(`  ${role.padEnd(6)} ${address} / ${password}   (${existing ? `password set from ${variable}` : "created"})`);
  return { email: address, role, password };
}

/**
 * The environment's key: the fixed one when configured (added if missing), else the existing
 * active key (whose plaintext is gone), else a new random one. Returns the plaintext when known.
 */
async function seedApiKey(environmentId: string, slug: string, type: EnvironmentType, fixed: string | undefined, log: Log) {
  const db = prisma();
  if (fixed) {
    const hash = hashApiKey(fixed);
    const row = await db.environmentApiKey.findUnique({ where: { keyHash: hash }, select: { environmentId: true, revokedAt: true } });
    if (row && row.environmentId !== environmentId) {
      throw new Error(`The fixed API key for '${slug}' already belongs to another environment; choose another value`);
    }
    if (row?.revokedAt) {
      log(`  ${slug.padEnd(8)} ${fixed}   ⚠ revoked (rotated in the admin pages); not re-activated — remove it from the configuration`);
      return null;
    }
    if (!row) await createApiKey(environmentId, fixed);
    log(`  ${slug.padEnd(8)} ${fixed}${row ? "" : "   (created)"}`);
    return fixed;
  }
  const active = await db.environmentApiKey.findFirst({ where: { environmentId, revokedAt: null }, select: { keyPrefix: true } });
  if (active) {
    log(`  ${slug.padEnd(8)} ${active.keyPrefix}…   (exists; printed when created, only its hash is stored — rotate it in the admin pages for a new one)`);
    return null;
  }
  const key = generateApiKey(type);
  await createApiKey(environmentId, key);
  log(`  ${slug.padEnd(8)} ${key}   (created; shown once)`);
  return key;
}

async function createApiKey(environmentId: string, key: string) {
  const hash = hashApiKey(key);
  await prisma().environmentApiKey.create({ data: { environmentId, keyHash: hash, keyPrefix: displayPrefix(key) } });
  // Someone may have tried this key before it existed; drop the cached "unknown key" answer.
  await forgetCachedApiKeys([hash]);
}

const RUN_STATUSES: TaskRunStatus[] = ["COMPLETED", "COMPLETED", "EXECUTING", "QUEUED", "FAILED", "COMPLETED", "CANCELED", "EXPIRED"];

/** A handful of runs per environment, once (tagged `seed`): mixed statuses, task kinds and queues. */
async function seedRuns(environmentId: string, slug: string, type: EnvironmentType, tasks: TaskSpec[], lockedWorkerId: string | undefined, log: Log) {
  const db = prisma();
  if (await db.taskRun.findFirst({ where: { environmentId, tags: { has: SEED_TAG } }, select: { id: true } })) {
    log(`  ${slug.padEnd(8)} runs exist`);
    return;
  }
  const queues = new Map(
    (await db.taskQueue.findMany({ where: { environmentId }, select: { id: true, name: true } })).map((q) => [q.name, q.id]),
  );
  const count = type === "PRODUCTION" ? 16 : 4;
  const now = Date.now();
  const runs = Array.from({ length: count }, (_, i) => {
    const task = tasks[(i * 5) % tasks.length];
    const createdAt = new Date(now - (i + 1) * 7 * 60_000);
    const ttl = task.ttl ?? (type === "DEVELOPMENT" ? "10m" : null);
    const seconds = ttl ? tryParseDuration(ttl) : null;
    const queue = task.queue?.name ?? defaultQueueName(task.slug);
    return {
      friendlyId: friendlyRunId(),
      environmentId,
      taskIdentifier: task.slug,
      payload: { demo: true, customerId: `cus_${1000 + i}` },
      queue,
      ttl,
      expiresAt: seconds ? new Date(createdAt.getTime() + seconds * 1000) : null,
      taskKind: task.triggerSource ?? "STANDARD",
      tags: [SEED_TAG, `customer:${1000 + i}`],
      status: RUN_STATUSES[i % RUN_STATUSES.length],
      createdAt,
    };
  });
  const data = runs.map((run) => ({ ...run, delayUntil: null as Date | null, lockedToVersionId: null as string | null, lockedQueueId: null as string | null }));
  if (type === "PRODUCTION") {
    // A delayed run, a run for a task no deployed worker has, and one locked to the older version.
    data[0] = { ...data[0], status: "DELAYED", delayUntil: new Date(now + 30 * 60_000) };
    data[1] = { ...data[1], taskIdentifier: "legacy-sync-task", queue: defaultQueueName("legacy-sync-task"), taskKind: "STANDARD", ttl: null, expiresAt: null, status: "PENDING_VERSION" };
    if (lockedWorkerId) {
      const createdAt = data[2].createdAt;
      data[2] = {
        ...data[2],
        taskIdentifier: "send-welcome-email",
        queue: email.name,
        taskKind: "STANDARD",
        ttl: "30m",
        expiresAt: new Date(createdAt.getTime() + 30 * 60_000),
        status: "COMPLETED",
        lockedToVersionId: lockedWorkerId,
        lockedQueueId: queues.get(email.name) ?? null,
      };
    }
  }
  await db.taskRun.createMany({ data });
  log(`  ${slug.padEnd(8)} ${count} runs created`);
}

/** Creates or completes the demo data. Safe to run any number of times. */
export async function seed(options: { log?: Log } = {}): Promise<SeedResult> {
  const log = options.log ?? ((line: string) => console.log(line));
  const env = getEnv();
  const db = prisma();

  log("Users (admin webapp):");
  const users = [
    await seedUser(env.ADMIN_EMAIL ?? DEFAULT_ADMIN_EMAIL, "ADMIN", env.ADMIN_PASSWORD, "ADMIN_PASSWORD", log),
    await seedUser(VIEWER_EMAIL, "VIEWER", env.SEED_VIEWER_PASSWORD, "SEED_VIEWER_PASSWORD", log),
  ];

  const organization = await db.organization.upsert({
    where: { slug: ORGANIZATION.slug },
    create: ORGANIZATION,
    update: {},
    select: { id: true },
  });
  const existingProject = await db.project.findUnique({
    where: { organizationId_slug: { organizationId: organization.id, slug: PROJECT.slug } },
    select: { id: true, webhookSecret: true },
  });
  const webhookSecret = env.SEED_WEBHOOK_SECRET ?? existingProject?.webhookSecret ?? generateWebhookSecret();
  const project = existingProject
    ? existingProject.webhookSecret === webhookSecret
      ? existingProject
      : await db.project.update({ where: { id: existingProject.id }, data: { webhookSecret }, select: { id: true } })
    : await db.project.create({ data: { ...PROJECT, organizationId: organization.id, webhookSecret }, select: { id: true } });
  log(`Organization ${ORGANIZATION.slug}, project ${PROJECT.slug}`);
  log(`  webhook secret  ${webhookSecret}`);

  log("API keys (Authorization: Bearer <key>):");
  const environments: SeedResult["environments"] = {};
  for (const { slug, type, fixedKey } of ENVIRONMENTS) {
    const environment = await db.runtimeEnvironment.upsert({
      where: { projectId_slug: { projectId: project.id, slug } },
      create: { projectId: project.id, slug, type },
      update: {},
      select: { id: true },
    });
    const apiKey = await seedApiKey(environment.id, slug, type, fixedKey(), log);
    environments[slug] = { id: environment.id, type, apiKey };
  }

  log("Workers:");
  const workers: SeedResult["workers"] = [];
  for (const worker of WORKERS) {
    const environmentId = environments[worker.environment].id;
    // Same version and tasks as last time: the service answers with the existing worker.
    const registered = await registerWorker({ environmentId, version: worker.version, tasks: worker.tasks });
    let state = worker.environment === "dev" ? "current (latest dev worker)" : "deployed (promote it to roll back)";
    if (worker.promote) {
      // Only the first time: a re-run must not undo a promotion or roll-back made in the admin pages.
      const current = await db.workerDeploymentPromotion.findUnique({
        where: { environmentId_label: { environmentId, label: "current" } },
        select: { worker: { select: { version: true } } },
      });
      if (!current) await promoteVersion({ environmentId, version: worker.version });
      state = current && current.worker.version !== worker.version ? `deployed; ${current.worker.version} is current (left as is)` : "current";
    }
    workers.push({ environment: worker.environment, version: worker.version, workerId: registered.workerId, tasks: worker.tasks.length });
    log(`  ${worker.environment.padEnd(8)} ${worker.version.padEnd(15)} ${String(worker.tasks.length).padStart(2)} tasks  ${state}${registered.created ? "" : "  (existed)"}`);
  }

  log("Runs:");
  const previousProd = workers.find((w) => w.environment === "prod" && w.version === "20261120.1");
  for (const { slug, type } of ENVIRONMENTS) {
    const tasks = WORKERS.find((w) => w.environment === slug && (w.promote || slug === "dev"))!.tasks;
    await seedRuns(environments[slug].id, slug, type, tasks, previousProd?.workerId, log);
  }

  return { organizationId: organization.id, projectId: project.id, webhookSecret, environments, users, workers };
}

/** `npm run db:seed`: seed, then close every connection so the process exits. */
export async function main() {
  try {
    await seed();
  } finally {
    await disconnectApiKeyCache().catch(() => {});
    await disconnectTaskMetadataCache().catch(() => {});
    await disconnectDb();
    await disconnectRedis();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error("Seeding failed:", error);
    process.exitCode = 1;
  });
}
