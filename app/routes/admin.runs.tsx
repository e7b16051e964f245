import { redirect, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Link, useLoaderData } from "@remix-run/react";
import { EmptyState } from "~/components/EmptyState";
import { PageHeader } from "~/components/PageHeader";
import { RouteErrorPanel } from "~/components/RouteErrorPanel";
import { isFiltered, RunFilters } from "~/components/runs/RunFilters";
import { RunPager } from "~/components/runs/RunPager";
import { RunsTable } from "~/components/runs/RunsTable";
import { httpError } from "~/httpError.server";
import { loadPageData } from "~/presenters/pageData.server";
import { defaultRunsEnvironment, parseRunFilters, runsPage } from "~/presenters/runs.server";
import { requireUser } from "~/services/session.server";

export const meta: MetaFunction = () => [{ title: "Runs · Hotpath" }];

export async function loader({ request }: LoaderFunctionArgs) {
  await requireUser(request);
  const url = new URL(request.url);
  const parsed = parseRunFilters(url.searchParams);
  if (!parsed.ok) throw httpError(400, parsed.error);
  const { filters } = parsed;

  if (!filters.env) {
    // The list is per environment (that is what the index serves); put the chosen one in the URL
    // so that what is on screen is what a copied link shows.
    const environmentId = await loadPageData("runs", defaultRunsEnvironment);
    if (!environmentId) return { page: null };
    url.searchParams.set("env", environmentId);
    throw redirect(`${url.pathname}?${url.searchParams}`);
  }
  const page = await loadPageData("runs", () => runsPage(filters.env!, filters));
  if (!page) throw httpError(404, `No environment with id '${filters.env}'.`);
  return {
    page,
    filters: { task: filters.task ?? "", status: filters.status ?? "", source: filters.source ?? "", externalDeploymentId: filters.externalDeploymentId ?? "" },
  };
}

export const ErrorBoundary = RouteErrorPanel;

export default function RunsPage() {
  const data = useLoaderData<typeof loader>();
  if (!data.page) {
    return (
      <div className="space-y-6">
        <PageHeader title="Runs" description="Runs created by triggers, newest first." />
        <EmptyState title="No environments yet">Run the seed or create a project to see its runs here.</EmptyState>
      </div>
    );
  }
  const { page } = data;
  const filters = "filters" in data ? data.filters : { task: "", status: "", source: "", externalDeploymentId: "" };
  const clearFilters = `/admin/runs?env=${page.environment.id}`;
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
      {page.runs.length === 0 ? (
        <EmptyState title={isFiltered(filters) ? "No runs match these filters" : "No runs in this environment yet"}>
          {isFiltered(filters) ? (
            <Link to={clearFilters} className="text-indigo-600 hover:underline">
              Clear filters
            </Link>
          ) : (
            "Trigger a task through the API (POST /api/v1/tasks/:taskId/trigger) and its run appears here."
          )}
        </EmptyState>
      ) : (
        <RunsTable environmentId={page.environment.id} runs={page.runs} />
      )}
      <RunPager page={page} filters={filters} />
    </div>
  );
}
