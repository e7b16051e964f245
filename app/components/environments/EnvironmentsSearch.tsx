import { Form, Link } from "@remix-run/react";
import { useSearchHref } from "~/components/useSearchHref";
import { useSlashToFocus } from "~/components/useSlashToFocus";
import type { EnvironmentsPage } from "~/presenters/environments.server";

/** A GET search form ("/" focuses it): the search lives in the URL, and a new search starts at the first page. */
export function EnvironmentsSearch({ page }: { page: EnvironmentsPage }) {
  const searchRef = useSlashToFocus<HTMLInputElement>();
  return (
    <Form method="get" role="search" aria-label="Search environments" className="flex flex-wrap items-end gap-3">
      <label className="text-xs font-medium text-slate-600">
        Search
        <input
          ref={searchRef}
          type="search"
          name="q"
          defaultValue={page.query}
          placeholder="project, environment or id  ( / )"
          className="mt-1 block w-72 rounded-md border border-slate-300 bg-white px-2.5 py-1.5 text-sm shadow-sm focus:border-indigo-500 focus:outline-none focus:ring-2 focus:ring-indigo-500/30"
        />
      </label>
      <button type="submit" className="rounded-md bg-indigo-600 px-3 py-1.5 text-sm font-medium text-white hover:bg-indigo-700">
        Search
      </button>
      <span className="pb-1.5 text-sm text-slate-500" data-testid="environments-matching">
        {page.matching.toLocaleString("en")} {page.query ? "matching" : ""} environment{page.matching === 1 ? "" : "s"}
      </span>
    </Form>
  );
}

/** Keyset paging: the previous page (before the first row shown) and the next (after the last), keeping the search. */
export function EnvironmentsPager({ page }: { page: EnvironmentsPage }) {
  const href = useSearchHref();
  if (!page.previousCursor && !page.nextCursor) return null;
  return (
    <nav aria-label="Pages" className="flex items-center justify-between">
      {page.previousCursor ? (
        <Link to={href({ before: page.previousCursor, after: null })} rel="prev" className="text-sm font-medium text-indigo-600 hover:underline">
          ← Previous
        </Link>
      ) : (
        <span />
      )}
      {page.nextCursor ? (
        <Link to={href({ after: page.nextCursor, before: null })} rel="next" className="text-sm font-medium text-indigo-600 hover:underline">
          Next →
        </Link>
      ) : null}
    </nav>
  );
}
