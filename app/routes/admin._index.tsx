import { data, type ActionFunctionArgs, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { useLoaderData } from "@remix-run/react";
import { CacheOverviewCharts } from "~/components/CacheOverviewCharts";
import { EmptyState } from "~/components/EmptyState";
import { DriftPanel } from "~/components/overview/DriftPanel";
import { EnvironmentsTable } from "~/components/overview/EnvironmentsTable";
import { RefreshControls, WindowChooser } from "~/components/overview/PageControls";
import { RedisServerTiles } from "~/components/overview/RedisServerTiles";
import { TriggerBufferTiles } from "~/components/overview/TriggerBufferTiles";
import { KeyspaceTable, RedisProblems, SummaryTiles, UnknownSummaryTiles } from "~/components/overview/TrafficSections";
import { PageHeader } from "~/components/PageHeader";
import { RouteErrorPanel } from "~/components/RouteErrorPanel";
import { METRICS_WINDOWS, parseWindow } from "~/domain/metricsMath";
import { httpError } from "~/httpError.server";
import { getCacheOverview } from "~/presenters/cacheOverview.server";
import { overviewDrift } from "~/presenters/drift.server";
import { loadPageData } from "~/presenters/pageData.server";
import { getTriggerBufferOverview } from "~/presenters/triggerBuffer.server";
import { requireAdminAction, requireUser } from "~/services/session.server";

export const meta: MetaFunction = () => [{ title: "Cache overview · Hotpath" }];

export async function loader({ request }: LoaderFunctionArgs) {
  await requireUser(request);
  const window = parseWindow(new URL(request.url).searchParams.get("window"));
  const [overview, triggerBuffer, drift] = await Promise.all([
    loadPageData("cache overview", () => getCacheOverview(window)),
    getTriggerBufferOverview(),
    loadPageData("cache overview", () => overviewDrift()),
  ]);
  return data({ ...overview, triggerBuffer, drift }, { headers: { "Cache-Control": "no-store" } });
}

// The overview only reads. Its action is guarded like every admin action, so a forged POST without
// a session or from a VIEWER is refused before being told there is nothing to do here.
export async function action({ request }: ActionFunctionArgs) {
  await requireAdminAction(request);
  throw httpError(405, "The cache overview has no actions.");
}

export const ErrorBoundary = RouteErrorPanel;

export default function OverviewPage() {
  const overview = useLoaderData<typeof loader>();
  const { summary } = overview;
  const windowLabel = METRICS_WINDOWS[overview.window].label;
  const noTraffic = summary !== null && summary.lookups === 0 && overview.keyspaces.every((k) => k.hits + k.misses + k.negativeHits === 0);
  const updated = new Date(overview.generatedAt).toISOString().slice(11, 19);

  return (
    <div className="space-y-8">
      <PageHeader
        title="Cache overview"
        description={
          <>
            How well the task metadata cache serves the trigger hot path, summed over every app instance. Last{" "}
            {windowLabel}, read at {updated} UTC.
          </>
        }
        actions={
          <>
            <WindowChooser current={overview.window} />
            <RefreshControls />
          </>
        }
      />
      <RedisProblems problems={overview.problems} />
      <DriftPanel drift={overview.drift} />
      {summary ? <SummaryTiles summary={summary} windowLabel={windowLabel} /> : <UnknownSummaryTiles />}
      {noTraffic ? (
        <EmptyState title={`No cache traffic in the last ${windowLabel} yet`}>
          Trigger a task (<code className="rounded bg-slate-100 px-1">POST /api/v1/tasks/&lt;task&gt;/trigger</code> with an
          environment&apos;s secret key) and the figures appear within a few seconds: each app instance writes its counters to
          Redis every few seconds. Or pick a longer window.
        </EmptyState>
      ) : summary ? (
        <>
          <CacheOverviewCharts points={overview.series} stepMinutes={overview.stepMinutes} nowMs={overview.generatedAt} />
          <KeyspaceTable keyspaces={overview.keyspaces} />
        </>
      ) : null}
      <EnvironmentsTable overview={overview} windowLabel={windowLabel} />
      <TriggerBufferTiles buffer={overview.triggerBuffer} />
      <RedisServerTiles redisServer={overview.redisServer} />
    </div>
  );
}
