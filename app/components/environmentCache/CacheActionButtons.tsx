import { Link } from "@remix-run/react";
import { Badge } from "~/components/Badge";
import type { SearchHref } from "./types";

/**
 * The header's repair buttons for an ADMIN (each opens its confirmation); a VIEWER sees why there
 * are none, and while the cache's Redis is unreachable they are disabled with the reason.
 */
export function CacheActionButtons({ isAdmin, href, blocked }: { isAdmin: boolean; href: SearchHref; blocked: string | null }) {
  if (!isAdmin) return <Badge title="Sign in as an ADMIN to rebuild, invalidate or delete fields">read-only (VIEWER)</Badge>;
  const rebuild = "rounded-md bg-indigo-600 px-3 py-1.5 text-sm font-semibold text-white shadow-sm hover:bg-indigo-500";
  const invalidate = "rounded-md border border-red-300 bg-white px-3 py-1.5 text-sm font-semibold text-red-700 hover:bg-red-50";
  if (blocked) {
    return (
      <>
        <button type="button" disabled title={blocked} aria-describedby="write-blocked" className={`${rebuild} cursor-not-allowed opacity-60`}>
          Rebuild from Postgres
        </button>
        <button type="button" disabled title={blocked} aria-describedby="write-blocked" className={`${invalidate} cursor-not-allowed opacity-60`}>
          Invalidate
        </button>
        <p id="write-blocked" className="w-full text-xs text-slate-700">
          {blocked}
        </p>
      </>
    );
  }
  return (
    <>
      <Link to={href({ confirm: "rebuild", field: null })} preventScrollReset data-action="rebuild" className={rebuild}>
        Rebuild from Postgres
      </Link>
      <Link to={href({ confirm: "invalidate", field: null })} preventScrollReset data-action="invalidate" className={invalidate}>
        Invalidate
      </Link>
    </>
  );
}
