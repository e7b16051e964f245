import { Link } from "@remix-run/react";
import { Badge } from "~/components/Badge";
import type { SearchHref } from "./types";

/** The header's repair buttons for an ADMIN (each opens its confirmation); a VIEWER sees why there are none. */
export function CacheActionButtons({ isAdmin, href }: { isAdmin: boolean; href: SearchHref }) {
  if (!isAdmin) return <Badge title="Sign in as an ADMIN to rebuild, invalidate or delete fields">read-only (VIEWER)</Badge>;
  return (
    <>
      <Link to={href({ confirm: "rebuild", field: null })} preventScrollReset className="rounded-md bg-indigo-600 px-3 py-1.5 text-sm font-semibold text-white shadow-sm hover:bg-indigo-500">
        Rebuild from Postgres
      </Link>
      <Link to={href({ confirm: "invalidate", field: null })} preventScrollReset className="rounded-md border border-red-300 bg-white px-3 py-1.5 text-sm font-semibold text-red-700 hover:bg-red-50">
        Invalidate
      </Link>
    </>
  );
}
