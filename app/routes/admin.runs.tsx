import { data, redirect, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { EmptyState } from "~/components/EmptyState";
import { PageHeader } from "~/components/PageHeader";
import { RouteErrorPanel } from "~/components/RouteErrorPanel";
import { AutoRefresh } from "~/components/runs/AutoRefresh";
import { isFiltered, RunFilters, type RunFilterValues } from "~/components/runs/RunFilters";
import { RunPager } from "~/components/runs/RunPager";
import { RunsTable } from "~/components/runs/RunsTable";
import { httpError } from "~/httpError.server";
import { loadPageData } from "~/presenters/pageData.server";
import { defaultRunsEnvironment, environmentExists, legacyKindParam, parseRunFilters, runsPage } from "~/presenters/runs.server";
import { rememberedRunsEnvironment, rememberRunsEnvironment } from "~/services/runsPreference.server";
import { requireUser } from "~/services/session.server";

export const meta: MetaFunction<typeof loader> = ({ data }) => [
  { title: data?.page ? `Runs of ${data.page.environment.label} · Hotpath` : "Runs · Hotpath" },
];

export async function loader({ request }: LoaderFunctionArgs) {
  await requireUser(request);
  const url = new URL(request.url);
  const renamed = legacyKindParam(url.searchParams);
  if (renamed) throw redirect(`${url.pathname}?${renamed}`);
  const parsed = parseRunFilters(url.searchParams);
  if (!parsed.ok) throw httpError(400, parsed.error);
  const { filters } = parsed;

  if (!filters.env) {
    // The list is per environment: the one chosen last time in this browser, else the one with
    // the newest run. It goes into the URL so that what is on screen is what a copied link shows.
    const remembered = await rememberedRunsEnvironment(request);
    const rememberedExists = remembered !== null && (await loadPageData("runs", () => environmentExists(remembered)));
    const environmentId = rememberedExists ? remembered : await loadPageData("runs", defaultRunsEnvironment);
    if (!environmentId) return data({ page: null, filters: null });
    url.searchParams.set("env", environmentId);
    throw redirect(`${url.pathname}?${url.searchParams}`);
  }
  const page = await loadPageData("runs", () => runsPage(filters.env!, filters));
  if (!page) throw httpError(404, `No environment with id '${filters.env}'.`);
  const values: RunFilterValues = {
    task: filters.task ?? "",
    status: filters.status ?? "",
    kind: filters.kind ?? "",
    externalDeploymentId: filters.externalDeploymentId ?? "",
    period: filters.period ?? "",
    live: filters.live === "1",
  };
  return data({ page, filters: values }, { headers: await rememberRunsEnvironment(request, page.environment.id) });
}

export const ErrorBoundary = RouteErrorPanel;

export default function RunsPage() {
  const { page, filters } = useLoaderData<typeof loader>();
  if (!page || !filters) {
    return (
      <div className="space-y-6">
        <PageHeader title="Runs" description="Runs created by triggers, newest first." />
        <EmptyState title="No environments yet">Run the seed or create a project to see its runs here.</EmptyState>
      </div>
    );
  }
  const clearFilters = `/admin/runs?env=${page.environment.id}`;
  const firstPage = !page.newerCursor;
  return (
    <div className="space-y-6">
      <PageHeader
        title="Runs"
        description={
          <>
            Runs of <span className="font-medium text-slate-700">{page.environment.label}</span>, newest first. The filters are in the URL:
            copy it to share this view.
          </>
        }
      />
      <RunFilters page={page} filters={filters} />
      <div className="flex flex-wrap items-center justify-between gap-3 text-sm text-slate-600">
        <p data-testid="run-count" aria-live="polite">
          {page.matching.capped ? `More than ${page.matching.count.toLocaleString("en")}` : page.matching.count.toLocaleString("en")}{" "}
          {page.matching.count === 1 && !page.matching.capped ? "run" : "runs"}
          {isFiltered(filters) ? " match these filters" : " in this environment"}
        </p>
        <AutoRefresh enabled={filters.live} active={firstPage} now={page.now} />
      </div>
      {page.runs.length === 0 ? (
        <EmptyState title={isFiltered(filters) ? "No runs match these filters" : "No runs in this environment yet"}>
          {isFiltered(filters) ? (
            <Link to={clearFilters} className="text-indigo-700 hover:underline">
              Clear filters
            </Link>
          ) : (
            "Trigger a task through the API (POST /api/v1/tasks/:taskId/trigger) and its run appears here."
          )}
        </EmptyState>
      ) : (
        <RunsTable environmentId={page.environment.id} runs={page.runs} now={page.now} />
      )}
      <RunPager page={page} filters={filters} />
    </div>
  );
}
