import { z } from "zod";
import { BadRequestError, NotFoundError } from "~/domain/errors";
import { unstorableText } from "~/domain/storableInput";
import { UpdateMetadataBody } from "~/domain/runMetadata";
import { parseRunListQuery } from "~/domain/runListQuery";
import { Delay, ReplayBody, TaskSlug, Tags } from "~/domain/triggerOptions";
import { authenticateAuthorizationHeader } from "~/services/apiKeyAuth.server";
import { currentDeployment, listDeployments } from "~/services/deploymentsApi.server";
import { addTags, cancelRun, replayRun, rescheduleRun, resetIdempotencyKey, updateMetadata } from "~/services/runActions.server";
import { listRuns, retrieveRun } from "~/services/runQueries.server";
import { readJsonBody } from "./body";
import { json, type ApiRequest, type ApiResponse } from "./http";

/**
 * The runs API the SDK calls (docs/api.md "Using the trigger.dev SDK"): each handler is auth →
 * parse → one service call, scoped to the key's environment, answered in the SDK's shapes.
 */

export const RUN_ID = /^run_[0-9A-Za-z]{1,64}$/;

type RunParams = { runId: string };

/** The run id, or the same 404 as an unknown run when it cannot be one (answered without a query). */
function runId(params: RunParams): string {
  if (!RUN_ID.test(params.runId)) throw new NotFoundError(`Run '${params.runId}' not found`);
  return params.runId;
}

async function body<T extends z.ZodType>(request: ApiRequest, schema: T): Promise<z.output<T>> {
  const { value } = await readJsonBody(request);
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw parsed.error;
  return parsed.data;
}

/** The query parameters; one that no query could carry (domain/storableInput.ts) is a 400 naming it. */
function queryParams(request: ApiRequest): URLSearchParams {
  const params = request.query();
  for (const [name, value] of params) {
    const problem = unstorableText(name) ?? unstorableText(value);
    if (problem) throw new BadRequestError(`Invalid query parameter ${name}: it ${problem}`, { field: name });
  }
  return params;
}

const auth = (request: ApiRequest) => authenticateAuthorizationHeader(request.header("authorization"));

/** GET /api/v3/runs/:runId — `runs.retrieve`. */
export async function retrieveRunV3(request: ApiRequest, params: RunParams): Promise<ApiResponse> {
  const environment = await auth(request);
  const id = runId(params);
  const run = await retrieveRun(environment.id, id);
  if (!run) throw new NotFoundError(`Run '${id}' not found`);
  return json(200, run);
}

/** GET /api/v1/runs — `runs.list`. */
export async function listRunsV1(request: ApiRequest): Promise<ApiResponse> {
  const environment = await auth(request);
  const query = parseRunListQuery(queryParams(request), new Date());
  return json(200, await listRuns({ id: environment.id, slug: environment.slug }, query));
}

/** POST /api/v2/runs/:runId/cancel — `runs.cancel`. */
export async function cancelRunV2(request: ApiRequest, params: RunParams): Promise<ApiResponse> {
  const environment = await auth(request);
  return json(200, await cancelRun(environment.id, runId(params)));
}

/** POST /api/v1/runs/:runId/reschedule — `runs.reschedule` (a DELAYED run only). */
export async function rescheduleRunV1(request: ApiRequest, params: RunParams): Promise<ApiResponse> {
  const environment = await auth(request);
  const id = runId(params);
  const { delay } = await body(request, z.object({ delay: Delay }));
  return json(200, await rescheduleRun(environment.id, id, delay));
}

/** POST /api/v1/runs/:runId/replay — `runs.replay`: a new run, same payload and options. */
export async function replayRunV1(request: ApiRequest, params: RunParams): Promise<ApiResponse> {
  const environment = await auth(request);
  const id = runId(params);
  const overrides = await body(request, ReplayBody);
  return json(200, await replayRun({ id: environment.id, type: environment.type }, id, overrides));
}

/** POST /api/v1/runs/:runId/tags — `runs.addTags` / `tags.add`. */
export async function addTagsV1(request: ApiRequest, params: RunParams): Promise<ApiResponse> {
  const environment = await auth(request);
  const id = runId(params);
  const { tags } = await body(request, z.object({ tags: Tags }));
  return json(200, await addTags(environment.id, id, tags));
}

/** PUT /api/v1/runs/:runId/metadata — `metadata.*` flushes and `runs.updateMetadata`. */
export async function updateMetadataV1(request: ApiRequest, params: RunParams): Promise<ApiResponse> {
  const environment = await auth(request);
  const id = runId(params);
  const update = await body(request, UpdateMetadataBody);
  return json(200, await updateMetadata(environment.id, id, update));
}

/** POST /api/v1/idempotencyKeys/:key/reset — `idempotencyKeys.reset(taskIdentifier, key)`. */
export async function resetIdempotencyKeyV1(request: ApiRequest, params: { key: string }): Promise<ApiResponse> {
  const environment = await auth(request);
  const { taskIdentifier } = await body(request, z.object({ taskIdentifier: TaskSlug }));
  return json(200, await resetIdempotencyKey(environment.id, taskIdentifier, params.key));
}

/** GET /api/v1/deployments — `deployments.list`. */
export async function listDeploymentsV1(request: ApiRequest): Promise<ApiResponse> {
  const environment = await auth(request);
  return json(200, await listDeployments(environment.id, queryParams(request)));
}

/** GET /api/v1/deployments/current — `deployments.retrieveCurrent`. */
export async function currentDeploymentV1(request: ApiRequest): Promise<ApiResponse> {
  const environment = await auth(request);
  return json(200, await currentDeployment(environment.id));
}
