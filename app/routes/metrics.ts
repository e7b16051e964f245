import type { LoaderFunctionArgs } from "@remix-run/node";
import { getEnv } from "~/env.server";
import { metricsAccess, metricsRecorder } from "~/services/metrics.server";

/**
 * GET /metrics: this process's counters in Prometheus text format, for a scraper holding
 * METRICS_TOKEN; in OpenMetrics (with exemplars) when the scraper's Accept asks for it.
 */
export async function loader({ request }: LoaderFunctionArgs) {
  const noStore = { "Cache-Control": "no-store" };
  switch (metricsAccess(request.headers.get("authorization"), getEnv().METRICS_TOKEN)) {
    case "disabled":
      return Response.json(
        { error: "Metrics are disabled on this server: set METRICS_TOKEN to enable GET /metrics." },
        { status: 404, headers: noStore },
      );
    case "unauthorized":
      return Response.json(
        { error: "GET /metrics needs the header 'Authorization: Bearer <METRICS_TOKEN>'; the token was missing or wrong." },
        { status: 401, headers: { ...noStore, "WWW-Authenticate": 'Bearer realm="metrics"' } },
      );
    case "allowed": {
      const openMetrics = request.headers.get("accept")?.includes("application/openmetrics-text") ?? false;
      const { body, contentType } = await metricsRecorder().render(openMetrics);
      return new Response(body, { status: 200, headers: { ...noStore, "Content-Type": contentType } });
    }
  }
}
