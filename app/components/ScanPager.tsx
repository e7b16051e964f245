import { Link } from "@remix-run/react";
import { useSearchHref } from "~/components/useSearchHref";

/**
 * "Load more" (the next page of the scan, `?cursor=`) and "Start over" under a list paged with
 * useLoadMore. A next cursor of "0" means the scan is complete.
 */
export function ScanPager({ nextCursor, fromStart }: { nextCursor: string; fromStart: boolean }) {
  const href = useSearchHref();
  return (
    <div className="flex items-center gap-4 text-sm">
      {nextCursor !== "0" ? (
        <Link to={href({ cursor: nextCursor })} preventScrollReset className="font-medium text-indigo-600 hover:underline">
          Load more
        </Link>
      ) : null}
      {!fromStart ? (
        <Link to={href({ cursor: null })} className="text-slate-600 hover:underline">
          Start over
        </Link>
      ) : null}
    </div>
  );
}
