import { NotFoundError } from "~/domain/errors";
import { authenticateAuthorizationHeader } from "~/services/apiKeyAuth.server";
import { getRun } from "~/services/runs.server";
import { bufferedRunView, readRunThroughBuffer } from "~/services/triggerBuffer/reads.server";
import { json, type ApiRequest, type ApiResponse } from "./http";
import { RUN_ID } from "./runsApi";

/** GET /api/v1/runs/:runId — a run of the key's environment; any other run is indistinguishable from an unknown one (404). */
export async function getRunById(request: ApiRequest, params: { runId: string }): Promise<ApiResponse> {
  const environment = await authenticateAuthorizationHeader(request.header("authorization"), request.clientAddress);
  const notFound = new NotFoundError(`Run '${params.runId}' not found`);
  // Ids that cannot exist are answered without a query.
  if (!RUN_ID.test(params.runId)) throw notFound;
  const run = await readRunThroughBuffer(environment.id, params.runId, (id) => getRun(environment.id, id), bufferedRunView);
  if (!run) throw notFound;
  return json(200, run);
}
