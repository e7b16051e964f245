import { BadRequestError } from "~/domain/errors";
import { unstorableText } from "~/domain/storableInput";
import { nameServerSpan } from "~/services/tracing.server";
import { batchResultsV1, batchTriggerV2, createBatchV3, retrieveBatchV2, streamBatchItemsV3 } from "./batches";
import { createDeployment } from "./deployments";
import { errorResponse, PERMANENT } from "./errors";
import { json, type ApiRequest, type ApiResponse } from "./http";
import { promoteDeployment } from "./promote";
import { getRunById } from "./runs";
import {
  addTagsV1,
  cancelRunV2,
  currentDeploymentV1,
  listDeploymentsV1,
  listRunsV1,
  replayRunV1,
  rescheduleRunV1,
  resetIdempotencyKeyV1,
  retrieveRunV3,
  updateMetadataV1,
} from "./runsApi";
import { triggerTask } from "./trigger";

/**
 * The API's route table and its single entry point. Both lanes call {@link handleApi}: the lean
 * lane with every /api/* request, the Remix resource routes with theirs. Matching and parameter
 * decoding happen here, once, so the lanes cannot disagree about which handler runs or with what.
 */

type Params = Record<string, string>;

interface Route {
  method: "GET" | "POST" | "PUT";
  segments: string[];
  handler: (request: ApiRequest, params: Params) => Promise<ApiResponse>;
}

function route(method: Route["method"], pattern: string, handler: (request: ApiRequest, params: any) => Promise<ApiResponse>): Route {
  return { method, segments: pattern.split("/").filter(Boolean), handler };
}

const ROUTES: Route[] = [
  route("POST", "/api/v1/tasks/:taskId/trigger", triggerTask),
  route("POST", "/api/v3/batches", createBatchV3),
  route("POST", "/api/v3/batches/:batchId/items", streamBatchItemsV3),
  route("POST", "/api/v2/tasks/batch", batchTriggerV2),
  route("GET", "/api/v2/batches/:batchId", retrieveBatchV2),
  route("GET", "/api/v1/batches/:batchId/results", batchResultsV1),
  route("GET", "/api/v1/runs", listRunsV1),
  route("GET", "/api/v1/runs/:runId", getRunById),
  route("GET", "/api/v3/runs/:runId", retrieveRunV3),
  route("POST", "/api/v2/runs/:runId/cancel", cancelRunV2),
  route("POST", "/api/v1/runs/:runId/reschedule", rescheduleRunV1),
  route("POST", "/api/v1/runs/:runId/replay", replayRunV1),
  route("POST", "/api/v1/runs/:runId/tags", addTagsV1),
  route("PUT", "/api/v1/runs/:runId/metadata", updateMetadataV1),
  route("POST", "/api/v1/idempotencyKeys/:key/reset", resetIdempotencyKeyV1),
  route("GET", "/api/v1/deployments", listDeploymentsV1),
  route("POST", "/api/v1/deployments", createDeployment),
  route("GET", "/api/v1/deployments/current", currentDeploymentV1),
  route("POST", "/api/v1/deployments/:version/promote", promoteDeployment),
];

/** Whether a request path (with or without a query string) belongs to the API. */
export function isApiPath(url: string): boolean {
  return url === "/api" || url.startsWith("/api/") || url.startsWith("/api?");
}

function match(segments: string[], route: Route): Params | null {
  if (segments.length !== route.segments.length) return null;
  const params: Params = {};
  for (let i = 0; i < segments.length; i++) {
    const expected = route.segments[i];
    if (expected.startsWith(":")) params[expected.slice(1)] = segments[i];
    else if (expected !== segments[i]) return null;
  }
  return params;
}

function decodeParams(params: Params): Params | null {
  let decoded: Params;
  try {
    decoded = Object.fromEntries(Object.entries(params).map(([k, v]) => [k, decodeURIComponent(v)]));
  } catch {
    return null;
  }
  // `%00` decodes fine but no query can carry it (domain/storableInput.ts).
  for (const [name, value] of Object.entries(decoded)) {
    const problem = unstorableText(value);
    if (problem) throw new BadRequestError(`Invalid path parameter ${name}: it ${problem}`, { field: name });
  }
  return decoded;
}

export async function handleApi(request: ApiRequest): Promise<ApiResponse> {
  const segments = request.path.split("/").filter(Boolean);
  // HEAD answers wherever GET does, with GET's status and headers (both lanes drop the body).
  const method = request.method === "HEAD" ? "GET" : request.method;
  const allowed: string[] = [];
  try {
    for (const candidate of ROUTES) {
      const params = match(segments, candidate);
      if (!params) continue;
      if (candidate.method !== method) {
        allowed.push(...(candidate.method === "GET" ? ["GET", "HEAD"] : [candidate.method]));
        continue;
      }
      nameServerSpan(method, `/${candidate.segments.join("/")}`);
      const decoded = decodeParams(params);
      if (!decoded) break;
      return await candidate.handler(request, decoded);
    }
    if (allowed.length > 0) {
      return json(405, { error: `Method ${request.method} is not allowed on ${request.path}; use ${allowed.join(", ")}` }, { ...PERMANENT, allow: allowed.join(", ") });
    }
    return json(404, { error: `No API route matches ${request.method} ${request.path}` }, PERMANENT);
  } catch (error) {
    return errorResponse(error, request);
  }
}
