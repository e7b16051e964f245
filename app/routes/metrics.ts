import type { LoaderFunctionArgs } from "@remix-run/node";
import { getEnv } from "~/env.server";
import { metricsAccess, metricsRecorder } from "~/services/metrics.server";
import { clusterMetricsText, isClusterWorker } from "~/services/webCluster.server";

/**
 * GET /metrics: this process's counters in Prometheus text format, for a scraper holding
 * METRICS_TOKEN; in OpenMetrics (with exemplars) when the scraper's Accept asks for it. Under
 * WEB_CONCURRENCY > 1, the sum over every worker of the server, in Prometheus text.
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
      if (isClusterWorker()) {
        // Every worker of this server added up (prom-client's aggregator); exemplars stay per process.
        const recorder = metricsRecorder();
        return new Response(await clusterMetricsText(), { status: 200, headers: { ...noStore, "Content-Type": recorder.registry.contentType } });
      }
      const openMetrics = request.headers.get("accept")?.includes("application/openmetrics-text") ?? false;
      const { body, contentType } = await metricsRecorder().render(openMetrics);
      return new Response(body, { status: 200, headers: { ...noStore, "Content-Type": contentType } });
    }
  }
}
