import { checkHealth } from "~/services/health.server";

export async function loader() {
  const report = await checkHealth();
  return Response.json(report.body, { status: report.healthy ? 200 : 503, headers: { "Cache-Control": "no-store" } });
}
