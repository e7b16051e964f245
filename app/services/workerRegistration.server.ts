import type { WorkerMetadataSnapshot } from "~/domain/taskMetadataEntry";
import { ConflictError } from "~/domain/errors";
import { claimExternalId, type ExternalClaim } from "~/services/externalDeploymentIds.server";
import { workerSnapshot, type NormalisedTask } from "~/domain/workerTasks";
import type { Prisma, PrismaClient } from "~/generated/prisma/client.ts";
import type { EnvironmentRef } from "~/domain/environments";

/**
 * A worker's registration in Postgres, step by step, inside one transaction: an idempotent
 * re-send is answered as the first time; otherwise the worker, its queues, its tasks and (outside
 * DEVELOPMENT) its deployment are inserted. WorkerService (workers.server.ts) then writes the cache.
 */

export interface RegisteredWorker {
  workerId: string;
  deploymentId: string | null;
  version: string;
  /** False when this version was already registered with the same content (idempotent re-send). */
  created: boolean;
  tasks: { id: string; slug: string; queueName: string | null }[];
}

const INSERT_CHUNK = 1_000;

/** Returns the snapshot of what it created for the cache (null for an idempotent re-send). */
export function insertWorker(
  db: PrismaClient,
  environment: EnvironmentRef,
  registration: { version: string; identity: string; tasks: NormalisedTask[]; external?: { id: string; force: boolean } },
): Promise<{ registered: RegisteredWorker; snapshot: WorkerMetadataSnapshot | null }> {
  const { version, identity, tasks } = registration;
  return db.$transaction(
    async (tx) => {
      const target = { environmentId: environment.id, version, identity };
      // An external id: one deploy of it at a time, idempotent by it (externalDeploymentIds.server.ts).
      let claim: ExternalClaim | null = null;
      if (registration.external) {
        claim = await claimExternalId(tx, target, registration.external);
        if (claim.holder) return { registered: await registeredAs(tx, claim.holder, version, tasks), snapshot: null };
      }
      const existing = await alreadyRegistered(tx, target, tasks, claim);
      if (existing) return { registered: existing, snapshot: null };
      const worker = await tx.backgroundWorker.create({
        data: {
          environmentId: environment.id,
          version,
          contentHash: identity,
          externalDeploymentId: claim?.id ?? null,
          externalIdGeneration: claim?.generation ?? null,
        },
        select: { id: true },
      });
      const queueIds = await upsertQueues(tx, environment.id, tasks);
      const created = await insertTasks(tx, { workerId: worker.id, environmentId: environment.id }, tasks, queueIds);
      const deploymentId = environment.type === "DEVELOPMENT" ? null : await createDeployment(tx, worker.id, environment.id);
      return {
        registered: { workerId: worker.id, deploymentId, version, created: true, tasks: created },
        snapshot: { ...workerSnapshot(worker.id, version, tasks, queueIds), external: claim && { id: claim.id, generation: claim.generation } },
      };
    },
    { timeout: 120_000, maxWait: 10_000 },
  );
}

type Transaction = Prisma.TransactionClient;

/**
 * The registration of this version if it exists: the same content (a re-send) is answered as the
 * first time, in this request's task order; different content is a conflict. A re-send that
 * brings an external id the version did not have gives it that id.
 */
async function alreadyRegistered(
  tx: Transaction,
  target: { environmentId: string; version: string; identity: string },
  tasks: NormalisedTask[],
  claim: ExternalClaim | null,
): Promise<RegisteredWorker | null> {
  const { environmentId, version, identity } = target;
  const existing = await tx.backgroundWorker.findUnique({
    where: { environmentId_version: { environmentId, version } },
    select: { id: true, contentHash: true, externalDeploymentId: true },
  });
  if (!existing) return null;
  if (existing.contentHash !== identity) {
    throw new ConflictError(`Version '${version}' is already registered in this environment with different content.`, { version });
  }
  if (claim) {
    if (existing.externalDeploymentId !== null) {
      throw new ConflictError(`Version '${version}' is already registered with external deployment id '${existing.externalDeploymentId}'.`, { version });
    }
    await tx.backgroundWorker.update({
      where: { id: existing.id },
      data: { externalDeploymentId: claim.id, externalIdGeneration: claim.generation },
    });
  }
  return registeredAs(tx, existing.id, version, tasks);
}

/** An existing registration answered as the first time, in this request's task order (same content, so the same slugs). */
async function registeredAs(tx: Transaction, workerId: string, version: string, tasks: NormalisedTask[]): Promise<RegisteredWorker> {
  const existing = await tx.backgroundWorker.findUniqueOrThrow({
    where: { id: workerId },
    select: { deployment: { select: { id: true } }, tasks: { select: { id: true, slug: true, queue: { select: { name: true } } } } },
  });
  const bySlug = new Map(existing.tasks.map((t) => [t.slug, { id: t.id, slug: t.slug, queueName: t.queue?.name ?? null }]));
  return {
    workerId,
    deploymentId: existing.deployment?.id ?? null,
    version,
    created: false,
    tasks: tasks.flatMap((t) => bySlug.get(t.slug) ?? []),
  };
}

/**
 * Creates the queues the tasks declare and returns every declared queue's id by name. Queues are
 * shared by the environment's workers; the newest registration sets a queue's concurrency limit
 * (a task that declares none leaves it as it is).
 */
async function upsertQueues(tx: Transaction, environmentId: string, tasks: NormalisedTask[]): Promise<Map<string, string>> {
  const declared = new Map<string, number | null | undefined>();
  for (const task of tasks) {
    if (task.queueName && (!declared.has(task.queueName) || declared.get(task.queueName) === undefined)) {
      declared.set(task.queueName, task.concurrencyLimit);
    }
  }
  const queueIds = new Map<string, string>();
  const names = [...declared.keys()];
  for (let i = 0; i < names.length; i += INSERT_CHUNK) {
    const chunk = names.slice(i, i + INSERT_CHUNK);
    await tx.taskQueue.createMany({
      data: chunk.map((name) => ({ environmentId, name, concurrencyLimit: declared.get(name) ?? null })),
      skipDuplicates: true,
    });
    const rows = await tx.taskQueue.findMany({
      where: { environmentId, name: { in: chunk } },
      select: { id: true, name: true, concurrencyLimit: true },
    });
    const changed = new Map<number | null, string[]>();
    for (const row of rows) {
      queueIds.set(row.name, row.id);
      const limit = declared.get(row.name);
      if (limit !== undefined && limit !== row.concurrencyLimit) changed.set(limit, [...(changed.get(limit) ?? []), row.id]);
    }
    for (const [limit, ids] of changed) {
      await tx.taskQueue.updateMany({ where: { id: { in: ids } }, data: { concurrencyLimit: limit } });
    }
  }
  return queueIds;
}

/** Inserts the worker's tasks a chunk at a time; returns them in the request's order. */
async function insertTasks(
  tx: Transaction,
  owner: { workerId: string; environmentId: string },
  tasks: NormalisedTask[],
  queueIds: Map<string, string>,
): Promise<RegisteredWorker["tasks"]> {
  const created: RegisteredWorker["tasks"] = [];
  for (let i = 0; i < tasks.length; i += INSERT_CHUNK) {
    const chunk = tasks.slice(i, i + INSERT_CHUNK);
    const rows = await tx.backgroundWorkerTask.createManyAndReturn({
      data: chunk.map((task) => ({
        ...owner,
        slug: task.slug,
        ttl: task.ttl,
        triggerSource: task.triggerSource,
        queueId: task.queueName ? queueIds.get(task.queueName) ?? null : null,
      })),
      select: { id: true, slug: true },
    });
    const bySlug = new Map(rows.map((r) => [r.slug, r.id]));
    for (const task of chunk) created.push({ id: bySlug.get(task.slug)!, slug: task.slug, queueName: task.queueName });
  }
  return created;
}

/** Outside DEVELOPMENT a registered worker is a deployment, promotable by version. */
async function createDeployment(tx: Transaction, workerId: string, environmentId: string): Promise<string> {
  const deployment = await tx.workerDeployment.create({ data: { workerId, environmentId }, select: { id: true } });
  return deployment.id;
}
