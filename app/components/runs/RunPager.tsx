import { Link } from "@remix-run/react";
import type { RunsPage } from "~/presenters/runs.server";
import { filterParams, type RunFilterValues } from "./RunFilters";

/** Keyset paging: newer (before the first run shown) and older (after the last), keeping the filters. */
export function RunPager({ page, filters }: { page: RunsPage; filters: RunFilterValues }) {
  const pageLink = (param: "after" | "before", cursor: string) => {
    const params = filterParams(page.environment.id, filters);
    params.set(param, cursor);
    return `/admin/runs?${params}`;
  };
  return (
    <nav aria-label="Pages" className="flex items-center justify-between">
      {page.newerCursor ? (
        <Link to={pageLink("before", page.newerCursor)} rel="prev" className="text-sm font-medium text-indigo-700 hover:underline">
          ← Newer
        </Link>
      ) : (
        <span />
      )}
      {page.olderCursor ? (
        <Link to={pageLink("after", page.olderCursor)} rel="next" className="text-sm font-medium text-indigo-700 hover:underline">
          Next (older) →
        </Link>
      ) : null}
    </nav>
  );
}
