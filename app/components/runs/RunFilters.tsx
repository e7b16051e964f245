import { Form, Link, useSubmit } from "@remix-run/react";
import { useSlashToFocus } from "~/components/useSlashToFocus";
import { TaskRunStatus, TaskTriggerSource } from "~/generated/prisma/enums.ts";
import type { RunsPage } from "~/presenters/runs.server";

const STATUSES = Object.values(TaskRunStatus);
const SOURCES = Object.values(TaskTriggerSource);

const inputClass =
  "block rounded-md border border-slate-300 bg-white px-2.5 py-1.5 text-sm shadow-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500/30";

/** The filters as the URL holds them ("" = any). */
export interface RunFilterValues {
  task: string;
  status: string;
  source: string;
  externalDeploymentId: string;
}

export const isFiltered = (filters: RunFilterValues) =>
  filters.task !== "" || filters.status !== "" || filters.source !== "" || filters.externalDeploymentId !== "";

/**
 * A GET form, so the filters live in the URL: environment, task (with the environment's slugs as
 * suggestions; "/" focuses it), status and source. A select submits as soon as it changes.
 */
export function RunFilters({ page, filters }: { page: RunsPage; filters: RunFilterValues }) {
  const searchRef = useSlashToFocus<HTMLInputElement>();
  const submit = useSubmit();
  const submitOnChange = (e: React.ChangeEvent<HTMLSelectElement>) => submit(e.currentTarget.form);
  return (
    <Form method="get" role="search" aria-label="Filter runs" className="flex flex-wrap items-end gap-3 rounded-lg border border-slate-200 bg-white p-4">
      <label className="text-xs font-medium text-slate-600">
        Environment
        <select name="env" defaultValue={page.environment.id} className={`mt-1 ${inputClass}`} onChange={submitOnChange}>
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
        <select name="status" defaultValue={filters.status} className={`mt-1 ${inputClass}`} onChange={submitOnChange}>
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
        <select name="source" defaultValue={filters.source} className={`mt-1 ${inputClass}`} onChange={submitOnChange}>
          <option value="">Any source</option>
          {SOURCES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </select>
      </label>
      <label className="text-xs font-medium text-slate-600">
        External deployment id
        <input name="externalDeploymentId" type="search" defaultValue={filters.externalDeploymentId} placeholder="any" className={`mt-1 w-44 ${inputClass}`} />
      </label>
      <button type="submit" className="rounded-md bg-indigo-600 px-3 py-1.5 text-sm font-semibold text-white shadow-sm hover:bg-indigo-500">
        Apply
      </button>
      {isFiltered(filters) ? (
        <Link to={`/admin/runs?env=${page.environment.id}`} className="py-1.5 text-sm text-indigo-600 hover:underline">
          Clear filters
        </Link>
      ) : null}
    </Form>
  );
}
