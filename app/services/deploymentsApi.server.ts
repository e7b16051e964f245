import { prisma } from "~/db.server";
import { parseDuration } from "~/domain/durations";
import { BadRequestError, NotFoundError } from "~/domain/errors";
import type { Prisma } from "~/generated/prisma/client";
import { CURRENT_LABEL } from "~/domain/environments";

/**
 * `GET /api/v1/deployments` and `/current` in the SDK's `ApiDeploymentListResponseItem` shape.
 * DEVELOPMENT registers workers without deployments, so it lists none and has no current one.
 */

const SDK_DEPLOYMENT_STATUSES = ["PENDING", "BUILDING", "DEPLOYING", "DEPLOYED", "FAILED", "CANCELED", "TIMED_OUT"];
const DEFAULT_PAGE_SIZE = 20;
const MAX_PAGE_SIZE = 100;

const deploymentSelect = { id: true, createdAt: true, status: true, worker: { select: { version: true } } } satisfies Prisma.WorkerDeploymentSelect;
type DeploymentRow = Prisma.WorkerDeploymentGetPayload<{ select: typeof deploymentSelect }>;

function deploymentView(row: DeploymentRow) {
  return {
    id: row.id,
    createdAt: row.createdAt.toISOString(),
    shortCode: row.id.slice(-8),
    version: row.worker.version,
    runtime: null,
    runtimeVersion: null,
    status: row.status,
    ...(row.status === "DEPLOYED" ? { deployedAt: row.createdAt.toISOString() } : {}),
  };
}

function date(params: URLSearchParams, name: string): Date | undefined {
  const raw = params.get(name);
  if (raw === null) return undefined;
  const at = new Date(raw);
  if (Number.isNaN(at.getTime())) throw new BadRequestError(`Invalid ${name}: '${raw}' is not an ISO 8601 date`, { field: name });
  return at;
}

function deploymentFilters(environmentId: string, params: URLSearchParams, now: Date): Prisma.WorkerDeploymentWhereInput {
  const status = params.get("status");
  if (status !== null && !SDK_DEPLOYMENT_STATUSES.includes(status)) {
    throw new BadRequestError(`Invalid status: use one of ${SDK_DEPLOYMENT_STATUSES.join(", ")}`, { field: "status" });
  }
  const period = params.get("period");
  const since = period === null ? undefined : new Date(now.getTime() - parseDuration(period, "period") * 1000);
  const from = date(params, "from") ?? since;
  const to = date(params, "to");
  return {
    environmentId,
    ...(status !== null ? { status: status as never } : {}),
    ...(from || to ? { createdAt: { ...(from ? { gte: from } : {}), ...(to ? { lte: to } : {}) } } : {}),
  };
}

function pageSize(params: URLSearchParams): number {
  const raw = params.get("page[size]");
  if (raw === null) return DEFAULT_PAGE_SIZE;
  const size = Number(raw);
  if (!Number.isInteger(size) || size < 1 || size > MAX_PAGE_SIZE) {
    throw new BadRequestError(`Invalid page[size]: use a whole number from 1 to ${MAX_PAGE_SIZE}`, { field: "page[size]" });
  }
  return size;
}

/** Newest first; `page[after]` is the last deployment id of the previous page. */
export async function listDeployments(environmentId: string, params: URLSearchParams) {
  const size = pageSize(params);
  const after = params.get("page[after]");
  let keyset: Prisma.WorkerDeploymentWhereInput = {};
  if (after !== null) {
    const cursor = await prisma().workerDeployment.findFirst({ where: { id: after, environmentId }, select: { id: true, createdAt: true } });
    if (!cursor) throw new BadRequestError("Invalid page[after]: not a deployment of this environment", { field: "page[after]" });
    keyset = { OR: [{ createdAt: { lt: cursor.createdAt } }, { createdAt: cursor.createdAt, id: { lt: cursor.id } }] };
  }
  const rows = await prisma().workerDeployment.findMany({
    where: { AND: [deploymentFilters(environmentId, params, new Date()), keyset] },
    orderBy: [{ createdAt: "desc" }, { id: "desc" }],
    take: size + 1,
    select: deploymentSelect,
  });
  const page = rows.slice(0, size);
  return {
    data: page.map(deploymentView),
    pagination: rows.length > size ? { next: page[page.length - 1].id } : {},
  };
}

/** The promoted deployment; a 404 when there is none (DEVELOPMENT, or nothing promoted yet). */
export async function currentDeployment(environmentId: string) {
  const promotion = await prisma().workerDeploymentPromotion.findFirst({
    where: { environmentId, label: CURRENT_LABEL },
    select: { worker: { select: { deployment: { select: deploymentSelect } } } },
  });
  const deployment = promotion?.worker.deployment;
  if (!deployment) throw new NotFoundError("This environment has no current deployment");
  return deploymentView(deployment);
}
