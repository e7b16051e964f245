import { json } from "@remix-run/node";
import { checkHealth } from "~/services/health.server";

export async function loader() {
  const report = await checkHealth();
  return json(report.body, { status: report.healthy ? 200 : 503, headers: { "Cache-Control": "no-store" } });
}
