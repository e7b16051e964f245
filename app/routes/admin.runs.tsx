import { redirect, type LoaderFunctionArgs, type MetaFunction } from "@remix-run/node";
import { Form, Link, useLoaderData, useSubmit } from "@remix-run/react";
import { KindBadge, StatusBadge } from "~/components/Badge";
import { EmptyState } from "~/components/EmptyState";
import { PageHeader } from "~/components/PageHeader";
import { RouteErrorPanel } from "~/components/RouteErrorPanel";
import { Timestamp } from "~/components/Timestamp";
import { useSlashToFocus } from "~/components/useSlashToFocus";
import { TaskRunStatus, TaskTriggerSource } from "~/generated/prisma/enums.ts";
import { loadPageData } from "~/presenters/pageData.server";
import { defaultRunsEnvironment, parseRunFilters, runsPage } from "~/presenters/runs.server";
import { requireUser } from "~/services/session.server";
import { httpError } from "~/httpError.server";

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
  return { page, filters: { task: filters.task ?? "", status: filters.status ?? "", source: filters.source ?? "" } };
}

export const ErrorBoundary = RouteErrorPanel;

const STATUSES = Object.values(TaskRunStatus);
const SOURCES = Object.values(TaskTriggerSource);

const inputClass =
  "block rounded-md border border-slate-300 bg-white px-2.5 py-1.5 text-sm shadow-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500/30";

export default function RunsPage() {
  const data = useLoaderData<typeof loader>();
  const searchRef = useSlashToFocus<HTMLInputElement>();
  const submit = useSubmit();

  if (!data.page) {
    return (
      <div className="space-y-6">
        <PageHeader title="Runs" description="Runs created by triggers, newest first." />
        <EmptyState title="No environments yet">Run the seed or create a project to see its runs here.</EmptyState>
      </div>
    );
  }
  const { page } = data;
  const filters = "filters" in data ? data.filters : { task: "", status: "", source: "" };
  const filtered = filters.task !== "" || filters.status !== "" || filters.source !== "";
  const base = new URLSearchParams({ env: page.environment.id });
  if (filters.task) base.set("task", filters.task);
  if (filters.status) base.set("status", filters.status);
  if (filters.source) base.set("source", filters.source);
  const pageLink = (param: "after" | "before", cursor: string) => {
    const params = new URLSearchParams(base);
    params.set(param, cursor);
    return `/admin/runs?${params}`;
  };

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

      <Form method="get" role="search" aria-label="Filter runs" className="flex flex-wrap items-end gap-3 rounded-lg border border-slate-200 bg-white p-4">
        <label className="text-xs font-medium text-slate-600">
          Environment
          <select
            name="env"
            defaultValue={page.environment.id}
            className={`mt-1 ${inputClass}`}
            onChange={(e) => submit(e.currentTarget.form)}
          >
            {page.environments.map((e) => (
              <option key={e.id} value={e.id}>
                {e.label}
              </option>
            ))}
          </select>
        </label>
        <label className="text-xs font-medium text-slate-600">
          Task
          <input
            ref={searchRef}
            name="task"
            type="search"
            list="task-slugs"
            defaultValue={filters.task}
            placeholder="task slug  ( / )"
            aria-keyshortcuts="/"
            className={`mt-1 w-56 ${inputClass}`}
          />
          <datalist id="task-slugs">
            {page.taskSlugs.map((slug) => (
              <option key={slug} value={slug} />
            ))}
          </datalist>
        </label>
        <label className="text-xs font-medium text-slate-600">
          Status
          <select name="status" defaultValue={filters.status} className={`mt-1 ${inputClass}`} onChange={(e) => submit(e.currentTarget.form)}>
            <option value="">Any status</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label className="text-xs font-medium text-slate-600">
          Source
          <select name="source" defaultValue={filters.source} className={`mt-1 ${inputClass}`} onChange={(e) => submit(e.currentTarget.form)}>
            <option value="">Any source</option>
            {SOURCES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <button type="submit" className="rounded-md bg-indigo-600 px-3 py-1.5 text-sm font-semibold text-white shadow-sm hover:bg-indigo-500">
          Apply
        </button>
        {filtered ? (
          <Link to={`/admin/runs?env=${page.environment.id}`} className="py-1.5 text-sm text-indigo-600 hover:underline">
            Clear filters
          </Link>
        ) : null}
      </Form>

      {page.runs.length === 0 ? (
        <EmptyState title={filtered ? "No runs match these filters" : "No runs in this environment yet"}>
          {filtered ? (
            <Link to={`/admin/runs?env=${page.environment.id}`} className="text-indigo-600 hover:underline">
              Clear filters
            </Link>
          ) : (
            "Trigger a task through the API (POST /api/v1/tasks/:taskId/trigger) and its run appears here."
          )}
        </EmptyState>
      ) : (
        <div className="overflow-x-auto rounded-lg border border-slate-200 bg-white">
          <table className="min-w-full divide-y divide-slate-200 text-sm" aria-label="Runs">
            <thead className="bg-slate-50 text-left text-xs font-semibold uppercase tracking-wide text-slate-500">
              <tr>
                <th className="px-3 py-2">Run</th>
                <th className="px-3 py-2">Task</th>
                <th className="px-3 py-2">Status</th>
                <th className="px-3 py-2">Queue</th>
                <th className="px-3 py-2">Source</th>
                <th className="px-3 py-2">TTL / expires</th>
                <th className="px-3 py-2">Locked version</th>
                <th className="px-3 py-2">Tags</th>
                <th className="px-3 py-2">Created (UTC)</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100">
              {page.runs.map((run) => (
                <tr key={run.id} className="align-top hover:bg-slate-50">
                  <td className="px-3 py-2 font-mono text-xs text-slate-700">{run.friendlyId}</td>
                  <td className="px-3 py-2 font-mono text-xs">
                    <Link to={`/admin/runs?${new URLSearchParams({ env: page.environment.id, task: run.taskIdentifier })}`} className="text-indigo-700 hover:underline">
                      {run.taskIdentifier}
                    </Link>
                  </td>
                  <td className="px-3 py-2">
                    <StatusBadge status={run.status} />
                  </td>
                  <td className="px-3 py-2 font-mono text-xs text-slate-600">{run.queue}</td>
                  <td className="px-3 py-2">
                    <KindBadge kind={run.taskKind} />
                  </td>
                  <td className="px-3 py-2 text-xs text-slate-600">
                    {run.ttl ?? "—"}
                    {run.expiresAt ? (
                      <div className="text-slate-400">
                        <Timestamp iso={run.expiresAt} />
                      </div>
                    ) : null}
                  </td>
                  <td className="px-3 py-2 font-mono text-xs text-slate-600">{run.lockedVersion ?? "—"}</td>
                  <td className="px-3 py-2">
                    <div className="flex max-w-48 flex-wrap gap-1">
                      {run.tags.map((tag) => (
                        <span key={tag} className="rounded bg-slate-100 px-1.5 py-0.5 font-mono text-xs text-slate-600">
                          {tag}
                        </span>
                      ))}
                    </div>
                  </td>
                  <td className="px-3 py-2 text-xs text-slate-600">
                    <Timestamp iso={run.createdAt} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      <nav aria-label="Pages" className="flex items-center justify-between">
        {page.newerCursor ? (
          <Link to={pageLink("before", page.newerCursor)} rel="prev" className="text-sm font-medium text-indigo-600 hover:underline">
            ← Newer
          </Link>
        ) : (
          <span />
        )}
        {page.olderCursor ? (
          <Link to={pageLink("after", page.olderCursor)} rel="next" className="text-sm font-medium text-indigo-600 hover:underline">
            Next (older) →
          </Link>
        ) : null}
      </nav>
    </div>
  );
}
