import { Link } from "@remix-run/react";
import { CacheFieldsTable } from "~/components/CacheFieldsTable";
import { EmptyState } from "~/components/EmptyState";
import { FieldFilterForm } from "~/components/FieldFilterForm";
import { ScanPager } from "~/components/ScanPager";
import { useLoadMore } from "~/components/useLoadMore";
import type { RedisSide, SearchHref } from "./types";

/** The current hash's fields, an HSCAN page at a time with "load more", filtered, each compared with Postgres. */
export function CurrentHashFields({ redis, filter, isAdmin, href }: { redis: RedisSide; filter: string; isAdmin: boolean; href: SearchHref }) {
  const fields = useLoadMore({ cursor: redis.current.cursor, nextCursor: redis.current.nextCursor, items: redis.current.rows }, filter, (row) => row.field);
  const moreToScan = fields.step.nextCursor !== "0";
  return (
    <section className="space-y-3">
      <div className="flex flex-wrap items-end justify-between gap-3">
        <div>
          <h2 className="text-base font-semibold text-slate-900">Current hash fields</h2>
          <p className="text-sm text-slate-500">Read from Redis a page at a time; DRIFT marks a field that disagrees with Postgres.</p>
        </div>
        <FieldFilterForm filter={filter} />
      </div>
      {fields.items.length === 0 ? (
        <NoFields moreToScan={moreToScan} filter={filter} exists={redis.status.exists} clearFilter={href({ q: null, cursor: null })} />
      ) : (
        <CacheFieldsTable
          rows={fields.items}
          label="Current hash fields"
          deleteHref={isAdmin ? (field) => href({ confirm: "delete-field", field }) : undefined}
        />
      )}
      <ScanPager nextCursor={fields.step.nextCursor} fromStart={fields.fromStart} />
    </section>
  );
}

/** Why this page shows no field, and what to do about it. */
function NoFields({ moreToScan, filter, exists, clearFilter }: { moreToScan: boolean; filter: string; exists: boolean; clearFilter: string }) {
  if (moreToScan) return <EmptyState title="No fields on this page">Load more to continue the scan.</EmptyState>;
  if (filter) {
    return (
      <EmptyState title={`No fields match '${filter}'`}>
        <Link to={clearFilter} className="text-indigo-600 hover:underline">
          Clear the filter
        </Link>
      </EmptyState>
    );
  }
  if (exists) return <EmptyState title="The current hash has no fields">Load more to continue the scan.</EmptyState>;
  return (
    <EmptyState title="The current hash is not in Redis">
      It is written on promotion (or a dev registration) and back-filled by triggers; an ADMIN can rebuild it from Postgres.
    </EmptyState>
  );
}
