import { randomBytes } from "node:crypto";
import { generateApiKey, hashApiKey, displayPrefix } from "~/domain/apiKeys";
import type { EnvironmentType } from "~/domain/environments";
import { prisma } from "~/db.server";

/**
 * Test data factories shared by every integration test. They write through the app's own Prisma
 * client (this file's database, see perFile.ts) and return ids plus the plaintext API keys, which
 * exist nowhere else (only their hashes are stored).
 */

export interface TestEnvironment {
  id: string;
  slug: string;
  type: EnvironmentType;
  /** Plaintext secret key, for `Authorization: Bearer`. */
  apiKey: string;
  apiKeyId: string;
}

export interface TestProject {
  organizationId: string;
  projectId: string;
  projectSlug: string;
  webhookSecret: string;
  dev: TestEnvironment;
  prod: TestEnvironment;
}

function suffix() {
  return randomBytes(4).toString("hex");
}

async function createEnvironment(projectId: string, slug: string, type: EnvironmentType): Promise<TestEnvironment> {
  const apiKey = generateApiKey(type);
  const environment = await prisma().runtimeEnvironment.create({
    data: {
      projectId,
      slug,
      type,
      apiKeys: { create: { keyHash: hashApiKey(apiKey), keyPrefix: displayPrefix(apiKey) } },
    },
    select: { id: true, apiKeys: { select: { id: true } } },
  });
  return { id: environment.id, slug, type, apiKey, apiKeyId: environment.apiKeys[0].id };
}

/** Organization → project → `dev` (DEVELOPMENT) and `prod` (PRODUCTION), each with one API key. */
export async function createTestProject(options: { webhookSecret?: string } = {}): Promise<TestProject> {
  const s = suffix();
  const webhookSecret = options.webhookSecret ?? `whsec_${randomBytes(16).toString("hex")}`;
  const organization = await prisma().organization.create({
    data: { slug: `org-${s}`, name: `Org ${s}` },
    select: { id: true },
  });
  const project = await prisma().project.create({
    data: { organizationId: organization.id, slug: `project-${s}`, name: `Project ${s}`, webhookSecret },
    select: { id: true, slug: true },
  });
  const dev = await createEnvironment(project.id, "dev", "DEVELOPMENT");
  const prod = await createEnvironment(project.id, "prod", "PRODUCTION");
  return { organizationId: organization.id, projectId: project.id, projectSlug: project.slug, webhookSecret, dev, prod };
}

export interface TestTaskSpec {
  slug: string;
  queue?: { name: string; concurrencyLimit?: number | null } | null;
  ttl?: string | number | null;
  triggerSource?: "STANDARD" | "SCHEDULED" | "AGENT";
}

/** `count` tasks `task-0…`, each on its own queue `queue-<i>`, no TTL, kind STANDARD. */
export function testTasks(count: number, prefix = "task"): TestTaskSpec[] {
  return Array.from({ length: count }, (_, i) => ({ slug: `${prefix}-${i}`, queue: { name: `queue-${i}` } }));
}

export interface TestWorker {
  workerId: string;
  deploymentId: string | null;
  version: string;
  tasks: { id: string; slug: string; queueName: string | null }[];
}

/**
 * Registers a worker through the app's write service and, outside DEVELOPMENT (where the latest
 * worker is current by definition), promotes it unless `promote: false`. Both write the cache as
 * production does (the env-wired cache of this test file's Redis prefix).
 */
export async function registerAndPromote(args: {
  environmentId: string;
  version?: string;
  tasks: number | TestTaskSpec[];
  promote?: boolean;
  contentHash?: string;
}): Promise<TestWorker> {
  const { registerWorker, promoteVersion } = await import("~/services/workers.server");
  const version = args.version ?? `v-${suffix()}`;
  const tasks = typeof args.tasks === "number" ? testTasks(args.tasks) : args.tasks;
  const registered = await registerWorker({
    environmentId: args.environmentId,
    version,
    contentHash: args.contentHash,
    tasks,
  });
  if (args.promote !== false && registered.deploymentId !== null) {
    await promoteVersion({ environmentId: args.environmentId, version });
  }
  return {
    workerId: registered.workerId,
    deploymentId: registered.deploymentId,
    version: registered.version,
    tasks: registered.tasks,
  };
}
