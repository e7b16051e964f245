import { Form, Link, useLocation, useSubmit } from "@remix-run/react";
import { useSlashToFocus } from "~/components/useSlashToFocus";
import { RUN_PERIOD_LABELS, RUN_PERIODS } from "~/domain/runPeriods";
import { TaskRunStatus, TaskTriggerSource } from "~/generated/prisma/enums.ts";
import type { RunsPage } from "~/presenters/runs.server";

const STATUSES = Object.values(TaskRunStatus);
const KINDS = Object.values(TaskTriggerSource);

const inputClass =
  "block rounded-md border border-slate-300 bg-white px-2.5 py-1.5 text-sm shadow-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500/30";

/** The filters as the URL holds them ("" = any). */
export interface RunFilterValues {
  task: string;
  status: string;
  kind: string;
  externalDeploymentId: string;
  period: string;
  live: boolean;
}

export const isFiltered = (filters: RunFilterValues) =>
  filters.task !== "" || filters.status !== "" || filters.kind !== "" || filters.externalDeploymentId !== "" || filters.period !== "";

/** The query string of the list with these filters (and nothing else). */
export function filterParams(environmentId: string, filters: RunFilterValues): URLSearchParams {
  const params = new URLSearchParams({ env: environmentId });
  for (const name of ["task", "status", "kind", "externalDeploymentId", "period"] as const) if (filters[name]) params.set(name, filters[name]);
  if (filters.live) params.set("live", "1");
  return params;
}

/**
 * A GET form, so the filters live in the URL: environment, task (a substring, with the
 * environment's slugs as suggestions; "/" focuses it), status, kind and time range. A select
 * submits as soon as it changes. The form is keyed by the query string: after "Clear filters",
 * Back or any link, it is drawn afresh from what the URL says, never from what was typed before.
 */
export function RunFilters({ page, filters }: { page: RunsPage; filters: RunFilterValues }) {
  const searchRef = useSlashToFocus<HTMLInputElement>();
  const submit = useSubmit();
  const location = useLocation();
  const submitOnChange = (e: React.ChangeEvent<HTMLSelectElement>) => submit(e.currentTarget.form);
  return (
    <Form
      key={location.search}
      method="get"
      role="search"
      aria-label="Filter runs"
      className="flex flex-wrap items-end gap-3 rounded-lg border border-slate-200 bg-white p-4"
    >
      <label className="text-xs font-medium text-slate-700">
        Environment
        <select name="env" defaultValue={page.environment.id} className={`mt-1 ${inputClass}`} onChange={submitOnChange}>
          {page.environments.map((e) => (
            <option key={e.id} value={e.id}>
              {e.label}
            </option>
          ))}
        </select>
      </label>
      <label className="text-xs font-medium text-slate-700">
        Task contains
        <input
          ref={searchRef}
          name="task"
          type="search"
          list="task-slugs"
          defaultValue={filters.task}
          placeholder="part of a task slug  ( / )"
          aria-keyshortcuts="/"
          className={`mt-1 w-56 ${inputClass}`}
        />
        <datalist id="task-slugs">
          {page.taskSlugs.map((slug) => (
            <option key={slug} value={slug} />
          ))}
        </datalist>
      </label>
      <FilterSelect label="Status" name="status" defaultValue={filters.status} anyLabel="Any status" options={STATUSES.map((s) => [s, s])} onChange={submitOnChange} />
      <FilterSelect label="Kind" name="kind" defaultValue={filters.kind} anyLabel="Any kind" options={KINDS.map((k) => [k, k])} onChange={submitOnChange} />
      <label className="text-xs font-medium text-slate-700">
        External deployment id
        <input name="externalDeploymentId" type="search" defaultValue={filters.externalDeploymentId} placeholder="any" className={`mt-1 w-44 ${inputClass}`} />
      </label>
      <FilterSelect label="Created" name="period" defaultValue={filters.period} anyLabel="Any time" options={RUN_PERIODS.map((p) => [p, RUN_PERIOD_LABELS[p]])} onChange={submitOnChange} />
      {filters.live ? <input type="hidden" name="live" value="1" /> : null}
      <button type="submit" className="rounded-md bg-indigo-600 px-3 py-1.5 text-sm font-semibold text-white shadow-sm hover:bg-indigo-500">
        Apply
      </button>
      {isFiltered(filters) ? (
        <Link to={`/admin/runs?env=${page.environment.id}`} className="py-1.5 text-sm text-indigo-700 hover:underline">
          Clear filters
        </Link>
      ) : null}
    </Form>
  );
}

/** One of the list's select filters: "any" first, then `options` as [value, label]; submits on change. */
function FilterSelect(props: {
  label: string;
  name: string;
  defaultValue: string;
  anyLabel: string;
  options: readonly (readonly [string, string])[];
  onChange: (e: React.ChangeEvent<HTMLSelectElement>) => void;
}) {
  return (
    <label className="text-xs font-medium text-slate-700">
      {props.label}
      <select name={props.name} defaultValue={props.defaultValue} className={`mt-1 ${inputClass}`} onChange={props.onChange}>
        <option value="">{props.anyLabel}</option>
        {props.options.map(([value, label]) => (
          <option key={value} value={value}>
            {label}
          </option>
        ))}
      </select>
    </label>
  );
}
